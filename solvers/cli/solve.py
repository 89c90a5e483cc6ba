"""``optexec solve SPEC | --example NAME [--method M] [--set KEY=VALUE ...] [--accuracy PRESET]``.

Method settings come from ``--set`` (repeatable; ``--option`` is an alias) and ``--accuracy``;
``--solver NAME`` sets the method's ``backend`` and ``--time-model`` its ``time_model`` where
the method has those settings. Prints the summary; ``--json`` and ``--plot`` write the result.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import MethodNotApplicable, SpecError
from ..methods import method_info, method_names, solve
from ..plots import plot_results
from .common import add_spec_arguments, emit_outputs, parse_setting, problem_from_args

__all__ = ["register", "run", "settings_from_args"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "solve", help="solve a spec and print the schedule",
        description="Solve a spec with one method and print the schedule and its costs (in currency and in basis "
                    "points of the order's notional |X| S_0). Method settings come from --set KEY=VALUE (repeatable; "
                    "--option is the same) and --accuracy; --solver sets the method's back end and --time-model its "
                    "time model where the method has those settings.")
    add_spec_arguments(p)
    p.add_argument("--method", default="closed-form", choices=method_names(),
                   help="the method (default closed-form; one of %(choices)s)")
    p.add_argument("--set", "--option", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of the method (repeatable; values are Python or TOML literals)")
    p.add_argument("--accuracy", metavar="PRESET", help="the method's accuracy preset (e.g. default, high)")
    p.add_argument("--solver", help="numerical back end, for methods whose settings have 'backend' (qp)")
    p.add_argument("--time-model", choices=["discrete", "continuous"],
                   help="discrete or continuous time, for methods that solve both (closed-form)")
    p.add_argument("--json", metavar="PATH", help="write the result JSON to PATH ('-' for stdout: JSON only)")
    p.add_argument("--plot", metavar="PNG", help="plot holdings and trades (PNG, SVG, PDF, ...: the name's suffix)")
    p.add_argument("--quiet", action="store_true", help="no summary")
    p.set_defaults(func=run)


def settings_from_args(method: str, args: argparse.Namespace) -> dict[str, Any]:
    """The keyword settings of ``method`` named on the command line (see the module docstring)."""
    info = method_info(method)
    fields = info.settings.field_names()
    settings = dict(parse_setting(text) for text in args.settings)
    if args.accuracy:
        settings["accuracy"] = args.accuracy
    if args.solver:
        if "backend" not in fields:
            raise SpecError("--solver", args.solver,
                            f"method {method} has no back end setting (its settings: {', '.join(fields) or 'none'})")
        settings["backend"] = args.solver
    if args.time_model:
        if "time_model" in fields:
            settings["time_model"] = args.time_model
        elif tuple(info.time_models) != (args.time_model,):
            raise MethodNotApplicable(method, f"--time-model {args.time_model}: it solves the "
                                              f"{' and '.join(info.time_models)}-time problem only")
    return settings


def run(args: argparse.Namespace) -> int:
    problem = problem_from_args(args)
    result = solve(problem, args.method, throw=False, **settings_from_args(args.method, args))
    emit_outputs(args, None if args.quiet else result.summary(), result.to_dict(),
                 lambda path: plot_results([result], path))
    if not result.success:
        print(f"optexec: status {result.status}: {result.message}", file=sys.stderr)
        return 1
    return 0
