"""A dense KKT solve of the conventions page's linear-quadratic objective for one asset, written
from the page and sharing nothing with the methods (the independent truth of the time-varying and
transient cross-checks)."""

from __future__ import annotations

import numpy as np

from solvers.costs import schedule_cost

__all__ = ["dense_optimum"]


def dense_optimum(p, signs=None):
    """Minimize E + lambda V of the conventions page over the free holdings with one dense KKT solve
    (one asset; the spread as the linear term sign(n_k) eps_k n_k with the trades' signs given, a
    sign 0 fixing that trade at zero, default one-way; transient cost 1/2 n'Kn + D_1 sum_k n_k
    G(s_k - s_1)/G(0) with K_ij = G(|s_i - s_j|) on the trade times s_k; the remainder x_N pays
    alpha x_N^2, not D). Returns (holdings, objective, multipliers of the zero trades, their eps_k)."""
    n, tau, a = p.slices, p.tau, p.asset
    X, g, lam = a.holdings, a.permanent_impact, p.risk_aversion
    eta = np.broadcast_to(np.asarray(a.temporary_impact, float), (n,))
    eps = np.broadcast_to(np.asarray(a.spread, float), (n,))
    sig2 = np.asarray(p.volatility_model.path if p.volatility_model.kind == "path" else [a.volatility] * n) ** 2
    w = tau * sig2                        # variance weight of x_k, k = 1..N
    h = np.full(n, tau)                   # drift exposure of x_k
    s = tau * np.arange(n)                # trade times: t_{k-1} plus the closures before slice k
    for c in p.closures:
        k = c.after_slice
        sc = c.volatility if c.volatility is not None else np.sqrt(sig2[k])
        w[k - 1] += c.duration * sc**2
        h[k - 1] += c.duration
        s[k:] += c.duration
    dt = np.abs(s[:, None] - s[None, :])
    if a.transient_impact == 0:
        shape = np.zeros_like(dt)
    elif a.transient_kernel == "exponential":
        shape = np.exp(-a.resilience * dt)
    else:
        shape = (1.0 + dt / a.kernel_timescale) ** -a.kernel_exponent
    kmat = a.transient_impact * shape
    soft = p.terminal_penalty is not None
    free = n if soft else n - 1
    # n = B x + b0 over the free holdings x_1..x_free
    B = np.zeros((n, free))
    b0 = np.zeros(n)
    b0[0] = X
    for k in range(n):
        if k < free:
            B[k, k] = -1.0
        if 1 <= k <= free:
            B[k, k - 1] = 1.0
    signs = np.full(n, np.sign(X)) if signs is None else np.asarray(signs, float)
    c = eta / tau - g / 2
    lin_n = signs * eps + a.initial_deviation * shape[0]          # G(s_k - s_1) / G(0)
    H = 2 * B.T @ (c[:, None] * B) + B.T @ kmat @ B + np.diag(2 * lam * w[:free])
    rhs = -(2 * B.T @ (c * b0) + B.T @ (kmat @ b0) + B.T @ lin_n) + a.drift * h[:free]
    if soft:
        H[-1, -1] += 2 * p.terminal_penalty - g
    zero = np.flatnonzero(signs == 0)                     # n_k = B_k x + b0_k = 0, multiplier nu_k
    kkt = np.block([[H, B[zero].T], [B[zero], np.zeros((zero.size, zero.size))]])
    sol = np.linalg.solve(kkt, np.r_[rhs, -b0[zero]])
    x = np.zeros(n + 1)
    x[0] = X
    x[1:free + 1] = sol[:free]
    return x, float(schedule_cost(p, x).objective), sol[free:], eps[zero]
