"""The feedback-policy interface shared by the dynamic methods and the simulator.

A policy decides the trade of slice ``k`` (k = 1..N) from the state at ``t_{k-1}``:

    n_k = policy.trade(k, holdings, sigma, regime)

* ``holdings``: ``x_{k-1}`` in shares, an array of shape ``(paths,)`` (single asset).
* ``sigma``: the volatility that drives slice ``k``, ``sigma_k = sigma(t_{k-1})``, shape ``(paths,)``.
* ``regime``: the regime index during slice ``k`` (integer array) for a regime model, else None.
* returns ``n_k`` in shares (same sign convention as the order: positive sells), shape ``(paths,)``.

The last slice must finish the order: the simulator executes ``n_N = x_{N-1}`` whatever the
policy returns there, which is the order's ``x_N = 0`` (under a terminal penalty it executes the
policy's ``n_N`` and liquidates the remainder for ``alpha x_N^2``). Dynamic methods (``dp``, ``hjb``)
put such an object in ``Result.policy``; :class:`SchedulePolicy` wraps a static schedule so
that the simulator treats every strategy alike (common random numbers across strategies).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .costs import trades_from_holdings
from .errors import SpecError
from .spec import ExecutionProblem

__all__ = ["FeedbackPolicy", "SchedulePolicy", "ProportionalPolicy"]


@runtime_checkable
class FeedbackPolicy(Protocol):
    """Anything with ``problem``, ``time_model`` and ``trade(k, holdings, sigma, regime)``."""

    problem: ExecutionProblem
    time_model: str

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        ...


class SchedulePolicy:
    """A static schedule seen as a policy: ``n_k`` is the schedule's trade, whatever the state.

    Args:
        problem: the spec.
        holdings: ``x_k``, k = 0..N, shape (N+1,) (shares).
    """

    time_model = "discrete"

    def __init__(self, problem: ExecutionProblem, holdings: np.ndarray) -> None:
        holdings = np.asarray(holdings, dtype=np.float64)
        if holdings.shape[0] != problem.slices + 1:
            raise ValueError(f"holdings has {holdings.shape[0]} rows; expected N+1 = {problem.slices + 1}")
        self.problem = problem
        self.holdings = holdings
        self.trades = trades_from_holdings(holdings)

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        # holdings: (paths,) for one asset or (paths, m) for a basket; the trade row broadcasts to it
        return np.broadcast_to(self.trades[k - 1], np.shape(holdings)).copy()


class ProportionalPolicy:
    """The closed-loop form of a single-asset schedule: sell the same *fraction* of what is
    left as the schedule does, ``n_k = x_{k-1} * n*_k / x*_{k-1}`` (``x*`` the schedule).

    For the discrete AC optimum under constant volatility this is the optimal feedback policy
    (the problem is time-consistent: from any state the remaining optimum is the same sinh
    profile scaled by the holdings), so it reproduces the schedule on every path; it is a
    genuine state-dependent policy for the simulator's feedback path.
    """

    time_model = "discrete"

    def __init__(self, problem: ExecutionProblem, holdings: np.ndarray) -> None:
        h = np.asarray(holdings, dtype=np.float64)
        if h.shape != (problem.slices + 1,):
            raise SpecError("holdings", f"shape {h.shape}", f"must have shape ({problem.slices + 1},) (single asset)")
        self.problem = problem
        prev = h[:-1]
        safe = np.where(prev != 0, prev, 1.0)
        self.fractions = np.where(prev != 0, (h[:-1] - h[1:]) / safe, 1.0)

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        return holdings * self.fractions[k - 1]
