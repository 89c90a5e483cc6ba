"""Test method ``wrong-resilience``: the transient closed form given a wrong resilience (rho x 2)
and reporting on the true spec, declared as accurate as the closed form, so that validate must
catch it."""

from __future__ import annotations

from tests.helpers.method_kit import method_info, settings_class, wrong_parameter_solve

NAME = "wrong-resilience"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings)
solve = wrong_parameter_solve(NAME, Settings, "resilience", 2.0)
