"""Every execution policy on common random numbers against the exact benchmark.

:func:`execution_table` simulates the static optimum followed blindly, catch-up, POV (when the
spec has a volume profile), receding-horizon re-optimization and the backward induction under
fills, with one seed (the same prices, volatility, volume and fills for all), and reports each
policy's mean cost, standard deviation, objective ``E[C + R]``, unfilled shortfall at the end
(fraction of ``|X|``) and its objective gap to the benchmark, with 95% intervals (currency).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..methods import METHODS, solve
from ..simulation import MonteCarloEstimate, SimulationResult, compare, simulate
from ..simulation.estimates import standard_error, unit_means
from ..spec import ExecutionProblem
from .catch_up import CatchUp
from .pov import PercentOfVolume
from .receding import RecedingHorizon
from .static import StaticSchedule

__all__ = ["PolicyRow", "ExecutionReport", "execution_table", "default_policies", "dp_under_fills", "BENCHMARK"]

#: the label of the exact benchmark in the table
BENCHMARK = "dp-under-fills"


def dp_under_fills(problem: ExecutionProblem, **settings: Any):
    """The backward induction under the spec's fill model (method ``dp``'s ``fills`` module,
    found through the registry): a solution with ``objective`` (currency) and ``policy``."""
    module = importlib.import_module(f"{METHODS['dp']}.fills")
    return module.solve_under_fills(problem, **settings)


def default_policies(problem: ExecutionProblem, static_method: str = "qp") -> dict[str, Any]:
    """The heuristic policies around the static optimum of ``static_method``."""
    holdings = solve(problem, static_method).holdings
    out: dict[str, Any] = {"static": StaticSchedule(problem, holdings), "catch-up": CatchUp(problem, holdings)}
    if problem.asset.market_volume is not None:
        out["pov"] = PercentOfVolume(problem)
    out["receding-horizon"] = RecedingHorizon(problem)
    return out


@dataclass
class PolicyRow:
    """One policy's line of the table (currency; ``shortfall`` as a fraction of ``|X|``)."""

    name: str
    simulation: SimulationResult
    shortfall: MonteCarloEstimate
    gap: MonteCarloEstimate | None  # objective minus the benchmark's, paired on the same paths

    def to_dict(self) -> dict[str, Any]:
        s = self.simulation
        out = {"policy": self.name, "mean_cost": s.mean.to_dict(), "std_cost": s.std.value,
               "objective": s.objective.to_dict(), "objective_ci95": list(s.objective.ci()),
               "shortfall_at_end": self.shortfall.to_dict(), "shortfall_ci95": list(self.shortfall.ci())}
        if self.gap is not None:
            out["gap_to_benchmark"] = self.gap.to_dict()
            out["gap_ci95"] = list(self.gap.ci())
        return out


@dataclass
class ExecutionReport:
    """The table of :func:`execution_table`."""

    problem: ExecutionProblem
    rows: list[PolicyRow]
    benchmark_objective: float | None
    paths: int
    seed: int
    notes: list[str] = field(default_factory=list)
    resolve_seconds: dict[str, float] = field(default_factory=dict)

    def row(self, name: str) -> PolicyRow:
        return next(r for r in self.rows if r.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"problem": self.problem.name or None, "paths": self.paths, "seed": self.seed,
                "benchmark": BENCHMARK, "benchmark_objective": self.benchmark_objective,
                "policies": [r.to_dict() for r in self.rows], "resolve_seconds": self.resolve_seconds,
                "notes": self.notes}

    def summary(self) -> str:
        head = (f"execution policies - {self.problem.name or 'problem'}: {self.paths} common paths, seed {self.seed} "
                f"(95% intervals; shortfall = unfilled at t_N, fraction of |X|)")
        lines = [head, "", f"  {'policy':<18} {'mean cost':>14} {'std cost':>12} {'objective E[C+R] (95% CI)':>40} "
                           f"{'shortfall':>18} {'gap to ' + BENCHMARK + ' (95% CI)':>40}"]
        for r in self.rows:
            s = r.simulation
            lo, hi = s.objective.ci()
            gap = "" if r.gap is None else f"{r.gap.value:12.6g} [{r.gap.ci()[0]:.4g}, {r.gap.ci()[1]:.4g}]"
            lines.append(f"  {r.name:<18} {s.mean.value:14.6g} {s.std.value:12.6g} "
                         f"{s.objective.value:14.8g} [{lo:.6g}, {hi:.6g}] {r.shortfall.value:10.4g} +/-{1.96 * r.shortfall.se:.2g} "
                         f"{gap:>40}")
        if self.benchmark_objective is not None:
            lines.append(f"  {BENCHMARK} value function: {self.benchmark_objective:.10g}")
        for name, sec in self.resolve_seconds.items():
            lines.append(f"  {name}: {sec * 1e3:.3g} ms per re-solve (all paths at once)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def execution_table(problem: ExecutionProblem, policies: Mapping[str, Any] | None = None, *, paths: int = 20_000,
                    seed: int = 0, antithetic: bool = False, benchmark: bool = True, static_method: str = "qp",
                    dp_settings: Mapping[str, Any] | None = None) -> ExecutionReport:
    """Simulate every policy on the same paths and state its gap to the benchmark.

    Args:
        problem: a single-asset spec (its fill model, if any, applies to every policy).
        policies: name -> policy (``order(state)`` or ``trade(...)``); default :func:`default_policies`.
        paths, seed, antithetic: simulator settings, shared (common random numbers).
        benchmark: add the backward induction under fills (``dp_settings``) and the gaps to it.
    """
    policies = dict(default_policies(problem, static_method) if policies is None else policies)
    notes, value = [], None
    if benchmark:
        sol = dp_under_fills(problem, **dict(dp_settings or {}))
        policies[BENCHMARK] = sol.policy
        value = sol.objective
    sims = {name: simulate(problem, pol, paths=paths, seed=seed, antithetic=antithetic, label=name)
            for name, pol in policies.items()}
    unit = 2 if antithetic else 1
    big_x = abs(problem.asset.holdings)
    rows = []
    for name, sim in sims.items():
        rem = np.zeros(paths) if sim.remainder is None else np.abs(sim.remainder) / big_x
        ru = unit_means(rem, unit)
        gap = compare(sim, sims[BENCHMARK])["objective"].estimate if benchmark and name != BENCHMARK else None
        rows.append(PolicyRow(name, sim, MonteCarloEstimate(float(ru.mean()), standard_error(ru)), gap))
    timing = {f"{name} ({pol.path})": float(np.mean(pol.seconds)) for name, pol in policies.items()
              if isinstance(pol, RecedingHorizon) and pol.seconds}
    if benchmark:
        beaten = [r.name for r in rows if r.gap is not None and r.gap.ci()[1] < 0]
        if beaten:
            notes.append(f"these policies beat the benchmark beyond their interval (a bug or a coarse benchmark): {beaten}")
        if not math.isfinite(value):
            notes.append("the benchmark's value is not finite")
    return ExecutionReport(problem, rows, value, paths, seed, notes, timing)
