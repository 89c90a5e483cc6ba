"""The ``closed-form`` method: Almgren-Chriss (2001) optima, single asset and correlated baskets.

Discrete time (the spec's N slices): ``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)`` with
``cosh(kappa tau) = 1 + tau^2 lambda sigma^2 / (2 eta_tilde)``, ``eta_tilde = eta - gamma tau / 2``;
continuous time (``tau -> 0``): the same profile with ``kappa = sigma sqrt(lambda / eta)``.
Baskets split into independent modes (AC 2001 appendix A). With drift the optimum is AC 2001's
shifted profile; per-slice coefficients, a volatility path, closures or a terminal penalty take
the exact linear-quadratic solve (one banded system in the free holdings, O(N m^2)); the
continuous soft finish is Cartea & Jaimungal's. Entry points: :func:`solve`
(``INFO``, :class:`ClosedFormSettings`), :func:`solve_batch` (many ``lambda`` at once),
:func:`optimal_holdings`, :func:`kappa`, :func:`urgency`. Holdings in shares, time in the spec's
unit, costs from :mod:`solvers.costs`; the derivations and the numerically safe forms are on the
page ``solvers/docs/theory-closed-form.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
import scipy.linalg as sla

from .costs import policy_cost, trades_from_holdings, trajectory_constants
from .errors import MethodNotApplicable, OptexecError, SpecError
from .methods import MethodAccuracy, MethodInfo, Variant
from .result import Result
from .settings import MethodSettings, check_choice, merge_settings
from .spec import ExecutionProblem
from .transient import ow_schedule

__all__ = [
    "INFO",
    "ClosedFormSettings",
    "solve",
    "solve_batch",
    "require_applicable",
    "optimal_holdings",
    "kappa",
    "urgency",
    "discrete_kappa",
    "half_life",
    "ac2001_moments",
    "sinh_ratio",
    "discrete_angle",
    "discrete_profile",
    "a_parameter",
    "require_pure_transient",
]

METHOD = "closed-form"
_TINY = 1e-150  # below this kappa*T the trajectory is the straight line to double precision


@dataclass(frozen=True)
class ClosedFormSettings(MethodSettings):
    """Settings of the ``closed-form`` method.

    Attributes:
        time_model: ``"discrete"`` (AC 2001 on the spec's N slices) or ``"continuous"`` (the
            ``tau -> 0`` limit, holdings sampled at ``t_k``).
    """

    method: ClassVar[str] = "closed-form"

    time_model: str = "discrete"

    def __post_init__(self) -> None:
        check_choice("time_model", self.time_model, ("discrete", "continuous"))


# ---------------------------------------------------------------------------- profiles
def sinh_ratio(xp, c, u):
    """``sinh(c u) / sinh(c)`` for ``c >= 0``, ``u`` in [0, 1]; ``u`` at ``c = 0``. ``xp`` is the
    array namespace (numpy or jax.numpy): the one home of the AC profile, differentiable in ``c``."""
    safe = xp.where(c > _TINY, c, 1.0)
    r = xp.exp(-safe * (1.0 - u)) * xp.expm1(-2.0 * safe * u) / xp.expm1(-2.0 * safe)
    return xp.where(c > _TINY, r, u)


def _sinh_ratio(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore"):
        return sinh_ratio(np, np.asarray(c, dtype=np.float64), np.asarray(u, dtype=np.float64))


def _sin_ratio(theta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``sin(theta u) / sin(theta)`` for ``0 < theta < pi``."""
    return np.sin(theta * u) / np.sin(theta)


def discrete_angle(xp, a):
    """For ``cosh(y) = 1 + a/2`` return ``(y, theta)``: ``y >= 0`` where ``a >= 0`` (else 0) and
    ``theta = -i y`` in (0, pi) where ``-4 < a < 0`` (else 0); ``xp`` numpy or jax.numpy."""
    pos = xp.where(a > 0, a, 1.0)
    neg = xp.where(a < 0, -a, 1.0)
    y = xp.where(a > 0, 2.0 * xp.arcsinh(xp.sqrt(pos) / 2.0), 0.0)
    theta = xp.where(a < 0, 2.0 * xp.arcsin(xp.minimum(xp.sqrt(neg) / 2.0, 1.0)), 0.0)
    return y, theta


def _discrete_angle(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return discrete_angle(np, np.asarray(a, dtype=np.float64))


def discrete_profile(xp, a, slices: int):
    """``x_j / X``, j = 0..N, of the discrete AC optimum with ``a = tau^2 lambda sigma^2 / eta_tilde``
    (any shape; result ``a.shape + (N+1,)``), without checks; ``xp`` numpy or jax.numpy."""
    y, theta = discrete_angle(xp, a)
    u = (slices - xp.arange(slices + 1)) / slices  # (N - j) / N
    hyper = sinh_ratio(xp, y[..., None] * slices, u)
    th = xp.where(a < 0, theta, 1.0)[..., None] * slices
    trig = xp.sin(th * u) / xp.sin(th)
    return xp.where((a < 0)[..., None], trig, hyper)


def a_parameter(tau, risk_aversion, volatility, temporary_impact, permanent_impact):
    """``a = tau^2 lambda sigma^2 / eta_tilde``, ``eta_tilde = eta - gamma tau / 2`` (dimensionless;
    plain arithmetic, so floats, numpy or JAX values)."""
    return tau**2 * risk_aversion * volatility**2 / (temporary_impact - 0.5 * permanent_impact * tau)


def _discrete_profile(a: np.ndarray, slices: int, where: str = "risk_aversion") -> np.ndarray:
    """``x_j / X`` for j = 0..N of the discrete AC optimum with parameter ``a`` (any shape)."""
    a = np.asarray(a, dtype=np.float64)
    y, theta = _discrete_angle(a)
    if np.any(a < 0):
        bad = (a <= -4.0) | (theta * slices >= math.pi)
        if np.any(bad):
            worst = float(np.atleast_1d(a)[np.atleast_1d(bad)][0])
            raise SpecError(
                where, "risk seeking",
                f"tau^2 lambda sigma^2 / eta_tilde = {worst:.6g} makes the cost unbounded below "
                f"(need theta*N < pi with cos(theta) = 1 + a/2; N = {slices})",
            )
    with np.errstate(over="ignore", under="ignore"):
        return discrete_profile(np, a, slices)


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
def require_pure_transient(problem: ExecutionProblem, time_model: str = "discrete") -> None:
    """Raise :class:`MethodNotApplicable` unless a transient spec is Obizhaeva-Wang's pure case:
    every asset with an exponential kernel, ``transient_exponent = 1`` and ``initial_deviation = 0``,
    ``eta = gamma = 0``, ``lambda = 0``, no drift, no impact matrices."""
    reasons = []
    for i, a in enumerate(problem.assets):
        w = f"assets[{i}]"
        if not a.has_transient:
            reasons.append(f"{w}.transient_impact = 0 (every asset needs the transient kernel)")
            continue
        if a.transient_kernel != "exponential":
            reasons.append(f"{w}.transient_kernel = {a.transient_kernel!r} (needs 'exponential')")
        if a.transient_exponent != 1:
            reasons.append(f"{w}.transient_exponent = {a.transient_exponent:g} (needs 1)")
        if a.initial_deviation != 0:
            reasons.append(f"{w}.initial_deviation = {a.initial_deviation:g} (needs 0)")
        if isinstance(a.temporary_impact, tuple) or a.temporary_impact != 0 or a.permanent_impact != 0:
            reasons.append(f"{w}.temporary_impact = {a.impact_level:g}, permanent_impact = "
                           f"{a.permanent_impact:g} (needs both 0)")
        if a.drift != 0:
            reasons.append(f"{w}.drift = {a.drift:g} (needs 0)")
        if isinstance(a.spread, tuple):
            reasons.append(f"{w}.spread is per slice (a linear term in the trades)")
    if problem.risk_aversion != 0:
        reasons.append(f"risk_aversion = {problem.risk_aversion:g} (needs 0)")
    if problem.temporary_impact_matrix is not None or problem.permanent_impact_matrix is not None:
        reasons.append("impact matrices are set")
    if problem.terminal_penalty is not None:
        reasons.append("terminal_penalty is set")
    if problem.closures and time_model == "continuous":
        reasons.append("closures in continuous time")
    if reasons:
        raise MethodNotApplicable(METHOD, "transient_impact: the closed form is Obizhaeva-Wang's pure case only; "
                                  + "; ".join(reasons))


def require_applicable(problem: ExecutionProblem, time_model: str = "discrete") -> None:
    """Raise :class:`MethodNotApplicable` unless the impact is linear and the volatility
    deterministic; continuous time also needs constant volatility and coefficients, no drift
    and no closures (a terminal penalty is Cartea & Jaimungal's solution, single asset)
    (constraints are checked on the schedule, by :func:`solve`). A transient spec must be
    Obizhaeva-Wang's pure case (:func:`require_pure_transient`)."""
    if problem.has_transient:
        require_pure_transient(problem, time_model)
        return
    if not problem.all_linear:
        betas = [a.impact_exponent for a in problem.assets]
        raise MethodNotApplicable(METHOD, f"needs linear temporary impact (impact_exponent = {betas})")
    if problem.volatility_model.stochastic:
        raise MethodNotApplicable(METHOD, "needs constant volatility or a deterministic path (volatility_model.kind = "
                                          f"{problem.volatility_model.kind!r})")
    if time_model == "continuous":
        if not problem.has_constant_volatility:
            raise MethodNotApplicable(METHOD, "continuous time needs constant volatility (volatility_model.kind = "
                                              f"{problem.volatility_model.kind!r})")
        if problem.has_drift:
            raise MethodNotApplicable(METHOD, "continuous time does not model price drift (an asset has drift != 0)")
        keys = [k for k in problem.time_varying_keys() if k != "terminal_penalty"]
        if keys:
            raise MethodNotApplicable(METHOD, f"continuous time needs constant coefficients and no closures ({keys[0]} is set)")
        if problem.has_terminal_penalty and problem.is_basket:
            raise MethodNotApplicable(METHOD, "continuous time with a terminal_penalty is solved for a single asset")


def _needs_lq(problem: ExecutionProblem) -> bool:
    """True when the AC 2001 profile does not apply and the banded linear-quadratic solve does."""
    return bool(problem.time_varying_keys()) or not problem.has_constant_volatility or (
        problem.has_drift and (problem.is_basket or problem.risk_aversion <= 0))


def _check_schedule(problem: ExecutionProblem, holdings: np.ndarray) -> None:
    """The unconstrained optimum also solves the spec only if caps, no-reversal and the spread
    (constant only for monotone trades) do not bind; otherwise say why not."""
    trades = trades_from_holdings(holdings).reshape(problem.slices, problem.n_assets)
    for i, a in enumerate(problem.assets):
        reverses = np.any(trades[:, i] * np.sign(a.holdings) < -1e-12 * abs(a.holdings))
        if reverses and np.any(np.asarray(a.spread) > 0):
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
    a = problem.asset
    return a_parameter(problem.tau, lam, a.volatility, a.temporary_impact, a.permanent_impact)


def _continuous_q(problem: ExecutionProblem, risk_aversion=None):
    """``(kappa T)^2 = lambda sigma^2 T^2 / eta`` of the continuous limit (negative when ``lambda < 0``)."""
    lam = problem.risk_aversion if risk_aversion is None else np.asarray(risk_aversion, dtype=np.float64)
    a = problem.asset
    return lam * a.volatility**2 * problem.horizon**2 / a.temporary_impact


def kappa(problem: ExecutionProblem, risk_aversion=None, time_model: str = "discrete"):
    """The urgency rate ``kappa`` of a single asset (1 / time unit).

    Discrete: ``cosh(kappa tau) = 1 + tau^2 lambda sigma^2 / (2 eta_tilde)``; continuous:
    ``kappa = sigma sqrt(lambda / eta)``. For ``lambda < 0`` the trigonometric rate ``theta``
    (``cos(theta tau) = 1 + a/2``, resp. ``sigma sqrt(-lambda / eta)``) is returned signed
    negative. ``risk_aversion`` (default the spec's) may be an array; the result has its shape.
    """
    check_choice("time_model", time_model, ("discrete", "continuous"))
    if time_model == "continuous":
        q = _continuous_q(problem, risk_aversion)
        out = np.copysign(np.sqrt(np.abs(q)), q) / problem.horizon
    else:
        a = _a_parameter(problem, risk_aversion)
        y, theta = _discrete_angle(a)
        out = np.where(a >= 0, y, -theta) / problem.tau
    return float(out) if np.ndim(out) == 0 else out


def urgency(problem: ExecutionProblem, s):
    """``A(0, s) / eta = kappa_s coth(kappa_s T)``, ``kappa_s = s sqrt(lambda / eta)`` (1 / time):
    the continuous-time urgency of a single asset with volatility frozen at ``s`` (``1/T`` at
    ``kappa_s = 0``; ``theta cot(theta T)`` with ``theta = s sqrt(-lambda / eta)`` for ``lambda < 0``)."""
    s = np.asarray(s, dtype=np.float64)
    q = problem.risk_aversion * s**2 / problem.asset.temporary_impact
    big_t = problem.horizon
    rate = np.sqrt(np.abs(q))
    safe = np.where(rate * big_t > _TINY, rate, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.where(q >= 0, safe / np.tanh(safe * big_t), safe / np.tan(safe * big_t))
    out = np.where(rate * big_t > _TINY, value, 1.0 / big_t)
    return float(out) if out.ndim == 0 else out


def discrete_kappa(problem: ExecutionProblem) -> float:
    """``kappa(problem)``: the discrete AC 2001 rate (1 / time unit)."""
    return kappa(problem)


def half_life(problem: ExecutionProblem) -> float:
    """``1 / kappa`` (time units): the time for the position to fall by a factor ``e`` in the
    long-horizon limit; ``inf`` for ``lambda <= 0``."""
    k = kappa(problem)
    return 1.0 / k if k > 0 else math.inf


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
    x = (back @ z).T
    x[0], x[-1] = problem.initial_holdings, 0.0  # exact endpoints: the mode transform rounds at 1e-16 max |X|
    return x


def _continuous_basket(problem: ExecutionProblem, u: np.ndarray):
    back, mu, z0 = _basket_decomposition(problem, problem.temporary_impact_matrix_array)
    q = problem.risk_aversion * mu * problem.horizon**2
    z = z0[:, None] * _continuous_profile(q, u)
    jx, jv = _continuous_integrals(q)
    temporary = float(np.sum(z0**2 * jv)) / problem.horizon
    variance = float(np.sum(mu * z0**2 * jx)) * problem.horizon
    return (back @ z).T, temporary, variance


def solve(problem: ExecutionProblem, settings: ClosedFormSettings | None = None, **overrides: Any) -> Result:
    """The closed-form optimum of ``E + lambda V`` (method ``closed-form``).

    Args:
        problem: linear impact, constant volatility, no drift; caps, no-reversal, holdings
            bounds, the imbalance band and the spread are allowed when the unconstrained optimum
            does not violate them (then it is also the constrained optimum), otherwise
            :class:`MethodNotApplicable` says which binds.
        settings: a :class:`ClosedFormSettings` (None: discrete time).
        overrides: its fields by keyword (``time_model="continuous"``).
    """
    cfg = merge_settings(ClosedFormSettings, settings, overrides)
    require_applicable(problem, cfg.time_model)
    start = time.perf_counter()
    if problem.has_transient:
        return _solve_transient(problem, cfg.time_model, start)
    if cfg.time_model == "continuous":
        if problem.has_terminal_penalty:
            return _solve_cartea_jaimungal(problem, start)
        return _solve_continuous(problem, start)
    if _needs_lq(problem):
        holdings = lq_holdings(problem)
        diagnostics: dict[str, Any] = {"branch": "linear-quadratic (banded)"}
    elif problem.has_drift:
        holdings = drift_holdings(problem)
        diagnostics = _discrete_diagnostics(problem)
        diagnostics["branch"] = "AC 2001 with drift"
    else:
        holdings = optimal_holdings(problem)
        diagnostics = _discrete_diagnostics(problem)
    _check_schedule(problem, holdings)
    elapsed = time.perf_counter() - start
    return Result.from_schedule(problem, holdings, method=METHOD, solve_seconds=elapsed, diagnostics=diagnostics)


def lq_holdings(problem: ExecutionProblem) -> np.ndarray:
    """The exact optimum of the linear-quadratic static problem (linear impact, deterministic
    volatility) with per-slice coefficients, closures, drift and a terminal penalty: the
    stationarity condition ``H x = b`` in the free holdings, ``H`` the banded Hessian of
    :meth:`ExecutionProblem.hessian_band`, ``b = 2 C_1 X + mu h_k - s (epsilon_{k+1} - epsilon_k)``
    (``C_1 = H_1 / tau - Gamma / 2``, ``s = sign(X)``: the one-way spread; ``epsilon_{N+1} = 0``).
    Shares, shape (N+1,) or (N+1, m). Raises :class:`MethodNotApplicable` when ``H`` is not
    positive definite (risk seeking beyond the convex range)."""
    n, m, tau = problem.slices, problem.n_assets, problem.tau
    big_x = problem.initial_holdings
    soft = problem.has_terminal_penalty
    free = n if soft else n - 1
    x = np.zeros((n + 1, m))
    x[0] = big_x
    if free == 0:
        return x[:, 0] if m == 1 else x
    if problem.temporary_impact_matrix is not None:
        h1 = problem.temporary_impact_matrix_array
    else:
        h1 = np.diag([a.eta_slices(n)[0] for a in problem.assets])
    rhs = np.zeros((free, m))
    rhs[0] += 2.0 * (h1 / tau - 0.5 * problem.permanent_impact_matrix_array) @ big_x
    mu = np.array([a.drift for a in problem.assets])
    rhs += (problem.exposure_times()[:free, None] * mu[None, :])
    eps = np.stack([a.spread_slices(n) for a in problem.assets], axis=1)            # (N, m)
    eps_next = np.vstack([eps[1:], np.zeros((1, m))])
    rhs -= (np.sign(big_x)[None, :] * (eps_next - eps))[:free]
    band = problem.hessian_band()
    scale = float(np.abs(band).max())
    try:
        if band.shape[1] == 1:  # one free holding (N = 1 with a soft finish): LAPACK's ptsv needs two
            if not band[0, 0] > 0:
                raise np.linalg.LinAlgError("not positive definite")
            sol = rhs.ravel() / band[0, 0]
        else:
            sol = sla.solveh_banded(band / scale, rhs.ravel() / scale, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise MethodNotApplicable(METHOD, f"the Hessian is not positive definite (smallest eigenvalue "
                                          f"{problem.hessian_check():.6g}): risk seeking beyond the convex range") from None
    x[1:free + 1] = sol.reshape(free, m)
    return x[:, 0] if m == 1 else x


def drift_holdings(problem: ExecutionProblem) -> np.ndarray:
    """AC 2001 (section 2.2) with drift, discrete time, single asset, ``lambda > 0``:
    ``x_j = xbar + (X - xbar) sinh(kappa (T - t_j)) / sinh(kappa T) - xbar sinh(kappa t_j) / sinh(kappa T)``,
    ``xbar = mu / (2 lambda sigma^2)``, ``kappa`` the discrete rate (shares)."""
    a = problem.asset
    prof = _discrete_profile(_a_parameter(problem), problem.slices)  # sinh(kappa (T - t_j)) / sinh(kappa T)
    xbar = a.drift / (2.0 * problem.risk_aversion * a.volatility**2)
    return xbar + (a.holdings - xbar) * prof - xbar * prof[::-1]


def _discrete_diagnostics(problem: ExecutionProblem) -> dict[str, Any]:
    if problem.is_basket:
        _, mu, _ = _basket_decomposition(problem, problem.eta_tilde_matrix)
        a = problem.tau**2 * problem.risk_aversion * mu
        y, theta = _discrete_angle(a)
        return {"mode_kappas": np.where(a >= 0, y, -theta) / problem.tau, "mode_variances": mu}
    k = kappa(problem)
    return {
        "kappa": k, "half_life": half_life(problem), "kappa_T": k * problem.horizon,
        "eta_tilde": problem.eta_tilde, "branch": _branch(problem.risk_aversion),
        "kappa_continuous": kappa(problem, time_model="continuous"),
    }


def solve_batch(problems: Mapping[int, ExecutionProblem], settings: ClosedFormSettings | None = None
                ) -> dict[int, Result]:
    """Discrete closed form for many specs that differ only in ``risk_aversion``: one vectorized
    trajectory per group (:func:`optimal_holdings` on an array of ``lambda``), then for each point
    exactly the checks and the costing of :func:`solve`.

    Returns ``{id: Result}`` for the points solved here; the others (continuous time, baskets,
    a group of one, a point :func:`solve` would refuse or fail on) are left out, to be solved one
    by one so that they get exactly :func:`solve`'s answer or error.
    """
    cfg = merge_settings(ClosedFormSettings, settings, None)
    if cfg.time_model != "discrete":
        return {}
    groups: dict[Any, list[int]] = {}
    for pid, p in problems.items():
        if p.is_basket or p.has_transient:
            continue
        try:
            require_applicable(p)
            if _needs_lq(p) or p.has_drift:
                continue
            key = tuple((f.name, getattr(p, f.name)) for f in fields(p)
                        if f.name not in ("risk_aversion", "risk_seeking", "name", "description"))
            hash(key)
        except (OptexecError, TypeError):
            continue
        groups.setdefault(key, []).append(pid)
    out: dict[int, Result] = {}
    for pids in groups.values():
        if len(pids) < 2:
            continue
        start = time.perf_counter()
        lams = np.array([problems[pid].risk_aversion for pid in pids])
        try:
            holdings = optimal_holdings(problems[pids[0]], lams)
        except OptexecError:
            continue
        share = (time.perf_counter() - start) / len(pids)
        for i, pid in enumerate(pids):
            problem = problems[pid]
            t0 = time.perf_counter()
            try:
                _check_schedule(problem, holdings[i])
            except OptexecError:
                continue
            diagnostics = _discrete_diagnostics(problem)
            diagnostics["vectorized_batch"] = len(pids)
            out[pid] = Result.from_schedule(problem, holdings[i], method=METHOD, diagnostics=diagnostics,
                                            solve_seconds=share + time.perf_counter() - t0)
    return out


def _branch(lam: float) -> str:
    return "linear" if lam == 0 else ("hyperbolic" if lam > 0 else "trigonometric")


def _solve_continuous(problem: ExecutionProblem, start: float) -> Result:
    u = 1.0 - problem.times / problem.horizon
    if problem.is_basket:
        holdings, temporary, variance = _continuous_basket(problem, u)
        diagnostics: dict = {}
    else:
        holdings, temporary, variance = _continuous_single(problem, u)
        k = kappa(problem, time_model="continuous")
        diagnostics = {"kappa": k, "half_life": 1.0 / k if k > 0 else math.inf,
                       "kappa_T": k * problem.horizon, "branch": _branch(problem.risk_aversion)}
    _check_schedule(problem, holdings)
    consts = trajectory_constants(problem)
    cost = policy_cost(problem, permanent=consts["permanent"], temporary=temporary, spread=consts["spread"],
                       drift=0.0, variance=variance)
    return Result.from_cost(problem, holdings, cost, method=METHOD, solve_seconds=time.perf_counter() - start,
                            time_model="continuous", diagnostics=diagnostics)


def _cj_constants(problem: ExecutionProblem) -> tuple[float, float, float, float]:
    """``(eta, T, a = alpha - gamma/2, kappa = sigma sqrt(lambda / eta))`` of the soft finish."""
    asset = problem.asset
    eta = asset.temporary_impact
    a = float(problem.terminal_penalties()[0]) - 0.5 * asset.permanent_impact
    return eta, problem.horizon, a, asset.volatility * math.sqrt(max(problem.risk_aversion, 0.0) / eta)


def _cj_profile(problem: ExecutionProblem, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(g(s), g'(s)) e^{-kappa T}`` with ``g(s) = cosh(kappa s) + (a / eta) sinh(kappa s) / kappa``,
    ``a = alpha - gamma / 2``, ``kappa = sigma sqrt(lambda / eta)`` (``kappa = 0``: ``1 + a s / eta``)."""
    eta, big_t, a, k = _cj_constants(problem)
    s = np.asarray(s, dtype=np.float64)
    if k * big_t <= 1e-8:
        return 1.0 + a * s / eta, np.full_like(s, a / eta)
    up, down = np.exp(k * (s - big_t)), np.exp(-k * (s + big_t))
    ch, sh = 0.5 * (up + down), 0.5 * (up - down) / k
    return ch + a / eta * sh, k * k * sh + a / eta * ch


def _cj_shift(problem: ExecutionProblem, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(y(s), y'(s), eta y'(T) + a y(T)) e^{-kappa T}`` with ``y(s) = sinh(kappa s) / kappa`` (``s``
    when ``kappa = 0``): the direction that a terminal linear reward moves the optimum along."""
    eta, big_t, a, k = _cj_constants(problem)
    s = np.asarray(s, dtype=np.float64)
    if k * big_t <= 1e-8:
        return s.copy(), np.ones_like(s), eta + a * big_t
    y = 0.5 * (np.exp(k * (s - big_t)) - np.exp(-k * (s + big_t))) / k
    dy = 0.5 * (np.exp(k * (s - big_t)) + np.exp(-k * (s + big_t)))
    y_t = 0.5 * (1.0 - math.exp(-2.0 * k * big_t)) / k
    dy_t = 0.5 * (1.0 + math.exp(-2.0 * k * big_t))
    return y, dy, eta * dy_t + a * y_t


def _cj_path(problem: ExecutionProblem, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Holdings ``x(t)``, trade rate ``v(t) = -x'(t)`` (shares, shares / time unit) of the soft finish
    and the spread's shift coefficient ``c`` (:func:`cartea_jaimungal`)."""
    big_x, big_t = problem.asset.holdings, problem.horizon
    g_t, _ = _cj_profile(problem, np.array([big_t]))
    g, dg = _cj_profile(problem, big_t - np.asarray(t, dtype=np.float64))
    x, v, c = big_x * g / g_t[0], big_x * dg / g_t[0], 0.0
    e = problem.asset.spread * float(np.sign(big_x))
    if e != 0.0:
        y, dy, denominator = _cj_shift(problem, t)
        c = e / (2.0 * denominator)
        x, v = x + c * y, v - c * dy
    return x, v, c


def cartea_jaimungal(problem: ExecutionProblem, times: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Cartea & Jaimungal's continuous optimum with a terminal penalty (single asset, linear impact,
    constant volatility) of ``int (eta v^2 + lambda sigma^2 x^2) dt + a x_T^2 - e x_T`` with
    ``a = alpha - gamma/2`` and ``e = epsilon sign(X)`` (a one-way schedule's spread ``e (X - x_T)``
    rewards the remainder): ``x(t) = X g(T - t) / g(T) + c y(t)`` (:func:`_cj_profile`,
    :func:`_cj_shift`), ``c = e / (2 (eta y'(T) + a y(T)))``; the value is ``h(0) X^2 - e x_h(T) -
    e c y(T) / 2`` with ``h(0) = eta g'(T) / g(T)`` and ``x_h`` the ``e = 0`` path. Returns
    ``(holdings at times, value + e X)`` (currency); the objective adds ``1/2 gamma X^2``."""
    if problem.risk_aversion < 0:
        raise MethodNotApplicable(METHOD, "the continuous soft finish is solved for risk_aversion >= 0")
    asset = problem.asset
    times = problem.times if times is None else np.asarray(times, dtype=np.float64)
    grid = np.linspace(0.0, problem.horizon, 2049)
    g_grid, _ = _cj_profile(problem, grid)
    if not np.all(g_grid > 0):
        raise MethodNotApplicable(METHOD, f"continuous time: alpha - gamma/2 = "
                                          f"{float(problem.terminal_penalties()[0]) - 0.5 * asset.permanent_impact:g} "
                                          "makes the continuous cost unbounded below (g(s) <= 0)")
    g_t, dg_t = _cj_profile(problem, np.array([problem.horizon]))
    big_x = asset.holdings
    holdings, _, c = _cj_path(problem, times)
    value = asset.temporary_impact * float(dg_t[0] / g_t[0]) * big_x**2
    e = asset.spread * float(np.sign(big_x))
    if e != 0.0:  # -e x_h(T) - e c y(T) / 2 with x_h(T) = x(T) - c y(T)
        x_end = float(_cj_path(problem, np.array([problem.horizon]))[0][0])
        y_end = float(_cj_shift(problem, np.array([problem.horizon]))[0][0])
        value += -e * x_end + 0.5 * e * c * y_end + e * big_x
    return holdings, value


def _solve_cartea_jaimungal(problem: ExecutionProblem, start: float) -> Result:
    asset = problem.asset
    holdings, value = cartea_jaimungal(problem)
    nodes, weights = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(0.0, problem.horizon, 513)
    half = 0.5 * np.diff(edges)
    t = ((edges[:-1] + half)[:, None] + half[:, None] * nodes[None, :]).ravel()
    w = (half[:, None] * weights[None, :]).ravel()
    x, v, _ = _cj_path(problem, t)                       # v: the trade rate -x'(t)
    if np.any(v * np.sign(asset.holdings) < -1e-12 * abs(asset.holdings)) and asset.spread > 0:
        raise MethodNotApplicable(METHOD, "the continuous soft finish trades both ways, so the spread is not a constant")
    x_end = float(holdings[-1])
    alpha = float(problem.terminal_penalties()[0])
    cost = policy_cost(problem, permanent=0.5 * asset.permanent_impact * (asset.holdings**2 - x_end**2),
                       temporary=asset.temporary_impact * float(np.sum(w * v * v)),
                       spread=asset.spread * abs(asset.holdings - x_end), drift=0.0,
                       variance=asset.volatility**2 * float(np.sum(w * x * x)), terminal=alpha * x_end**2)
    objective = 0.5 * asset.permanent_impact * asset.holdings**2 + value
    diagnostics = {"branch": "Cartea-Jaimungal (terminal penalty)", "value_coefficient": value / asset.holdings**2,
                   "quadrature_gap": abs(float(cost.objective) - objective) / max(abs(objective), 1e-300)}
    return Result.from_cost(problem, holdings, cost, method=METHOD, objective=objective,
                            solve_seconds=time.perf_counter() - start, time_model="continuous", diagnostics=diagnostics)


def _continuous_single(problem: ExecutionProblem, u: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Holdings, temporary cost ``eta X^2 int p'^2 / T`` and variance ``sigma^2 X^2 T int p^2``."""
    a = problem.asset
    q = np.array(_continuous_q(problem))
    holdings = a.holdings * _continuous_profile(q, u)
    jx, jv = _continuous_integrals(q)
    temporary = a.temporary_impact * a.holdings**2 * float(jv) / problem.horizon
    variance = a.volatility**2 * a.holdings**2 * float(jx) * problem.horizon
    return holdings, temporary, variance


def _solve_transient(problem: ExecutionProblem, time_model: str, start: float) -> Result:
    """Obizhaeva-Wang per asset: discrete on the trade times ``s_k`` (:func:`ow_schedule`), or
    continuous (blocks ``X / (rho T + 2)`` at both ends, the rest at a constant rate; holdings
    sampled at ``t_k``, cost ``kappa_T X^2 / (rho T + 2)``)."""
    n, m = problem.slices, problem.n_assets
    holdings = np.empty((n + 1, m))
    transient = 0.0
    for i, a in enumerate(problem.assets):
        x = a.holdings
        if time_model == "continuous":
            denom = a.resilience * problem.horizon + 2.0
            inner = x * (1.0 - (1.0 + a.resilience * problem.times) / denom)
            holdings[:, i] = inner
            holdings[0, i], holdings[-1, i] = x, 0.0
            transient += a.transient_impact * x * x / denom
        else:
            trades, cost = ow_schedule(x, a.transient_impact, a.resilience, problem.trade_times)
            holdings[0, i] = x
            holdings[1:, i] = x - np.cumsum(trades)
            holdings[-1, i] = 0.0
            transient += cost
    holdings = holdings[:, 0] if m == 1 else holdings
    _check_schedule(problem, holdings)
    diagnostics = {"model": "obizhaeva-wang"}
    if time_model == "discrete":
        return Result.from_schedule(problem, holdings, method=METHOD, solve_seconds=time.perf_counter() - start,
                                    diagnostics=dict(diagnostics, closed_form_transient=transient))
    consts = trajectory_constants(problem)
    cost = policy_cost(problem, permanent=consts["permanent"], temporary=0.0, spread=consts["spread"], drift=0.0,
                       variance=0.0, transient=transient)
    diagnostics["note"] = "holdings sample the continuous optimum at t_k (blocks at t = 0 and t = T)"
    return Result.from_cost(problem, holdings, cost, method=METHOD, solve_seconds=time.perf_counter() - start,
                            time_model="continuous", diagnostics=diagnostics)


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
    k = kappa(problem)
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




INFO = MethodInfo(
    name=METHOD, kind="static", time_models=("discrete", "continuous"),
    accuracy=MethodAccuracy(1e-12, 1e-10, "closed form in float64"),
    settings=ClosedFormSettings,
    summary="Almgren-Chriss closed form (linear impact, constant volatility), discrete or continuous time",
    variants=(Variant("closed-form", {}), Variant("closed-form/continuous", {"time_model": "continuous"})),
    batch_solve=solve_batch,
)
