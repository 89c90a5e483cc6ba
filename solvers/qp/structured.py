"""The structured path for the linear-quadratic case: one banded Cholesky solve, O(N m^3).

With linear impact the scaled objective is ``1/2 v' H v + b' v + const`` in the interior holdings
``v`` with ``H = E' (I kron 2Q) E + blockdiag(2 W_k)`` banded; a basket with the same risk every
slice splits into ``m`` tridiagonal problems by eigen modes. :func:`solve_unconstrained` returns
the unconstrained minimizer, :func:`feasible` says whether it also solves the constrained problem
(else the caller falls back to CVXPY). Derivation: ``solvers/docs/theory-qp.md``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps

from .banded import difference_operator, upper_banded
from .scaling import ScaledProblem

__all__ = ["applicable", "solve_unconstrained", "feasible"]


def applicable(sp: ScaledProblem) -> bool:
    """Linear impact is what makes the objective quadratic."""
    return sp.linear


def feasible(sp: ScaledProblem, y: np.ndarray, tol: float = 1e-12) -> str:
    """Empty string if the unconstrained optimum ``y`` also solves the constrained problem,
    else the first reason it does not."""
    d = y[:-1] - y[1:]
    if np.any(np.abs(d) > sp.cap * (1 + tol)):
        return "a cap binds"
    if sp.no_reversal and np.any(d < -tol):
        return "no-reversal binds"
    if np.any((d < -tol) & (sp.e > 0)[None, :]):
        return "an asset with a spread trades both ways"
    inner = y[1:-1]
    if np.any(inner > sp.yhi + tol) or np.any(inner < sp.ylo - tol):
        return "a holdings bound binds"
    if sp.band is not None and np.any(np.abs(d @ sp.band_w) > sp.band * (1 + tol) + tol):
        return "the dollar-imbalance band binds"
    return ""


def solve_unconstrained(sp: ScaledProblem) -> np.ndarray:
    """Scaled holdings (N+1, m) minimizing the quadratic objective without constraints:
    eigen-decoupled modes for a basket (risk the same every slice), a banded Cholesky solve
    otherwise."""
    n, m = sp.N, sp.m
    if n == 1:
        return np.vstack([np.ones((1, m)), np.zeros((1, m))])
    if m > 1 and (sp.M is not None or np.all(sp.W == sp.W[0])):
        return _solve_modes(sp)
    return _solve_banded(sp)


def _solve_modes(sp: ScaledProblem) -> np.ndarray:
    """``Q = L L'``, ``L^-1 M L^-T = U diag(mu) U'``, ``w = U' L' y``: the objective splits into
    ``m`` scalar problems ``sum_k (w_(k-1) - w_k)^2 + mu sum_k w_k^2 + h sum_k w_k`` (AC 2001
    appendix A, with drift), each a tridiagonal solve: ``O(m^3 + N m^2)`` in all."""
    n, m = sp.N, sp.m
    risk = sp.M if sp.M is not None else np.diag(sp.W[0])
    chol = np.linalg.cholesky(sp.Q)
    linv = np.linalg.inv(chol)
    mu, u = np.linalg.eigh(linv @ risk @ linv.T)
    mu = np.maximum(mu, 0.0)
    to_w = u.T @ chol.T                 # w = to_w @ y
    back = linv.T @ u                   # y = back @ w
    w0 = to_w @ np.ones(m)
    h = back.T @ sp.g                   # g'y = (back' g)' w
    w = np.empty((n + 1, m))
    w[0], w[-1] = w0, 0.0
    ab = np.empty((2, n - 1))
    for j in range(m):
        ab[0, 0], ab[0, 1:] = 0.0, -1.0
        ab[1, :] = 2.0 + mu[j]
        rhs = np.full(n - 1, -0.5 * h[j])
        rhs[0] += w0[j]
        w[1:-1, j] = sla.solveh_banded(ab, rhs, lower=False, check_finite=False) if n > 2 else rhs / ab[1]
    return w @ back.T


def _solve_banded(sp: ScaledProblem) -> np.ndarray:
    n, m = sp.N, sp.m
    e_mat, b0 = difference_operator(n, m)
    quad = sps.kron(sps.identity(n), sps.csr_matrix(2.0 * sp.Q)).tocsr()
    risk = sps.diags(2.0 * sp.W[: n - 1].ravel()) if sp.W is not None else sps.kron(sps.identity(n - 1), sps.csr_matrix(2.0 * sp.M))
    h = (e_mat.T @ quad @ e_mat + risk).tocsr()
    b = e_mat.T @ (quad @ b0) + np.tile(sp.g, n - 1)
    u = min(2 * m - 1 if m > 1 else 1, h.shape[0] - 1)
    if u == 0:  # a single interior unknown
        v = -b / h.diagonal()
        return np.vstack([np.ones((1, m)), v.reshape(n - 1, m), np.zeros((1, m))])
    ab = upper_banded(h, u)
    v = sla.solveh_banded(ab, -b, lower=False, check_finite=False)
    return np.vstack([np.ones((1, m)), v.reshape(n - 1, m), np.zeros((1, m))])
