"""optexec: optimal trade execution, solved four ways and cross-checked.

The problem spec (:class:`ExecutionProblem`, TOML in and out), its costing, the methods
behind one registry (:func:`solve`), the Monte Carlo pricer (:func:`simulate`), and the
analyses on top (:func:`validate`, :func:`value_of_adaptivity`, :func:`run_sweep`,
:func:`calibrate`). Conventions (costs, time, volatility): the conventions page. The sweep and
calibration names load on first use (they need dask and pandas).
"""

import importlib

from .adaptivity import AdaptivityReport, value_of_adaptivity
from .closed_form import ac2001_moments, discrete_kappa, half_life, optimal_holdings
from .frontier import Frontier, HorizonCurve, MeanVarOptimum, cost_vs_horizon, efficient_frontier, mean_var_optimum
from .costs import ScheduleCost, schedule_cost, trades_from_holdings, trajectory_constants
from .errors import InfeasibleSpecError, MethodNotApplicable, OptexecError, SolverError, SpecError
from .methods import METHODS, MethodInfo, get_method, method_info, method_names, solve
from .policy import FeedbackPolicy, ProportionalPolicy, SchedulePolicy
from .result import Result
from .schedules import BASELINES, baseline_result, exponential, linear_ramp, percentage_of_volume, twap, vwap
from .simulation import Difference, MonteCarloEstimate, SimulationResult, compare, simulate
from .spec import Asset, ExecutionProblem, example_names, load_example, load_problem, problem_from_dict, problem_from_toml
from .validation import ValidationReport, validate
from .volatility import (
    ConstantVolatility,
    MeanRevertingVolatility,
    RegimeVolatility,
    VolatilityModel,
    VolatilityPath,
    volatility_model_from_dict,
)

__all__ = [
    "Asset", "ExecutionProblem", "load_problem", "load_example", "example_names", "problem_from_dict",
    "problem_from_toml", "VolatilityModel", "ConstantVolatility", "VolatilityPath", "MeanRevertingVolatility",
    "RegimeVolatility", "volatility_model_from_dict", "ScheduleCost", "schedule_cost", "trades_from_holdings",
    "trajectory_constants", "Result", "METHODS", "MethodInfo", "get_method", "method_info", "method_names", "solve",
    "optimal_holdings", "discrete_kappa", "half_life", "ac2001_moments", "efficient_frontier",
    "Frontier", "mean_var_optimum", "MeanVarOptimum", "cost_vs_horizon", "HorizonCurve", "twap", "vwap",
    "linear_ramp", "exponential", "percentage_of_volume", "baseline_result", "BASELINES", "OptexecError",
    "SpecError", "InfeasibleSpecError", "MethodNotApplicable", "SolverError",
    "FeedbackPolicy", "SchedulePolicy", "ProportionalPolicy",
    "simulate", "SimulationResult", "MonteCarloEstimate", "Difference", "compare", "validate", "ValidationReport",
    "value_of_adaptivity", "AdaptivityReport",
    "Sweep", "load_sweep", "sweep_from_dict", "sweep_from_toml", "run_sweep", "SweepReport",
    "Calibration", "calibrate", "calibrate_files", "read_fills", "read_bars", "SyntheticTruth",
    "solve_qp", "kkt_residual",
]

#: names loaded on first use: name -> (module, attribute)
_LAZY = {
    **{name: ("solvers.sweep", name) for name in
       ("Sweep", "load_sweep", "sweep_from_dict", "sweep_from_toml", "run_sweep", "SweepReport")},
    **{name: ("solvers.calibration", name) for name in
       ("Calibration", "calibrate", "calibrate_files", "read_fills", "read_bars", "SyntheticTruth")},
    "solve_qp": ("solvers.qp", "solve"),
    "kkt_residual": ("solvers.qp", "kkt_residual"),
}


def __getattr__(name: str):
    """The lazy names of :data:`_LAZY` (sweep, calibration, qp), imported on first use."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'solvers' has no attribute {name!r}")
