"""The execution-policy contract: ``order(state) -> n_k`` (shares) from a :class:`SliceState`."""

from __future__ import annotations

import numpy as np

from ..market import SliceState
from ..spec import ExecutionProblem

__all__ = ["ExecutionPolicy", "clip_order"]


def clip_order(problem: ExecutionProblem, k: int, holdings: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``order`` kept on the order's side, within ``|x_{k-1}|`` and the slice's planning cap (shares)."""
    a = problem.asset
    sign = np.sign(a.holdings)
    amount = np.clip(sign * np.asarray(order, dtype=np.float64), 0.0, np.maximum(sign * holdings, 0.0))
    caps = a.slice_caps(problem.slices)
    if caps is not None:
        amount = np.minimum(amount, caps[k - 1])
    return sign * amount


class ExecutionPolicy:
    """Base of the execution policies: ``problem``, ``name``, ``order(state)``; ``trade`` is the
    :class:`solvers.policy.FeedbackPolicy` form (volume state 0) so that every face can run it."""

    time_model = "discrete"
    name = "policy"

    def __init__(self, problem: ExecutionProblem) -> None:
        self.problem = problem

    def order(self, state: SliceState) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        holdings = np.asarray(holdings, dtype=np.float64)
        zeros = np.zeros(holdings.shape)
        return self.order(SliceState(k, holdings, np.broadcast_to(sigma, holdings.shape), regime, zeros, zeros))
