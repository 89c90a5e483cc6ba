"""``optexec frontier SPEC | --example NAME``: the efficient frontier over lambda, the mean-VaR
optimum and the cost against the horizon (closed form); costs in currency and in bps of the
order's notional."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..errors import SpecError
from ..frontier import cost_vs_horizon, efficient_frontier, mean_var_optimum
from ..methods import solve
from ..plots import plot_frontier
from ..result import format_amount, in_bps, order_notional
from .common import add_spec_arguments, emit_outputs, problem_from_args

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("frontier", help="efficient frontier, mean-VaR optimum and cost against horizon",
                              description="The efficient frontier of the closed form over risk aversion lambda, "
                                          "the mean-VaR optimum and the cost of TWAP and of the optimal schedule "
                                          "against the horizon. Costs in currency and in basis points of the "
                                          "order's notional |X| S_0.")
    add_spec_arguments(p)
    p.add_argument("--points", type=int, default=61, help="number of lambda values, log-spaced (default 61)")
    p.add_argument("--span", type=float, default=1000.0,
                   help="lambda runs from lambda0/span to lambda0*span (default 1000)")
    p.add_argument("--confidence", type=float, default=0.95, help="mean-VaR confidence level (default 0.95)")
    p.add_argument("--max-slices", type=int, default=0,
                   help="longest horizon of the cost curve, in slices (default: 4 N)")
    p.add_argument("--json", metavar="PATH", help="write the frontier as JSON ('-' for stdout: JSON only)")
    p.add_argument("--plot", metavar="PNG", help="draw the frontier and the cost against horizon (PNG, SVG, PDF, ...)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if isinstance(args.points, bool) or args.points < 2 or args.points > 100_000:
        raise SpecError("--points", args.points, "must be an integer from 2 to 100000")
    if not (np.isfinite(args.span) and args.span > 1):
        raise SpecError("--span", args.span, "must be a number > 1")
    if not 0 < args.confidence < 1:
        raise SpecError("--confidence", args.confidence, "must be in (0, 1)")
    if args.max_slices < 0 or args.max_slices > 100_000:
        raise SpecError("--max-slices", args.max_slices, "must be an integer from 0 (default: 4 N) to 100000")
    problem = problem_from_args(args)
    notional = float(order_notional(problem).sum())
    lam0 = problem.risk_aversion if problem.risk_aversion > 0 else 1e-6
    lams = np.geomspace(lam0 * args.span**-1, lam0 * args.span, args.points)
    frontier = efficient_frontier(problem, lams)
    current = solve(problem, "closed-form")
    lines = [f"efficient frontier of {problem.name or 'problem'} ({args.points} values of lambda); costs in "
             f"currency and in bps of the notional |X| S_0 = {format_amount(notional)}",
             f"  {'lambda':>12} {'E':>16} {'E bps':>9} {'sqrt(V)':>16} {'bps':>9} {'E + lambda V':>16} {'bps':>9}"]
    step = max(1, args.points // 15)
    for i in range(0, args.points, step):
        e, sd = frontier.expected_cost[i], frontier.std[i]
        obj = e + lams[i] * frontier.variance[i]
        lines.append(f"  {lams[i]:12.4g} {e:16.8g} {in_bps(e, notional):9.4g} {sd:16.8g} {in_bps(sd, notional):9.4g} "
                     f"{obj:16.8g} {in_bps(obj, notional):9.4g}")
    data: dict[str, Any] = {
        "risk_aversion": lams.tolist(), "expected_cost": frontier.expected_cost.tolist(),
        "variance": frontier.variance.tolist(), "notional": notional,
        "expected_cost_bps": (1e4 * frontier.expected_cost / notional).tolist(),
        "std_bps": (1e4 * frontier.std / notional).tolist(),
    }
    curve = None
    if not problem.is_basket:
        mv = mean_var_optimum(problem, args.confidence)
        lines.append(f"mean-VaR optimum at {args.confidence:g}: lambda = {mv.risk_aversion:.6g}, "
                     f"E = {mv.result.expected_cost:.8g} ({in_bps(mv.result.expected_cost, notional):.4g} bps), "
                     f"sqrt(V) = {mv.result.std:.8g} ({in_bps(mv.result.std, notional):.4g} bps), "
                     f"E + z sqrt(V) = {mv.value_at_risk_objective:.8g} "
                     f"({in_bps(mv.value_at_risk_objective, notional):.4g} bps)")
        max_slices = args.max_slices or 4 * problem.slices
        curve = cost_vs_horizon(problem, range(1, max_slices + 1))
        best_twap = curve.twap_objective[curve.best_index]
        best_opt = curve.optimal_objective[curve.best_index]
        lines.append(f"cost against horizon (tau = {problem.tau:g}): TWAP is cheapest at T = {curve.best_horizon:g} "
                     f"(E + lambda V = {best_twap:.8g}, {in_bps(best_twap, notional):.4g} bps); the optimal schedule "
                     f"at that horizon costs {best_opt:.8g} ({in_bps(best_opt, notional):.4g} bps)")
        data["mean_var"] = {"confidence": args.confidence, "risk_aversion": mv.risk_aversion,
                            "expected_cost": mv.result.expected_cost, "variance": mv.result.variance}
        data["horizon_curve"] = {"horizons": curve.horizons.tolist(), "twap_objective": curve.twap_objective.tolist(),
                                 "optimal_objective": curve.optimal_objective.tolist(), "best_horizon": curve.best_horizon}
    emit_outputs(args, "\n".join(lines), data,
                 lambda path: plot_frontier(frontier, path, curve=curve, marked=current))
    return 0
