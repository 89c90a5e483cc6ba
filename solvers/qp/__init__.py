"""The ``qp`` method: MODEL.md's static problem as one convex (DPP) CVXPY problem in scaled
units, polished by Newton on the active set and certified by an independent KKT residual.

Modules: :mod:`.scaling` (the spec in scaled units), :mod:`.formulation` (the compiled,
parametrized CVXPY problem and its cache), :mod:`.convex_concave` (power-law impact with
permanent impact, and when the answer is global), :mod:`.polish` (sparse Newton),
:mod:`.structured` (banded solve of the linear-quadratic case), :mod:`.kkt` (the
certificate), :mod:`.backend` (``solve``).

Choosing a path and a back end (``solve(problem, path=..., backend=...)``):

* ``path="auto"`` (default): linear impact with no binding constraint goes to the structured
  banded / eigen-mode solve (milliseconds, exact to rounding); everything else to CVXPY.
* ``backend="CLARABEL"`` (default) handles every case (power cones for ``beta != 1``);
  ``PIQP`` and ``OSQP`` are QP solvers (linear impact only) and were as fast or faster on
  the linear cases here; ``SCS`` is first-order (set tolerances; polish needed).
* Leave ``polish=True``: the status is ``optimal`` only if the independent KKT residual of
  the unscaled problem is within ``tolerance`` (default 1e-9); raw solver answers were at
  1e-11 .. 1e-7 (power cones: ~1e-6) here, reported as ``kkt_residual_solver``.
* Baskets with a factor model (``factor_loadings``) compile to ``N m r`` nonzeros instead of
  ``N m^2``; ``covariance="dense"`` forces the full form.
* Power law with permanent impact: see :mod:`.convex_concave` for when the answer is the
  global optimum and when a spec is rejected as unbounded below.
"""

from ..methods import MethodAccuracy, MethodInfo
from .backend import SOLVERS, solve, solver_options
from .convex_concave import convexity_certificate, convexity_thresholds
from .formulation import cache_info, clear_cache, structure_key
from .kkt import KKTReport, kkt_residual
from .polish import PolishResult
from .polish import polish as newton_polish
from .scaling import ScaledProblem, scale_problem
from .settings import QPSettings
from .structured import solve_unconstrained

INFO = MethodInfo(
    name="qp",
    kind="static",
    time_models=("discrete",),
    accuracy=MethodAccuracy(1e-7, 1e-4, "convex solver at ~1e-8 on the scaled problem; holdings move with the "
                                        "square root of the objective's error"),
    settings=QPSettings,
    summary="CVXPY in scaled units (DPP, power cones), Newton polish, independent KKT certificate",
)

__all__ = [
    "INFO", "QPSettings", "solve", "SOLVERS", "solver_options", "convexity_certificate", "convexity_thresholds", "cache_info",
    "clear_cache", "structure_key", "KKTReport", "kkt_residual", "PolishResult", "newton_polish",
    "ScaledProblem", "scale_problem", "solve_unconstrained",
]
