"""Feedback policies of the HJB solutions (:class:`solvers.policy.FeedbackPolicy`).

``trade(k, holdings, sigma, regime) -> n_k`` (shares) for slice ``k`` from the state at ``t_{k-1}``,
volatility frozen over the slice, the last slice finishing the order. :class:`ReducedPolicy`:
``n_k = x (1 - exp(-G_k(s)))``, ``G_k = int a dt`` over the slice. :class:`FullPolicy`: Euler sub-steps
of the optimal rate. ``value`` (currency, no trajectory constants) and ``rate`` (shares / time unit).
"""

from __future__ import annotations

import numpy as np

from solvers.spec import ExecutionProblem

from .full import FullSolution, holdings_gradient, power_functions
from .reduced import ReducedSolution

__all__ = ["ReducedPolicy", "FullPolicy"]


def _state_weights(states: np.ndarray, sigma: np.ndarray):
    """Linear-interpolation indices and weights of ``sigma`` on a uniform grid (clamped)."""
    if states.size == 1:
        zeros = np.zeros(np.shape(sigma), dtype=np.int64)
        return zeros, zeros, np.zeros(np.shape(sigma))
    ds = states[1] - states[0]
    pos = np.clip((np.asarray(sigma, dtype=np.float64) - states[0]) / ds, 0.0, states.size - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), states.size - 2)
    return lo, lo + 1, pos - lo


class ReducedPolicy:
    """Feedback policy of the reduced (linear-impact) HJB. ``time_model = "continuous"``."""

    time_model = "continuous"

    def __init__(self, problem: ExecutionProblem, solution: ReducedSolution) -> None:
        self.problem = problem
        self.solution = solution
        self.a_slices = np.asarray(solution.a_slices)  # A(t_{k-1}, s)/eta, (N, states)

    def _table(self, table: np.ndarray, sigma, regime) -> np.ndarray:
        sol = self.solution
        if sol.kind == "ode":
            if sol.states.size > 1:
                if regime is None:
                    raise ValueError("a regime model's policy needs the regime index of each path")
                return table[np.asarray(regime, dtype=np.int64)]
            return np.broadcast_to(table[0], np.shape(sigma))
        lo, hi, w = _state_weights(sol.states, sigma)
        return (1.0 - w) * table[lo] + w * table[hi]

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(holdings, dtype=np.float64)
        if k >= self.problem.slices:
            return x.copy()
        g = self._table(self.solution.slice_exponent[k - 1], np.broadcast_to(sigma, x.shape), regime)
        return x * -np.expm1(-g)

    def rate(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        """``v*(t_{k-1}, x, s) = A x / eta`` (shares / time unit); infinite at ``t = T``."""
        x = np.asarray(holdings, dtype=np.float64)
        return x * self._table(self.a_slices[k - 1], np.broadcast_to(sigma, x.shape), regime)

    def value(self, holdings, sigma, regime=None) -> np.ndarray:
        """``V(0, x, s) = eta x^2 A(0, s) / eta`` (currency, no trajectory constants)."""
        x = np.asarray(holdings, dtype=np.float64)
        a = self._table(self.solution.a_start, np.broadcast_to(sigma, x.shape), regime)
        return self.problem.asset.temporary_impact * x**2 * a


class FullPolicy:
    """Feedback policy of the full (nonlinear-impact) HJB. ``time_model = "continuous"``."""

    time_model = "continuous"

    def __init__(self, problem: ExecutionProblem, solution: FullSolution, substeps: int = 32) -> None:
        self.problem = problem
        self.solution = solution
        self.substeps = int(substeps)
        dy = solution.y[1] - solution.y[0]
        self._grad = holdings_gradient(solution.w_slices, dy, np)  # (N, ns, ny)
        self._scale = abs(problem.asset.holdings)

    def _bilinear(self, table: np.ndarray, sigma: np.ndarray, y: np.ndarray, regime=None) -> np.ndarray:
        sol = self.solution
        if sol.kind == "regimes":
            if regime is None:
                raise ValueError("a regime model's policy needs the regime index of each path")
            s_lo = s_hi = np.broadcast_to(np.asarray(regime, dtype=np.int64), np.shape(y))
            s_w = np.zeros(np.shape(y))
        else:
            s_lo, s_hi, s_w = _state_weights(sol.states, sigma)
        ny = sol.y.size
        pos = np.clip(y, 0.0, 1.0) * (ny - 1)
        y_lo = np.minimum(np.floor(pos).astype(np.int64), ny - 2)
        y_w = pos - y_lo
        row = lambda s_idx: (1.0 - y_w) * table[s_idx, y_lo] + y_w * table[s_idx, y_lo + 1]  # noqa: E731
        return (1.0 - s_w) * row(s_lo) + s_w * row(s_hi)

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(holdings, dtype=np.float64)
        if k >= self.problem.slices:
            return x.copy()
        sol = self.solution
        beta = sol.beta
        _, inv_beta = power_functions(beta, np)
        sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), x.shape)
        y0 = np.abs(x) / self._scale
        start_table = self._grad[k - 1]  # W_y at t_{k-1} and t_k (W = 0 at T), linear in time between
        end_table = self._grad[k] if k < self.problem.slices else np.zeros_like(start_table)
        tau = self.problem.tau
        dt = tau / self.substeps
        theta = self.problem.horizon - (k - 1) * tau
        y = y0.copy()
        for i in range(self.substeps):
            frac = i / self.substeps
            grad = ((1.0 - frac) * self._bilinear(start_table, sigma, y, regime)
                    + frac * self._bilinear(end_table, sigma, y, regime))
            p = y**beta * theta ** (-beta) + grad / (1.0 + beta)
            r = np.clip(inv_beta(np.maximum(p, 0.0)), 0.0, y / dt)
            y = y - r * dt
            theta -= dt
        return np.sign(x) * (y0 - y) * self._scale

    def rate(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        """``v*(t_{k-1}, x, s)`` from the first-order condition (shares / time unit)."""
        x = np.asarray(holdings, dtype=np.float64)
        sol = self.solution
        _, inv_beta = power_functions(sol.beta, np)
        y = np.abs(x) / self._scale
        grad = self._bilinear(self._grad[k - 1], np.broadcast_to(sigma, x.shape), y, regime)
        theta = self.problem.horizon - (k - 1) * self.problem.tau
        p = y**sol.beta * theta ** (-sol.beta) + grad / (1.0 + sol.beta)
        return np.sign(x) * inv_beta(np.maximum(p, 0.0)) * self._scale

    def value(self, holdings, sigma, regime=None) -> np.ndarray:
        """``V(0, x, s)`` (currency, no trajectory constants); ``|x| <= |X|``."""
        x = np.asarray(holdings, dtype=np.float64)
        sol = self.solution
        y = np.abs(x) / self._scale
        w = self._bilinear(sol.w_start, np.broadcast_to(sigma, x.shape), y, regime)
        return sol.value_scale * (power_functions(sol.beta, np)[0](y) * sol.horizon ** (-sol.beta) + w)
