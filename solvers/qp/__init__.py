"""The ``qp`` method: the static problem of the conventions page as one convex (DPP) CVXPY
problem in scaled units, polished by Newton on the active set and certified by an independent
KKT residual. Entry points: :func:`solve` (``INFO``, :class:`QPSettings`); the derivations and
how to choose a path and a back end are on the page ``solvers/docs/theory-qp.md``.

Modules: :mod:`.scaling` (the spec in scaled units), :mod:`.formulation` (the compiled CVXPY
problem and its cache), :mod:`.convex_concave`, :mod:`.polish` (sparse Newton),
:mod:`.banded` (banded algebra), :mod:`.structured` (the O(N) linear-quadratic path),
:mod:`.interior` (the O(N) barrier path for power law and constraints),
:mod:`.kkt` (the certificate), :mod:`.settings`, :mod:`.method` (``solve``).
"""

from .convex_concave import convexity_certificate, convexity_thresholds
from .formulation import cache_info, clear_cache, structure_key
from .kkt import KKTReport, kkt_residual
from .method import BACKENDS, INFO, solve, tolerance_options
from .polish import PolishResult
from .polish import polish as newton_polish
from .scaling import ScaledProblem, scale_problem
from .settings import QPSettings
from .structured import solve_unconstrained

__all__ = [
    "INFO", "solve", "QPSettings", "BACKENDS", "tolerance_options", "convexity_certificate", "convexity_thresholds",
    "cache_info", "clear_cache", "structure_key", "KKTReport", "kkt_residual", "PolishResult", "newton_polish",
    "ScaledProblem", "scale_problem", "solve_unconstrained",
]
