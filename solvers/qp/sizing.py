"""Memory and time ``qp`` will need (``INFO.estimate``): a sparse CVXPY model of ``N m^2``
entries for linear impact, a dense ``(N m)^2`` Hessian for nonlinear impact."""

from __future__ import annotations

from ..resources import ResourceEstimate, sparse_estimate
from ..spec import ExecutionProblem
from .settings import QPSettings

__all__ = ["estimate", "dense_kernel", "dense_kernel_bytes", "DENSE_KERNEL_SLICES"]

#: the largest N at which qp forms a dense N x N transient kernel (power law, baskets, or
#: constraints that send the exponential kernel to CVXPY); beyond it qp refuses with the estimate
DENSE_KERNEL_SLICES = 5000
#: bytes and seconds per N^2 m entry of the dense kernel (matrix, factor, CVXPY copy; dense LU)
KERNEL_BYTES, KERNEL_SECONDS = 40.0, 2.0e-8

#: bytes and seconds per slice and asset pair (CVXPY model + Clarabel), measured on 2 cores
SPARSE_BYTES, SPARSE_SECONDS = 5.0e3, 4.0e-5
#: bytes and seconds per (N m)^2 (convex-concave dense Hessian), measured on 2 cores
DENSE_BYTES, DENSE_SECONDS = 1.5e2, 2.0e-7


def estimate(problem: ExecutionProblem, settings: QPSettings) -> ResourceEstimate:
    """``qp``'s peak memory and run time for ``problem``."""
    n, m = problem.slices, problem.n_assets
    if dense_kernel(problem):
        return sparse_estimate(float(n) ** 2 * m, KERNEL_BYTES, KERNEL_SECONDS,
                               f"qp, transient kernel: dense N^2 m = {n}^2 x {m} kernel matrices")
    if not problem.all_linear:
        return sparse_estimate(float(n * m) ** 2, DENSE_BYTES, DENSE_SECONDS,
                               f"qp, nonlinear impact: dense (N m)^2 = ({n} x {m})^2 Hessian")
    return sparse_estimate(float(n) * m * m, SPARSE_BYTES, SPARSE_SECONDS,
                           f"qp, linear impact: sparse model of N m^2 = {n} x {m}^2 entries")


def dense_kernel(problem: ExecutionProblem) -> bool:
    """True when qp's answer needs a dense kernel matrix: a power-law kernel, a basket with
    transient impact, or nonlinear temporary impact with it (the exponential kernel of one asset
    is solved in O(N) when no constraint binds)."""
    if not problem.has_transient:
        return False
    return (problem.is_basket or not problem.all_linear
            or any(a.has_transient and a.transient_kernel != "exponential" for a in problem.assets))


def dense_kernel_bytes(problem: ExecutionProblem) -> float:
    """Memory of qp's dense kernel matrices (bytes)."""
    return KERNEL_BYTES * float(problem.slices) ** 2 * problem.n_assets
