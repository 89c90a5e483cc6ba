"""Memory and time ``qp`` will need (``INFO.estimate``): ``O(N m^2)`` banded arrays on the
structured and interior paths; the CVXPY model is ``N m^2`` sparse entries, except that the
linearization parameter of power-law impact with permanent impact makes it ``(N m)^2``."""

from __future__ import annotations

from ..resources import ResourceEstimate, sparse_estimate
from ..spec import ExecutionProblem
from .settings import QPSettings

__all__ = ["estimate", "dense_kernel", "dense_kernel_bytes", "DENSE_KERNEL_SLICES"]

#: the largest N at which qp forms a dense N x N transient kernel (power law, baskets, or
#: constraints that send the exponential kernel to CVXPY); beyond it qp refuses with the estimate
DENSE_KERNEL_SLICES = 5000
#: bytes and seconds per N^2 m entry of the dense kernel (matrix, factor, CVXPY's canonical
#: copy and the back end's factorization: peak growth ~280 B and ~2.5 us per entry measured at
#: N = 400..1200 on the CVXPY path, 2 cores)
KERNEL_BYTES, KERNEL_SECONDS = 3.0e2, 3.0e-6

#: bytes and seconds per slice and asset pair on the banded paths (barrier Newton + polish; about
#: twice the peak measured at N = 1e5), 2 cores
BANDED_BYTES, BANDED_SECONDS = 1.5e3, 3.0e-4
#: bytes and seconds per slice and asset pair (CVXPY model + Clarabel), measured on 2 cores
SPARSE_BYTES, SPARSE_SECONDS = 5.0e3, 4.0e-5
#: bytes and seconds per (N m)^2 (CVXPY with a per-slice linearization parameter), measured on 2 cores
DENSE_BYTES, DENSE_SECONDS = 1.5e2, 2.0e-7


def estimate(problem: ExecutionProblem, settings: QPSettings) -> ResourceEstimate:
    """``qp``'s peak memory and run time for ``problem``."""
    n, m = problem.slices, problem.n_assets
    if dense_kernel(problem) or (problem.has_transient and settings.path == "cvxpy"):
        return sparse_estimate(float(n) ** 2 * m, KERNEL_BYTES, KERNEL_SECONDS,
                               f"qp, transient kernel: dense N^2 m = {n}^2 x {m} kernel matrices")
    concave = not problem.all_linear and bool((problem.permanent_impact_matrix_array != 0).any())
    if settings.path == "cvxpy":
        if concave:
            return sparse_estimate(float(n * m) ** 2, DENSE_BYTES, DENSE_SECONDS,
                                   f"qp, CVXPY, power law with permanent impact: dense (N m)^2 = ({n} x {m})^2 parameter tensor")
        return sparse_estimate(float(n) * m * m, SPARSE_BYTES, SPARSE_SECONDS,
                               f"qp, CVXPY: sparse model of N m^2 = {n} x {m}^2 entries")
    kind = "linear impact" if problem.all_linear else "nonlinear impact"
    return sparse_estimate(float(n) * m * m, BANDED_BYTES, BANDED_SECONDS,
                           f"qp, {kind}: banded O(N m^2) = {n} x {m}^2 Newton systems")


def dense_kernel(problem: ExecutionProblem) -> bool:
    """True when qp's answer needs a dense kernel matrix: a power-law kernel, a basket with
    transient impact, nonlinear temporary impact with it, or a time-varying market (per-slice
    coefficients, closures, a soft finish) with it (the exponential kernel of one asset is
    otherwise solved in O(N) when no constraint binds)."""
    if not problem.has_transient:
        return False
    return (problem.is_basket or not problem.all_linear or bool(problem.time_varying_keys())
            or any(a.has_transient and a.transient_kernel != "exponential" for a in problem.assets))


def dense_kernel_bytes(problem: ExecutionProblem) -> float:
    """Memory of qp's dense kernel matrices (bytes)."""
    return KERNEL_BYTES * float(problem.slices) ** 2 * problem.n_assets
