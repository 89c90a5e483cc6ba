"""Catch-up to a static schedule: each slice orders what brings the holdings back to the
schedule, ``n_k = x_{k-1} - x*_k`` (within ``[0, x_{k-1}]`` and the slice's cap)."""

from __future__ import annotations

import numpy as np

from ..market import SliceState
from ..spec import ExecutionProblem
from .base import ExecutionPolicy, clip_order

__all__ = ["CatchUp"]


class CatchUp(ExecutionPolicy):
    """Track the schedule ``x*`` (shares, shape (N+1,)) from the realized holdings."""

    name = "catch-up"

    def __init__(self, problem: ExecutionProblem, holdings: np.ndarray) -> None:
        super().__init__(problem)
        self.holdings = np.asarray(holdings, dtype=np.float64).reshape(problem.slices + 1)

    def order(self, state: SliceState) -> np.ndarray:
        x = np.asarray(state.holdings, dtype=np.float64)
        if state.k >= self.problem.slices:
            return x.copy()
        return clip_order(self.problem, state.k, x, x - self.holdings[state.k])
