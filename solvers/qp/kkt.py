"""An independent KKT certificate of a static schedule, in the spec's own (unscaled) units.

Written from the conventions page directly, in numpy, sharing no code with the scaled model, the
CVXPY formulation, the polish or :mod:`solvers.impact`. Interior gradient (currency per share):
``dF/dx_k = G(n_(k+1)) - G(n_k) + 2 lambda tau C_k x_k - tau mu`` with
``G(n) = eta_k (1 + beta) |n / tau|^beta sign(n) + epsilon_k sign(n) - Gamma n`` (per-slice
``eta_k``, ``epsilon_k``); a closure after slice ``k`` adds ``2 lambda d sigma_c^2 x_k - d mu``;
with a terminal penalty ``x_N`` is free: ``dF/dx_N = -G(n_N) + (2 alpha - Gamma) x_N + ...``.
Binding constraints add ``A' mu`` with sign-restricted multipliers. :func:`kkt_residual` reports relative
stationarity, primal violation and complementarity; ``residual`` is the largest
(``solvers/docs/theory-qp.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from ..spec import ExecutionProblem
from .least_squares import bounded_least_squares

__all__ = ["KKTReport", "kkt_residual"]


@dataclass
class KKTReport:
    residual: float
    stationarity: float
    primal: float
    complementarity: float
    active: dict[str, int] = field(default_factory=dict)
    multipliers: dict[tuple[str, int, int], float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {"residual": float(self.residual), "stationarity": float(self.stationarity),
                "primal": float(self.primal), "complementarity": float(self.complementarity), "active": dict(self.active)}


def kkt_residual(problem: ExecutionProblem, holdings: np.ndarray, *, active_tol: float = 1e-7) -> KKTReport:
    """Relative KKT residual of ``holdings`` (shares, (N+1,) or (N+1, m)) for ``problem``.

    A constraint whose slack is below ``active_tol`` (relative to ``|X_i|``, or to the dollar
    scale for the band) is treated as binding.
    """
    n, m, tau = problem.slices, problem.n_assets, problem.tau
    x = np.asarray(holdings, dtype=np.float64).reshape(n + 1, m)
    big_x = problem.initial_holdings
    ax = np.abs(big_x)
    trades = x[:-1] - x[1:]
    lam = problem.risk_aversion
    eps = np.stack([np.broadcast_to(np.asarray(a.spread, dtype=np.float64), (n,)) for a in problem.assets], axis=1)
    soft = problem.terminal_penalty is not None
    nfree = n if soft else n - 1
    mu_drift = np.array([a.drift for a in problem.assets])
    gam = problem.permanent_impact_matrix_array
    # ---- endpoint and constraint violations (primal)
    primal = float(np.max(np.abs(x[0] - big_x) / ax))
    if not soft:
        primal = max(primal, float(np.max(np.abs(x[-1]) / ax)))
    kink = np.zeros((n, m), dtype=bool)
    # ---- dE/dn per trade, (n, m), smooth parts; terms collected for the scale
    perm = -trades @ gam
    if problem.temporary_impact_matrix is not None:
        temp = 2.0 * trades @ problem.temporary_impact_matrix_array / tau
    else:
        eta = np.stack([np.broadcast_to(np.asarray(a.temporary_impact, dtype=np.float64), (n,))
                        for a in problem.assets], axis=1)
        beta = np.array([a.impact_exponent for a in problem.assets])
        temp = eta * (1.0 + beta) * (np.abs(trades) / tau) ** beta * np.sign(trades)
    trans = _transient_gradient(problem, trades)
    temp = temp + trans
    rows: list[tuple[str, int, int, float, float, float]] = []  # kind, k, i, lo, hi, slack (relative)
    for i, a in enumerate(problem.assets):
        s = np.sign(big_x[i])
        caps = a.slice_caps(n)
        zero = np.abs(trades[:, i]) <= active_tol * ax[i]
        if np.any(eps[:, i] > 0) or problem.no_reversal:
            kink[:, i] = zero
            for k in np.flatnonzero(zero):
                rows.append(("zero", int(k), i, -np.inf if problem.no_reversal else -eps[k, i], eps[k, i],
                             abs(trades[k, i]) / ax[i]))
        if problem.no_reversal:
            primal = max(primal, float(np.max(-s * trades[:, i] / ax[i], initial=0.0)))
        if caps is not None:
            slack_up = (caps - s * trades[:, i]) / ax[i]
            slack_dn = (caps + s * trades[:, i]) / ax[i]
            primal = max(primal, float(np.max(-slack_up)), float(np.max(-slack_dn)))
            for k in np.flatnonzero((slack_up <= active_tol) & ~zero):
                rows.append(("cap_up", int(k), i, 0.0, np.inf, max(slack_up[k], 0.0)))
            if not problem.no_reversal:
                for k in np.flatnonzero((slack_dn <= active_tol) & ~zero):
                    rows.append(("cap_down", int(k), i, -np.inf, 0.0, max(slack_dn[k], 0.0)))
        inner = x[1:n, i]
        if a.max_holdings is not None:
            sl = (a.max_holdings - inner) / ax[i]
            primal = max(primal, float(np.max(-sl, initial=0.0)))
            for k in np.flatnonzero(sl <= active_tol):
                rows.append(("ub", int(k), i, 0.0, np.inf, max(sl[k], 0.0)))
        if a.min_holdings is not None:
            sl = (inner - a.min_holdings) / ax[i]
            primal = max(primal, float(np.max(-sl, initial=0.0)))
            for k in np.flatnonzero(sl <= active_tol):
                rows.append(("lb", int(k), i, -np.inf, 0.0, max(sl[k], 0.0)))
    prices = np.array([a.price for a in problem.assets])
    bands = problem.imbalance_bands()
    dollar = float(np.sum(np.abs(prices * big_x)))
    if bands is not None:
        imb = trades @ prices
        up = (bands - imb) / dollar
        dn = (bands + imb) / dollar
        primal = max(primal, float(np.max(-up)), float(np.max(-dn)))
        for k in np.flatnonzero(up <= active_tol):
            rows.append(("band_up", int(k), 0, 0.0, np.inf, max(up[k], 0.0)))
        for k in np.flatnonzero(dn <= active_tol):
            rows.append(("band_down", int(k), 0, -np.inf, 0.0, max(dn[k], 0.0)))
    spread = np.where(kink, 0.0, eps * np.sign(trades))
    g_n = temp + perm + spread                     # dE/dn_k, (n, m)
    abs_n = np.abs(temp) + np.abs(perm) + np.abs(spread)
    if nfree == 0:
        return KKTReport(primal, 0.0, primal, 0.0, {})
    held = x[1:nfree + 1]                          # the free holdings x_1..x_{N-1} (x_N too when soft)
    # V's weight on x_k: tau sigma_k^2 (tau C) plus a closure's duration sigma_c^2 (duration C)
    hold_time = np.full(n, tau)
    extra = np.zeros(n)
    for c in problem.closures:
        hold_time[c.after_slice - 1] += c.duration
        if m == 1:
            var_c = c.volatility**2 if c.volatility is not None else float(problem.slice_variance()[c.after_slice])
            extra[c.after_slice - 1] += c.duration * var_c
    if m == 1:
        risk = 2.0 * lam * (tau * problem.slice_variance() + extra)[:nfree, None] * held
    else:
        risk = 2.0 * lam * hold_time[:nfree, None] * (held @ problem.covariance)
    drift = -hold_time[:nfree, None] * mu_drift[None, :]
    g_next = np.vstack([g_n[1:], np.zeros((1, m))])[:nfree]    # the trade after x_k (none after x_N)
    a_next = np.vstack([abs_n[1:], np.zeros((1, m))])[:nfree]
    grad = g_next - g_n[:nfree] + risk + drift     # (nfree, m)
    scale = np.max(abs_n[:nfree] + a_next + np.abs(risk) + np.abs(drift), axis=0)
    if soft:
        alpha = np.broadcast_to(np.asarray(problem.terminal_penalty, dtype=np.float64), (m,))
        term = 2.0 * alpha * x[-1] - x[-1] @ gam
        grad[-1] += term
        scale = np.maximum(scale, np.abs(g_n[-1]) + np.abs(risk[-1]) + np.abs(drift[-1]) + np.abs(term))
    scale = np.where(scale > 0, scale, 1.0)
    # ---- multipliers: rows of A on the interior holdings (time-major vec)
    nv = nfree * m
    ri, ci, vi = [], [], []

    def trade_row(r: int, k: int, i: int, coef: float) -> None:
        # n_(k+1),i = x_k,i - x_(k+1),i (0-based slice k; interior index of x_j is j-1)
        if k >= 1:
            ri.append(r); ci.append((k - 1) * m + i); vi.append(coef)
        if k + 1 <= nfree:
            ri.append(r); ci.append(k * m + i); vi.append(-coef)

    lo = np.array([r[3] for r in rows]) if rows else np.zeros(0)
    hi = np.array([r[4] for r in rows]) if rows else np.zeros(0)
    for r, (kind, k, i, *_rest) in enumerate(rows):
        if kind in ("cap_up", "cap_down", "zero"):
            s = np.sign(big_x[i])  # rows in the order's direction: s * n
            trade_row(r, k, i, s)  # the spread's interval [-eps, eps] is symmetric, so s * n is fine
        elif kind in ("ub", "lb"):
            ri.append(r); ci.append(k * m + i); vi.append(1.0)
        else:
            for j in range(m):
                trade_row(r, k, j, prices[j])
    a_mat = sps.csr_matrix((vi, (ri, ci)), shape=(len(rows), nv))
    gvec = grad.ravel()
    mult = np.zeros(len(rows))
    if rows:
        mult = _least_squares(a_mat, gvec)
        slack = 1e-9 * max(1.0, float(np.max(np.abs(mult), initial=0.0)))
        if (np.any(mult < lo - slack) or np.any(mult > hi + slack)) and a_mat.shape[0] * a_mat.shape[1] <= 4e6:
            # dependent active rows: the sign-feasible multipliers (see .least_squares)
            mult = bounded_least_squares(a_mat, gvec, lo, hi)
        mult = np.clip(mult, lo, hi)
    res = (gvec + a_mat.T @ mult).reshape(nfree, m)
    stationarity = float(np.max(np.abs(res) / scale[None, :]))
    comp = 0.0
    active: dict[str, int] = {}
    out_mult = {}
    for r, (kind, k, i, _lo, _hi, slack) in enumerate(rows):
        active[kind] = active.get(kind, 0) + 1
        if kind.startswith("band"):  # multiplier: currency per currency of imbalance
            comp = max(comp, abs(mult[r]) * slack * dollar / float(np.max(scale * ax)))
        else:                        # multiplier: currency per share
            comp = max(comp, abs(mult[r]) * slack / scale[i])
        out_mult[(kind, k, i)] = float(mult[r])
    return KKTReport(float(max(stationarity, primal, comp)), stationarity, float(primal), float(comp), active, out_mult)


def _transient_gradient(problem: ExecutionProblem, trades: np.ndarray) -> np.ndarray:
    """``d/dn_k`` of the transient cost ``1/2 n'Kn + D_1 sum_k n_k G(s_k)/G(0)``: ``(K n)_k + D_1
    G(s_k)/G(0)`` per asset (currency / share), from the spec's keys; ``(n, m)``."""
    out = np.zeros_like(trades)
    s = problem.trade_times
    for i, a in enumerate(problem.assets):
        if a.transient_impact <= 0:
            continue
        kap, n_i = a.transient_impact, trades[:, i]
        if a.transient_kernel == "exponential":
            # (K n)_k = kappa (sum_{j<=k} e^{-rho(s_k - s_j)} n_j + sum_{j>=k} e^{-rho(s_j - s_k)} n_j - n_k)
            fwd = np.zeros_like(n_i)
            bwd = np.zeros_like(n_i)
            acc = 0.0
            for k in range(n_i.size):
                acc = n_i[k] + (acc * np.exp(-a.resilience * (s[k] - s[k - 1])) if k else 0.0)
                fwd[k] = acc
            acc = 0.0
            for k in range(n_i.size - 1, -1, -1):
                acc = n_i[k] + (acc * np.exp(-a.resilience * (s[k + 1] - s[k])) if k < n_i.size - 1 else 0.0)
                bwd[k] = acc
            out[:, i] = kap * (fwd + bwd - n_i) + a.initial_deviation * np.exp(-a.resilience * (s - s[0]))
        else:
            shape = lambda t: (1.0 + t / a.kernel_timescale) ** (-a.kernel_exponent)  # noqa: E731
            out[:, i] = kap * shape(np.abs(s[:, None] - s[None, :])) @ n_i + a.initial_deviation * shape(s - s[0])
    return out


def _least_squares(a_mat: sps.csr_matrix, g: np.ndarray) -> np.ndarray:
    """``argmin ||g + A' mu||``: normal equations by sparse LU, LSQR if they are singular."""
    normal = (a_mat @ a_mat.T).tocsc()
    try:
        with np.errstate(all="ignore"):
            mu = spla.splu(normal).solve(-(a_mat @ g))
        if np.all(np.isfinite(mu)) and np.linalg.norm(a_mat.T @ mu + g) <= np.linalg.norm(g) + 1e-300:
            return mu
    except RuntimeError:
        pass
    return spla.lsqr(a_mat.T, -g, atol=1e-15, btol=1e-15, iter_lim=50 * a_mat.shape[0] + 100)[0]

