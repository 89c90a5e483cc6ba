"""Test method ``boom``: raises RuntimeError (a method that crashes)."""

from __future__ import annotations

from tests.helpers.method_kit import method_info, settings_class

NAME = "boom"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings)


def solve(problem, settings=None, **overrides):
    raise RuntimeError("grid exploded")
