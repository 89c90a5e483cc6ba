"""Memory and time ``dp`` will need (``INFO.estimate``): a grid of ``M x S x N`` values, each
stage minimizing over the next holdings for every pair of volatility states."""

from __future__ import annotations

from solvers.resources import ResourceEstimate, grid_estimate
from solvers.spec import ExecutionProblem

from .settings import DPSettings

__all__ = ["estimate"]


def estimate(problem: ExecutionProblem, settings: DPSettings) -> ResourceEstimate:
    """``dp``'s peak memory and run time for ``problem`` under ``settings``."""
    n, points = problem.slices, settings.x_points
    states = settings.vol_states if problem.volatility_model.stochastic else 1
    cells = float(n) * points * states
    return grid_estimate(cells, cells * points * states, f"dp: grid M x S x N = {points} x {states} x {n}")
