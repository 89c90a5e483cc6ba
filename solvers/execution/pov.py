"""Percentage of volume: order ``r E[V_k | z_{k-1}]`` in slice ``k`` (the forecast of the slice's
volume from the last realized one, :mod:`solvers.market.volume`), within the holdings and caps."""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..market import SliceState, market_model
from ..spec import ExecutionProblem
from .base import ExecutionPolicy, clip_order

__all__ = ["PercentOfVolume"]


class PercentOfVolume(ExecutionPolicy):
    """Trade a target fraction ``rate`` of the forecast volume (default: ``fill_participation``,
    else ``participation``, else the rate that finishes on the profile, ``|X| / sum m_k``)."""

    name = "pov"

    def __init__(self, problem: ExecutionProblem, rate: float | None = None) -> None:
        super().__init__(problem)
        a = problem.asset
        if a.market_volume is None:
            raise SpecError("assets[0].market_volume", None, "is required by the percentage-of-volume policy")
        self.market = market_model(problem)
        if rate is None:
            rate = a.fill_participation or a.participation or abs(a.holdings) / float(np.sum(a.market_volume))
        if not 0 < rate:
            raise SpecError("rate", rate, "must be > 0")
        self.rate = float(rate)

    def order(self, state: SliceState) -> np.ndarray:
        x = np.asarray(state.holdings, dtype=np.float64)
        if state.k >= self.problem.slices:
            return x.copy()
        volume = self.market.volume
        forecast = volume.expected_volume(state.k, state.volume_state) if volume.stochastic else np.full(
            x.shape, float(volume.profile[state.k - 1]))
        return clip_order(self.problem, state.k, x, np.sign(self.problem.asset.holdings) * self.rate * forecast)
