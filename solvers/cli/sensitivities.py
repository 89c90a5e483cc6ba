"""``optexec sensitivities SPEC | --example NAME [--method M] [--wrt NAME ...] [--json PATH|-] [--plot PNG]``.

Prints the derivative of the optimal objective, expected cost and variance in each spec
parameter with the elasticity ``d log objective / d log p`` and how it was computed (AD of the
closed form, implicit differentiation of the KKT system, AD through dp's exact recursion or
hjb's reduced ODE, or Richardson finite differences of the solve with their error estimate); ``--plot`` draws the holdings' derivative paths.
``--covariance FILE`` (JSON/TOML: ``parameters``, ``covariance`` or ``std_errors``) adds the
delta-method interval of the optimum, its bootstrap check and the expected regret.
"""

from __future__ import annotations

import argparse

from ..methods import method_names
from ..sensitivities import load_covariance, plot_sensitivities, propagate, sensitivities
from .common import add_spec_arguments, emit_outputs, parse_setting, problem_from_args

__all__ = ["register", "run", "table"]

DESCRIPTION = (
    "Derivatives of the optimal objective, expected cost and variance in each spec parameter, with the "
    "elasticity d log objective / d log p and how each was computed (automatic differentiation of the closed "
    "form, implicit differentiation of the KKT system, automatic differentiation through dp's exact recursion "
    "or hjb's reduced ODE, or Richardson finite differences of the solve with their error estimate). --plot "
    "draws the holdings' derivative paths; --covariance FILE (JSON or TOML "
    "with parameters and covariance or std_errors) adds the delta-method interval of the optimum, its "
    "bootstrap check and the expected regret of solving at the point estimate."
)


def register(subparsers) -> None:
    p = subparsers.add_parser("sensitivities", help="derivatives of the optimum in every spec parameter",
                              description=DESCRIPTION)
    add_spec_arguments(p)
    p.add_argument("--method", default="closed-form", choices=method_names(), help="the method to differentiate (default: closed-form)")
    p.add_argument("--wrt", action="append", metavar="NAME", help="a spec path (repeatable; default: all)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of the method (repeatable)")
    p.add_argument("--covariance", metavar="FILE", help="parameter covariance: adds intervals and regret")
    p.add_argument("--draws", type=int, default=200, help="bootstrap draws with --covariance (default 200)")
    p.add_argument("--json", metavar="PATH", help="write the derivatives as JSON ('-' for stdout)")
    p.add_argument("--plot", metavar="PNG", help="plot the holdings' derivative paths and the elasticities")
    p.set_defaults(func=run)


def table(sens) -> str:
    """The elasticity table, one row per parameter."""
    el = sens.elasticities()
    rows = [f"sensitivities of the {sens.method} optimum: objective = {sens.base.objective:.6g}, "
            f"E = {sens.base.expected_cost:.6g}, V = {sens.base.variance:.6g}",
            f"  {'parameter':30s} {'value':>12s} {'d obj/dp':>13s} {'elasticity':>11s} {'d E/dp':>13s} "
            f"{'d V/dp':>13s}  how"]
    for j, name in enumerate(sens.parameters):
        err = sens.error.get("objective")
        how = sens.kind[name] + (f" (+/- {err[j]:.2g})" if sens.kind[name] == "finite-difference" else "")
        rows.append(f"  {name:30s} {sens.values[j]:12.5g} {sens.objective[j]:13.5g} {el[name]:11.4g} "
                    f"{sens.expected_cost[j]:13.5g} {sens.variance[j]:13.5g}  {how}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    problem = problem_from_args(args)
    settings = dict(parse_setting(text) for text in args.settings)
    sens = sensitivities(problem, args.method, wrt=args.wrt, **settings)
    text, data = table(sens), sens.to_dict()
    if args.covariance:
        prop = propagate(problem, load_covariance(args.covariance), args.method, draws=args.draws)
        text += "\n" + prop.summary()
        data["uncertainty"] = prop.to_dict()
    emit_outputs(args, text, data, lambda path: plot_sensitivities(sens, problem.times, path))
    return 0
