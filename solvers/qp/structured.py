"""The structured path for the linear-quadratic case: one banded Cholesky solve.

With linear impact the scaled objective (:mod:`.scaling`) is the quadratic
``f(v) = 1/2 v' H v + b' v + const`` in the interior holdings ``v`` (time-major), with

    H = E' (I_N kron 2Q) E + blockdiag(2 W_k),     b = E' (I_N kron 2Q) b0 + g,

``E`` the difference operator (:func:`.polish.difference_operator`). ``H`` is symmetric
positive definite and banded (tridiagonal for one asset, ``2m - 1`` off-diagonals for a
basket), so ``H v = -b`` costs ``O(N m^3)`` by a banded Cholesky factorization
(``scipy.linalg.solveh_banded``) instead of an interior-point solve.

The unconstrained minimizer is also the constrained one whenever it satisfies every
constraint (all multipliers zero) and every asset with a spread trades in one direction only
(then ``sum_k e_i |d_ki| = e_i`` is a constant). :func:`solve_unconstrained` returns None
otherwise, and the caller falls back to the CVXPY model.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps

from .polish import difference_operator
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
    """Scaled holdings (N+1, m) minimizing the quadratic objective without constraints."""
    n, m = sp.N, sp.m
    if n == 1:
        return np.vstack([np.ones((1, m)), np.zeros((1, m))])
    e_mat, b0 = difference_operator(n, m)
    quad = sps.kron(sps.identity(n), sps.csr_matrix(2.0 * sp.Q)).tocsr()
    risk = sps.diags(2.0 * sp.W[: n - 1].ravel()) if sp.W is not None else sps.kron(sps.identity(n - 1), sps.csr_matrix(2.0 * sp.M))
    h = (e_mat.T @ quad @ e_mat + risk).tocsr()
    b = e_mat.T @ (quad @ b0) + np.tile(sp.g, n - 1)
    u = min(2 * m - 1 if m > 1 else 1, h.shape[0] - 1)
    if u == 0:  # a single interior unknown
        v = -b / h.diagonal()
        return np.vstack([np.ones((1, m)), v.reshape(n - 1, m), np.zeros((1, m))])
    ab = np.zeros((u + 1, h.shape[0]))
    for j in range(u + 1):
        diag = h.diagonal(j)
        ab[u - j, j:] = diag
    v = sla.solveh_banded(ab, -b, lower=False, check_finite=False)
    return np.vstack([np.ones((1, m)), v.reshape(n - 1, m), np.zeros((1, m))])
