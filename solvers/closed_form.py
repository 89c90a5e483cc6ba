"""Closed-form Almgren-Chriss (2001) solutions: single asset and correlated baskets.

Discrete time (the spec's N slices). With ``eta_tilde = eta - gamma tau / 2`` and
``a = tau^2 lambda sigma^2 / eta_tilde``, the optimal holdings of ``E + lambda V`` are

    x_j = X sinh(kappa (T - t_j)) / sinh(kappa T),   cosh(kappa tau) = 1 + a / 2,

(AC 2001 eq. 18). ``kappa tau = 2 asinh(sqrt(a) / 2)`` is used because it keeps full relative
accuracy as ``lambda -> 0`` (where ``arccosh(1 + a/2)`` loses half the digits), and the sinh
ratio is evaluated as ``exp(-y j) expm1(-2 y (N - j)) / expm1(-2 y N)`` (``y = kappa tau``),
which neither overflows for ``kappa T`` in the thousands nor cancels as ``kappa -> 0``.
``lambda = 0`` gives the straight line (TWAP). ``lambda < 0`` (risk seeking) takes the
trigonometric branch ``x_j = X sin(theta (N - j)) / sin(theta N)``, ``cos theta = 1 + a/2``,
which is the minimizer only while ``theta N < pi`` (the quadratic stays positive definite);
beyond that a :class:`SpecError` says so.

Continuous time (``tau -> 0``): ``x(t) = X sinh(kappa (T - t)) / sinh(kappa T)``,
``kappa = sigma sqrt(lambda / eta)``, with ``E = 1/2 gamma X^2 + epsilon |X| + eta int v^2 dt``
and ``V = sigma^2 int x^2 dt``, so ``E + lambda V = 1/2 gamma X^2 + epsilon |X| +
X^2 sqrt(eta lambda) sigma coth(kappa T)`` (MODEL.md's ``A(0) X^2``).

Baskets (AC 2001 appendix A): with ``Ht = H - tau/2 Gamma`` symmetric positive definite and
covariance ``C``, the change of variables ``z = U' Ht^(1/2) x``, ``U`` the eigenvectors of
``Ht^(-1/2) C Ht^(-1/2) = U diag(mu) U'``, splits the problem into ``m`` independent
single-asset problems with ``eta_tilde = 1`` and ``sigma^2 = mu_j``.

Expected cost and variance always come from :mod:`solvers.costs` (the direct sums);
:func:`ac2001_moments` evaluates AC 2001's eq. 20 independently, as a check.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, ClassVar, Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtri

from .costs import policy_cost, schedule_cost, trades_from_holdings, trajectory_constants
from .errors import MethodNotApplicable, SpecError
from .methods import MethodAccuracy, MethodInfo, Variant
from .result import Result
from .settings import MethodSettings, check_choice, merge_settings
from .spec import ExecutionProblem

__all__ = [
    "INFO",
    "ClosedFormSettings",
    "solve",
    "solve_batch",
    "optimal_holdings",
    "discrete_kappa",
    "half_life",
    "continuous_kappa",
    "ac2001_moments",
    "efficient_frontier",
    "Frontier",
    "mean_var_optimum",
    "MeanVarOptimum",
    "cost_vs_horizon",
    "HorizonCurve",
]

METHOD = "closed-form"
_TINY = 1e-150  # below this kappa*T the trajectory is the straight line to double precision


# ---------------------------------------------------------------------------- profiles
def _sinh_ratio(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``sinh(c u) / sinh(c)`` for ``c >= 0``, ``u`` in [0, 1]; ``u`` at ``c = 0``."""
    c = np.asarray(c, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    safe = np.where(c > _TINY, c, 1.0)
    with np.errstate(over="ignore", under="ignore"):
        r = np.exp(-safe * (1.0 - u)) * np.expm1(-2.0 * safe * u) / np.expm1(-2.0 * safe)
    return np.where(c > _TINY, r, u)


def _sin_ratio(theta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``sin(theta u) / sin(theta)`` for ``0 < theta < pi``."""
    return np.sin(theta * u) / np.sin(theta)


def _discrete_angle(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``cosh(y) = 1 + a/2`` return ``(y, theta)``: ``y >= 0`` where ``a >= 0`` (else 0) and
    ``theta = -i y`` in (0, pi) where ``-4 < a < 0`` (else 0)."""
    a = np.asarray(a, dtype=np.float64)
    y = 2.0 * np.arcsinh(np.sqrt(np.maximum(a, 0.0)) / 2.0)
    theta = 2.0 * np.arcsin(np.minimum(np.sqrt(np.maximum(-a, 0.0)) / 2.0, 1.0))
    return y, theta


def _discrete_profile(a: np.ndarray, slices: int, where: str = "risk_aversion") -> np.ndarray:
    """``x_j / X`` for j = 0..N of the discrete AC optimum with parameter ``a`` (any shape)."""
    a = np.asarray(a, dtype=np.float64)
    y, theta = _discrete_angle(a)
    u = (slices - np.arange(slices + 1)) / slices  # (N - j) / N
    if np.any(a < 0):
        bad = (a <= -4.0) | (theta * slices >= math.pi)
        if np.any(bad):
            worst = float(np.atleast_1d(a)[np.atleast_1d(bad)][0])
            raise SpecError(
                where, "risk seeking",
                f"tau^2 lambda sigma^2 / eta_tilde = {worst:.6g} makes the cost unbounded below "
                f"(need theta*N < pi with cos(theta) = 1 + a/2; N = {slices})",
            )
    hyper = _sinh_ratio(y[..., None] * slices, u)
    trig = _sin_ratio(np.where(a < 0, theta, 1.0)[..., None] * slices, u)
    return np.where((a < 0)[..., None], trig, hyper)


def _continuous_profile(q: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``x(t) / X`` at ``u = (T - t) / T`` for ``q = (kappa T)^2 = lambda sigma^2 T^2 / eta``."""
    q = np.asarray(q, dtype=np.float64)
    if np.any(q <= -math.pi**2):
        raise SpecError("risk_aversion", "risk seeking",
                        f"(kappa T)^2 = {float(np.min(q)):.6g} <= -pi^2: the continuous cost is unbounded below")
    c = np.sqrt(np.maximum(q, 0.0))
    theta = np.sqrt(np.maximum(-q, 0.0))
    hyper = _sinh_ratio(c[..., None], u)
    trig = _sin_ratio(np.where(q < 0, theta, 1.0)[..., None], u)
    return np.where((q < 0)[..., None], trig, hyper)


def _continuous_integrals(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the profile ``p(u)`` above: ``(int_0^1 p^2 du, int_0^1 p'^2 du)``.

    Hyperbolic: ``coth(c)/(2c) - 1/(2 sinh^2 c)`` and ``c^2 (coth(c)/(2c) + 1/(2 sinh^2 c))``;
    trigonometric: ``1/(2 sin^2 th) - cot(th)/(2 th)`` and ``th^2 (1/(2 sin^2 th) + cot(th)/(2 th))``.
    Below ``|q| = 1e-4`` the Taylor series ``1/3 - 2q/45 + 2q^2/315`` and ``1 + q^2/45``
    avoid the cancellation of the first expression.
    """
    q = np.asarray(q, dtype=np.float64)
    c = np.sqrt(np.maximum(q, 1e-300))
    th = np.sqrt(np.maximum(-q, 1e-300))
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        e = np.exp(-2.0 * c)
        inv_sinh2 = 4.0 * e / (1.0 - e) ** 2
        coth = (1.0 + e) / (1.0 - e)
        jx_h = coth / (2.0 * c) - 0.5 * inv_sinh2
        jv_h = c * c * (coth / (2.0 * c) + 0.5 * inv_sinh2)
        jx_t = 0.5 / np.sin(th) ** 2 - 1.0 / (2.0 * th * np.tan(th))
        jv_t = th * th * (0.5 / np.sin(th) ** 2 + 1.0 / (2.0 * th * np.tan(th)))
    jx = np.where(q >= 0, jx_h, jx_t)
    jv = np.where(q >= 0, jv_h, jv_t)
    small = np.abs(q) < 1e-4
    jx = np.where(small, 1.0 / 3.0 - 2.0 * q / 45.0 + 2.0 * q * q / 315.0, jx)
    jv = np.where(small, 1.0 + q * q / 45.0, jv)
    return jx, jv


# ---------------------------------------------------------------------------- checks
def _require_single_linear(problem: ExecutionProblem) -> None:
    if not problem.all_linear:
        betas = [a.impact_exponent for a in problem.assets]
        raise MethodNotApplicable(METHOD, f"needs linear temporary impact (impact_exponent = {betas})")
    if not problem.has_constant_volatility:
        raise MethodNotApplicable(METHOD, f"needs constant volatility (volatility_model.kind = {problem.volatility_model.kind!r})")
    if problem.has_drift:
        raise MethodNotApplicable(METHOD, "does not model price drift (an asset has drift != 0)")


def _check_schedule(problem: ExecutionProblem, holdings: np.ndarray) -> None:
    """The unconstrained optimum also solves the spec only if caps, no-reversal and the spread
    (constant only for monotone trades) do not bind; otherwise say why not."""
    trades = trades_from_holdings(holdings).reshape(problem.slices, problem.n_assets)
    for i, a in enumerate(problem.assets):
        reverses = np.any(trades[:, i] * np.sign(a.holdings) < -1e-12 * abs(a.holdings))
        if reverses and a.spread > 0:
            raise MethodNotApplicable(METHOD, f"asset {a.name!r} trades both ways, so the spread cost is not a constant")
        if reverses and problem.no_reversal:
            raise MethodNotApplicable(METHOD, f"no_reversal binds: asset {a.name!r} trades both ways")
        hold = holdings.reshape(problem.slices + 1, problem.n_assets)[:, i]
        tol = 1e-12 * abs(a.holdings)
        if a.min_holdings is not None and hold.min() < a.min_holdings - tol:
            raise MethodNotApplicable(METHOD, f"min_holdings binds for asset {a.name!r} (min x_k = {hold.min():.6g})")
        if a.max_holdings is not None and hold.max() > a.max_holdings + tol:
            raise MethodNotApplicable(METHOD, f"max_holdings binds for asset {a.name!r} (max x_k = {hold.max():.6g})")
        caps = a.slice_caps(problem.slices)
        if caps is not None:
            over = np.abs(trades[:, i]) - caps
            k = int(np.argmax(over))
            if over[k] > 1e-12 * abs(a.holdings):
                raise MethodNotApplicable(
                    METHOD, f"a cap binds: |n_{k + 1}| = {abs(trades[k, i]):.6g} > cap {caps[k]:.6g} for asset {a.name!r}")
    bands = problem.imbalance_bands()
    if bands is not None:
        prices = np.array([a.price for a in problem.assets])
        imbalance = np.abs(trades @ prices)
        k = int(np.argmax(imbalance - bands))
        if imbalance[k] > bands[k] * (1 + 1e-12) + 1e-9:
            raise MethodNotApplicable(METHOD, f"the imbalance band binds: |dollar imbalance of slice {k + 1}| = "
                                              f"{imbalance[k]:.6g} > {bands[k]:.6g}")


# ---------------------------------------------------------------------------- single asset
def _a_parameter(problem: ExecutionProblem, risk_aversion=None):
    lam = problem.risk_aversion if risk_aversion is None else np.asarray(risk_aversion, dtype=np.float64)
    sigma = problem.asset.volatility
    return problem.tau**2 * lam * sigma**2 / problem.eta_tilde


def discrete_kappa(problem: ExecutionProblem) -> float:
    """``kappa`` of AC 2001 (1 / time unit): ``cosh(kappa tau) = 1 + tau^2 lambda sigma^2 / (2 eta_tilde)``.

    For ``lambda < 0`` returns ``-theta / tau`` (the trigonometric rate, signed negative).
    """
    a = float(_a_parameter(problem))
    y, theta = _discrete_angle(np.array(a))
    return float(y) / problem.tau if a >= 0 else -float(theta) / problem.tau


def continuous_kappa(problem: ExecutionProblem) -> float:
    """``kappa = sigma sqrt(lambda / eta)`` of the continuous-time limit (1 / time unit)."""
    a = problem.asset
    return a.volatility * math.sqrt(max(problem.risk_aversion, 0.0) / a.temporary_impact)


def half_life(problem: ExecutionProblem) -> float:
    """``1 / kappa`` (time units): the time for the position to fall by a factor ``e`` in the
    long-horizon limit; ``inf`` for ``lambda <= 0``."""
    kappa = discrete_kappa(problem)
    return 1.0 / kappa if kappa > 0 else math.inf


def optimal_holdings(problem: ExecutionProblem, risk_aversion=None) -> np.ndarray:
    """Discrete AC optimal holdings ``x_j``, j = 0..N (shares).

    ``risk_aversion`` may be an array of ``lambda`` values; the result then has shape
    ``lambda.shape + (N+1,)`` (single asset) - a whole frontier in one vectorized call.
    Baskets take one ``lambda`` and return shape ``(N+1, m)``.
    """
    if problem.is_basket:
        return _basket_holdings(problem, problem.risk_aversion if risk_aversion is None else float(risk_aversion))
    a = _a_parameter(problem, risk_aversion)
    return problem.asset.holdings * _discrete_profile(a, problem.slices)


def _basket_decomposition(problem: ExecutionProblem, impact: np.ndarray):
    w, vecs = np.linalg.eigh(impact)
    root = (vecs * np.sqrt(w)) @ vecs.T
    inv_root = (vecs / np.sqrt(w)) @ vecs.T
    m = inv_root @ problem.covariance @ inv_root
    mu, u = np.linalg.eigh(0.5 * (m + m.T))
    mu = np.maximum(mu, 0.0)  # C is PSD: negative eigenvalues are rounding
    z0 = u.T @ (root @ problem.initial_holdings)
    return inv_root @ u, mu, z0


def _basket_holdings(problem: ExecutionProblem, lam: float) -> np.ndarray:
    back, mu, z0 = _basket_decomposition(problem, problem.eta_tilde_matrix)
    a = problem.tau**2 * lam * mu
    z = z0[:, None] * _discrete_profile(a, problem.slices)  # (m, N+1)
    return (back @ z).T


def _continuous_basket(problem: ExecutionProblem, u: np.ndarray):
    back, mu, z0 = _basket_decomposition(problem, problem.temporary_impact_matrix_array)
    q = problem.risk_aversion * mu * problem.horizon**2
    z = z0[:, None] * _continuous_profile(q, u)
    jx, jv = _continuous_integrals(q)
    temporary = float(np.sum(z0**2 * jv)) / problem.horizon
    variance = float(np.sum(mu * z0**2 * jx)) * problem.horizon
    return (back @ z).T, temporary, variance


@dataclass(frozen=True)
class ClosedFormSettings(MethodSettings):
    """Settings of method ``closed-form``.

    Attributes:
        time_model: ``"discrete"`` (AC 2001 on the spec's N slices) or ``"continuous"``
            (the ``tau -> 0`` limit, holdings sampled at ``t_k``).
    """

    method: ClassVar[str] = "closed-form"
    time_model: str = "discrete"

    def __post_init__(self) -> None:
        check_choice("time_model", self.time_model, ("discrete", "continuous"))


def solve(problem: ExecutionProblem, settings: ClosedFormSettings | None = None, **overrides: Any) -> Result:
    """The closed-form optimum of ``E + lambda V`` (method ``closed-form``).

    Args:
        problem: linear impact, constant volatility, no drift; caps, no-reversal and spread
            are allowed when the unconstrained optimum does not violate them (then it is also
            the constrained optimum), otherwise :class:`MethodNotApplicable` says which binds.
        settings: :class:`ClosedFormSettings` (``time_model``); keyword overrides allowed.
    """
    time_model = merge_settings(ClosedFormSettings, settings, overrides).time_model
    _require_single_linear(problem)
    start = time.perf_counter()
    if time_model == "continuous":
        return _solve_continuous(problem, start)
    holdings = optimal_holdings(problem)
    _check_schedule(problem, holdings)
    elapsed = time.perf_counter() - start
    diagnostics: dict = {}
    if not problem.is_basket:
        kappa = discrete_kappa(problem)
        diagnostics = {
            "kappa": kappa, "half_life": half_life(problem), "kappa_T": kappa * problem.horizon,
            "eta_tilde": problem.eta_tilde, "branch": _branch(problem.risk_aversion),
            "kappa_continuous": continuous_kappa(problem),
        }
    else:
        _, mu, _ = _basket_decomposition(problem, problem.eta_tilde_matrix)
        a = problem.tau**2 * problem.risk_aversion * mu
        y, theta = _discrete_angle(a)
        diagnostics = {"mode_kappas": np.where(a >= 0, y, -theta) / problem.tau, "mode_variances": mu}
    return Result.from_schedule(problem, holdings, method=METHOD, solve_seconds=elapsed, diagnostics=diagnostics)


def _branch(lam: float) -> str:
    return "linear" if lam == 0 else ("hyperbolic" if lam > 0 else "trigonometric")


def _solve_continuous(problem: ExecutionProblem, start: float) -> Result:
    u = 1.0 - problem.times / problem.horizon
    lam = problem.risk_aversion
    if problem.is_basket:
        holdings, temporary, variance = _continuous_basket(problem, u)
        diagnostics: dict = {}
    else:
        holdings, (temporary, variance), kappa = _continuous_single(problem, u)
        diagnostics = {"kappa": kappa, "half_life": 1.0 / kappa if kappa > 0 else math.inf,
                       "kappa_T": kappa * problem.horizon, "branch": _branch(lam)}
    _check_schedule(problem, holdings)
    consts = trajectory_constants(problem)
    cost = policy_cost(problem, permanent=consts["permanent"], temporary=temporary, spread=consts["spread"],
                       drift=0.0, variance=variance)
    return Result.from_cost(problem, holdings, cost, method=METHOD, solve_seconds=time.perf_counter() - start,
                            time_model="continuous", diagnostics=diagnostics)


def _continuous_single(problem: ExecutionProblem, u: np.ndarray):
    a = problem.asset
    q = problem.risk_aversion * a.volatility**2 * problem.horizon**2 / a.temporary_impact
    holdings = a.holdings * _continuous_profile(np.array(q), u)
    jx, jv = _continuous_integrals(np.array(q))
    temporary = a.temporary_impact * a.holdings**2 * float(jv) / problem.horizon
    variance = a.volatility**2 * a.holdings**2 * float(jx) * problem.horizon
    kappa = math.copysign(math.sqrt(abs(q)), q) / problem.horizon
    return holdings, (temporary, variance), kappa


def ac2001_moments(problem: ExecutionProblem) -> tuple[float, float]:
    """``(E, V)`` of the discrete optimum from AC 2001 eq. 20 (an independent check of the sums).

    ``E = 1/2 gamma X^2 + epsilon X + eta_tilde X^2 tanh(kappa tau/2) (tau sinh(2 kappa T)
    + 2 T sinh(kappa tau)) / (2 tau^2 sinh^2(kappa T))``,
    ``V = 1/2 sigma^2 X^2 (tau sinh(kappa T) cosh(kappa (T - tau)) - T sinh(kappa tau))
    / (sinh^2(kappa T) sinh(kappa tau))``. Valid for ``lambda > 0``; evaluated in overflow-free
    form (ratios of exponentials); it cancels for small ``kappa T``, where the sums are exact.
    """
    a = problem.asset
    if problem.risk_aversion <= 0:
        raise SpecError("risk_aversion", problem.risk_aversion, "AC 2001 eq. 20 needs lambda > 0")
    tau, big_t, x = problem.tau, problem.horizon, a.holdings
    k = discrete_kappa(problem)
    e2t = math.exp(-2 * k * big_t)
    coth_kt = (1 + e2t) / (1 - e2t)
    # sinh(k tau) / sinh(k T)^2 = exp(k tau - 2 k T) (1 - e^{-2 k tau}) / (1 - e^{-2 k T})^2 * 2
    sinh_ratio = 2 * math.exp(k * tau - 2 * k * big_t) * (-math.expm1(-2 * k * tau)) / (1 - e2t) ** 2
    temp = problem.eta_tilde * x**2 * math.tanh(k * tau / 2) * (2 * tau * coth_kt + 2 * big_t * sinh_ratio) / (2 * tau**2)
    expected = 0.5 * a.permanent_impact * x**2 + a.spread * abs(x) + temp
    # cosh(k(T-tau)) / (sinh(kT) sinh(k tau)) = 2 e^{-2 k tau} (1 + e^{-2k(T-tau)}) / ((1-e^{-2kT})(1-e^{-2k tau}))
    first = 2 * math.exp(-2 * k * tau) * (1 + math.exp(-2 * k * (big_t - tau))) / ((1 - e2t) * -math.expm1(-2 * k * tau))
    second = 4 * e2t / (1 - e2t) ** 2
    variance = 0.5 * a.volatility**2 * x**2 * (tau * first - big_t * second)
    return expected, variance


# ---------------------------------------------------------------------------- frontier
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


def efficient_frontier(problem: ExecutionProblem, risk_aversions: Sequence[float] | np.ndarray) -> Frontier:
    """Optimal ``(E, V)`` for every ``lambda`` in ``risk_aversions``: one vectorized call for
    a single asset (all trajectories at once, costed as a batch), a loop for a basket."""
    _require_single_linear(problem)
    lams = np.asarray(risk_aversions, dtype=np.float64)
    if lams.ndim != 1 or lams.size == 0:
        raise SpecError("risk_aversions", risk_aversions, "must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(lams)):
        raise SpecError("risk_aversions", risk_aversions, "must be finite")
    if problem.is_basket:
        holdings = np.stack([_basket_holdings(problem, float(l)) for l in lams])
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
    _require_single_linear(problem)
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
        if 2 * math.asinh(math.sqrt(problem.tau**2 * math.exp(hi) * a.volatility**2 / problem.eta_tilde) / 2) * problem.slices > 650:
            break
        lo, hi = hi, hi + 5.0
    if found:
        lam = math.exp(brentq(gap, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500))
        result = solve(problem.replace(risk_aversion=lam))
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
    _require_single_linear(problem)
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


def solve_batch(problems: Mapping[int, ExecutionProblem], settings: ClosedFormSettings | None = None) -> dict[int, Result]:
    """Vectorized closed form for a sweep: points that share everything but ``risk_aversion``
    are solved by one :func:`efficient_frontier` call, then each schedule passes exactly the
    applicability checks of :func:`solve` (caps, bounds, bands, no-reversal, spread with
    trades both ways). Points left out (or any error) are solved one by one by the caller."""
    settings = merge_settings(ClosedFormSettings, settings)
    if settings.time_model != "discrete":
        return {}
    groups: dict[Any, list[int]] = {}
    for pid, p in problems.items():
        if p.is_basket or not p.all_linear or p.has_drift or not p.has_constant_volatility:
            continue
        key = (p.horizon, p.slices, p.assets, p.correlation, p.volatility_model, p.temporary_impact_matrix,
               p.permanent_impact_matrix, p.no_reversal, p.imbalance_band)  # every field but risk_aversion
        groups.setdefault(key, []).append(pid)
    out: dict[int, Result] = {}
    for pids in groups.values():
        if len(pids) < 2:
            continue
        lams = np.array([problems[pid].risk_aversion for pid in pids])
        start = time.perf_counter()
        try:
            frontier = efficient_frontier(problems[pids[0]], lams)
        except (SpecError, MethodNotApplicable, ArithmeticError, ValueError):
            continue  # the one-by-one path reports the exact error
        elapsed = (time.perf_counter() - start) / len(pids)
        for i, pid in enumerate(pids):
            try:
                _check_schedule(problems[pid], frontier.holdings[i])
            except MethodNotApplicable:
                continue
            out[pid] = Result.from_schedule(problems[pid], frontier.holdings[i], method=METHOD, solve_seconds=elapsed,
                                            diagnostics={"vectorized_batch": len(pids)})
    return out


INFO = MethodInfo(
    name=METHOD,
    kind="static",
    time_models=("discrete", "continuous"),
    accuracy=MethodAccuracy(1e-12, 1e-10, "closed form in float64"),
    settings=ClosedFormSettings,
    summary="Almgren-Chriss closed forms (discrete and continuous time, baskets by eigen-decomposition)",
    variants=(Variant("closed-form", {}), Variant("closed-form/continuous", {"time_model": "continuous"})),
    batch_solve=solve_batch,
)
