"""optexec's dynamic layer: HJB finite differences and backward induction under stochastic
volatility. Stands on the ground floor of ``solvers`` (spec, costs, result)."""

# HJB finite differences (JAX; importing these switches JAX to float64, see hjb/reduced.py)
from .settings import HJBSettings  # noqa: E402
from .reduced import ReducedSolution, solve_reduced, solve_mean_reverting_batch, volatility_grid  # noqa: E402
from .full import FullSolution, solve_full  # noqa: E402
from .hjb_policy import FullPolicy, ReducedPolicy  # noqa: E402
from .pde import solve as solve_hjb  # noqa: E402

# Backward induction (method dp; importing it also switches JAX to float64)
from .chain import VolatilityChain, mean_reverting_chain, volatility_chain  # noqa: E402
from .dp_policy import GridDPPolicy, LinearDPPolicy  # noqa: E402
from .backward_induction import DPSettings  # noqa: E402
from .backward_induction import solve as solve_dp  # noqa: E402

__all__ = [
    "HJBSettings", "ReducedSolution", "solve_reduced", "solve_mean_reverting_batch", "volatility_grid",
    "FullSolution", "solve_full", "FullPolicy", "ReducedPolicy", "solve_hjb",
    "VolatilityChain", "mean_reverting_chain", "volatility_chain", "GridDPPolicy", "LinearDPPolicy",
    "DPSettings", "solve_dp",
]
