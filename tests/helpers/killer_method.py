"""Test method ``killer`` for the sweep tests: the closed form, except at points whose
``risk_aversion`` is at least ``kill_from``, where it SIGKILLs the process it runs in (a dask
worker) every time it is asked. Never run it in a synchronous (in-process) sweep."""

from __future__ import annotations

import os
import signal

from solvers.methods import solve as solve_with
from solvers.settings import merge_settings

from tests.helpers.method_kit import method_info, settings_class

NAME = "killer"
Settings = settings_class(NAME, kill_from=float("inf"))
INFO = method_info(NAME, Settings)


def solve(problem, settings=None, **overrides):
    s = merge_settings(Settings, settings, overrides)
    if problem.risk_aversion >= s.kill_from:
        os.kill(os.getpid(), signal.SIGKILL)
    result = solve_with(problem, "closed-form")
    result.method = NAME
    return result
