"""optexec's dynamic layer: HJB finite differences (method ``hjb``, :mod:`hjb.pde`) and backward
induction (method ``dp``, :mod:`hjb.dp`) under stochastic volatility. Stands on the model floor
of ``solvers`` (spec, impact, volatility, costs, result).

Importing ``hjb`` switches JAX to float64 (:func:`hjb.jax_runtime.enable_x64`, the one place).
"""

from .jax_runtime import enable_x64  # noqa: F401  (importing it switches JAX to float64)

from .dp import (DPSettings, GridDPPolicy, LinearDPPolicy, VolatilityChain,  # noqa: E402
                 mean_reverting_chain, volatility_chain)
from .dp import solve as solve_dp  # noqa: E402
from .pde import (FullPolicy, FullSolution, HJBSettings, ReducedPolicy, ReducedSolution,  # noqa: E402
                  solve_full, solve_mean_reverting_batch, solve_reduced, volatility_grid)
from .pde import solve as solve_hjb  # noqa: E402

__all__ = [
    "HJBSettings", "ReducedSolution", "solve_reduced", "solve_mean_reverting_batch", "volatility_grid",
    "FullSolution", "solve_full", "FullPolicy", "ReducedPolicy", "solve_hjb",
    "VolatilityChain", "mean_reverting_chain", "volatility_chain", "GridDPPolicy", "LinearDPPolicy",
    "DPSettings", "solve_dp", "enable_x64",
]
