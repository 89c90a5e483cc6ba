"""Test method ``toy``: TWAP as a registered static method with one setting (``scale`` of the
reported solve time); registered in one place, it must appear in validate, the CLI and sweep."""

from __future__ import annotations

from solvers.result import Result
from solvers.schedules import twap
from solvers.settings import merge_settings

from tests.helpers.method_kit import method_info, settings_class

NAME = "toy"
Settings = settings_class(NAME, label="twap")
INFO = method_info(NAME, Settings)


def solve(problem, settings=None, **overrides) -> Result:
    s = merge_settings(Settings, settings, overrides)
    result = Result.from_schedule(problem, twap(problem), method=NAME)
    result.diagnostics["label"] = s.label
    return result
