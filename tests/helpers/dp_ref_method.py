"""Test method ``dp-ref``: the exact Riccati feedback policy for regimes (or constant
volatility) as a registered dynamic method. It knows only ``E[C + R]``: its Result carries that
value as ``objective`` and ``expected_cost`` and a variance of 0."""

from __future__ import annotations

from solvers.errors import MethodNotApplicable
from solvers.methods import MethodAccuracy
from solvers.result import Result
from solvers.settings import merge_settings
from solvers.volatility import ConstantVolatility, RegimeVolatility

from tests.helpers.method_kit import method_info, settings_class
from tests.helpers.regime_riccati import RegimeRiccatiPolicy, expected_holdings

NAME = "dp-ref"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings, kind="dynamic", accuracy=MethodAccuracy(1e-12, 1e-9, "exact Riccati recursion"))


def solve(problem, settings=None, **overrides) -> Result:
    merge_settings(Settings, settings, overrides)
    if not problem.asset.is_linear or problem.has_drift or problem.has_caps:
        raise MethodNotApplicable(NAME, "test reference needs linear impact, no drift, no caps")
    if not isinstance(problem.volatility_model, (RegimeVolatility, ConstantVolatility)):
        raise MethodNotApplicable(NAME, "test reference needs regime or constant volatility")
    policy = RegimeRiccatiPolicy(problem)
    x = expected_holdings(problem, policy)
    return Result(method=NAME, status="optimal", problem=problem, times=problem.times, holdings=x,
                  trades=x[:-1] - x[1:], expected_cost=policy.value, variance=0.0, objective=policy.value,
                  solve_seconds=0.0, policy=policy)
