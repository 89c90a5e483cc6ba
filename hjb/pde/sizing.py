"""Memory and time ``hjb`` will need (``INFO.estimate``): time steps x volatility points for the
reduced HJB, times holdings points for the full HJB (one stored layer per slice boundary)."""

from __future__ import annotations

from solvers.resources import ResourceEstimate, grid_estimate
from solvers.spec import ExecutionProblem

from .settings import HJBSettings

__all__ = ["estimate"]


def estimate(problem: ExecutionProblem, settings: HJBSettings) -> ResourceEstimate:
    """``hjb``'s peak memory and run time for ``problem`` under ``settings``."""
    n = problem.slices
    steps = -(-settings.time_steps // n) * n  # rounded up to a multiple of N
    vol = settings.vol_points if problem.volatility_model.stochastic else 1
    if problem.all_linear:
        cells = float(steps) * vol
        return grid_estimate(cells, cells, f"hjb reduced: steps x volatility points = {steps} x {vol}")
    layer = float(vol) * settings.holdings_points
    cells = float(n + 1) * layer + 4 * layer
    return grid_estimate(cells, steps * layer,
                         f"hjb full: steps x volatility x holdings points = {steps} x {vol} x {settings.holdings_points}")
