"""Method ``hjb``: the continuous-time HJB by finite differences (JAX).

Entry point :func:`solve` (``INFO`` declares the method's facts, :class:`HJBSettings` its
discretization). Linear impact: the reduced HJB ``V = x^2 A(t, s)`` (:mod:`.reduced`);
nonlinear impact: the full HJB on an ``(x, s)`` grid (:mod:`.full`). :func:`derivatives`
differentiates the reduced HJB's ODE solve (JAX AD, :mod:`.sensitivity`).
"""

from .full import FullSolution, solve_full
from .method import INFO, METHOD, solve
from .policy import FullPolicy, ReducedPolicy
from .reduced import ReducedSolution, solve_mean_reverting_batch, solve_reduced, volatility_grid
from .sensitivity import derivatives
from .settings import HJBSettings

__all__ = [
    "INFO", "METHOD", "solve", "HJBSettings", "ReducedSolution", "solve_reduced", "solve_mean_reverting_batch",
    "volatility_grid", "FullSolution", "solve_full", "FullPolicy", "ReducedPolicy", "derivatives",
]
