"""Memory and time ``hjb`` will need (``INFO.estimate``): time steps x volatility points for the
reduced HJB, times holdings points for the full HJB (one stored layer per slice boundary); the
transient system under stochastic volatility from its integration schedule (steps x states)."""

from __future__ import annotations

from solvers.resources import BASE_BYTES, ResourceEstimate, grid_estimate
from solvers.spec import ExecutionProblem

from .settings import MIN_POINTS, HJBSettings
from .transient import fastest_rate
from .transient_vol import schedule

__all__ = ["estimate", "transient_vol_estimate", "STEP_SECONDS"]

#: seconds per integration step of the transient system under stochastic volatility, ``a + b S + c S^2``
#: for ``S`` integrated states (fitted to timings of ``_strang``/``_rk4`` at S = 2..768 on 2 shared cores:
#: within 50% of them; the constant is numpy's per-call overhead, ``S^2`` the generator's flow)
STEP_SECONDS = {"strang": (3e-4, 1.5e-6, 1e-9), "rk4": (4e-4, 1.9e-6, 3.7e-9)}


def transient_vol_estimate(problem: ExecutionProblem, settings: HJBSettings) -> ResourceEstimate:
    """Transient impact under regimes or mean-reverting volatility: the fine run (``steps`` steps over
    ``S`` states) and the coarse one (``steps / 2`` over ``S`` states and, on a grid, the ``S / 2`` of the
    grid its error is measured against)."""
    plan = schedule(problem, settings, lambda sigma: fastest_rate(problem, sigma))
    fine = plan.vol.states.size
    other = max(settings.vol_points // 2, MIN_POINTS)  # the grid the error estimate compares with
    coarse = fine + ((2 * settings.vol_points if other == settings.vol_points else other) if plan.vol.grid is not None
                     else 0)
    a, b, c = STEP_SECONDS[plan.scheme]
    seconds = plan.steps * (a + b * fine + c * fine**2) + plan.steps // 2 * (a + b * coarse + c * coarse**2)
    # the generator's flows (and expm's work arrays) on the widest run, the state and its RK4 stages, the path
    memory = BASE_BYTES + 8.0 * (8 * coarse**2 + 120 * coarse + 3 * plan.steps)
    return ResourceEstimate(memory, seconds, f"hjb transient ({plan.scheme}): steps x states = {plan.steps} x {fine}, "
                            f"then {plan.steps // 2} x {coarse}")


def estimate(problem: ExecutionProblem, settings: HJBSettings) -> ResourceEstimate:
    """``hjb``'s peak memory and run time for ``problem`` under ``settings``."""
    n = problem.slices
    steps = -(-settings.time_steps // n) * n  # rounded up to a multiple of N
    vol = settings.vol_points if problem.volatility_model.stochastic else 1
    single = not problem.is_basket
    if single and problem.asset.has_transient and problem.volatility_model.stochastic \
            and not problem.time_varying_keys() and problem.asset.drift == 0:
        return transient_vol_estimate(problem, settings)
    if problem.all_linear:
        cells = float(steps) * vol
        return grid_estimate(cells, cells, f"hjb reduced: steps x volatility points = {steps} x {vol}")
    layer = float(vol) * settings.holdings_points
    cells = float(n + 1) * layer + 4 * layer
    return grid_estimate(cells, steps * layer,
                         f"hjb full: steps x volatility x holdings points = {steps} x {vol} x {settings.holdings_points}")
