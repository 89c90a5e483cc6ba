"""Method ``dp`` with transient impact (exponential kernel, ``delta = 1``): the exact recursion on
the state ``(x, D)``, ``V_k(x, D) = s'P_k s + p_k's + r_k`` with ``s = (x / X, D / (kappa_T X))``.

Per slice (cost unit ``c0``, ``d = n / X``): stage ``(c + kappa_s/2 + w) d^2 + kappa_s d delta +
w (q^2 - 2 q d) + m (q - d)``, next ``q' = q - d``, ``delta' = a_k (delta + d)``; ``c = eta_tilde X^2
/ (tau c0)``, ``kappa_s = kappa_T X^2 / c0``, ``w = lambda tau sigma_k^2 X^2 / c0``, ``m = -tau mu X /
c0``. A 2x2 Riccati step per slice gives the linear feedback ``d = g's + g0``
(:class:`TransientDPPolicy`, which reads the deviation along each path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.costs import cost_unit
from solvers.errors import MethodNotApplicable, SpecError
from solvers.spec import ExecutionProblem
from solvers.transient import transient_model

__all__ = ["TransientRecursion", "transient_backward", "TransientDPPolicy", "require_exact_transient"]


@dataclass
class TransientRecursion:
    """Tables of the recursion (scaled units): ``gains[k-1] = (g_q, g_delta, g0)`` of slice ``k``."""

    P: np.ndarray       # (N, 2, 2): value before slice k = 1..N
    p: np.ndarray       # (N, 2)
    r: np.ndarray       # (N,)
    gains: np.ndarray   # (N, 3)
    c0: float
    kappa: float        # kappa_T (currency / share per share)


def require_exact_transient(problem: ExecutionProblem) -> None:
    """Raise :class:`MethodNotApplicable` unless dp's transient recursion applies."""
    a = problem.asset
    reasons = []
    if a.transient_kernel != "exponential":
        reasons.append(f"transient_kernel = {a.transient_kernel!r} (the deviation is a Markov state only for "
                       "'exponential')")
    if a.transient_exponent != 1:
        reasons.append(f"transient_exponent = {a.transient_exponent:g} (needs 1; recursion='grid' solves it)")
    if not a.is_linear:
        reasons.append(f"impact_exponent = {a.impact_exponent:g} (needs 1)")
    if problem.has_caps or problem.no_reversal or a.has_holdings_bounds:
        reasons.append("caps, no_reversal or holdings bounds are set (recursion='grid' solves them)")
    if problem.volatility_model.stochastic:
        reasons.append(f"volatility_model.kind = {problem.volatility_model.kind!r} (transient with stochastic "
                       "volatility is not implemented in dp)")
    if problem.risk_aversion < 0:
        reasons.append("risk_aversion < 0")
    if reasons:
        raise MethodNotApplicable("dp", "transient_impact: the exact (x, D) recursion needs " + "; ".join(reasons))


def transient_backward(problem: ExecutionProblem) -> TransientRecursion:
    """The backward Riccati recursion (module docstring) for a deterministic volatility path."""
    a = problem.asset
    kernel = transient_model(a)
    n, tau, big_x = problem.slices, problem.tau, a.holdings
    c0 = cost_unit(problem)
    c = a.eta_tilde(tau) * big_x**2 / (tau * c0)
    kap = kernel.kappa * big_x**2 / c0
    w_all = problem.risk_aversion * tau * problem.slice_variance() * big_x**2 / c0
    m = -tau * a.drift * big_x / c0
    decay = kernel.factors(problem.trade_times)
    P = np.zeros((n, 2, 2))
    p = np.zeros((n, 2))
    r = np.zeros(n)
    gains = np.zeros((n, 3))
    P[-1] = [[c + 0.5 * kap, 0.5 * kap], [0.5 * kap, 0.0]]
    gains[-1] = (1.0, 0.0, 0.0)
    for k in range(n - 1, 0, -1):  # slice k (1-based) from the value before slice k + 1 (row k)
        w = float(w_all[k - 1])
        amat = np.array([[1.0, 0.0], [0.0, decay[k - 1]]])
        bvec = np.array([-1.0, decay[k - 1]])
        pn, qn = P[k], p[k]
        rt = c + 0.5 * kap + w + bvec @ pn @ bvec
        if not rt > 0:
            raise SpecError("assets[0].temporary_impact", a.temporary_impact,
                            f"the slice-{k} quadratic in the trade is not convex ({rt:.6g} <= 0)")
        st = np.array([-w, 0.5 * kap]) + amat.T @ pn @ bvec
        lt = -m + qn @ bvec
        P[k - 1] = np.diag([w, 0.0]) + amat.T @ pn @ amat - np.outer(st, st) / rt
        P[k - 1] = 0.5 * (P[k - 1] + P[k - 1].T)
        p[k - 1] = np.array([m, 0.0]) + amat.T @ qn - st * lt / rt
        r[k - 1] = r[k] - lt * lt / (4.0 * rt)
        gains[k - 1] = (-st[0] / rt, -st[1] / rt, -lt / (2.0 * rt))
    return TransientRecursion(P=P, p=p, r=r, gains=gains, c0=c0, kappa=kernel.kappa)


class TransientDPPolicy:
    """``n_k = X (g_q x / X + g_delta D / (kappa_T X) + g0)``: dp's feedback on holdings and the
    deviation ``D_k`` met by the trade (the simulator passes ``deviation``)."""

    time_model = "discrete"
    uses_deviation = True

    def __init__(self, problem: ExecutionProblem, recursion: TransientRecursion) -> None:
        self.problem = problem
        self.recursion = recursion

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None,
              deviation: np.ndarray | None = None) -> np.ndarray:
        holdings = np.asarray(holdings, dtype=np.float64)
        if k >= self.problem.slices:
            return holdings.copy()
        big_x = self.problem.asset.holdings
        dev = self.problem.asset.initial_deviation if deviation is None else deviation
        gq, gd, g0 = self.recursion.gains[k - 1]
        return big_x * (gq * holdings / big_x + gd * np.asarray(dev) / (self.recursion.kappa * big_x) + g0)

    def path(self) -> tuple[np.ndarray, np.ndarray]:
        """Holdings ``x_0..x_N`` and deviations ``D_1..D_N`` of the policy (deterministic)."""
        a = self.problem.asset
        kernel = transient_model(a)
        decay = kernel.factors(self.problem.trade_times)
        n = self.problem.slices
        x = np.empty(n + 1)
        dev = np.empty(n)
        x[0], d = a.holdings, a.initial_deviation
        for k in range(1, n + 1):
            dev[k - 1] = d
            trade = float(self.trade(k, np.array(x[k - 1]), np.array(0.0), None, np.array(d)))
            x[k] = x[k - 1] - trade
            if k < n:
                d = decay[k - 1] * (d + kernel.kappa * trade)
        x[-1] = 0.0
        return x, dev
