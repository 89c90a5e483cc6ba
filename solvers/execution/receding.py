"""Receding-horizon re-optimization: before slice ``k`` re-solve the remaining problem
(``N - k + 1`` slices, the realized holdings, the volatility frozen at ``sigma_k``) and send its
first trade.

Closed form where no constraint binds (linear impact, no caps or drift): the first-slice
fraction ``1 - x_1/x_0`` of the discrete optimum depends only on ``lambda sigma_k^2``, so one
vectorized call serves every path. Otherwise the remaining problem goes to the registry's
``dp`` once per slice and volatility level (at most ``levels`` quantiles), and its policy
orders every path at that level. ``seconds`` records the time of each re-solve.
"""

from __future__ import annotations

import time

import numpy as np

from ..closed_form import optimal_holdings
from ..market import SliceState
from ..methods import solve
from ..spec import ExecutionProblem
from ..volatility import ConstantVolatility, VolatilityPath
from .base import ExecutionPolicy, clip_order

__all__ = ["RecedingHorizon", "remaining_problem"]


def remaining_problem(problem: ExecutionProblem, k: int, holdings: float, sigma: float) -> ExecutionProblem:
    """The problem of slices ``k..N`` from ``holdings`` (shares) with volatility ``sigma`` frozen
    (a volatility path keeps its tail); market and fill keys reset (the plan assumes full fills)."""
    n_rem = problem.slices - k + 1
    a = problem.asset

    def tail(value):
        return tuple(value[k - 1:]) if isinstance(value, tuple) else value

    model = problem.volatility_model
    if isinstance(model, VolatilityPath):
        path = tuple(model.path[k - 1:])
        sub_model, sigma = VolatilityPath(path=path), path[0]
    else:
        sub_model = ConstantVolatility()
    asset = a.replace(holdings=holdings, volatility=float(sigma), market_volume=tail(a.market_volume),
                      max_slice_trade=tail(a.max_slice_trade), volume_volatility=0.0, volume_autocorrelation=0.0,
                      fill_participation=None, fill_rate=1.0, min_holdings=None, max_holdings=None)
    return problem.replace(horizon=problem.tau * n_rem, slices=n_rem, assets=(asset,), volatility_model=sub_model)


class RecedingHorizon(ExecutionPolicy):
    """Re-solve the remaining problem at every slice from the realized state (see the module docstring).

    Args:
        problem: a single-asset spec.
        levels: the most volatility levels re-solved per slice on the dp path (quantiles of the
            observed ``sigma_k`` when there are more).
        dp_settings: settings of those dp solves (default: the numpy engine).
    """

    name = "receding-horizon"

    def __init__(self, problem: ExecutionProblem, levels: int = 16, dp_settings: dict | None = None) -> None:
        super().__init__(problem)
        a = problem.asset
        self.levels = int(levels)
        self.dp_settings = {"engine": "numpy", **dict(dp_settings or {})}  # no compile per remaining length
        self.closed_form = (a.is_linear and not problem.has_caps and a.drift == 0 and problem.risk_aversion >= 0
                            and not isinstance(problem.volatility_model, VolatilityPath)
                            and not isinstance(a.temporary_impact, tuple) and not isinstance(a.spread, tuple))
        self.path = "closed-form" if self.closed_form else "dp"
        self.seconds: list[float] = []
        self._fractions: dict[tuple[int, float], float] = {}

    def _closed_form_fractions(self, k: int, sigma: np.ndarray) -> np.ndarray:
        values, inverse = np.unique(np.asarray(sigma, dtype=np.float64), return_inverse=True)
        todo = [v for v in values if (k, float(v)) not in self._fractions]
        if todo:
            start = time.perf_counter()
            sub = remaining_problem(self.problem, k, float(np.sign(self.problem.asset.holdings)), 1.0)
            lam = self.problem.risk_aversion * np.asarray(todo) ** 2
            profile = optimal_holdings(sub, risk_aversion=lam)  # (levels, N_rem + 1), one vectorized call
            for v, f in zip(todo, 1.0 - profile[:, 1] / profile[:, 0]):
                self._fractions[(k, float(v))] = float(f)
            self.seconds.append(time.perf_counter() - start)
        return np.array([self._fractions[(k, float(v))] for v in values])[inverse.reshape(-1)].reshape(np.shape(sigma))

    def _dp_orders(self, k: int, x: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        a = self.problem.asset
        sign = np.sign(a.holdings)
        caps = a.slice_caps(self.problem.slices)
        capacity = np.inf if caps is None else float(np.sum(caps[k - 1:]))
        size = min(abs(a.holdings), capacity * (1.0 - 1e-9))
        sigma = np.asarray(sigma, dtype=np.float64)
        values = np.unique(sigma)
        if values.size > self.levels:
            values = np.unique(np.quantile(sigma, (np.arange(self.levels) + 0.5) / self.levels))
        nearest = np.abs(sigma[:, None] - values[None, :]).argmin(axis=1)
        out = np.zeros_like(x)
        held = np.clip(sign * x, 0.0, size)
        for j, level in enumerate(values):
            rows = nearest == j
            if not np.any(rows):
                continue
            start = time.perf_counter()
            result = solve(remaining_problem(self.problem, k, sign * size, float(level)), "dp", **self.dp_settings)
            out[rows] = result.policy.trade(1, sign * held[rows], np.full(int(rows.sum()), level), None)
            self.seconds.append(time.perf_counter() - start)
        return out

    def order(self, state: SliceState) -> np.ndarray:
        x = np.asarray(state.holdings, dtype=np.float64)
        k = state.k
        if k >= self.problem.slices:
            return x.copy()
        sigma = np.broadcast_to(np.asarray(state.sigma, dtype=np.float64), x.shape)
        if self.closed_form:
            return clip_order(self.problem, k, x, x * self._closed_form_fractions(k, sigma))
        return clip_order(self.problem, k, x, self._dp_orders(k, x, sigma))
