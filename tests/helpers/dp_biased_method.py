"""Test method ``dp-biased``: the exact regime policy reporting a value 0.5% too high (a subtly
wrong value function), declared exact."""

from __future__ import annotations

import dataclasses

from solvers.result import Result

from tests.helpers import dp_ref_method
from tests.helpers.method_kit import method_info, settings_class

NAME = "dp-biased"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings, kind="dynamic")


def solve(problem, settings=None, **overrides) -> Result:
    res = dp_ref_method.solve(problem)
    return dataclasses.replace(res, method=NAME, objective=res.objective * 1.005,
                               expected_cost=res.expected_cost * 1.005)
