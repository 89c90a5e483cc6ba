"""Memory and time ``dp`` will need (``INFO.estimate``): a grid of ``M x S x N`` values, each
stage minimizing over the next holdings for every pair of volatility states; with transient impact
on the ``(x, E)`` grid, ``M x M_E x N`` values, each node minimizing by a scan and golden section."""

from __future__ import annotations

from solvers.resources import ResourceEstimate, grid_estimate
from solvers.spec import ExecutionProblem

from .settings import DPSettings
from .transient_grid import GOLDEN_STEPS, SCAN_POINTS, uses_transient_grid

__all__ = ["estimate"]

#: interpolated values per trade tried on the (x, E) grid: a 4 x 4 stencil
_STENCIL_POINTS = 16


def estimate(problem: ExecutionProblem, settings: DPSettings) -> ResourceEstimate:
    """``dp``'s peak memory and run time for ``problem`` under ``settings``."""
    n, points = problem.slices, settings.x_points
    if uses_transient_grid(problem, settings.recursion):
        nodes = float(points) * settings.e_points
        steps = SCAN_POINTS + (GOLDEN_STEPS if settings.iterations is None else settings.iterations)
        # tables of N slices plus the scan's (nodes x SCAN_POINTS x 16) gather, twice (the coarse grid)
        cells = float(n) * nodes + nodes * SCAN_POINTS * _STENCIL_POINTS
        # per trade tried: the stencil's gather, its weights and the stage, about 3 updates a point
        work = 1.25 * float(n) * nodes * steps * 3 * _STENCIL_POINTS
        return grid_estimate(cells, work, f"dp: (x, E) grid M x M_E x N = {points} x {settings.e_points} x {n}")
    states = settings.vol_states if problem.volatility_model.stochastic else 1
    cells = float(n) * points * states
    return grid_estimate(cells, cells * points * states, f"dp: grid M x S x N = {points} x {states} x {n}")
