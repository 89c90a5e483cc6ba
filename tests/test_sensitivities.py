"""Sensitivities of the optimum: every reported derivative against central differences of the
solve itself, methods against each other, the envelope theorem, the half-life signs, and the
delta-method interval against the parametric bootstrap on a synthetic calibration."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import Asset, ExecutionProblem, load_example, solve
from solvers.calibration import SyntheticTruth, calibrate, generate
from solvers.cli import main
from solvers.errors import MethodNotApplicable, SpecError
from solvers.sensitivities import (ParameterCovariance, calibration_covariance, central, load_covariance,
                                   parameter_names, propagate, sensitivities, solve_outputs)


#: qp's convexity diagnostics overflow (to inf, harmlessly) for beta within 1e-4 of 1
QP_NEAR_LINEAR = pytest.mark.filterwarnings("ignore:overflow encountered in scalar power:RuntimeWarning")


def _sqrt_with_caps() -> ExecutionProblem:
    return load_example("square-root-impact").replace_asset(0, max_slice_trade=1.5e5)


def _gap(sens, j: int, fd: np.ndarray, step: float) -> float:
    """Largest error over objective, E, V and holdings, relative to the finite difference; for a
    derivative that is zero, relative to the solve's own noise (1e-9 of the value) over the step."""
    parts = [(sens.objective[j], fd[0], sens.base.objective), (sens.expected_cost[j], fd[1], sens.base.expected_cost),
             (sens.variance[j], fd[2], sens.base.variance)]
    worst = max(abs(a - b) / max(abs(b), 1e-9 * abs(f) / step, 1e-300) for a, b, f in parts)
    hold = np.asarray(sens.holdings[j]).ravel()
    scale = max(np.max(np.abs(fd[3:])), 1e-9 * np.max(np.abs(sens.base.holdings)) / step)
    return max(worst, float(np.max(np.abs(hold - fd[3:]))) / scale)


def _check_against_solve(problem: ExecutionProblem, method: str, tol: float) -> None:
    sens = sensitivities(problem, method)
    for j, name in enumerate(sens.parameters):
        try:
            fd = central(problem, name, lambda q: solve_outputs(q, method), relative=1e-4)
        except MethodNotApplicable:  # beta and drift move the spec out of the closed form: its qp twin
            fd = central(problem, name, lambda q: solve_outputs(q, "qp"), relative=1e-4)
        gap = _gap(sens, j, fd.derivative, fd.step)
        assert gap < tol, (method, name, gap)


@QP_NEAR_LINEAR
def test_ac2001_closed_form_matches_finite_differences_of_the_solve():
    problem = load_example("almgren-chriss-2001")
    sens = sensitivities(problem)
    assert sens.kind["risk_aversion"] == "ad-formula" and sens.kind["assets[0].drift"] == "implicit"
    assert sens.diagnostics["ad_vs_implicit_holdings"] < 1e-9  # AD of the formula = the KKT solve
    _check_against_solve(problem, "closed-form", 1e-6)


@QP_NEAR_LINEAR
@pytest.mark.parametrize("name", ["almgren-chriss-2001", "square-root-caps", "two-asset-basket"])
def test_qp_implicit_derivatives_match_finite_differences_of_the_solve(name):
    problem = _sqrt_with_caps() if name == "square-root-caps" else load_example(name)
    if name == "two-asset-basket":
        # the impact_exponent's central difference solves at beta = 1 - h, where trades alternating
        # in sign would pay without bound (the conventions' boundedness rule); a sell program that
        # never buys is bounded and has the same optimum at beta = 1 (no trade reverses there)
        problem = problem.replace(no_reversal=True)
    sens = sensitivities(problem, "qp")
    if name == "square-root-caps":
        assert sens.diagnostics["active_constraints"] > 0  # caps bind: the active set is differentiated
    assert sens.diagnostics["kkt_residual"] < 1e-9
    _check_against_solve(problem, "qp", 1e-6)


@pytest.mark.parametrize("name", ["almgren-chriss-2001", "two-asset-basket"])
def test_closed_form_and_qp_agree(name):
    problem = load_example(name)
    cf, qp = sensitivities(problem, "closed-form"), sensitivities(problem, "qp")
    for key in ("objective", "expected_cost", "variance"):
        a, b = getattr(cf, key), getattr(qp, key)
        scale = np.maximum(np.abs(b), 1e-9 * abs(getattr(cf.base, key)) / np.maximum(np.abs(cf.values), 1e-300))
        assert np.all(np.abs(a - b) <= 1e-8 * scale), key
    hscale = np.max(np.abs(qp.holdings), axis=tuple(range(1, qp.holdings.ndim)), keepdims=True)
    floor = 1e-12 * abs(problem.assets[0].holdings) / np.maximum(np.abs(cf.values), 1e-300)
    assert np.all(np.abs(cf.holdings - qp.holdings) <= 1e-8 * np.maximum(hscale, floor.reshape(hscale.shape)))


@pytest.mark.parametrize("method, name", [("closed-form", "almgren-chriss-2001"), ("qp", "square-root-caps"),
                                          ("qp", "two-asset-basket"), ("dp", "volatility-regimes")])
def test_envelope_d_objective_d_lambda_is_the_variance(method, name):
    problem = _sqrt_with_caps() if name == "square-root-caps" else load_example(name)
    sens = sensitivities(problem, method, wrt=["risk_aversion"])
    err = sens.error["objective"][0]
    assert abs(sens.objective[0] - sens.base.variance) <= 1e-8 * sens.base.variance + 3 * err


def test_dp_regimes_finite_differences_within_their_error_estimate():
    problem = load_example("volatility-regimes")
    wrt = ["risk_aversion", "assets[0].temporary_impact", "volatility_model.levels[1]",
           "volatility_model.generator[0][1]"]
    sens = sensitivities(problem, "dp", wrt=wrt, exact=False)  # the differences dp's AD is checked against
    assert set(sens.kind.values()) == {"finite-difference"} and sens.diagnostics["solves"] == 4 * len(wrt)
    for j, name in enumerate(wrt):
        check = central(problem, name, lambda q: solve_outputs(q, "dp"), relative=2.5e-4, richardson=False)
        err = sens.error["objective"][j]
        assert abs(sens.objective[j] - check.derivative[0]) <= 3 * err + 1e-9 * abs(sens.objective[j]), name
        assert err <= 1e-3 * abs(sens.objective[j])
    assert sens.objective[wrt.index("volatility_model.levels[1]")] > 0  # a worse stressed regime costs more


def test_hjb_gradient_is_labelled_and_satisfies_the_envelope():
    sens = sensitivities(load_example("almgren-chriss-2001"), "hjb", wrt=["risk_aversion"], exact=False)
    assert sens.kind == {"risk_aversion": "finite-difference"}
    assert abs(sens.objective[0] - sens.base.variance) <= 3 * sens.error["objective"][0] + 1e-6 * sens.base.variance
    assert "finite-difference" in sens.to_dict()["kinds"]


def _path_spec() -> ExecutionProblem:
    problem = load_example("almgren-chriss-2001")
    sigma = problem.asset.volatility
    path = [sigma * (1.0 + 0.3 * k) for k in range(problem.slices)]
    return problem.replace(volatility_model={"kind": "path", "path": path})


def _ad_names(problem: ExecutionProblem) -> list[str]:
    """Every parameter but those that move the spec off the exact recursion / reduced HJB."""
    return [n for n in parameter_names(problem) if not n.endswith(("drift", "impact_exponent"))]


@pytest.mark.parametrize("method", ["dp", "hjb"])
@pytest.mark.parametrize("name", ["almgren-chriss-2001", "volatility-regimes", "path"])
def test_ad_of_dp_exact_and_hjb_reduced_matches_finite_differences_of_the_solve(method, name):
    # dp's exact recursion and hjb's reduced RK4 are the same discrete map in the AD and in the
    # solve: the gap is the differences' own error, rounding (dp states 1e-10 of the value) over
    # the step (1e-4 relative), so 1e-6; Richardson's h^4 truncation (~1e-16) is far below
    problem = _path_spec() if name == "path" else load_example(name)
    wrt = _ad_names(problem)
    sens = sensitivities(problem, method, wrt=wrt)
    assert sens.kind["assets[0].price"] == "zero" and sens.objective[wrt.index("assets[0].price")] == 0.0
    assert {sens.kind[n] for n in wrt if n != "assets[0].price"} == {"ad"}
    assert sens.diagnostics["solves"] == 0 and np.all(sens.error["objective"] == 0)
    for j, param in enumerate(wrt):
        fd = central(problem, param, lambda q: solve_outputs(q, method), relative=1e-4)
        assert _gap(sens, j, fd.derivative, fd.step) < 1e-6, (method, name, param)
    # the envelope theorem: d objective / d lambda is the variance (V's own rounding only)
    lam = wrt.index("risk_aversion")
    assert abs(sens.objective[lam] - sens.base.variance) <= 1e-9 * sens.base.variance


@QP_NEAR_LINEAR
def test_dp_exact_derivatives_equal_the_discrete_closed_form():
    problem = load_example("almgren-chriss-2001")
    wrt = [n for n in _ad_names(problem) if n != "assets[0].price"]
    dp, cf = sensitivities(problem, "dp", wrt=wrt), sensitivities(problem, "closed-form", wrt=wrt)
    for key in ("objective", "expected_cost", "variance"):
        a, b = getattr(dp, key), getattr(cf, key)  # a zero derivative: the closed form's rounding, 1e-9 of the value over p
        scale = np.maximum(np.abs(b), 1e-9 * abs(getattr(cf.base, key)) / np.maximum(np.abs(cf.values), 1e-300))
        assert np.all(np.abs(a - b) <= 1e-8 * scale), key
    hscale = np.max(np.abs(cf.holdings), axis=1, keepdims=True)
    floor = 1e-9 * abs(problem.asset.holdings) / np.maximum(np.abs(cf.values), 1e-300)
    assert np.all(np.abs(dp.holdings - cf.holdings) <= 1e-8 * np.maximum(hscale, floor[:, None]))


def test_finite_differences_stay_where_no_ad_is_in_place():
    problem = load_example("mean-reverting-volatility")
    sens = sensitivities(problem, "dp", wrt=["risk_aversion"])  # the moment-matched chain: not the model
    assert sens.kind == {"risk_aversion": "finite-difference"} and sens.diagnostics["solves"] == 4


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sigma=st.floats(0.05, 3.0), eta=st.floats(1e-7, 1e-4), gamma_frac=st.floats(0.0, 0.9),
       lam=st.floats(1e-8, 1e-4), horizon=st.floats(0.5, 20.0), slices=st.sampled_from([2, 5, 10, 40]))
def test_half_life_falls_with_volatility_and_rises_with_impact(sigma, eta, gamma_frac, lam, horizon, slices):
    gamma = gamma_frac * 2 * eta * slices / horizon  # eta_tilde > 0
    problem = ExecutionProblem(horizon=horizon, slices=slices, risk_aversion=lam, assets=(Asset(
        name="A", holdings=1e5, price=10.0, volatility=sigma, permanent_impact=gamma, temporary_impact=eta),))
    try:
        sens = sensitivities(problem, wrt=["assets[0].volatility", "assets[0].temporary_impact"])
    except (MethodNotApplicable, SpecError):
        return
    half = sens.half_life
    if not np.all(np.isfinite(half)):
        return
    assert half[0] < 0 and half[1] > 0


def test_unknown_parameter_and_method_errors():
    problem = load_example("almgren-chriss-2001")
    with pytest.raises(SpecError, match="wrt"):
        sensitivities(problem, wrt=["assets[3].volatility"])
    with pytest.raises(MethodNotApplicable):
        sensitivities(load_example("volatility-regimes"), "closed-form")
    names = parameter_names(load_example("volatility-regimes"))
    assert "volatility_model.generator[1][0]" in names and "volatility_model.levels[1]" in names


@pytest.fixture(scope="module")
def round_trip():
    data = generate(SyntheticTruth(), days=60)
    cal = calibrate(data.fills, data.bars, beta=1.0)
    problem, _ = cal.to_problem(holdings=2e5, slices=10)
    return cal, problem


def test_calibration_covariance_matches_the_reported_standard_errors(round_trip):
    cal, _ = round_trip
    cov = calibration_covariance(cal)
    by_name = {e.name: e.std_error for e in cal.estimates}
    for name, var in zip(cov.names, np.diag(cov.covariance)):
        assert math.isclose(math.sqrt(var), by_name[name.split(".")[1]], rel_tol=1e-9), name


def test_delta_interval_covers_the_bootstrap_at_its_nominal_rate(round_trip):
    cal, problem = round_trip
    prop = propagate(problem, calibration_covariance(cal), "closed-form", draws=800, seed=3)
    valid = prop.draws - prop.rejected
    assert valid >= 0.95 * prop.draws
    mc = math.sqrt(0.95 * 0.05 / valid)
    assert abs(prop.coverage - 0.95) <= 4 * mc, (prop.coverage, valid)
    assert np.all(prop.regret >= -1e-9 * prop.objective)  # the optimum at the truth is never beaten
    assert 0 < prop.regret_mean < 0.01 * prop.objective
    assert np.all(prop.holdings_se[1:-1] > 0) and prop.holdings_se[0] <= 1e-9 * np.max(prop.holdings_se)
    assert prop.holdings_se[-1] <= 1e-9 * np.max(prop.holdings_se)


def test_cli_table_json_and_exit_statuses(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["sensitivities", "--example", "almgren-chriss-2001", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert {"method", "parameters", "objective", "expected_cost", "variance", "holdings"} <= set(data)
    assert math.isclose(data["objective"]["risk_aversion"], data["base"]["variance"], rel_tol=1e-9)
    assert len(data["holdings"]["horizon"]) == 6
    assert "elasticity" in capsys.readouterr().out
    assert main(["sensitivities", "--example", "volatility-regimes"]) == 3
    assert main(["sensitivities", "--example", "almgren-chriss-2001", "--wrt", "nope"]) == 2
    side = tmp_path / "cov.toml"
    side.write_text('parameters = ["assets[0].volatility", "assets[0].temporary_impact"]\n'
                    'std_errors = [0.05, 2.5e-7]\n')
    assert main(["sensitivities", "--example", "almgren-chriss-2001", "--covariance", str(side),
                 "--draws", "50", "--json", str(out)]) == 0
    unc = json.loads(out.read_text())["uncertainty"]
    assert unc["objective_se"] > 0 and unc["regret_mean"] >= 0
    side.write_text('parameters = ["assets[0].volatility"]\ncovariance = [[1.0, 0.0]]\n')
    with pytest.raises(SpecError):
        load_covariance(side)


def test_delta_standard_error_is_the_gradient_quadratic_form():
    problem = load_example("almgren-chriss-2001")
    cov = ParameterCovariance(["assets[0].volatility", "assets[0].temporary_impact"], np.diag([0.01, 1e-14]))
    prop = propagate(problem, cov, draws=0)
    sens = sensitivities(problem, wrt=cov.names)
    assert math.isclose(prop.objective_se, math.sqrt(sens.objective @ cov.covariance @ sens.objective), rel_tol=1e-12)
    assert math.isclose(prop.objective, solve(problem, "closed-form").objective, rel_tol=1e-15)


def test_calibrate_propagate_prints_the_cost_interval_and_regret(tmp_path, capsys):
    from solvers.calibration import sample_paths

    fills, bars = sample_paths()
    spec = tmp_path / "cal.toml"
    assert main(["calibrate", str(fills), str(bars), "-o", str(spec), "--beta", "1", "--propagate",
                 "--draws", "30"]) == 0
    out = capsys.readouterr().out
    assert "delta-method interval" in out and "expected regret" in out and "volatility =" in out
