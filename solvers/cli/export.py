"""``optexec export SPEC | --example NAME [--units raw|scaled] -o FILE.npz``: the static
problem as a QP in qpsolvers' convention (the archive's keys: :mod:`solvers.testset.npz`).

Exit 2 for a bad spec or option, 3 for a spec the export cannot represent (power-law impact
is a conic problem: :func:`solvers.testset.conic_problem` exports it through CVXPY).
"""

from __future__ import annotations

import argparse

from ..errors import SpecError
from ..testset import UNITS, export_qp, save_npz
from .common import add_spec_arguments, emit_outputs, problem_from_args

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write the static problem as a QP (.npz, qpsolvers' convention)",
                              description="Write the spec's static problem (linear impact) as a QP in qpsolvers' "
                                          "convention: minimize 1/2 z'Pz + q'z subject to Gz <= h, Az = b, "
                                          "lb <= z <= ub, with the map back to holdings and to the objective in "
                                          "currency (solvers/docs/testset.md).")
    add_spec_arguments(p)
    p.add_argument("--units", default="scaled", help="raw (shares, currency) or scaled (fractions of the order, "
                                                     "cost in the cost unit); default scaled")
    p.add_argument("-o", "--output", metavar="FILE.npz", help="the archive to write")
    p.add_argument("--json", metavar="PATH", help="also write a JSON summary (sizes, units, scales) to PATH ('-' for stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.units not in UNITS:
        raise SpecError("--units", args.units, f"must be one of {', '.join(UNITS)}")
    if not args.output:
        raise SpecError("--output", None, "is required (-o FILE.npz)")
    if not str(args.output).endswith(".npz"):
        raise SpecError("--output", args.output, "must end in .npz")
    problem = problem_from_args(args)
    qp = export_qp(problem, args.units)
    path = save_npz(qp, args.output)
    inequalities = 0 if qp.G is None else qp.G.shape[0]
    equalities = 0 if qp.A is None else qp.A.shape[0]
    summary = (f"{qp.name}: {qp.n} variables, {inequalities} inequalities, {equalities} equalities, units "
               f"{qp.units}, objective_scale {qp.objective_scale:.6g}; written to {path}")
    data = {"name": qp.name, "variables": qp.n, "inequalities": inequalities, "equalities": equalities,
            "units": qp.units, "objective_scale": qp.objective_scale, "objective_offset": qp.objective_offset,
            "path": str(path)}
    emit_outputs(args, summary, data)
    return 0
