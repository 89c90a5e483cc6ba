"""``qp`` with transient impact: the kernel term ``1/2 n'Kn`` (plus ``D_1``'s linear term) of the
scaled problem, its direct solves and its CVXPY form.

Scaled (asset ``i``, trades ``d = n / X_i``): ``1/2 kappa_s d'Gd + l'd`` with ``kappa_s = kappa_T
X_i^2 / K``, ``G_jk = G(|s_j - s_k|)/G(0)``, ``l_k = X_i D_1 G(s_k - s_1)/G(0) / K``. Exponential
kernel, one asset: O(N) by carrying ``G d = f + b - d`` with the recursions ``f_k = d_k + a_(k-1)
f_(k-1)``, ``b_k = d_k + a_k b_(k+1)`` in one banded system; otherwise a dense solve (N m)^2.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps

from ..errors import MethodNotApplicable
from .banded import difference_operator
from .scaling import ScaledProblem

__all__ = ["solve_direct", "require_convex_kernels"]


def require_convex_kernels(terms) -> None:
    """Raise :class:`MethodNotApplicable` for ``transient_exponent < 1`` (not convex in the trades);
    ``terms``: the scaled kernel terms (``ScaledProblem.transient``)."""
    for t in terms:
        if t.kernel.delta != 1.0:
            raise MethodNotApplicable("qp", f"assets[{t.asset}].transient_exponent = {t.kernel.delta:g} < 1: the "
                                      "transient cost Phi(E + n) - Phi(E) is not convex in the trades (concave book "
                                      "shape); dp solves it")


def solve_direct(sp: ScaledProblem) -> tuple[np.ndarray, str]:
    """The unconstrained minimizer (scaled holdings (N+1, m)) and the solver's name."""
    n, m = sp.N, sp.m
    if n == 1:
        return np.vstack([np.ones((1, m)), np.zeros((1, m))]), "block"
    if m == 1 and sp.W is not None and all(t.kernel.exponential for t in sp.transient):
        return _solve_exponential(sp), "banded-recursion"
    return _solve_dense(sp), "dense"


def _solve_dense(sp: ScaledProblem) -> np.ndarray:
    n, m = sp.N, sp.m
    e_mat, b0 = difference_operator(n, m)
    e_dense = e_mat.toarray()
    quad = np.kron(np.eye(n), 2.0 * sp.Q)
    lin = np.zeros(n * m)
    for term in sp.transient:
        idx = np.arange(n) * m + term.asset
        quad[np.ix_(idx, idx)] += term.kappa * term.normalized_matrix()
        lin[idx] += term.linear
    risk = np.diag(2.0 * sp.W[: n - 1].ravel()) if sp.W is not None else np.kron(np.eye(n - 1), 2.0 * sp.M)
    h = e_dense.T @ quad @ e_dense + risk
    b = e_dense.T @ (quad @ b0 + lin) + np.tile(sp.g, n - 1)
    v = np.linalg.solve(0.5 * (h + h.T), -b)
    return np.vstack([np.ones((1, m)), v.reshape(n - 1, m), np.zeros((1, m))])


def _solve_exponential(sp: ScaledProblem) -> np.ndarray:
    """One asset, exponential kernel: unknowns ``(v, f, b)`` interleaved per slice, one banded LU."""
    n = sp.N
    q = float(sp.Q[0, 0])
    term = sp.transient[0]
    kap = term.kappa
    a = term.kernel.factors(term.times)
    e_mat, b0 = difference_operator(n, 1)
    e_mat = e_mat.tocsr()
    w = sp.W[: n - 1, 0]
    top = sps.hstack([(2.0 * q - kap) * (e_mat.T @ e_mat) + sps.diags(2.0 * w), kap * e_mat.T, kap * e_mat.T])
    a_f = sps.identity(n) - sps.diags(a, -1)
    a_b = sps.identity(n) - sps.diags(a, 1)
    zero = sps.csr_matrix((n, n))
    mid = sps.hstack([-e_mat, a_f, zero])
    low = sps.hstack([-e_mat, zero, a_b])
    mat = sps.vstack([top, mid, low]).tocsr()
    rhs = np.concatenate([-(e_mat.T @ ((2.0 * q - kap) * b0 + term.linear)) - sp.g[0], b0, b0])
    # interleave: slice k holds f_k, b_k and (k < N) v_k
    order = np.empty(3 * n - 1, dtype=np.int64)
    pos = 0
    for k in range(n):
        order[pos] = (n - 1) + k
        order[pos + 1] = (n - 1) + n + k
        pos += 2
        if k < n - 1:
            order[pos] = k
            pos += 1
    perm = mat[order][:, order].tocoo()
    lower = int(np.max(perm.row - perm.col))
    upper = int(np.max(perm.col - perm.row))
    ab = np.zeros((lower + upper + 1, perm.shape[0]))
    np.add.at(ab, (upper + perm.row - perm.col, perm.col), perm.data)
    sol = sla.solve_banded((lower, upper), ab, rhs[order], check_finite=False)
    u = np.empty_like(sol)
    u[order] = sol
    v = u[: n - 1]
    return np.concatenate([[1.0], v, [0.0]])[:, None]
