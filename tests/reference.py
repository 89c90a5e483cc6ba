"""Independent reference solutions used by the tests (brute force, written apart from the
library code they check).

``kkt_single`` minimises ``(eta_tilde / tau) sum n_k^2 + lambda tau sum sigma_k^2 x_k^2`` over
the interior holdings by solving its stationarity conditions, a tridiagonal linear system:

    (eta_tilde / tau) (2 x_k - x_{k-1} - x_{k+1}) + lambda tau sigma_k^2 x_k = 0,  k = 1..N-1,

with ``x_0 = X``, ``x_N = 0``. ``kkt_basket`` solves the stacked ``m (N-1)`` system of the
basket problem ``(1/tau) sum n' Ht n + lambda tau sum x' C x`` as one dense solve.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded


def kkt_single(x0: float, slices: int, tau: float, eta_tilde: float, lam: float, sigma2) -> np.ndarray:
    n = slices
    if n == 1:
        return np.array([x0, 0.0])
    sigma2 = np.broadcast_to(np.asarray(sigma2, dtype=np.float64), (n,))
    diag = 2.0 * eta_tilde / tau + lam * tau * sigma2[: n - 1]
    off = -eta_tilde / tau * np.ones(n - 2)
    ab = np.zeros((3, n - 1))
    ab[0, 1:] = off
    ab[1] = diag
    ab[2, :-1] = off
    rhs = np.zeros(n - 1)
    rhs[0] = eta_tilde / tau * x0
    interior = solve_banded((1, 1), ab, rhs)
    return np.concatenate([[x0], interior, [0.0]])


def kkt_basket(x0: np.ndarray, slices: int, tau: float, ht: np.ndarray, lam: float, cov: np.ndarray) -> np.ndarray:
    m, n = len(x0), slices
    if n == 1:
        return np.vstack([x0, np.zeros(m)])
    size = m * (n - 1)
    mat = np.zeros((size, size))
    rhs = np.zeros(size)
    for k in range(n - 1):
        blk = slice(k * m, (k + 1) * m)
        mat[blk, blk] = 2.0 * ht / tau + lam * tau * cov
        if k > 0:
            mat[blk, (k - 1) * m:k * m] = -ht / tau
        if k < n - 2:
            mat[blk, (k + 1) * m:(k + 2) * m] = -ht / tau
    rhs[:m] = ht @ x0 / tau
    interior = np.linalg.solve(mat, rhs).reshape(n - 1, m)
    return np.vstack([x0, interior, np.zeros(m)])


def expected_cost_by_definition(trades: np.ndarray, tau: float, gamma, eta, eps, beta) -> float:
    """E[C] summed straight from the price dynamics (no algebraic rewriting): slice k pays the
    permanent impact of all earlier slices, ``sum_{j<k} gamma n_j``, plus its own temporary
    cost ``n_k h(v_k)``; single asset."""
    total = 0.0
    for k, nk in enumerate(trades):
        total += nk * gamma * sum(trades[:k])
        v = nk / tau
        total += nk * (eps * np.sign(v) + eta * abs(v) ** beta * np.sign(v))
    return float(total)


def variance_by_definition(holdings: np.ndarray, tau: float, sigma2) -> float:
    """Var[C]: the noise of slice j, ``sigma_j sqrt(tau) xi_j``, moves the price paid by every
    later trade, so C's random part is ``-sum_j sigma_j sqrt(tau) xi_j sum_{k>j} n_k``."""
    trades = holdings[:-1] - holdings[1:]
    n = len(trades)
    sigma2 = np.broadcast_to(np.asarray(sigma2, dtype=np.float64), (n,))
    return float(sum(tau * sigma2[j] * sum(trades[j + 1:]) ** 2 for j in range(n)))
