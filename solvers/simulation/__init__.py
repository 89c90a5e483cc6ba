"""The Monte Carlo pricer: any schedule or feedback policy on simulated paths, with common
random numbers across strategies (:func:`simulate`, paired differences by :func:`compare`).

Each path's cost ``C`` (implementation shortfall) and risk term ``R = lambda tau sum_k
sigma_k^2 x_k^2`` are recorded; ``E[C + R]`` is the objective of static and dynamic methods
alike. Estimates carry standard errors (:class:`MonteCarloEstimate`). Amounts in currency.
"""

from .engine import SimulationResult, block_generator, compare, simulate, simulate_volatility, strategies_on_common_paths
from .estimates import Difference, MonteCarloEstimate, sample_statistics

__all__ = [
    "simulate", "SimulationResult", "compare", "MonteCarloEstimate", "sample_statistics", "Difference",
    "simulate_volatility", "block_generator", "strategies_on_common_paths",
]
