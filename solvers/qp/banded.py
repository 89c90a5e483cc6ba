"""Banded linear algebra shared by the polish and the structured path of ``qp``.

:func:`difference_operator` maps interior scaled holdings ``v`` (time-major) to trades,
``vec(d) = E v + b0``; :func:`upper_banded` stores a symmetric banded matrix for LAPACK;
:func:`mode_solver` applies ``H^-1`` of the linear basket Hessian by eigen modes.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps

from .scaling import ScaledProblem

__all__ = ["difference_operator", "upper_banded", "mode_solver"]


def difference_operator(n: int, m: int, free: int | None = None) -> tuple[sps.csr_matrix, np.ndarray]:
    """``E`` and ``b0`` with ``vec(d) = E v + b0`` (time-major vec, ``v`` = the free ``y``:
    ``y_1..y_(N-1)``, or ``y_1..y_N`` with ``free = N`` for a soft finish)."""
    nv = (max(n - 1, 0) if free is None else free) * m
    rows = np.arange(n * m)
    # d_k = y_(k-1) - y_k: +1 on y_(k-1) (interior index (k-2) m + i), -1 on y_k ((k-1) m + i)
    plus = rows[m:]                         # slices k >= 2
    minus = rows[: nv]                      # slices k <= N-1
    e = sps.csr_matrix((np.concatenate([np.ones(plus.size), -np.ones(minus.size)]),
                        (np.concatenate([plus, minus]), np.concatenate([plus - m, minus]))), shape=(n * m, nv))
    b0 = np.zeros(n * m)
    b0[:m] = 1.0
    return e, b0


def upper_banded(mat: sps.spmatrix, u: int) -> np.ndarray:
    """LAPACK upper band storage ``ab[u + i - j, j] = mat[i, j]`` (``0 <= j - i <= u``)."""
    coo = mat.tocoo()
    keep = (coo.col >= coo.row) & (coo.col - coo.row <= u)
    ab = np.zeros((u + 1, mat.shape[0]))
    np.add.at(ab, (u + coo.row[keep] - coo.col[keep], coo.col[keep]), coo.data[keep])
    return ab


def mode_solver(sp: ScaledProblem):
    """``B -> H^-1 B`` for the linear basket Hessian ``H = T kron 2Q + I kron 2M`` (``T`` the
    tridiagonal second difference, time-major vec): with ``P = L^-T U`` (``P'QP = I``,
    ``P'MP = diag(mu)``), ``H^-1 = (I kron P) blockdiag_j (2 (T + mu_j I))^-1 (I kron P')``:
    ``m`` tridiagonal solves and two ``m x m`` transforms per slice. None if not applicable."""
    n, m = sp.N, sp.m
    if not sp.linear or m == 1 or n < 3 or not (sp.M is not None or np.all(sp.W == sp.W[0])):
        return None
    risk = sp.M if sp.M is not None else np.diag(sp.W[0])
    chol = np.linalg.cholesky(sp.Q)
    linv = np.linalg.inv(chol)
    mu, u = np.linalg.eigh(linv @ risk @ linv.T)
    pmat = linv.T @ u
    bands = [np.vstack([np.r_[0.0, np.full(n - 2, -2.0)], np.full(n - 1, 2.0 * (2.0 + mu[j]))]) for j in range(m)]

    def solve_h(b: np.ndarray) -> np.ndarray:
        shape = b.shape
        bb = b.reshape(n - 1, m, -1)
        c = np.matmul(pmat.T, bb)                        # P' b_k for every slice k
        z = np.empty_like(c)
        for j in range(m):
            z[:, j, :] = sla.solveh_banded(bands[j], c[:, j, :], lower=False, check_finite=False)
        return np.matmul(pmat, z).reshape(shape)

    return solve_h
