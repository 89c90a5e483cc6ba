"""Curves built from the closed form: the efficient frontier, the mean-VaR optimum and the cost
against the horizon (single asset or basket, linear impact, constant volatility).

Entry points: :func:`efficient_frontier` (``E`` and ``V`` of the optimum for many ``lambda`` in
one vectorized call), :func:`mean_var_optimum` (minimum of ``E + z sqrt(V)``,
``z = Phi^-1(confidence)``), :func:`cost_vs_horizon`. Costs in currency, from :mod:`solvers.costs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtri

from .closed_form import METHOD, kappa, optimal_holdings, require_applicable
from .closed_form import solve as closed_form_solve
from .costs import schedule_cost
from .errors import MethodNotApplicable, SpecError
from .result import Result
from .spec import ExecutionProblem

__all__ = ["efficient_frontier", "Frontier", "mean_var_optimum", "MeanVarOptimum", "cost_vs_horizon", "HorizonCurve"]


@dataclass(frozen=True)
class Frontier:
    """The efficient frontier: for each ``lambda``, the optimal schedule's ``E`` and ``V``."""

    risk_aversions: np.ndarray
    expected_cost: np.ndarray
    variance: np.ndarray
    holdings: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def slope(self) -> np.ndarray:
        """``dE/dV`` along the frontier by central differences in lambda (equals ``-lambda``)."""
        return np.gradient(self.expected_cost, self.risk_aversions) / np.gradient(self.variance, self.risk_aversions)


def _require_profile(problem: ExecutionProblem) -> None:
    """Raise :class:`MethodNotApplicable` for specs outside the AC 2001 profile's family: per-slice
    coefficients, closures or a terminal penalty (the closed form solves them one at a time)."""
    require_applicable(problem)
    keys = problem.time_varying_keys()
    if keys:
        raise MethodNotApplicable(METHOD, f"the frontier is traced for constant coefficients ({keys[0]} is set; "
                                          "solve the spec at each lambda instead)")


def efficient_frontier(problem: ExecutionProblem, risk_aversions: Sequence[float] | np.ndarray) -> Frontier:
    """Optimal ``(E, V)`` for every ``lambda`` in ``risk_aversions``: one vectorized call for
    a single asset (all trajectories at once, costed as a batch), a loop for a basket."""
    _require_profile(problem)
    lams = np.asarray(risk_aversions, dtype=np.float64)
    if lams.ndim != 1 or lams.size == 0:
        raise SpecError("risk_aversions", risk_aversions, "must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(lams)):
        raise SpecError("risk_aversions", risk_aversions, "must be finite")
    if problem.is_basket:
        holdings = np.stack([optimal_holdings(problem, float(lam)) for lam in lams])
    else:
        holdings = optimal_holdings(problem, lams)
    cost = schedule_cost(problem, holdings)
    return Frontier(lams, np.asarray(cost.expected_cost), np.asarray(cost.variance), holdings)


@dataclass(frozen=True)
class MeanVarOptimum:
    """The schedule minimizing ``E + z sqrt(V)`` (AC 2001 section 4)."""

    confidence: float
    z: float
    risk_aversion: float
    result: Result

    @property
    def value_at_risk_objective(self) -> float:
        return self.result.expected_cost + self.z * self.result.std


def mean_var_optimum(problem: ExecutionProblem, confidence: float = 0.95) -> MeanVarOptimum:
    """The ``lambda`` whose mean-variance optimum minimizes ``E + z sqrt(V)``,
    ``z = Phi^{-1}(confidence)``.

    The minimizer lies on the efficient frontier where ``dE/dV = -z / (2 sqrt V)``; since
    ``dE/dV = -lambda`` there, ``lambda`` solves ``2 lambda sqrt(V(lambda)) = z`` (Brent's method
    on log lambda). ``2 lambda sqrt(V)`` is bounded as ``lambda -> inf`` (by
    ``2 |X| eta_tilde / (tau^1.5 sigma)``); if ``z`` exceeds its bound, the optimum is to trade
    as fast as the slices allow, returned with ``lambda = inf``.
    """
    if not 0.5 < confidence < 1.0:
        raise SpecError("confidence", confidence, "must be in (0.5, 1)")
    _require_profile(problem)
    if problem.is_basket:
        raise MethodNotApplicable(METHOD, "mean-VaR optimum is implemented for a single asset")
    z = float(ndtri(confidence))

    def gap(log_lam: float) -> float:
        lam = math.exp(log_lam)
        v = float(schedule_cost(problem, optimal_holdings(problem, lam)).variance)
        return 2.0 * lam * math.sqrt(v) - z

    a = problem.asset
    scale = problem.eta_tilde / (problem.tau * a.volatility**2 * max(problem.horizon, problem.tau)) / abs(a.holdings)
    lo, hi = math.log(scale) - 40.0, math.log(scale) + 5.0
    while gap(lo) > 0:
        lo -= 20.0
    found = False
    for _ in range(40):
        if gap(hi) > 0:
            found = True
            break
        if kappa(problem, math.exp(hi)) * problem.horizon > 650:
            break
        lo, hi = hi, hi + 5.0
    if found:
        lam = math.exp(brentq(gap, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500))
        result = closed_form_solve(problem.replace(risk_aversion=lam))
    else:
        lam = math.inf
        holdings = np.zeros(problem.slices + 1)
        holdings[0] = a.holdings
        result = Result.from_schedule(problem.replace(risk_aversion=0.0), holdings, method=METHOD,
                                      message="z exceeds the frontier's bound: liquidate in the first slice")
    return MeanVarOptimum(confidence, z, lam, result)


# ---------------------------------------------------------------------------- horizon curve
@dataclass(frozen=True)
class HorizonCurve:
    """``E + lambda V`` against the horizon at a fixed slice length ``tau``.

    ``twap_objective`` is U-shaped (impact falls like 1/T, risk grows like T); its minimum
    is the best horizon for a uniform schedule. ``optimal_objective`` is the AC optimum,
    non-increasing in T (more time never hurts an optimal trader).
    """

    slices: np.ndarray
    horizons: np.ndarray
    twap_objective: np.ndarray
    optimal_objective: np.ndarray

    @property
    def best_index(self) -> int:
        return int(np.argmin(self.twap_objective))

    @property
    def best_horizon(self) -> float:
        return float(self.horizons[self.best_index])


def cost_vs_horizon(problem: ExecutionProblem, slices: Sequence[int]) -> HorizonCurve:
    """Total cost ``E + lambda V`` of TWAP and of the optimum for each number of slices,
    keeping ``tau`` and the order fixed (single asset, linear impact, no per-slice data)."""
    _require_profile(problem)
    a = problem.asset
    if isinstance(a.max_slice_trade, tuple) or a.market_volume is not None:
        raise MethodNotApplicable(METHOD, "per-slice caps or volumes do not extend to other horizons")
    tau = problem.tau
    ns = np.asarray(slices, dtype=int)
    twap, best = [], []
    for n in ns:
        p = problem.replace(slices=int(n), horizon=float(n) * tau)
        twap.append(float(schedule_cost(p, np.linspace(a.holdings, 0.0, int(n) + 1)).objective))
        best.append(float(schedule_cost(p, optimal_holdings(p)).objective))
    return HorizonCurve(ns, ns * tau, np.array(twap), np.array(best))
