"""The ``qp`` method: MODEL.md's static problem as one convex (DPP) CVXPY problem in scaled
units, polished by Newton on the active set and certified by an independent KKT residual.

Modules: :mod:`.scaling` (the spec in scaled units), :mod:`.formulation` (the compiled,
parametrized CVXPY problem and its cache), :mod:`.convex_concave` (power-law impact with
permanent impact, and when the answer is global), :mod:`.polish` (sparse Newton),
:mod:`.structured` (banded solve of the linear-quadratic case), :mod:`.kkt` (the
certificate), :mod:`.backend` (``solve``).
"""

from .backend import SOLVERS, solve, solver_options
from .convex_concave import convexity_certificate, convexity_thresholds
from .formulation import cache_info, clear_cache, structure_key
from .kkt import KKTReport, kkt_residual
from .polish import PolishResult
from .polish import polish as newton_polish
from .scaling import ScaledProblem, scale_problem
from .structured import solve_unconstrained

__all__ = [
    "solve", "SOLVERS", "solver_options", "convexity_certificate", "convexity_thresholds", "cache_info",
    "clear_cache", "structure_key", "KKTReport", "kkt_residual", "PolishResult", "newton_polish",
    "ScaledProblem", "scale_problem", "solve_unconstrained",
]
