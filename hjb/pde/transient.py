"""The HJB with transient impact: state ``(x, D)``, exponential kernel, ``delta = 1``, ``eta > 0``.

``V(t, x, D) = z' P(t) z``, ``z = (x, D)``, with the 2x2 Riccati system of ``dD = (-rho D + kappa_T v) dt``
and running cost ``eta v^2 + v D + lambda sigma^2 x^2`` (the conventions page, "Transient impact");
the optimal rate is ``v = (V_x - D - kappa_T V_D) / (2 eta)``. ``P`` is propagated exactly through
the linear Hamiltonian flow of ``(x, D, V_x, V_D)`` (one matrix exponential per volatility level,
re-anchored at every step), from ``x(T) = 0``, ``V_D(T) = 0``; volatility deterministic (per slice).
Entry point :func:`solve_transient`; moments are the policy's (its path is deterministic). Stochastic
volatility goes to the coupled system of :mod:`hjb.pde.transient_vol`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm

from solvers.costs import policy_cost, trajectory_constants
from solvers.errors import MethodNotApplicable
from solvers.result import Result
from solvers.settings import merge_settings
from solvers.spec import ExecutionProblem

from .settings import HJBSettings
from .transient_vol import solve_transient_vol

__all__ = ["solve_transient", "TransientRiccati", "hamiltonian", "fastest_rate", "MAX_STIFFNESS_STEP", "MAX_STEPS"]

#: the largest ``|eigenvalue| h`` of one propagation step (keeps each 4x4 exponential well conditioned)
MAX_STIFFNESS_STEP = 2.0

#: the most propagation steps in all (a few seconds; the fast mode's rate grows like ``eta^(-1/2)``)
MAX_STEPS = 100_000


def hamiltonian(eta: float, kappa: float, rho: float, risk: float) -> np.ndarray:
    """The 4x4 matrix of ``d/dt (x, D, V_x, V_D)`` along the optimum (``risk = lambda sigma^2``,
    currency / share^2 / time unit): ``x' = -v``, ``D' = -rho D + kappa v``, ``V_x' = -2 risk x``,
    ``V_D' = -v + rho V_D``, ``v = (V_x - D - kappa V_D) / (2 eta)``."""
    g = np.array([0.0, -1.0, 1.0, -kappa]) / (2.0 * eta)  # v = g . w
    h = np.zeros((4, 4))
    h[0] = -g
    h[1] = kappa * g
    h[1, 1] -= rho
    h[2, 0] = -2.0 * risk
    h[3] = -g
    h[3, 3] += rho
    return h


@dataclass(frozen=True)
class TransientRiccati:
    """``P[i]`` at ``t[i]`` (2x2; ``V = z' P z`` in currency; ``P[-1]``, the singular terminal
    condition, is NaN), the optimal path ``z[i] = (x, D)``, the rates ``v`` per step and the
    policy's temporary and transient costs (currency) and ``int sigma^2 x^2 dt`` (currency^2)."""

    t: np.ndarray
    P: np.ndarray
    z: np.ndarray
    rates: np.ndarray
    temporary: float
    transient: float
    variance: float


def _van_loan(h_mat: np.ndarray, q: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """``(exp(H step), int_0^step exp(H s)' Q exp(H s) ds)`` by one block exponential (Van Loan)."""
    n = h_mat.shape[0]
    big = np.zeros((2 * n, 2 * n))
    big[:n, :n] = -h_mat.T
    big[:n, n:] = q
    big[n:, n:] = h_mat
    e = expm(big * step)
    return e[n:, n:], e[n:, n:].T @ e[:n, n:]


def riccati(problem: ExecutionProblem, steps_per_slice: int) -> TransientRiccati:
    """Solve the Riccati system backward and run the feedback policy forward (deterministic)."""
    a = problem.asset
    eta, kappa, rho, lam = a.temporary_impact, a.transient_impact, a.resilience, problem.risk_aversion
    n, m = problem.slices, steps_per_slice
    step = problem.tau / m
    var = problem.slice_variance()
    g = np.array([0.0, -1.0, 1.0, -kappa]) / (2.0 * eta)
    e_x, e_d = np.eye(4)[0], np.eye(4)[1]
    q_parts = (eta * np.outer(g, g), 0.5 * (np.outer(g, e_d) + np.outer(e_d, g)), np.outer(e_x, e_x))
    props = []
    for k in range(n):
        hm = hamiltonian(eta, kappa, rho, lam * var[k])
        back = expm(-hm * step)
        fwd = [_van_loan(hm, q, step) for q in q_parts]
        props.append((back, fwd[0][0], [f[1] for f in fwd]))
    total = n * m
    p_mat = np.full((total + 1, 2, 2), np.nan)
    cols = np.eye(4)[:, [1, 2]]  # x(T) = 0 and V_D(T) = 0: free D(T) and V_x(T)
    for i in range(total - 1, -1, -1):
        w = props[i // m][0] @ cols
        two_p = w[2:] @ np.linalg.inv(w[:2])
        p_mat[i] = 0.25 * (two_p + two_p.T)
        cols = np.vstack([np.eye(2), 2.0 * p_mat[i]])
    z = np.zeros((total + 1, 2))
    z[0] = (a.holdings, a.initial_deviation)
    rates = np.zeros(total)
    parts = np.zeros(3)
    for i in range(total):
        back, fwd, ints = props[i // m]
        w = np.r_[z[i], 2.0 * p_mat[i] @ z[i]]
        rates[i] = g @ w
        parts += [w @ ints[0] @ w, w @ ints[1] @ w, var[i // m] * (w @ ints[2] @ w)]
        z[i + 1] = (fwd @ w)[:2]
    z[-1, 0] = 0.0
    t = np.linspace(0.0, problem.horizon, total + 1)
    return TransientRiccati(t=t, P=p_mat, z=z, rates=rates, temporary=float(parts[0]), transient=float(parts[1]),
                            variance=float(parts[2]))


def check_transient(problem: ExecutionProblem) -> None:
    """Refuse what the ``(x, D)`` Riccati system does not model, naming the key."""
    a = problem.asset
    if a.transient_kernel != "exponential":
        raise MethodNotApplicable("hjb", f"transient_kernel = {a.transient_kernel!r}: the (x, D) Riccati system "
                                  "needs the exponential kernel (qp solves the power law)")
    if a.transient_exponent != 1.0:
        raise MethodNotApplicable("hjb", f"transient_exponent = {a.transient_exponent:g} < 1 is not in the HJB")
    if not a.temporary_impact > 0:
        raise MethodNotApplicable("hjb", "temporary_impact = 0 with transient_impact > 0: the continuous optimum trades "
                                  "blocks (no regular rate); closed-form solves pure Obizhaeva-Wang, qp and dp "
                                  "the discrete problem")
    if not a.is_linear:
        raise MethodNotApplicable("hjb", f"impact_exponent = {a.impact_exponent:g}: the (x, D) Riccati system needs "
                                  "linear temporary impact")


def fastest_rate(problem: ExecutionProblem, sigma: float) -> float:
    """The largest ``|eigenvalue|`` of :func:`hamiltonian` at volatility ``sigma`` (1 / time unit)."""
    a = problem.asset
    return float(np.max(np.abs(np.linalg.eigvals(hamiltonian(a.temporary_impact, a.transient_impact, a.resilience,
                                                              problem.risk_aversion * sigma**2)))))


def steps_per_slice(problem: ExecutionProblem) -> int:
    """Steps per slice so that every step's ``|eigenvalue| h <= MAX_STIFFNESS_STEP``."""
    eig = fastest_rate(problem, math.sqrt(float(np.max(problem.slice_variance()))))
    return max(1, math.ceil(eig * problem.tau / MAX_STIFFNESS_STEP))


def solve_transient(problem: ExecutionProblem, method: str, start: float, settings_dict: dict) -> Result:
    """The ``hjb`` result of a transient spec: ``objective = z0' P(0) z0 + 1/2 gamma X^2 + epsilon |X|``
    (currency); ``holdings`` the optimal path on the slice boundaries."""
    check_transient(problem)
    if problem.volatility_model.stochastic:  # the coupled system per volatility state
        return solve_transient_vol(problem, method, start, merge_settings(HJBSettings, None, settings_dict),
                                   lambda sigma: fastest_rate(problem, sigma))
    m = steps_per_slice(problem)
    if m * problem.slices > MAX_STEPS:
        a = problem.asset
        raise MethodNotApplicable("hjb", (
            f"temporary_impact = {a.temporary_impact:g} is tiny against transient_impact = {a.transient_impact:g}: "
            f"the Riccati flow's fast mode needs {m * problem.slices} steps (> {MAX_STEPS}); the optimum is "
            "close to Obizhaeva-Wang's blocks (closed-form with eta = 0, or qp/dp on the discrete problem)"))
    sol = riccati(problem, m)
    z0 = sol.z[0]
    value = float(z0 @ sol.P[0] @ z0)
    consts = trajectory_constants(problem)
    objective = value + consts["permanent"] + consts["spread"]
    cost = policy_cost(problem, permanent=consts["permanent"], temporary=sol.temporary, spread=consts["spread"],
                       drift=0.0, variance=sol.variance, transient=sol.transient)
    repriced = cost.objective
    size = abs(cost.expected_cost) + abs(problem.risk_aversion * cost.variance)
    holdings = sol.z[::m, 0].copy()
    holdings[-1] = 0.0
    diagnostics = {"formulation": "transient-riccati", "steps_per_slice": m, "value_function": value,
                   "trajectory_constants": consts, "moments": "policy", "settings": settings_dict,
                   "deviation_path": sol.z[::m, 1].copy(), "P0": sol.P[0].tolist(),
                   "moments_gap_relative": abs(objective - repriced) / size if size > 0 else 0.0}
    return Result.from_cost(problem, holdings, cost, method=method, objective=objective,
                            solve_seconds=time.perf_counter() - start, diagnostics=diagnostics,
                            time_model="continuous")
