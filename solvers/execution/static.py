"""The static schedule followed blindly: each slice orders the schedule's trade ``n*_k``
whatever was filled before; the shortfall is carried and sold at the end."""

from __future__ import annotations

import numpy as np

from ..market import SliceState
from ..spec import ExecutionProblem
from .base import ExecutionPolicy, clip_order

__all__ = ["StaticSchedule"]


class StaticSchedule(ExecutionPolicy):
    """Order ``n*_k = x*_{k-1} - x*_k`` of a static schedule ``x*`` (shares, shape (N+1,))."""

    name = "static"

    def __init__(self, problem: ExecutionProblem, holdings: np.ndarray) -> None:
        super().__init__(problem)
        self.holdings = np.asarray(holdings, dtype=np.float64).reshape(problem.slices + 1)
        self.trades = self.holdings[:-1] - self.holdings[1:]

    def order(self, state: SliceState) -> np.ndarray:
        x = np.asarray(state.holdings, dtype=np.float64)
        if state.k >= self.problem.slices:
            return x.copy()
        return clip_order(self.problem, state.k, x, np.full(x.shape, self.trades[state.k - 1]))
