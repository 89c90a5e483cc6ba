"""Method ``dp`` with transient impact (exponential kernel, ``delta = 1``): the exact recursion on
``(x, D)`` per volatility state ``i``, ``V_k(s, i) = s'P_k(i)s + p_k(i)'s + r_k(i)``,
``s = (x / X, D / (kappa_T X))``.

Slice ``k`` in state ``i`` (cost unit ``c0``, ``d = n / X``) pays ``(c + kappa_s/2) d^2 + kappa_s d delta
+ w_k(i) (q - d)^2 + m (q - d)`` and moves to ``(q - d, a_k (delta + d))``; ``c = eta_tilde X^2 /
(tau c0)``, ``kappa_s = kappa_T X^2 / c0``, ``w_k(i) = lambda tau sigma_k(i)^2 X^2 / c0``, ``m = -tau mu X
/ c0``. The continuation is the chain's expectation ``sum_j P_ij V_{k+1}(., j)``; a 2x2 Riccati step per
slice and state gives the feedback ``d = g(i)'s + g0(i)`` (:class:`TransientDPPolicy`). Entry point
:func:`solve_exact_transient`; formulas: the conventions page, "Transient impact".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers.costs import cost_unit, policy_cost, trajectory_constants
from solvers.errors import MethodNotApplicable, SpecError
from solvers.result import Result
from solvers.spec import ExecutionProblem
from solvers.transient import transient_model

from .chain import VolatilityChain, volatility_chain

__all__ = ["DeviationPolicy", "TransientRecursion", "transient_backward", "transient_forward", "TransientDPPolicy",
           "require_exact_transient", "solve_exact_transient"]

METHOD = "dp"


@dataclass
class TransientRecursion:
    """Tables of the recursion (scaled units), per slice ``k`` (row ``k-1``) and chain state ``i``:
    ``gains[k-1, i] = (g_q, g_delta, g0)``."""

    P: np.ndarray       # (N, S, 2, 2): value before slice k = 1..N
    p: np.ndarray       # (N, S, 2)
    r: np.ndarray       # (N, S)
    gains: np.ndarray   # (N, S, 3)
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
    if problem.risk_aversion < 0:
        reasons.append("risk_aversion < 0")
    if reasons:
        raise MethodNotApplicable("dp", "transient_impact: the exact (x, D) recursion needs " + "; ".join(reasons))


def _scaled(problem: ExecutionProblem) -> dict[str, Any]:
    """The stage coefficients in cost units (module docstring)."""
    a = problem.asset
    kernel = transient_model(a)
    tau, big_x = problem.tau, a.holdings
    c0 = cost_unit(problem)
    return {"c0": c0, "c": a.eta_tilde(tau) * big_x**2 / (tau * c0), "kap": kernel.kappa * big_x**2 / c0,
            "w_unit": problem.risk_aversion * tau * big_x**2 / c0, "m": -tau * a.drift * big_x / c0,
            "decay": kernel.factors(problem.trade_times), "kappa": kernel.kappa}


def transient_backward(problem: ExecutionProblem, chain: VolatilityChain | None = None) -> TransientRecursion:
    """The backward Riccati recursion (module docstring) on ``chain`` (default: the problem's
    deterministic volatility as one state). Raises :class:`SpecError` when a slice's quadratic in
    the trade is not convex."""
    a = problem.asset
    if chain is None:
        chain = volatility_chain(problem)
    sc = _scaled(problem)
    n, states = problem.slices, chain.n_states
    c, kap, m, decay = sc["c"], sc["kap"], sc["m"], sc["decay"]
    w_all = sc["w_unit"] * chain.levels**2  # (N, S)
    trans = chain.transition
    P = np.zeros((n, states, 2, 2))
    p = np.zeros((n, states, 2))
    r = np.zeros((n, states))
    gains = np.zeros((n, states, 3))
    P[-1] = [[c + 0.5 * kap, 0.5 * kap], [0.5 * kap, 0.0]]
    gains[-1] = (1.0, 0.0, 0.0)
    for k in range(n - 1, 0, -1):  # slice k (1-based) from the value before slice k + 1 (row k)
        w = w_all[k - 1]  # (S,)
        amat = np.array([[1.0, 0.0], [0.0, decay[k - 1]]])
        bvec = np.array([-1.0, decay[k - 1]])
        pn = np.einsum("ij,jab->iab", trans, P[k])  # E[P_{k+1} | i]
        qn = trans @ p[k]
        rn = trans @ r[k]
        rt = c + 0.5 * kap + w + np.einsum("a,iab,b->i", bvec, pn, bvec)
        if not np.all(rt > 0):
            raise SpecError("assets[0].temporary_impact", a.temporary_impact,
                            f"the slice-{k} quadratic in the trade is not convex ({float(np.min(rt)):.6g} <= 0)")
        st = np.stack([-w, np.full(states, 0.5 * kap)], axis=1) + np.einsum("ab,ibc,c->ia", amat.T, pn, bvec)
        lt = -m + qn @ bvec
        new = np.zeros((states, 2, 2))
        new[:, 0, 0] = w
        new += np.einsum("ab,ibc,cd->iad", amat.T, pn, amat) - st[:, :, None] * st[:, None, :] / rt[:, None, None]
        P[k - 1] = 0.5 * (new + np.swapaxes(new, 1, 2))
        p[k - 1] = np.stack([np.full(states, m), np.zeros(states)], axis=1) + qn @ amat - st * (lt / rt)[:, None]
        r[k - 1] = rn - lt * lt / (4.0 * rt)
        gains[k - 1] = np.stack([-st[:, 0] / rt, -st[:, 1] / rt, -lt / (2.0 * rt)], axis=1)
    return TransientRecursion(P=P, p=p, r=r, gains=gains, c0=sc["c0"], kappa=sc["kappa"])


def transient_forward(problem: ExecutionProblem, chain: VolatilityChain, rec: TransientRecursion):
    """The policy's expected cost parts from ``s_1 = (1, D_1 / (kappa_T X))`` in the initial state,
    propagated exactly per state (``E[1_i]``, ``E[s 1_i]``, ``E[s s' 1_i]``): a
    :class:`solvers.costs.ScheduleCost` (currency)."""
    a, n = problem.asset, problem.slices
    big_x, tau = a.holdings, problem.tau
    sc = _scaled(problem)
    decay = sc["decay"]
    states = chain.n_states
    mass = np.zeros(states)
    mass[chain.initial_state] = 1.0
    s0 = np.array([1.0, a.initial_deviation / (rec.kappa * big_x)])
    m1 = mass[:, None] * s0
    m2 = mass[:, None, None] * np.outer(s0, s0)
    trades2 = cross = held1 = risk = 0.0
    for k in range(1, n + 1):
        g = rec.gains[k - 1]  # (S, 3): d = g_q q + g_delta delta + g0
        gv, g0 = g[:, :2], g[:, 2]
        ed2 = np.einsum("ia,iab,ib->i", gv, m2, gv) + 2.0 * g0 * np.einsum("ia,ia->i", gv, m1) + g0**2 * mass
        ed_s = np.einsum("ib,iba->ia", gv, m2) + g0[:, None] * m1  # E[d s 1_i]
        trades2 += float(ed2.sum())
        cross += float(ed_s[:, 1].sum())  # E[d delta]
        if k == n:
            break
        a_k = decay[k - 1]
        # s' = F s + f with F = A + b g_v', f = b g0, A = diag(1, a_k), b = (-1, a_k)
        bvec = np.array([-1.0, a_k])
        F = np.diag([1.0, a_k])[None] + bvec[None, :, None] * gv[:, None, :]
        f = bvec[None, :] * g0[:, None]
        n1 = np.einsum("iab,ib->ia", F, m1) + f * mass[:, None]
        fm = np.einsum("iab,ib->ia", F, m1)
        n2 = (np.einsum("iab,ibc,idc->iad", F, m2, F) + fm[:, :, None] * f[:, None, :]
              + f[:, :, None] * fm[:, None, :] + mass[:, None, None] * f[:, :, None] * f[:, None, :])
        sig2 = chain.levels[k - 1] ** 2
        risk += float(sig2 @ n2[:, 0, 0])  # E[sigma_k^2 q_k^2]
        held1 += float(n1[:, 0].sum())     # E[q_k]
        mass, m1, m2 = mass @ chain.transition, chain.transition.T @ n1, np.einsum("ij,iab->jab", chain.transition, n2)
    gamma, eta = a.permanent_impact, a.temporary_impact
    return policy_cost(
        problem, permanent=0.5 * gamma * big_x**2 * (1.0 - trades2), temporary=eta / tau * big_x**2 * trades2,
        spread=trajectory_constants(problem)["spread"], drift=-tau * a.drift * big_x * held1,
        variance=tau * big_x**2 * risk, transient=rec.kappa * big_x**2 * (cross + 0.5 * trades2))


class DeviationPolicy:
    """What dp's transient policies share: ``trade`` finishes the order in slice ``N`` and reads the
    deviation ``D_k`` met by the trade (the simulator passes ``deviation``; none: the spec's
    ``initial_deviation``); a subclass gives :meth:`slice_trade` (shares)."""

    time_model = "discrete"
    uses_deviation = True
    problem: ExecutionProblem

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None,
              deviation: np.ndarray | None = None) -> np.ndarray:
        holdings = np.asarray(holdings, dtype=np.float64)
        if k >= self.problem.slices:
            return holdings.copy()
        dev = self.problem.asset.initial_deviation if deviation is None else deviation
        return self.slice_trade(k, holdings, sigma, regime, np.asarray(dev, dtype=np.float64))

    def slice_trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None,
                    deviation: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class TransientDPPolicy(DeviationPolicy):
    """``n_k = X (g_q(i) x / X + g_delta(i) D / (kappa_T X) + g0(i))``: dp's feedback on holdings, the
    deviation ``D_k`` met by the trade and the volatility state (the ``regime``, or the chain nodes
    around ``sigma`` blended linearly)."""

    def __init__(self, problem: ExecutionProblem, recursion: TransientRecursion,
                 chain: VolatilityChain | None = None) -> None:
        self.problem = problem
        self.recursion = recursion
        self.chain = chain if chain is not None else volatility_chain(problem)

    def slice_trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None,
                    deviation: np.ndarray) -> np.ndarray:
        big_x = self.problem.asset.holdings
        j, w = self.chain.position(holdings.shape, sigma, regime)
        g = self.chain.blend(self.recursion.gains[k - 1], j, w)  # (..., 3)
        gq, gd, g0 = g[..., 0], g[..., 1], g[..., 2]
        return big_x * (gq * holdings / big_x + gd * deviation / (self.recursion.kappa * big_x) + g0)

    def path(self) -> tuple[np.ndarray, np.ndarray]:
        """Holdings ``x_0..x_N`` and deviations ``D_1..D_N`` of the policy with the volatility state
        frozen at the initial one (deterministic volatility: the policy's only path)."""
        a = self.problem.asset
        kernel = transient_model(a)
        decay = kernel.factors(self.problem.trade_times)
        n, i0 = self.problem.slices, self.chain.initial_state
        sigma0 = np.array(self.chain.levels[0, i0])
        x = np.empty(n + 1)
        dev = np.empty(n)
        x[0], d = a.holdings, a.initial_deviation
        for k in range(1, n + 1):
            dev[k - 1] = d
            trade = float(self.trade(k, np.array(x[k - 1]), sigma0, np.array(i0), np.array(d)))
            x[k] = x[k - 1] - trade
            if k < n:
                d = decay[k - 1] * (d + kernel.kappa * trade)
        x[-1] = 0.0
        return x, dev


def _value(problem: ExecutionProblem, chain: VolatilityChain, rec: TransientRecursion) -> float:
    """The value function at ``(x = X, D = D_1)`` in the initial state plus ``1/2 gamma X^2 + epsilon |X|``."""
    a, i0 = problem.asset, chain.initial_state
    s0 = np.array([1.0, a.initial_deviation / (rec.kappa * a.holdings)])
    consts = trajectory_constants(problem)
    return rec.c0 * float(s0 @ rec.P[0, i0] @ s0 + rec.p[0, i0] @ s0 + rec.r[0, i0]) + consts["permanent"] \
        + consts["spread"]


def solve_exact_transient(problem: ExecutionProblem, vol_states: int, vol_width: float, start: float) -> Result:
    """dp's result for a transient spec (exponential, ``delta = 1``) under any volatility model:
    the recursion per chain state, ``holdings`` the frozen path, moments by :func:`transient_forward`
    (deterministic volatility: the path priced by ``solvers.costs``). Error estimates: rounding
    for one-state and regime chains; for a mean-reverting chain, the change of the objective from
    a chain of about half the states (the chain's discretization error, first order or better)."""
    a = problem.asset
    chain = volatility_chain(problem, vol_states=vol_states, width=vol_width)
    rec = transient_backward(problem, chain)
    policy = TransientDPPolicy(problem, rec, chain)
    holdings, deviations = policy.path()
    value = _value(problem, chain, rec)
    diagnostics: dict[str, Any] = {
        "recursion": "exact-transient", "state": "(x, D)", "cost_unit": rec.c0, "chain_method": chain.method,
        "vol_states": chain.n_states, "chain": chain.diagnostics, "value_function_objective": value,
        "deviations": deviations.tolist(),
        "holdings": "deterministic (no volatility state)" if chain.n_states == 1 else "frozen-initial-state"}
    if chain.n_states == 1:
        result = Result.from_schedule(problem, holdings, method=METHOD, diagnostics=diagnostics)
    else:
        cost = transient_forward(problem, chain, rec)
        result = Result.from_cost(problem, holdings, cost, method=METHOD, diagnostics=diagnostics, policy=policy)
        result.message = ("stochastic volatility: holdings freeze the volatility at its initial state; expected_cost "
                          "and variance (= E[sum tau sigma_k^2 x_k^2]) are those of the feedback policy in "
                          "Result.policy")
    result.diagnostics["objective_gap"] = result.objective - value
    if chain.method in ("constant", "path", "regimes", "deterministic-mean"):
        result.diagnostics["objective_error"] = 1e-10 * abs(result.objective)
        result.diagnostics["holdings_error"] = 1e-10 * abs(a.holdings)
        result.diagnostics["accuracy_note"] = "exact linear-quadratic recursion on (x, D): rounding only"
    else:
        half = volatility_chain(problem, vol_states=max(3, (vol_states + 1) // 2), width=vol_width)
        coarse = _value(problem, half, transient_backward(problem, half))
        result.diagnostics["objective_error"] = abs(value - coarse) + 1e-10 * abs(result.objective)
        result.diagnostics["accuracy_note"] = (f"exact recursion on (x, D) per state of a {chain.n_states}-state "
                                               "moment-matched chain: the error is the chain's (estimated from "
                                               f"{half.n_states} states)")
    if np.any(np.diff(holdings) * np.sign(a.holdings) > 1e-12 * abs(a.holdings)) and a.spread > 0:
        raise MethodNotApplicable(METHOD, "the optimal policy trades both ways, so the spread is not a constant")
    result.policy = policy
    result.solve_seconds = time.perf_counter() - start
    return result
