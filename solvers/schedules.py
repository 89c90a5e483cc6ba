"""Baseline schedules: TWAP, VWAP, linear ramp, exponential decay, percentage of volume.

Each returns holdings ``x_k``, k = 0..N (shares, ``x_0 = X``, ``x_N = 0``) for a single asset,
or ``(N+1, m)`` for a basket (each asset on the same shape). Price any of them with
:func:`solvers.costs.schedule_cost` or wrap them with :func:`baseline_result`.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InfeasibleSpecError, SpecError
from .result import Result
from .spec import ExecutionProblem

__all__ = ["twap", "vwap", "linear_ramp", "exponential", "percentage_of_volume", "baseline_result", "BASELINES"]


def _from_fractions(problem: ExecutionProblem, fraction_traded: np.ndarray) -> np.ndarray:
    """Holdings from the fraction of the order traded in each slice (sums to 1)."""
    remaining = 1.0 - np.concatenate([[0.0], np.cumsum(fraction_traded)])
    remaining[-1] = 0.0
    remaining = np.clip(remaining, 0.0, None) if np.all(fraction_traded >= 0) else remaining
    x = problem.initial_holdings
    out = remaining[:, None] * x[None, :]
    return out if problem.is_basket else out[:, 0]


def twap(problem: ExecutionProblem) -> np.ndarray:
    """Time-weighted average price: equal trades ``X / N`` (the straight line, AC's naive
    strategy and the ``lambda = 0`` optimum for linear impact)."""
    return _from_fractions(problem, np.full(problem.slices, 1.0 / problem.slices))


def vwap(problem: ExecutionProblem, volume_profile: np.ndarray | None = None) -> np.ndarray:
    """Volume-weighted: trade in proportion to the market volume of each slice.

    ``volume_profile`` (N non-negative numbers) defaults to the first asset's
    ``market_volume``.
    """
    if volume_profile is None:
        volume_profile = problem.assets[0].market_volume
        if volume_profile is None:
            raise SpecError("assets[0].market_volume", None, "VWAP needs a market volume profile")
    profile = np.asarray(volume_profile, dtype=np.float64)
    if profile.shape != (problem.slices,) or np.any(profile < 0) or not np.isfinite(profile).all():
        raise SpecError("volume_profile", list(profile), f"must be {problem.slices} finite numbers >= 0")
    total = profile.sum()
    if total <= 0:
        raise SpecError("volume_profile", list(profile), "must have a positive total")
    return _from_fractions(problem, profile / total)


def linear_ramp(problem: ExecutionProblem, tilt: float = 1.0) -> np.ndarray:
    """Trades that change linearly over time: ``n_k ~ 1 + tilt (1 - 2 (k - 1/2) / N)``.

    ``tilt = 0`` is TWAP; ``tilt = 1`` front-loads (the last trade is about zero); ``-1``
    back-loads. ``|tilt| <= 1`` keeps every trade on the order's side.
    """
    if not math.isfinite(tilt) or abs(tilt) > 1:
        raise SpecError("tilt", tilt, "must be in [-1, 1]")
    k = np.arange(1, problem.slices + 1)
    weights = 1.0 + tilt * (1.0 - 2.0 * (k - 0.5) / problem.slices)
    return _from_fractions(problem, weights / weights.sum())


def exponential(problem: ExecutionProblem, rate: float) -> np.ndarray:
    """Holdings decaying at ``rate`` (1 / time unit), forced to zero at ``T``:
    ``x(t) = X (exp(-r t) - exp(-r T)) / (1 - exp(-r T))``; ``rate -> 0`` is TWAP."""
    if not math.isfinite(rate) or rate < 0:
        raise SpecError("rate", rate, "must be finite and >= 0")
    t, big_t = problem.times, problem.horizon
    if rate * big_t < 1e-12:
        remaining = 1.0 - t / big_t
    else:
        remaining = (np.exp(-rate * t) - np.exp(-rate * big_t)) / -np.expm1(-rate * big_t)
    remaining[-1] = 0.0
    return _from_fractions(problem, remaining[:-1] - remaining[1:])


def percentage_of_volume(problem: ExecutionProblem, rate: float) -> np.ndarray:
    """Trade ``rate`` times the market volume of each slice until the order is done.

    Uses the first asset's ``market_volume`` (shares per slice). Raises
    :class:`InfeasibleSpecError` naming the shortfall when the order cannot finish by ``T``.
    """
    if not 0 < rate <= 1:
        raise SpecError("rate", rate, "must be in (0, 1]")
    if problem.is_basket:
        raise SpecError("assets", [a.name for a in problem.assets], "percentage of volume is for a single asset")
    a = problem.asset
    if a.market_volume is None:
        raise SpecError("assets[0].market_volume", None, "percentage of volume needs a market volume profile")
    capacity = rate * np.asarray(a.market_volume)
    need = abs(a.holdings)
    if capacity.sum() < need * (1 - 1e-12):
        raise InfeasibleSpecError("rate", rate, f"trading {rate:g} of market volume cannot finish the order "
                                  f"(shortfall {need - capacity.sum():g} shares)")
    done = np.minimum(np.cumsum(capacity), need)
    traded = np.diff(np.concatenate([[0.0], done])) / need
    return _from_fractions(problem, traded)


BASELINES = {
    "twap": twap,
    "vwap": vwap,
    "linear-ramp": linear_ramp,
    "exponential": exponential,
    "pov": percentage_of_volume,
}


def baseline_result(problem: ExecutionProblem, name: str, **params) -> Result:
    """A baseline schedule priced like every other result (method ``baseline:<name>``)."""
    if name not in BASELINES:
        raise SpecError("baseline", name, f"unknown baseline (available: {', '.join(BASELINES)})")
    holdings = BASELINES[name](problem, **params)
    return Result.from_schedule(problem, holdings, method=f"baseline:{name}",
                                diagnostics={"params": params}, message="baseline, not an optimum")
