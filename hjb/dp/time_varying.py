"""The exact linear-quadratic recursion of method ``dp`` for a time-varying market: per-slice
``eta_k`` and ``epsilon_k``, closures (a step of pure risk and drift), drift and a terminal
penalty, per volatility state ``i`` of the chain (per-step transitions across closures).

In fractions ``q = x / X`` and cost units ``c0``, ``V_k(q, i) = A_k(i) q^2 + B_k(i) q + C_k(i)``;
slice ``k`` pays ``c_k (q - y)^2 + l_k (q - y) + R_k(i) y^2 - m_k y`` and the optimum is affine,
``y = r_k(i) q + s_k(i)``; a closure after slice ``k`` adds ``d E[sigma_{k+1}^2 | i]`` to ``R_k(i) / lambda``.
Entry points :func:`lq_backward`, :func:`lq_forward`, :class:`TimeVaryingDPPolicy`. Formulas: the
conventions page, "Time-varying markets".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.costs import cost_unit, policy_cost
from solvers.errors import MethodNotApplicable, SpecError
from solvers.spec import ExecutionProblem

from .chain import VolatilityChain

__all__ = ["LQStages", "LQRecursion", "lq_stages", "lq_backward", "lq_forward", "TimeVaryingDPPolicy",
           "require_lq"]

METHOD = "dp"


def require_lq(problem: ExecutionProblem) -> None:
    """Raise :class:`MethodNotApplicable` for the time-varying specs the recursion does not cover."""
    a = problem.asset
    if not a.is_linear:
        raise MethodNotApplicable(METHOD, f"{problem.time_varying_keys()[0]} with impact_exponent = "
                                          f"{a.impact_exponent}: the time-varying recursion needs linear impact")
    if problem.has_caps:
        raise MethodNotApplicable(METHOD, "per-slice caps with a time-varying market are not modelled by backward "
                                          "induction yet (qp solves them)")
    if getattr(problem, "has_transient", False):
        raise MethodNotApplicable(METHOD, "transient impact with a time-varying market is not modelled yet")


@dataclass(frozen=True)
class LQStages:
    """Stage coefficients in cost units (fractions of the order): ``c`` (N,), ``l`` (N,),
    ``risk_rate`` (N, S) = ``R_k(i) / lambda``, ``m`` (N,), ``terminal`` (``alpha - gamma/2`` term, or
    None for ``x_N = 0``), and the unit ``c0`` (currency)."""

    c: np.ndarray
    l: np.ndarray
    risk_rate: np.ndarray
    m: np.ndarray
    terminal: float | None
    c0: float


def lq_stages(problem: ExecutionProblem, chain: VolatilityChain) -> LQStages:
    """``c_k = (eta_k / tau - gamma / 2) X^2 / c0``, ``l_k = epsilon_k |X| / c0`` (one-way spread),
    ``R_k(i) = lambda X^2 (tau sigma_k(i)^2 + d_k s_k(i)) / c0``, ``m_k = mu h_k X / c0``; a closure
    after slice ``k`` has ``s_k(i) = sigma_c^2`` when its ``volatility`` is set, else
    ``E[sigma_{k+1}^2 | state i of slice k] = (P_k levels_{k+1}^2)_i`` (known in one state: ``sigma_{k+1}^2``)."""
    a, n, tau = problem.asset, problem.slices, problem.tau
    big_x, c0 = a.holdings, cost_unit(problem)
    c = (a.eta_slices(n) / tau - 0.5 * a.permanent_impact) * big_x**2 / c0
    spread = a.spread_slices(n) * abs(big_x) / c0
    extra = np.zeros((n, chain.n_states))
    for cl in problem.closures:
        k = cl.after_slice
        if cl.volatility is not None:
            extra[k - 1] = cl.duration * cl.volatility**2
        else:  # slice k+1's volatility, read when the market closes after slice k
            extra[k - 1] = cl.duration * (chain.step(k) @ chain.levels[k] ** 2)
    risk = (tau * chain.levels**2 + extra) * big_x**2 / c0
    m = a.drift * problem.exposure_times() * big_x / c0
    terminal = None
    if problem.has_terminal_penalty:
        terminal = float((problem.terminal_penalties()[0] - 0.5 * a.permanent_impact) * big_x**2 / c0)
    return LQStages(c=c, l=spread, risk_rate=risk, m=m, terminal=terminal, c0=c0)


@dataclass(frozen=True)
class LQRecursion:
    """Value and policy tables: ``A, B, C`` (N, S) at ``t_{k-1}`` in slice ``k``'s state (row
    ``k-1``); the policy ``y = r q + s``, ``r, s`` (N, S) (slice ``N`` of a hard finish: ``r = s = 0``)."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    r: np.ndarray
    s: np.ndarray


def lq_backward(st: LQStages, transition: np.ndarray, lam: float) -> LQRecursion:
    """The backward recursion (module docstring). ``transition``: one ``(S, S)`` matrix for every
    step, or ``(N-1, S, S)``, row ``k-1`` from slice ``k`` to ``k+1`` (:meth:`VolatilityChain.step_matrices`).
    Raises :class:`SpecError` when a stage is not convex (``c_k + R_k + E[A_k] <= 0``)."""
    n, states = st.risk_rate.shape
    steps = np.asarray(transition)
    if steps.ndim == 2:
        steps = np.broadcast_to(steps, (max(n - 1, 0), states, states))
    A, B, C = (np.zeros((n, states)) for _ in range(3))
    r, s = np.zeros((n, states)), np.zeros((n, states))
    for k in range(n, 0, -1):  # slice k, row k-1
        i = k - 1
        if k == n and st.terminal is None:  # x_N = 0: the slice sells what is left
            A[i], B[i], C[i] = st.c[i], st.l[i], 0.0
            continue
        if k == n:
            abar, bbar, cbar = np.full(states, st.terminal), np.zeros(states), np.zeros(states)
        else:
            p = steps[i]  # slice k to slice k+1
            abar, bbar, cbar = p @ A[k], p @ B[k], p @ C[k]
        hold = lam * st.risk_rate[i] + abar  # the weight of y^2 after the trade
        den = st.c[i] + hold
        if np.any(den <= 0):
            raise SpecError("risk_aversion", lam, f"the slice-{k} quadratic is not convex "
                                                  f"({float(np.min(den)):.6g} <= 0): the cost is unbounded below")
        lin = bbar - st.m[i]  # the coefficient of y after the trade
        r[i] = st.c[i] / den
        s[i] = (st.l[i] - lin) / (2.0 * den)
        one = 1.0 - r[i]
        A[i] = st.c[i] * one**2 + hold * r[i] ** 2
        B[i] = -2.0 * st.c[i] * one * s[i] + st.l[i] * one + 2.0 * hold * r[i] * s[i] + lin * r[i]
        C[i] = (st.c[i] + hold) * s[i] ** 2 - st.l[i] * s[i] + lin * s[i] + cbar
    return LQRecursion(A=A, B=B, C=C, r=r, s=s)


def lq_forward(problem: ExecutionProblem, chain: VolatilityChain, st: LQStages, rec: LQRecursion):
    """The policy's expected cost parts from ``q = 1`` in the initial state, propagated exactly per
    state (``E[1_i]``, ``E[q 1_i]``, ``E[q^2 1_i]``): a :class:`solvers.costs.ScheduleCost`."""
    a, n, tau = problem.asset, problem.slices, problem.tau
    big_x, c0 = a.holdings, st.c0
    mass = np.zeros(chain.n_states)
    mass[chain.initial_state] = 1.0
    m1, m2 = mass.copy(), mass.copy()
    eta, eps = a.eta_slices(n), a.spread_slices(n)
    n2_weighted = n2_plain = n1_weighted = y1_weighted = var = 0.0
    for k in range(1, n + 1):
        i = k - 1
        r, s = rec.r[i], rec.s[i]
        one = 1.0 - r
        en2 = one**2 * m2 - 2.0 * one * s * m1 + s**2 * mass  # E[(q - y)^2 1_i]
        en1 = one * m1 - s * mass
        ey1 = r * m1 + s * mass
        ey2 = r**2 * m2 + 2.0 * r * s * m1 + s**2 * mass
        n2_weighted += eta[i] / tau * float(en2.sum())
        n2_plain += float(en2.sum())
        n1_weighted += eps[i] * float(en1.sum())
        y1_weighted += problem.exposure_times()[i] * float(ey1.sum())
        var += float(st.risk_rate[i] @ ey2)
        if k < n:
            p = chain.step(k)
            mass, m1, m2 = mass @ p, ey1 @ p, ey2 @ p
    last2 = float(ey2.sum()) if problem.has_terminal_penalty else 0.0
    gamma = a.permanent_impact
    terminal = float(problem.terminal_penalties()[0]) * big_x**2 * last2 if problem.has_terminal_penalty else 0.0
    return policy_cost(
        problem, permanent=0.5 * gamma * big_x**2 * (1.0 - n2_plain - last2),
        temporary=big_x**2 * n2_weighted, spread=abs(big_x) * n1_weighted, drift=-a.drift * big_x * y1_weighted,
        variance=c0 * var, terminal=terminal)


class TimeVaryingDPPolicy:
    """``n_k = x_{k-1} - X (r_k(i) q + s_k(i))`` with ``q = x_{k-1} / X``; a regime model reads the
    regime, a mean-reverting chain interpolates between the nodes around the observed ``sigma``."""

    time_model = "discrete"

    def __init__(self, problem: ExecutionProblem, chain: VolatilityChain, rec: LQRecursion) -> None:
        self.problem, self.chain, self.rec = problem, chain, rec

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        holdings = np.asarray(holdings, dtype=np.float64)
        big_x = self.problem.asset.holdings
        if k >= self.problem.slices and not self.problem.has_terminal_penalty:
            return holdings.copy()
        j, w = self.chain.position(holdings.shape, sigma, regime)
        rk, sk = self.chain.blend(self.rec.r[k - 1], j, w), self.chain.blend(self.rec.s[k - 1], j, w)
        return holdings - big_x * (rk * holdings / big_x + sk)

    def frozen_path(self) -> np.ndarray:
        """Holdings ``x_0..x_N`` with the state frozen at the initial one (shares)."""
        i0, n = self.chain.initial_state, self.problem.slices
        q = [1.0]
        for k in range(1, n + 1):
            q.append(float(self.rec.r[k - 1, i0] * q[-1] + self.rec.s[k - 1, i0]))
        if not self.problem.has_terminal_penalty:
            q[-1] = 0.0
        return self.problem.asset.holdings * np.asarray(q)
