"""Test method ``never``: applies to nothing (raises MethodNotApplicable)."""

from __future__ import annotations

from solvers.errors import MethodNotApplicable

from tests.helpers.method_kit import method_info, settings_class

NAME = "never"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings)


def solve(problem, settings=None, **overrides):
    raise MethodNotApplicable(NAME, "this method applies to nothing")
