"""Test method ``flaky`` for the sweep tests: fails (SolverError) until the file ``flag``
exists, then solves by the closed form."""

from __future__ import annotations

import os

from solvers.errors import SolverError
from solvers.methods import solve as solve_with
from solvers.settings import merge_settings

from tests.helpers.method_kit import method_info, settings_class

NAME = "flaky"
Settings = settings_class(NAME, flag="")
INFO = method_info(NAME, Settings)


def solve(problem, settings=None, **overrides):
    s = merge_settings(Settings, settings, overrides)
    if not os.path.exists(s.flag):
        raise SolverError(NAME, "failed", f"{s.flag} does not exist yet")
    result = solve_with(problem, "closed-form")
    result.method = NAME
    return result

