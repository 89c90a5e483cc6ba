"""Test method ``wrong-resilience``: the transient closed form given a wrong resilience (rho x 2)
and reporting on the true spec, declared as accurate as the closed form, so that validate must
catch it."""

from __future__ import annotations

from solvers.methods import solve as solve_with
from solvers.result import Result
from solvers.settings import merge_settings

from tests.helpers.method_kit import method_info, settings_class

NAME = "wrong-resilience"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings)


def solve(problem, settings=None, **overrides) -> Result:
    merge_settings(Settings, settings, overrides)
    wrong = problem.replace_asset(0, resilience=2.0 * problem.asset.resilience)
    return Result.from_schedule(problem, solve_with(wrong, "closed-form").holdings, method=NAME)
