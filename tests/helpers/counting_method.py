"""Test method ``counting`` for the sweep tests: the closed form, appending one marker line
``[lambda, sigma]`` per call to the file ``marker`` (appends of one short line are atomic on a
local file system, so two workers may share the file), after sleeping ``delay`` seconds."""

from __future__ import annotations

import json
import time

from solvers.methods import solve as solve_with
from solvers.settings import merge_settings

from tests.helpers.method_kit import method_info, settings_class

NAME = "counting"
Settings = settings_class(NAME, marker="", delay=0.0)
INFO = method_info(NAME, Settings)


def solve(problem, settings=None, **overrides):
    s = merge_settings(Settings, settings, overrides)
    line = json.dumps([problem.risk_aversion, problem.asset.volatility]) + "\n"
    with open(s.marker, "a", encoding="utf-8") as fh:
        fh.write(line)
    if s.delay:
        time.sleep(s.delay)
    result = solve_with(problem, "closed-form")
    result.method = NAME
    return result
