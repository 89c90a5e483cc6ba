"""Memory and time ``qp`` will need (``INFO.estimate``): a sparse CVXPY model of ``N m^2``
entries for linear impact, a dense ``(N m)^2`` Hessian for nonlinear impact."""

from __future__ import annotations

from ..resources import ResourceEstimate, sparse_estimate
from ..spec import ExecutionProblem
from .settings import QPSettings

__all__ = ["estimate"]

#: bytes and seconds per slice and asset pair (CVXPY model + Clarabel), measured on 2 cores
SPARSE_BYTES, SPARSE_SECONDS = 5.0e3, 4.0e-5
#: bytes and seconds per (N m)^2 (convex-concave dense Hessian), measured on 2 cores
DENSE_BYTES, DENSE_SECONDS = 1.5e2, 2.0e-7


def estimate(problem: ExecutionProblem, settings: QPSettings) -> ResourceEstimate:
    """``qp``'s peak memory and run time for ``problem``."""
    n, m = problem.slices, problem.n_assets
    if not problem.all_linear:
        return sparse_estimate(float(n * m) ** 2, DENSE_BYTES, DENSE_SECONDS,
                               f"qp, nonlinear impact: dense (N m)^2 = ({n} x {m})^2 Hessian")
    return sparse_estimate(float(n) * m * m, SPARSE_BYTES, SPARSE_SECONDS,
                           f"qp, linear impact: sparse model of N m^2 = {n} x {m}^2 entries")
