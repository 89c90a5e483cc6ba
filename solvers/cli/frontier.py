"""``optexec frontier SPEC | --example NAME``: the efficient frontier over lambda, the mean-VaR
optimum and the cost against the horizon (closed form)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..frontier import cost_vs_horizon, efficient_frontier, mean_var_optimum
from ..methods import solve
from ..plots import plot_frontier
from .common import add_spec_arguments, problem_from_args, write_json

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("frontier", help="efficient frontier, mean-VaR optimum and cost against horizon")
    add_spec_arguments(p)
    p.add_argument("--points", type=int, default=61, help="number of lambda values (log-spaced)")
    p.add_argument("--span", type=float, default=1000.0, help="lambda from lambda0/span to lambda0*span")
    p.add_argument("--confidence", type=float, default=0.95, help="mean-VaR confidence level")
    p.add_argument("--max-slices", type=int, default=0, help="longest horizon of the cost curve, in slices")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--plot", metavar="PNG")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problem = problem_from_args(args)
    lam0 = problem.risk_aversion if problem.risk_aversion > 0 else 1e-6
    lams = np.geomspace(lam0 * args.span**-1, lam0 * args.span, args.points)
    frontier = efficient_frontier(problem, lams)
    current = solve(problem, "closed-form")
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
        print(f"plot written to {plot_frontier(frontier, args.plot, curve=curve, marked=current)}")
    return 0
