"""Test method ``static-ref``: the static optimum on ``E[sigma_k^2]`` by a banded KKT solve
(tests/reference.py), as a registered static method."""

from __future__ import annotations

from solvers.errors import MethodNotApplicable
from solvers.methods import MethodAccuracy
from solvers.result import Result
from solvers.settings import merge_settings

from tests.helpers.method_kit import method_info, settings_class
from tests.reference import kkt_single

NAME = "static-ref"
Settings = settings_class(NAME)
INFO = method_info(NAME, Settings, accuracy=MethodAccuracy(1e-12, 1e-9, "banded KKT solve"))


def solve(problem, settings=None, **overrides) -> Result:
    merge_settings(Settings, settings, overrides)
    if problem.is_basket or not problem.asset.is_linear or problem.has_drift or problem.has_caps:
        raise MethodNotApplicable(NAME, "test reference needs one asset, linear impact, no drift, no caps")
    x = kkt_single(problem.asset.holdings, problem.slices, problem.tau, problem.eta_tilde,
                   problem.risk_aversion, problem.slice_variance())
    return Result.from_schedule(problem, x, method=NAME)
