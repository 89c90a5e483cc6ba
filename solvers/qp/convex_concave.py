"""Power-law impact with permanent impact: a convex-concave iteration, and when its answer is global.

The per-slice cost ``phi(n) = tau eta |n / tau|^(1 + beta) - 1/2 gamma n^2`` is not convex for
``beta != 1``. :func:`convex_concave` linearizes ``-1/2 d' P d`` and re-solves the compiled problem
until the trades settle; :func:`convexity_certificate` bounds the whole objective's Hessian from
below over the feasible set (global optimum when its smallest eigenvalue is ``>= 0``);
:func:`check_bounded` refuses a spec whose objective is unbounded below; :func:`convexity_thresholds`
gives each asset's ``n*``. Derivations: ``solvers/docs/theory-qp.md``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
from scipy.sparse.linalg import eigsh

from ..boundedness import alternation_eigenvalue
from ..errors import SpecError
from ..spec import ExecutionProblem
from .formulation import CompiledProblem
from .banded import difference_operator
from .scaling import ScaledProblem

__all__ = ["convexity_thresholds", "convexity_certificate", "convex_concave", "check_bounded"]


def check_bounded(sp: ScaledProblem) -> None:
    """Raise :class:`SpecError` when the objective is unbounded below (the static cost with
    ``beta < 1`` and permanent impact).

    For holdings of amplitude ``L`` the temporary cost grows like ``L^(1+beta)``, slower than the
    quadratic part ``lambda tau sum_k sigma_k^2 x_k^2 - 1/2 gamma sum_k n_k^2``. On the free
    holdings ``x_1..x_{N-1}`` that part is ``x' (R - P/2 (Lap)) x`` (``R`` the per-slice risk
    weights, ``P`` the permanent-impact matrix in scaled units, ``Lap`` the path Laplacian
    ``tridiag(-1, 2, -1)``); if its smallest eigenvalue is negative, trades that alternate in
    sign make ``E + lambda V`` tend to ``-inf``. For constant ``sigma`` that happens once
    ``gamma (1 + cos(pi / N)) > lambda tau sigma^2``: a single round trip (``N = 2``) needs
    ``gamma > lambda tau sigma^2``, alternation through zero at large ``N`` only ``2 gamma``.
    Caps, no-reversal, holdings bounds on both sides or a dollar-imbalance band bound the
    trades; otherwise the spec has no optimum and no solver answer can be trusted.
    """
    if sp.linear or sp.no_reversal or sp.N < 2 or sp.band is not None:
        return
    problem = sp.problem
    free = [i for i in range(sp.m) if sp.p[i] < 2.0 and not np.any(np.isfinite(sp.cap[:, i]))
            and not (np.isfinite(sp.ylo[i]) and np.isfinite(sp.yhi[i]))]
    if not free:
        return
    slices = sp.N - 1
    sub = np.ix_(free, free)
    perm = sp.P[sub]
    risks = [np.diag(sp.W[k])[sub] if sp.W is not None else sp.M[sub] for k in range(slices)]
    smallest = alternation_eigenvalue(risks, perm)
    scale = max(1.0, float(np.abs(perm).max()), max(float(np.abs(r).max()) for r in risks))
    if smallest >= -1e-12 * scale:
        return
    i = free[0]
    a = problem.assets[i]
    gamma = float(problem.permanent_impact_matrix_array[i, i])
    risk_coef = float(risks[0][0, 0] * np.exp(sp.log_K - 2.0 * np.log(abs(sp.X[i]))))
    raise SpecError(
        f"assets[{i}].permanent_impact", gamma,
        f"with impact_exponent = {a.impact_exponent:g} < 1 and trades allowed both ways the objective is "
        f"unbounded below: trades that alternate in sign change E + lambda V by a quadratic form whose "
        f"smallest eigenvalue is negative ({smallest:.3g} in scaled units); for constant volatility that is "
        f"gamma (1 + cos(pi/N)) > lambda tau sigma^2 (here lambda tau sigma^2 = {risk_coef:.6g}, N = {sp.N})"
        + (" (basket: u'Gamma u > lambda tau u'C u / (1 + cos(pi/N)) along a direction u of the free assets)"
           if sp.m > 1 else "")
        + "; set no_reversal = true, add a cap, or lower gamma")


def convexity_thresholds(problem: ExecutionProblem) -> list[dict]:
    """Per asset: ``beta``, ``n*`` (shares) and on which side of it ``phi`` is convex."""
    out = []
    tau = problem.tau
    gam = np.diag(problem.permanent_impact_matrix_array)
    for a, g in zip(problem.assets, gam):
        beta, eta = a.impact_exponent, a.temporary_impact
        if beta == 1.0 or g == 0:
            out.append({"asset": a.name, "beta": beta, "threshold_shares": None, "convex_where": "everywhere"})
            continue
        ratio = eta * (1 + beta) * beta / (g * tau**beta)
        if beta < 1:
            out.append({"asset": a.name, "beta": beta, "threshold_shares": ratio ** (1 / (1 - beta)),
                        "convex_where": "|n| <= threshold"})
        else:
            out.append({"asset": a.name, "beta": beta, "threshold_shares": (1 / ratio) ** (1 / (beta - 1)),
                        "convex_where": "|n| >= threshold"})
    return out


def convexity_certificate(sp: ScaledProblem) -> tuple[bool, str, float | None]:
    """``(global, reason, smallest eigenvalue of the Hessian lower bound)`` (module docstring)."""
    if sp.linear:
        return True, "convex problem: linear temporary impact (eta_tilde > 0)", None
    if not sp.has_concave_part:
        return True, "convex problem: power-law impact without permanent impact", None
    n, m = sp.N, sp.m
    if n == 1:
        return True, "N = 1: the only schedule", None
    dmax = sp.cap.copy()
    if sp.no_reversal:
        dmax = np.minimum(dmax, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(sp.p < 2.0, sp.c * sp.p * (sp.p - 1.0) * dmax ** (sp.p - 2.0), 0.0)
    low = np.where(sp.p == 2.0, 2.0 * sp.c, np.where(np.isfinite(low), low, 0.0))
    e_mat, _ = difference_operator(n, m)
    hd = sps.diags(low.ravel()) - sps.kron(sps.identity(n), sps.csr_matrix(sp.P))
    risk = sps.diags(2.0 * sp.W[: n - 1].ravel()) if sp.W is not None else sps.kron(sps.identity(n - 1), sps.csr_matrix(2.0 * sp.M))
    h = (e_mat.T @ hd @ e_mat + risk).tocsr()
    if m == 1:
        smallest = float(sla.eigvalsh_tridiagonal(h.diagonal(), h.diagonal(1), select="i", select_range=(0, 0))[0])
    elif h.shape[0] <= 3000:
        smallest = float(np.linalg.eigvalsh(h.toarray())[0])
    else:
        smallest = float(eigsh(h, k=1, which="SA", return_eigenvectors=False, tol=1e-8)[0])
    scale = float(abs(h).max())
    if smallest >= -1e-12 * scale:
        return True, (f"objective convex on the feasible set: the Hessian's lower bound (phi'' at its smallest "
                      f"over the feasible trades plus the risk term) has smallest eigenvalue {smallest:.3g} >= 0"), smallest
    return False, (f"non-convex objective (phi'' < 0 on part of the feasible trades and the risk term does not "
                   f"compensate: lower-bound eigenvalue {smallest:.3g}): the answer is a certified KKT point "
                   "(local optimum), not proven global"), smallest


def convex_concave(compiled: CompiledProblem, sp: ScaledProblem, run: Callable[[CompiledProblem], np.ndarray], *,
                   tol: float = 1e-7, max_iter: int = 200) -> tuple[np.ndarray, int, list[float]]:
    """DCA on ``sum c|d|^p - 1/2 d'Pd``: returns scaled holdings, iterations and the true
    objective after each iteration. ``run`` solves the compiled problem and returns ``Y``."""
    n, m = sp.N, sp.m
    d = np.full((n, m), 1.0 / n)  # TWAP: a feasible-looking start; only the linearization uses it
    history: list[float] = []
    y = None
    for it in range(1, max_iter + 1):
        compiled.set_values(sp, linearization=-(d @ sp.P))
        y = run(compiled)
        d_new = y[:-1] - y[1:]
        history.append(sp.objective(y))
        moved = float(np.max(np.abs(d_new - d)))
        d = d_new
        if moved <= tol:
            return y, it, history
    return y, max_iter, history
