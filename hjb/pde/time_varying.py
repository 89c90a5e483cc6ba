"""Method ``hjb`` for a time-varying market: per-slice ``eta_k``, ``epsilon_k`` and volatility path,
closures, drift and a terminal penalty (linear impact, single asset; constant, path or regimes).

``V(t, x, s) = A x^2 + B x + C``; in time to go ``theta``, with ``e = epsilon_k sign(X)``:
``A_theta = lambda s^2 - A^2 / eta + L A``, ``B_theta = -A (B - e) / eta - mu + L B``,
``C_theta = -(B - e)^2 / (4 eta) + L C``; ``A(T) = alpha - gamma / 2`` or ``+inf`` (hard finish).
A closure of duration ``d`` is a step of pure risk ``A -> lambda d sigma_c^2 + e^{d L} A``. Classical
RK4 per slice (order 4) on smooth unknowns; the policy's moments by the envelope theorem
(complex-step derivatives of the value). Entry point :func:`solve_time_varying`; derivations:
``solvers/docs/theory-hjb.md``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import expm

from solvers.costs import policy_cost
from solvers.errors import MethodNotApplicable, SolverError
from solvers.result import Result
from solvers.spec import ExecutionProblem
from solvers.volatility import ConstantVolatility, RegimeVolatility, VolatilityPath

from .settings import HJBSettings

__all__ = ["TimeVaryingModel", "TimeVaryingSolution", "TimeVaryingPolicy", "time_varying_model",
           "integrate", "solve_time_varying", "MAX_KAPPA_H", "COMPLEX_STEP"]

#: the largest ``kappa h`` of one RK4 step (``kappa``: the fastest rate of the Riccati equation)
MAX_KAPPA_H = 1.0
#: imaginary step of the complex-step derivatives (exact to rounding for any step this small)
COMPLEX_STEP = 1e-30
#: the envelope directions, in order: scale eta, scale e, scale mu, shift lambda, shift A(T)
DIRECTIONS = ("temporary", "spread", "drift", "variance", "terminal_square")
#: the largest relative gap between the value and E + lambda V of the policy's moments
MOMENTS_RTOL = 5e-3


@dataclass(frozen=True)
class TimeVaryingModel:
    """The coefficients per slice (t order, k = 1..N) and state.

    Attributes:
        eta: ``eta_k`` (N,); ``e``: ``epsilon_k sign(X)`` (N,) (currency / share).
        variance: ``sigma_k(i)^2`` (N, m); ``generator``: ``Q`` (m, m) (zeros for one state).
        closures: ``{k: (d, sigma_c(i)^2 (m,), e^{d Q} (m, m))}`` for a closure after slice ``k``.
        terminal: ``alpha - gamma / 2`` (currency / share^2), None for the hard finish.
    """

    tau: float
    eta: np.ndarray
    e: np.ndarray
    variance: np.ndarray
    generator: np.ndarray
    closures: dict
    drift: float
    risk_aversion: float
    terminal: float | None
    start: int
    holdings: float


def time_varying_model(problem: ExecutionProblem, method: str = "hjb") -> TimeVaryingModel:
    """The :class:`TimeVaryingModel` of ``problem``; refuses (naming the reason) baskets, transient or
    nonlinear impact, caps, risk seeking and mean-reverting volatility."""
    if problem.is_basket:
        raise MethodNotApplicable(method, "baskets are not supported (single asset only)")
    a, n = problem.asset, problem.slices
    keys = problem.time_varying_keys()
    what = keys[0] if keys else "drift"
    if a.has_transient:
        raise MethodNotApplicable(method, f"transient impact with {what} is not in the HJB (dp and qp solve it)")
    if not a.is_linear:
        raise MethodNotApplicable(method, f"{what} with impact_exponent = {a.impact_exponent:g}: the time-varying "
                                          "HJB needs linear impact (qp solves it)")
    if problem.has_caps:
        raise MethodNotApplicable(method, "per-slice caps (max_slice_trade / participation) are not in the HJB")
    if problem.risk_aversion < 0:
        raise MethodNotApplicable(method, f"risk_aversion = {problem.risk_aversion:g} < 0 (risk seeking)")
    model = problem.volatility_model
    if isinstance(model, ConstantVolatility):
        variance, q = np.full((n, 1), a.volatility**2), np.zeros((1, 1))
    elif isinstance(model, VolatilityPath):
        variance, q = (np.asarray(model.path, dtype=np.float64) ** 2)[:, None], np.zeros((1, 1))
    elif isinstance(model, RegimeVolatility):
        levels = np.asarray(model.levels, dtype=np.float64)
        variance, q = np.broadcast_to(levels**2, (n, levels.size)).copy(), model.generator_array
    else:
        raise MethodNotApplicable(method, f"{what} with a {model.kind!r} volatility model is not in the HJB "
                                          "(dp solves it)")
    m = variance.shape[1]
    closures = {}
    for c in problem.closures:
        if c.volatility is not None:
            sc2 = np.full(m, c.volatility**2)
        elif m > 1:
            sc2 = variance[c.after_slice].copy()  # the current regime's level, held through the closure
        else:
            sc2 = np.full(1, problem.closure_variance(c))
        closures[c.after_slice] = (c.duration, sc2, expm(q * c.duration) if m > 1 else np.ones((1, 1)))
    terminal = None
    if problem.has_terminal_penalty:
        terminal = float(problem.terminal_penalties()[0]) - 0.5 * a.permanent_impact
    start = model.initial_regime if isinstance(model, RegimeVolatility) else 0
    return TimeVaryingModel(tau=problem.tau, eta=a.eta_slices(n), e=a.spread_slices(n) * np.sign(a.holdings),
                            variance=variance, generator=np.asarray(q, dtype=np.float64), closures=closures,
                            drift=float(a.drift), risk_aversion=problem.risk_aversion, terminal=terminal,
                            start=start, holdings=float(a.holdings))


@dataclass(frozen=True)
class TimeVaryingSolution:
    """The value at ``(0, X, s_0)`` and its envelope derivatives, with the policy's tables.

    Attributes:
        value: ``A X^2 + B X + C`` at ``(0, s_0)`` (currency; no ``1/2 gamma X^2``).
        parts: ``temporary``, ``spread``, ``drift`` (currency), ``variance`` (currency^2) and
            ``terminal_square`` (``E[x_T^2]``, share^2) of the optimal policy from ``(0, X, s_0)``.
        phi, psi: ``x_k = phi x_{k-1} - psi`` over slice ``k`` with ``s`` frozen (N, m).
        coefficients: ``(A, B, C)`` at ``t = 0`` per state.
        unknowns: ``"P=1/A, w=P(B-e), C-(B-e)^2/(4A)"`` (hard finish, ``alpha > gamma / 2``) or
            ``"A, B"`` (``alpha <= gamma / 2``); ``largest_rate``: the run's ``max kappa`` (1 / time unit).
    """

    value: float
    parts: dict
    phi: np.ndarray
    psi: np.ndarray
    coefficients: tuple
    unknowns: str
    largest_rate: float


def _rhs(y, ie, e, c, mu, q, inverse: bool, track: bool):
    """``d/dtheta`` of ``y``, shape (5, D, m) (D directions, m states): ``(P, w, Chat, P phi,
    psi + phi w / 2)`` (``inverse``) or ``(A, B, C, phi, psi)``."""
    first, second, third, phi = y[0], y[1], y[2], y[3]
    out = np.empty_like(y)
    coupled = q.shape[0] > 1
    if inverse:  # every coefficient is smooth, also at a hard finish (P = 0) and a large penalty
        if coupled:
            pos = first.real > 0
            inv = np.where(pos, 1.0 / np.where(pos, first, 1.0), 0.0)  # 1/P_j, 0 at theta = 0
            r = np.where(pos[:, :, None] & pos[:, None, :], first[:, :, None] * inv[:, None, :], 1.0)
            qr = q[None] * r  # Q_ij P_i / P_j (1 at theta = 0)
            damp = c * first + qr.sum(axis=2)
            dw = second[:, None, :] - second[:, :, None]  # w_j - w_i
            out[0] = ie - first * damp
            out[1] = np.einsum("dij,dj->di", qr, second) - second * damp - mu * first
            out[2] = (third @ q.T + 0.25 * np.einsum("ij,dij,dj->di", q, dw * dw, inv)
                      + second * (0.25 * c * second + 0.5 * mu))
            if track:
                out[3] = -phi * damp
                out[4] = 0.5 * phi * (np.einsum("ij,dij,dj->di", q, dw, inv) - c * second - mu)
        else:
            out[0] = ie - c * first * first
            out[1] = -first * (c * second + mu)
            out[2] = second * (0.25 * c * second + 0.5 * mu)
            if track:
                out[3] = -phi * c * first
                out[4] = -0.5 * phi * (c * second + mu)
    else:
        u = second - e
        alpha = first * ie
        out[0] = c - first * alpha
        out[1] = -alpha * u - mu
        out[2] = -0.25 * ie * u * u
        if coupled:
            out[0] += first @ q.T
            out[1] += second @ q.T
            out[2] += third @ q.T
        if track:
            out[3] = -alpha * phi
            out[4] = 0.5 * ie * u * phi
    if not track:
        out[3:] = 0.0
    return out


def _coefficients(y, e, inverse: bool):
    """``(A, B, C)`` from the unknowns (``e`` of the slice on this side; ``P > 0``)."""
    if not inverse:
        return y[0], y[1], y[2]
    return 1.0 / y[0], e + y[1] / y[0], y[2] + 0.25 * y[1] ** 2 / y[0]


def _unknowns(big_a, big_b, big_c, e, inverse: bool):
    """The unknowns from ``(A, B, C)`` (inverse of :func:`_coefficients`)."""
    if not inverse:
        return np.stack([big_a, big_b, big_c])
    p = 1.0 / big_a
    w = p * (big_b - e)
    return np.stack([p, w, big_c - 0.25 * w * w / p])


def _rk4(y, h, args):
    k1 = _rhs(y, *args)
    k2 = _rhs(y + 0.5 * h * k1, *args)
    k3 = _rhs(y + 0.5 * h * k2, *args)
    k4 = _rhs(y + h * k3, *args)
    return y + (h / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)


def integrate(model: TimeVaryingModel, per_slice: int, derivatives: bool = True) -> TimeVaryingSolution:
    """RK4 in ``theta`` with ``per_slice`` steps per slice (slices, closures and steps share their
    boundaries, so the order is 4); with ``derivatives`` the envelope directions run alongside as
    complex steps (:data:`DIRECTIONS`): ``Im V / COMPLEX_STEP`` is each part of the policy's cost."""
    n, m = model.variance.shape
    hard = model.terminal is None
    inverse = hard or model.terminal > 0
    dirs = len(DIRECTIONS) if derivatives else 1
    step = 1j * COMPLEX_STEP * np.eye(len(DIRECTIONS))[:dirs]
    scale_eta, scale_e, scale_mu = (1.0 + step[:, j][:, None] for j in range(3))
    lam = model.risk_aversion + step[:, 3][:, None]
    shift = step[:, 4][:, None]
    q = model.generator
    h = model.tau / per_slice
    shape = (dirs, m)
    y = np.zeros((5,) + shape, complex)
    if not hard and inverse:  # P = 1/A(T), w = P (0 - e_N), Chat = C - w^2 / (4 P)
        y[0] = 1.0 / (model.terminal + shift)
        y[1] = -y[0] * model.e[-1] * scale_e
        y[2] = -0.25 * y[1] ** 2 / y[0]
    elif not hard:
        y[0] = model.terminal + shift
    phi, psi = np.zeros((n, m)), np.zeros((n, m))
    largest = float(np.max(np.abs(q))) if m > 1 else 0.0
    for k in range(n, 0, -1):  # slice k covers theta in [(N - k) tau, (N - k + 1) tau]
        i = k - 1
        ie, e, mu = 1.0 / (model.eta[i] * scale_eta), model.e[i] * scale_e, model.drift * scale_mu
        c = lam * model.variance[i]
        largest = max(largest, math.sqrt(model.risk_aversion * float(np.max(model.variance[i])) / model.eta[i]))
        track = not (hard and k == n)  # a hard finish's last slice sells what is left
        y[3], y[4] = (y[0], 0.5 * y[1]) if inverse else (1.0, 0.0)
        args = (ie, e, c, mu, q, inverse, track)
        for _ in range(per_slice):
            y = _rk4(y, h, args)
        if not inverse:
            largest = max(largest, float(np.max(np.abs(y[0].real))) / model.eta[i])
        if track:
            f, g = (y[3] / y[0], y[4] - 0.5 * y[3] * y[1] / y[0]) if inverse else (y[3], y[4])
            phi[i], psi[i] = f[0].real, g[0].real
        big_a, big_b, big_c = _coefficients(y, e, inverse)
        if k > 1:  # t_{k-1}: the closure after slice k - 1 (if any), and e_{k-1} before it
            if k - 1 in model.closures:
                d, sc2, trans = model.closures[k - 1]
                big_a = lam * d * sc2 + big_a @ trans.T
                big_b = big_b @ trans.T - mu * d
                big_c = big_c @ trans.T
            y[:3] = _unknowns(big_a, big_b, big_c, model.e[i - 1] * scale_e, inverse)
    x = model.holdings
    w = big_a[:, model.start] * x * x + big_b[:, model.start] * x + big_c[:, model.start]
    parts = {name: float(w[j].imag / COMPLEX_STEP) for j, name in enumerate(DIRECTIONS[:dirs])}
    if hard and derivatives:
        parts["terminal_square"] = 0.0
    return TimeVaryingSolution(
        value=float(w[0].real), parts=parts, phi=phi, psi=psi,
        coefficients=(big_a[0].real, big_b[0].real, big_c[0].real),
        unknowns="P=1/A, w=P(B-e), C-(B-e)^2/(4A)" if inverse else "A, B", largest_rate=largest)


class TimeVaryingPolicy:
    """Feedback policy ``n_k = x - (phi_k(s) x - psi_k(s))`` of the time-varying HJB (``s`` frozen
    over the slice; a regime model reads the regime). ``time_model = "continuous"``."""

    time_model = "continuous"

    def __init__(self, problem: ExecutionProblem, phi: np.ndarray, psi: np.ndarray) -> None:
        self.problem, self.phi, self.psi = problem, phi, psi

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(holdings, dtype=np.float64)
        if k >= self.problem.slices and not self.problem.has_terminal_penalty:
            return x.copy()
        if self.phi.shape[1] > 1:
            if regime is None:
                raise ValueError("a regime model's policy needs the regime index of each path")
            j = np.broadcast_to(np.asarray(regime, dtype=np.int64), x.shape)
        else:
            j = np.zeros(x.shape, dtype=np.int64)
        return x - (self.phi[k - 1, j] * x - self.psi[k - 1, j])


def solve_time_varying(problem: ExecutionProblem, settings: HJBSettings, method: str, start: float) -> Result:
    """Method ``hjb`` on a time-varying spec (module doc). ``objective = 1/2 gamma X^2 + V(0, X, s_0)``;
    the moments are the optimal policy's (envelope theorem); ``holdings`` the path with ``s`` frozen
    at ``s_0``. Raises :class:`MethodNotApplicable` (see :func:`time_varying_model`, and
    ``form = "full"``), :class:`SolverError` when the time grid does not resolve ``kappa``."""
    if settings.form == "full":
        raise MethodNotApplicable(method, "form='full' does not model a time-varying market (the reduced form does)")
    model = time_varying_model(problem, method)
    n_t, per_slice = settings.steps_for(problem.slices)
    sol = integrate(model, per_slice)
    h = model.tau / per_slice
    if not sol.largest_rate * h <= MAX_KAPPA_H:
        need = math.ceil(sol.largest_rate * problem.horizon / MAX_KAPPA_H)
        raise SolverError(method, "unresolved", f"the fastest rate kappa = {sol.largest_rate:.3g} needs kappa dt <= "
                          f"{MAX_KAPPA_H:g}, i.e. time_steps >= {need}; this grid has {n_t}")
    coarse = integrate(model, max(per_slice // 2, 1), derivatives=False)
    a = problem.asset
    big_x, gamma = a.holdings, a.permanent_impact
    if not (math.isfinite(sol.value) and all(math.isfinite(v) for v in sol.parts.values())) or (
            not math.isfinite(coarse.value)):
        if model.terminal is not None and model.terminal <= 0:
            raise MethodNotApplicable(method, f"continuous time: alpha - gamma/2 = {model.terminal:g} makes the "
                                              "continuous cost unbounded below (the Riccati equation blows up)")
        raise SolverError(method, "numerical_error", f"the time-varying HJB produced non-finite values with {n_t} steps")
    x_end2 = sol.parts["terminal_square"]
    alpha = float(problem.terminal_penalties()[0]) if problem.has_terminal_penalty else 0.0
    cost = policy_cost(problem, permanent=0.5 * gamma * (big_x**2 - x_end2), temporary=sol.parts["temporary"],
                       spread=sol.parts["spread"], drift=sol.parts["drift"], variance=sol.parts["variance"],
                       terminal=alpha * x_end2)
    objective = 0.5 * gamma * big_x**2 + sol.value
    holdings = np.empty(problem.slices + 1)
    holdings[0] = big_x
    for k in range(1, problem.slices + 1):
        holdings[k] = sol.phi[k - 1, model.start] * holdings[k - 1] - sol.psi[k - 1, model.start]
    trades = (holdings[:-1] - holdings[1:]) * np.sign(big_x)
    if np.any(trades < -1e-12 * abs(big_x)):  # the spread is linear in the trades only one way
        if problem.no_reversal:
            raise MethodNotApplicable(method, "no_reversal binds in the time-varying HJB (use qp)")
        if np.any(a.spread_slices(problem.slices) > 0):
            raise MethodNotApplicable(method, "the optimal policy trades both ways, so the spread is not linear")
    size = sum(abs(v) for v in cost.as_dict().values()) + abs(problem.risk_aversion * cost.variance)
    gap = float(cost.objective) - objective
    diagnostics: dict[str, Any] = {
        "formulation": "time-varying", "scheme": "rk4", "order_time": 4, "unknown": sol.unknowns,
        "time_steps": n_t, "steps_per_slice": per_slice, "dt": h, "states": int(model.variance.shape[1]),
        "moments": "policy", "moments_scheme": "envelope-complex-step", "value_function": sol.value,
        "objective_gap": gap, "moments_gap_relative": abs(gap) / size if size > 0 else 0.0,
        "error_estimate": abs(sol.value - coarse.value), "coarse_time_steps": n_t // per_slice * max(per_slice // 2, 1),
        "largest_rate": sol.largest_rate, "frozen_path": "sigma0-exact-per-slice",
        "closures": len(model.closures), "terminal": "hard" if model.terminal is None else "penalty",
        "settings": settings.as_dict(), "extrapolated": False,
    }
    status, message = "optimal", ""
    if not abs(gap) <= MOMENTS_RTOL * size:
        status, message = "inaccurate", (f"the value ({objective:.6g}) and E + lambda V of the policy's moments "
                                         f"({float(cost.objective):.6g}) differ by {abs(gap) / size:.3g} of the cost")
    policy = TimeVaryingPolicy(problem, sol.phi, sol.psi)
    return Result.from_cost(problem, holdings, cost, method=method, objective=objective, status=status,
                            solve_seconds=time.perf_counter() - start, diagnostics=diagnostics, message=message,
                            time_model="continuous", policy=policy)
