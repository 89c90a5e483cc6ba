"""Method ``hjb`` as users meet it: registry, result record, CLI, settings, and errors that name
the parameter, its value and the rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hjb.pde import HJBSettings, solve
from solvers.cli import main
from solvers.errors import MethodNotApplicable, SpecError
from solvers.methods import get_method
from solvers.policy import FeedbackPolicy
from solvers.spec import load_example
from solvers.volatility import MeanRevertingVolatility, VolatilityPath

LOW = {"time_steps": 200, "vol_points": 33}


def test_registry_result_record_and_policy_interface():
    assert get_method("hjb") is solve
    problem = load_example("volatility-regimes")
    result = solve(problem, **LOW)
    assert result.success and result.method == "hjb" and result.time_model == "continuous"
    assert isinstance(result.policy, FeedbackPolicy)
    d = result.to_dict()
    for key in ("compile_seconds", "run_seconds", "stability_number", "time_steps", "scheme",
                "boundary_conditions", "frozen_path", "value_function"):
        assert key in d["diagnostics"], key
    assert d["holdings"][0] == 1e6 and d["holdings"][-1] == 0.0 and len(d["holdings"]) == problem.slices + 1
    # objective = value function + 1/2 gamma X^2 + epsilon X (the conventions page)
    assert result.objective == pytest.approx(result.diagnostics["value_function"] + 125_000 + 62_500, rel=1e-15)
    # regime-dependent feedback: the stressed regime sells faster, the last slice finishes the order
    x = np.array([5e5, 5e5])
    calm, stressed = result.policy.trade(3, x, np.array([0.6, 1.8]), np.array([0, 1]))
    assert 0 < calm < stressed < 5e5
    np.testing.assert_array_equal(result.policy.trade(problem.slices, x, np.array([0.6, 1.8]), np.array([0, 1])), x)


def test_mean_reverting_policy_interpolates_between_volatility_nodes():
    problem = load_example("mean-reverting-volatility")
    result = solve(problem, **LOW)
    grid = result.policy.solution.states
    x = np.full(3, 4e5)
    mid = 0.5 * (grid[10] + grid[11])
    lo, mid_trade, hi = result.policy.trade(2, x, np.array([grid[10], mid, grid[11]]))
    # the exponent G_k(s) of n = x (1 - exp(-G)) is linear between nodes
    g = [-np.log1p(-n / 4e5) for n in (lo, mid_trade, hi)]
    assert g[1] == pytest.approx(0.5 * (g[0] + g[2]), rel=1e-12)
    assert lo < hi  # higher volatility, faster selling
    # beyond the grid: clamped to the end node, never extrapolated
    far = result.policy.trade(2, x[:1], np.array([grid[-1] * 10]))
    assert far[0] == pytest.approx(result.policy.trade(2, x[:1], np.array([grid[-1]]))[0], rel=1e-15)


def test_cli_solve_with_method_hjb_writes_the_json(tmp_path, capsys):
    out = tmp_path / "hjb.json"
    code = main(["solve", "--example", "almgren-chriss-2001", "--method", "hjb", "--json", str(out),
                 "--option", "time_steps=400"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["method"] == "hjb" and data["time_model"] == "continuous"
    assert data["objective"] == pytest.approx(1_696_984.9, abs=0.05)
    assert "hjb" in capsys.readouterr().out


def test_explicit_s_stepping_agrees_with_implicit_when_stable():
    problem = load_example("mean-reverting-volatility")
    implicit = solve(problem, time_steps=2000, vol_points=17).objective
    explicit = solve(problem, time_steps=2000, vol_points=17, s_stepping="explicit")
    assert explicit.diagnostics["stability_number"] <= 1.0
    assert explicit.objective == pytest.approx(implicit, rel=2e-5)  # both O(dt), dt = 2.5e-3


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"vol_points": 4}, "settings.vol_points = 4", "must be >= 8"),
    ({"time_steps": 100.5}, "settings.time_steps = 100.5", "must be an integer"),
    ({"s_stepping": "crank"}, "settings.s_stepping = 'crank'", "must be one of"),
    ({"vol_bounds": (2.0, 1.0)}, "settings.vol_bounds = (2.0, 1.0)", "hi > lo"),
    ({"coverage_sds": -1.0}, "settings.coverage_sds = -1.0", "must be > 0"),
    ({"extrapolate": "yes"}, "settings.extrapolate = 'yes'", "must be true or false"),
])
def test_bad_settings_name_the_parameter_value_and_rule(kwargs, field, words):
    with pytest.raises(SpecError) as err:
        HJBSettings(**kwargs)
    assert str(err.value).startswith(field) and words in str(err.value)


def test_bad_options_and_grids_are_refused_with_the_numbers():
    problem = load_example("mean-reverting-volatility")
    with pytest.raises(SpecError, match=r"^settings.time_stpes = 10: unknown setting of method hjb"):
        solve(problem, time_stpes=10)
    with pytest.raises(SpecError, match=r"^settings.time_model = 'discrete': unknown setting of method hjb"):
        solve(problem, time_model="discrete")
    with pytest.raises(SpecError, match=r"^settings.accuracy = 'ultra'"):
        solve(problem, accuracy="ultra")
    # a user grid that misses the model's mass: the coverage, the time and the moments are named
    with pytest.raises(SpecError, match=r"settings.vol_bounds = \(0.9, 1.3\): the grid \[0.9, 1.3\] covers only E\[sigma\(t\)\] \+- 0.\d+ sd "
                                        r"\(at t = [\d.]+: mean [\d.]+, sd [\d.]+\); need >= settings.min_coverage_sds = 4"):
        solve(problem, vol_bounds=(0.9, 1.3), **LOW)
    with pytest.raises(SpecError, match=r"settings.vol_bounds = \(1.5, 2.0\): must contain sigma_0 = 1.2"):
        solve(problem, vol_bounds=(1.5, 2.0), **LOW)
    # an explicit step beyond its stability limit
    with pytest.raises(SpecError, match=r"^settings.time_steps = 40: explicit s-stepping is unstable: "
                                        r"dt \* max\(b/ds\^2 \+ \|mu\|/ds\) = [\d.]+ > 1"):
        solve(problem, time_steps=40, vol_points=65, s_stepping="explicit")
    # the semi-Lagrangian FOC scheme on a holdings grid much finer than its time step
    with pytest.raises(SpecError, match=r"^settings.time_steps = 100: too coarse for the semi-Lagrangian FOC scheme: "
                                        r"dt / dy = 0.05 \* 63 = 3.15 > 2 .*use time_steps >= 158"):
        solve(load_example("square-root-impact"), time_steps=100, holdings_points=64)


def test_problems_outside_the_hjb_say_why():
    with pytest.raises(MethodNotApplicable, match="baskets"):
        solve(load_example("two-asset-basket"))
    with pytest.raises(MethodNotApplicable, match="caps"):
        solve(load_example("capped-participation"))
    with pytest.raises(MethodNotApplicable, match="drift"):  # linear impact with drift: the time-varying HJB
        solve(load_example("square-root-impact").replace_asset(drift=0.1))
    sqrt = load_example("square-root-impact")
    path = VolatilityPath(path=tuple(0.95 + 0.01 * k for k in range(sqrt.slices)))
    with pytest.raises(MethodNotApplicable, match="time-varying volatility path"):
        solve(sqrt.replace(volatility_model=path))
    with pytest.raises(MethodNotApplicable, match="form='reduced' needs linear impact"):
        solve(sqrt, form="reduced")
    with pytest.raises(SpecError, match="^settings.form = 'pde': must be one of"):
        solve(sqrt, form="pde")
    mr = load_example("mean-reverting-volatility").replace(
        volatility_model=MeanRevertingVolatility(reversion=2.0, mean=0.95, vol_of_vol=0.5, elasticity=1.0))
    with pytest.raises(MethodNotApplicable, match="risk_aversion = -1e-06"):
        solve(mr.replace(risk_aversion=-1e-6, risk_seeking=True))
