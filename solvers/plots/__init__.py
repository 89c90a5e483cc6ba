"""Pictures of results, frontiers, simulations, adaptivity, sweeps and calibrations.

Every function draws on its own :class:`matplotlib.figure.Figure` with the Agg canvas (no
backend switch, no pyplot state), writes a PNG and returns its path; matplotlib loads on the
first plot only.
"""

from .adaptivity import plot_adaptivity
from .calibration import plot_calibration
from .figure import plot_formats
from .frontier import plot_frontier
from .simulation import plot_cost_histogram, plot_fan_chart
from .sweep import plot_sweep
from .trajectories import plot_results

__all__ = [
    "plot_results", "plot_frontier", "plot_cost_histogram", "plot_fan_chart", "plot_adaptivity", "plot_sweep",
    "plot_calibration", "plot_formats",
]
