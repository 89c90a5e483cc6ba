"""Test method ``wrong-eta``: the closed form given a wrong parameter (eta x 1.5) and reporting
on the true spec, declared as accurate as the closed form, so that validate must catch it."""

from __future__ import annotations

from tests.helpers.method_kit import method_info, settings_class, wrong_parameter_solve

NAME = "wrong-eta"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings)
solve = wrong_parameter_solve(NAME, Settings, "temporary_impact", 1.5)
