"""``optexec adaptivity SPEC | --example NAME``: the value of a feedback policy over the static
optimum, both simulated on common random numbers."""

from __future__ import annotations

import argparse

from ..adaptivity import execution_table, value_of_adaptivity
from ..plots import plot_adaptivity
from ..plots.adaptivity import plot_execution
from .common import add_spec_arguments, emit_outputs, problem_from_args

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "adaptivity", help="value of a feedback policy over the static optimum (Monte Carlo, CRN)",
        description="Simulate the best static schedule and the best feedback policy on the same random paths (common "
                    "random numbers) and report the difference of their costs with its 95% confidence interval, in "
                    "currency and in basis points of the order's notional |X| S_0.")
    add_spec_arguments(p)
    p.add_argument("--static-method", help="static optimizer (default: the first registered static method that applies)")
    p.add_argument("--dynamic-method", help="feedback method (default: the first registered dynamic method that applies)")
    p.add_argument("--paths", type=int, default=100_000, help="Monte Carlo paths (default 100000)")
    p.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (default 0)")
    p.add_argument("--no-antithetic", action="store_true", help="plain Monte Carlo (default: antithetic pairs)")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout: JSON only)")
    p.add_argument("--plot", metavar="PNG", help="plot histograms, holdings and differences (PNG, SVG, PDF, ...)")
    p.add_argument("--policies", action="store_true",
                   help="every execution policy (static, catch-up, POV, receding horizon) against the backward "
                        "induction under the spec's fill model: a table with 95%% intervals")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problem = problem_from_args(args)
    if args.policies:
        table = execution_table(problem, paths=args.paths, seed=args.seed, antithetic=not args.no_antithetic,
                                static_method=args.static_method or "qp")
        emit_outputs(args, table.summary(), table.to_dict(), lambda path: plot_execution(table, path))
        return 0
    report = value_of_adaptivity(problem, static_method=args.static_method, dynamic_method=args.dynamic_method,
                                 paths=args.paths, seed=args.seed, antithetic=not args.no_antithetic)
    emit_outputs(args, report.summary(), report.to_dict(), lambda path: plot_adaptivity(report, path))
    return 0
