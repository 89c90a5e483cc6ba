"""optexec's static layer: the problem spec, costing, closed forms, baselines, the method
registry and the command line. See MODEL.md for the conventions every method shares."""

from .closed_form import ac2001_moments, discrete_kappa, half_life, optimal_holdings
from .frontier import Frontier, HorizonCurve, MeanVarOptimum, cost_vs_horizon, efficient_frontier, mean_var_optimum
from .costs import ScheduleCost, schedule_cost, trades_from_holdings, trajectory_constants
from .errors import InfeasibleSpecError, MethodNotApplicable, OptexecError, SolverError, SpecError
from .methods import METHODS, get_method, method_names, solve
from .result import Result
from .schedules import BASELINES, baseline_result, exponential, linear_ramp, percentage_of_volume, twap, vwap
from .spec import Asset, ExecutionProblem, example_names, load_example, load_problem, problem_from_dict, problem_from_toml
from .sweep import SweepReport, run_sweep
from .sweep_axes import Sweep, load_sweep, sweep_from_dict, sweep_from_toml
from .calibration import Calibration, SyntheticTruth, calibrate, calibrate_files, read_bars, read_fills
from .simulate import Estimate, ProportionalPolicy, SimulationResult, compare, simulate
from .validate import ValidationReport, validate
from .adaptivity import AdaptivityReport, value_of_adaptivity
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
    "trajectory_constants", "Result", "METHODS", "get_method", "method_names", "solve",
    "optimal_holdings", "discrete_kappa", "half_life", "ac2001_moments", "efficient_frontier",
    "Frontier", "mean_var_optimum", "MeanVarOptimum", "cost_vs_horizon", "HorizonCurve", "twap", "vwap",
    "linear_ramp", "exponential", "percentage_of_volume", "baseline_result", "BASELINES", "OptexecError",
    "SpecError", "InfeasibleSpecError", "MethodNotApplicable", "SolverError",
    "Sweep", "load_sweep", "sweep_from_dict", "sweep_from_toml", "run_sweep", "SweepReport",
    "solve_qp", "kkt_residual",
    "Calibration", "calibrate", "calibrate_files", "read_fills", "read_bars", "SyntheticTruth",
    "simulate", "SimulationResult", "Estimate", "ProportionalPolicy", "compare", "validate", "ValidationReport",
    "value_of_adaptivity", "AdaptivityReport",
]

_LAZY = {"solve_qp": ("solvers.qp", "solve"), "kkt_residual": ("solvers.qp", "kkt_residual")}


def __getattr__(name: str):
    """Lazy names: ``solvers.qp`` imports CVXPY (seconds), so it loads on first use only."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'solvers' has no attribute {name!r}")
