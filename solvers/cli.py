"""The ``optexec`` command line.

    optexec examples
    optexec solve SPEC.toml | --example NAME [--method M] [--json PATH|-] [--plot PNG]
    optexec frontier SPEC.toml | --example NAME [--plot PNG] [--json PATH|-]

Other commands live in their own modules and are listed in :data:`COMMANDS`; each module
has ``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
Errors in a spec print the validation message (no traceback) and exit with status 2; a
method that does not apply exits 3; a solver failure exits 1.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import MethodNotApplicable, OptexecError, SolverError, SpecError
from .spec import ExecutionProblem, example_names, load_example, load_problem

__all__ = ["main", "COMMANDS", "add_spec_arguments", "problem_from_args", "write_json", "emit_outputs"]

#: extra sub-commands: name -> module with ``register(subparsers)``
COMMANDS: dict[str, str] = {
    "bench": "benchmarks.runner",
    "sweep": "solvers.sweep_cli",
    "calibrate": "solvers.calibrate_cli",
    "validate": "solvers.validate",
    "adaptivity": "solvers.adaptivity",
}


# ------------------------------------------------------------------ shared helpers
def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """``SPEC`` (a TOML path) or ``--example NAME``."""
    parser.add_argument("spec", nargs="?", help="problem spec (TOML file)")
    parser.add_argument("--example", metavar="NAME", help="a bundled example (see 'optexec examples')")


def problem_from_args(args: argparse.Namespace) -> ExecutionProblem:
    if bool(args.spec) == bool(args.example):
        raise SpecError("spec", args.spec or args.example, "give exactly one of SPEC or --example NAME")
    return load_example(args.example) if args.example else load_problem(args.spec)


def write_json(data: Any, target: str) -> None:
    """Write JSON to a path, or to stdout for ``-``."""
    text = json.dumps(data, indent=2, allow_nan=True)
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(target).write_text(text + "\n", encoding="utf-8")


def emit_outputs(args: argparse.Namespace, summary: str | None, data: Any, plot: Callable[[str], Any] | None = None):
    """Print ``summary``, write ``data`` as JSON to ``args.json`` and draw ``plot(args.plot)``.

    With ``--json -`` stdout carries the JSON alone, so the summary and notes go to stderr.
    Returns the stream used for human-readable lines.
    """
    out = sys.stderr if getattr(args, "json", None) == "-" else sys.stdout
    if summary is not None:
        print(summary, file=out)
    if getattr(args, "json", None):
        write_json(data, args.json)
    if plot is not None and getattr(args, "plot", None):
        print(f"plot written to {plot(args.plot)}", file=out)
    return out


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise SpecError("--option", text, "must look like KEY=VALUE")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.replace("-", "_"), value


# ------------------------------------------------------------------ commands
def _cmd_examples(args: argparse.Namespace) -> int:
    for name in example_names():
        problem = load_example(name)
        print(f"{name}\t{problem.description}")
    return 0


def _cmd_solve(args: argparse.Namespace) -> int:
    from .methods import solve

    problem = problem_from_args(args)
    options = dict(_parse_option(o) for o in args.option)
    if args.solver:
        options["solver"] = args.solver
    if args.time_model:
        options["time_model"] = args.time_model
    result = solve(problem, args.method, **options)
    from .plots import plot_results

    emit_outputs(args, None if args.quiet else result.summary(), result.to_dict(),
                 lambda path: plot_results([result], path))
    if not result.success:
        print(f"optexec: status {result.status}: {result.message}", file=sys.stderr)
        return 1
    return 0


def _cmd_frontier(args: argparse.Namespace) -> int:
    from .closed_form import cost_vs_horizon, efficient_frontier, mean_var_optimum, solve

    problem = problem_from_args(args)
    lam0 = problem.risk_aversion if problem.risk_aversion > 0 else 1e-6
    lams = np.geomspace(lam0 * args.span**-1, lam0 * args.span, args.points)
    frontier = efficient_frontier(problem, lams)
    current = solve(problem)
    print(f"efficient frontier of {problem.name or 'problem'} ({args.points} values of lambda)")
    print(f"  {'lambda':>12} {'E':>16} {'sqrt(V)':>16} {'E + lambda V':>16}")
    step = max(1, args.points // 15)
    for i in range(0, args.points, step):
        obj = frontier.expected_cost[i] + lams[i] * frontier.variance[i]
        print(f"  {lams[i]:12.4g} {frontier.expected_cost[i]:16.8g} {frontier.std[i]:16.8g} {obj:16.8g}")
    data: dict[str, Any] = {
        "risk_aversion": lams.tolist(), "expected_cost": frontier.expected_cost.tolist(),
        "variance": frontier.variance.tolist(),
    }
    curve = None
    if not problem.is_basket:
        mv = mean_var_optimum(problem, args.confidence)
        print(f"mean-VaR optimum at {args.confidence:g}: lambda = {mv.risk_aversion:.6g}, "
              f"E = {mv.result.expected_cost:.8g}, sqrt(V) = {mv.result.std:.8g}, "
              f"E + z sqrt(V) = {mv.value_at_risk_objective:.8g}")
        max_slices = args.max_slices or 4 * problem.slices
        curve = cost_vs_horizon(problem, range(1, max_slices + 1))
        print(f"cost against horizon (tau = {problem.tau:g}): TWAP is cheapest at T = {curve.best_horizon:g} "
              f"(E + lambda V = {curve.twap_objective[curve.best_index]:.8g}); the optimal schedule at "
              f"that horizon costs {curve.optimal_objective[curve.best_index]:.8g}")
        data["mean_var"] = {"confidence": args.confidence, "risk_aversion": mv.risk_aversion,
                            "expected_cost": mv.result.expected_cost, "variance": mv.result.variance}
        data["horizon_curve"] = {"horizons": curve.horizons.tolist(), "twap_objective": curve.twap_objective.tolist(),
                                 "optimal_objective": curve.optimal_objective.tolist(), "best_horizon": curve.best_horizon}
    if args.json:
        write_json(data, args.json)
    if args.plot:
        from .plots import plot_frontier

        print(f"plot written to {plot_frontier(frontier, args.plot, curve=curve, marked=current)}")
    return 0


# ------------------------------------------------------------------ parser and entry point
def build_parser() -> argparse.ArgumentParser:
    from .methods import method_names

    parser = argparse.ArgumentParser(prog="optexec", description="Optimal trade execution, four ways, cross-checked.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("examples", help="list the bundled example specs (name first)")
    p.set_defaults(func=_cmd_examples)

    p = sub.add_parser("solve", help="solve a spec and print the schedule")
    add_spec_arguments(p)
    p.add_argument("--method", default="closed-form", choices=method_names())
    p.add_argument("--solver", help="numerical back end for methods that have several (e.g. qp)")
    p.add_argument("--time-model", choices=["discrete", "continuous"], help="closed form: discrete (default) or continuous time")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="method option (repeatable)")
    p.add_argument("--json", metavar="PATH", help="write the result JSON to PATH ('-' for stdout)")
    p.add_argument("--plot", metavar="PNG", help="plot holdings and trades to a PNG")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(func=_cmd_solve)

    p = sub.add_parser("frontier", help="efficient frontier, mean-VaR optimum and cost against horizon")
    add_spec_arguments(p)
    p.add_argument("--points", type=int, default=61, help="number of lambda values (log-spaced)")
    p.add_argument("--span", type=float, default=1000.0, help="lambda from lambda0/span to lambda0*span")
    p.add_argument("--confidence", type=float, default=0.95, help="mean-VaR confidence level")
    p.add_argument("--max-slices", type=int, default=0, help="longest horizon of the cost curve, in slices")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--plot", metavar="PNG")
    p.set_defaults(func=_cmd_frontier)

    for module in COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SpecError as err:
        print(f"optexec: invalid spec: {err}", file=sys.stderr)
        return 2
    except MethodNotApplicable as err:
        print(f"optexec: {err}", file=sys.stderr)
        return 3
    except (SolverError, OptexecError) as err:
        print(f"optexec: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
