"""Time-varying markets, closures and a soft finish: closed form = qp = a dense KKT solve of the
conventions page's objective written here in numpy; the Hessian rule; Cartea-Jaimungal."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from solvers import closed_form
from solvers.costs import schedule_cost
from solvers.cli import main
from solvers.errors import MethodNotApplicable, SpecError
from solvers.frontier import efficient_frontier
from solvers.market.profiles import intraday_profile, u_shaped_volume, volume_scaled_impact
from solvers.policy import ProportionalPolicy
from solvers.simulation import simulate
from solvers.spec import load_example
from solvers.validation import validate
from tests.helpers.dense_kkt import dense_optimum


def ac(n=5):
    return load_example("almgren-chriss-2001").replace(slices=n)


def varying(n, *, eta=True, spread=True, path=True, closures=True, alpha=None, drift=0.0, seed=1):
    rng = np.random.default_rng(seed)
    p = ac(n)
    changes = {}
    if eta:
        changes["temporary_impact"] = tuple(2.5e-6 * rng.uniform(0.5, 2.0, n))
    if spread:
        changes["spread"] = tuple(0.0625 * rng.uniform(0.9, 1.1, n))
    if drift:
        changes["drift"] = drift
    p = p.replace_asset(0, **changes)
    top = {}
    if path:
        sig = 0.95 * rng.uniform(0.7, 1.3, n)
        sig[0] = 0.95
        top["volatility_model"] = {"kind": "path", "path": list(sig)}
    if closures:
        top["closures"] = [{"after_slice": n // 3, "duration": 0.7},
                           {"after_slice": 2 * n // 3, "duration": 1.5, "volatility": 1.4}]
    if alpha is not None:
        top["terminal_penalty"] = alpha
    return p.replace(**top)


def dense_kkt(p):
    """The optimum of a dense KKT solve of the conventions page (``tests.helpers.dense_kkt``)."""
    return dense_optimum(p)[0]


CASES = {
    "eta": dict(spread=False, path=False, closures=False),
    "spread": dict(eta=False, path=False, closures=False),
    "volatility": dict(eta=False, spread=False, closures=False),
    "closures": dict(eta=False, spread=False, path=False),
    "terminal": dict(eta=False, spread=False, path=False, closures=False, alpha=1e-6),
    "together": dict(alpha=2e-6, drift=0.02),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("n", [12, 300])
def test_closed_form_equals_qp_equals_dense_kkt(case, n):
    p = varying(n, **CASES[case])
    ref = dense_kkt(p)
    obj = float(schedule_cost(p, ref).objective)
    X = p.asset.holdings
    for method in ("closed-form", "qp", "dp"):
        r = solvers.solve(p, method)
        assert abs(r.objective - obj) <= 1e-9 * abs(obj), (method, r.objective, obj)
        assert np.max(np.abs(r.holdings - ref)) / abs(X) <= 1e-9, method


def test_large_n_closed_form_equals_qp_and_dense():
    p = varying(2000, alpha=2e-6)
    ref = dense_kkt(p)
    cf = solvers.solve(p, "closed-form")
    qp = solvers.solve(p, "qp")
    dp = solvers.solve(p, "dp")
    obj = float(schedule_cost(p, ref).objective)
    for r in (cf, qp, dp):
        assert abs(r.objective - obj) <= 1e-9 * abs(obj)
        assert np.max(np.abs(r.holdings - ref)) / 1e6 <= 1e-9


def test_terminal_penalty_to_infinity_recovers_the_hard_finish():
    hard = solvers.solve(ac(20), "closed-form")
    gaps = []
    alphas = np.array([1e-4, 1e-3, 1e-2, 1e-1])
    for alpha in alphas:
        r = solvers.solve(ac(20).replace(terminal_penalty=alpha), "closed-form")
        assert r.holdings[-1] > 0 and r.cost_breakdown["terminal"] > 0
        gaps.append(hard.objective - r.objective)
    gaps = np.array(gaps)
    assert np.all(gaps > 0)  # the soft finish is never worse
    rate = np.polyfit(np.log(alphas), np.log(gaps), 1)[0]
    assert -1.1 < rate < -0.9, rate  # the gap falls as 1 / alpha


def test_alpha_zero_with_ac2001_parameters_is_convex_and_solves():
    p = ac().replace(terminal_penalty=0.0)
    assert p.hessian_check() > 0
    r = solvers.solve(p, "closed-form")
    np.testing.assert_allclose(r.holdings, dense_kkt(p), rtol=0, atol=1e-9 * 1e6)


def test_non_convex_spec_is_refused_with_the_numbers():
    with pytest.raises(SpecError, match=r"terminal_penalty.*smallest eigenvalue -[0-9.e-]+ <= 0.*eta = .*gamma = "):
        ac().replace(terminal_penalty=0.0, risk_aversion=0.0).replace_asset(0, permanent_impact=4.9e-6)
    with pytest.raises(SpecError, match=r"temporary_impact\[2\].*eta_tilde_k"):
        ac().replace_asset(0, temporary_impact=(2.5e-6, 2.5e-6, 1e-7, 2.5e-6, 2.5e-6))


@pytest.mark.parametrize("bad, field", [
    ({"closures": [{"after_slice": 0, "duration": 1.0}]}, "closures[0].after_slice"),
    ({"closures": [{"after_slice": 5, "duration": 1.0}]}, "closures[0].after_slice"),
    ({"closures": [{"after_slice": 2, "duration": 1.0}, {"after_slice": 2, "duration": 1.0}]}, "closures[1].after_slice"),
    ({"closures": [{"after_slice": 2, "duration": -1.0}]}, "closures[0].duration"),
    ({"terminal_penalty": -1.0}, "terminal_penalty"),
])
def test_spec_errors_name_the_field(bad, field):
    with pytest.raises(SpecError) as err:
        ac().replace(**bad)
    assert err.value.field == field


def test_wrong_list_length_is_refused():
    with pytest.raises(SpecError, match="one per slice"):
        ac().replace_asset(0, spread=(0.1, 0.1))


def test_ac2001_drift_closed_form_equals_qp():
    p = ac(30).replace_asset(0, drift=0.05)
    cf = solvers.solve(p, "closed-form")
    qp = solvers.solve(p, "qp")
    assert cf.diagnostics["branch"] == "AC 2001 with drift"
    assert abs(cf.objective - qp.objective) <= 1e-9 * abs(cf.objective)
    np.testing.assert_allclose(cf.holdings, closed_form.lq_holdings(p), rtol=0, atol=1e-9 * 1e6)


def test_cartea_jaimungal_matches_the_discrete_limit():
    # the continuous soft-finish value, against the exact discrete optimum as N grows (first order in tau)
    gaps = []
    for n in (200, 400):
        p = ac().replace(slices=n, terminal_penalty=1e-6)
        gaps.append(solvers.solve(p, "closed-form").objective
                    - solvers.solve(p, "closed-form", time_model="continuous").objective)
    assert abs(gaps[1] / gaps[0] - 0.5) < 0.02
    r = solvers.solve(ac().replace(terminal_penalty=1e-6), "closed-form", time_model="continuous")
    assert r.diagnostics["quadrature_gap"] < 1e-10


def test_methods_without_the_model_refuse_naming_the_key():
    # hjb models per-slice coefficients, closures and a penalty (tests/test_hjb_time_varying.py) for
    # linear impact; with nonlinear impact it refuses, naming the key
    assert solvers.solve(varying(10), "hjb", time_steps=400).time_model == "continuous"
    sqrt = load_example("square-root-impact")
    with pytest.raises(MethodNotApplicable, match="temporary_impact.*linear impact"):
        solvers.solve(sqrt.replace_asset(0, temporary_impact=(sqrt.asset.temporary_impact,) * sqrt.slices), "hjb")
    # dp's recursion is linear-quadratic: nonlinear impact and caps are refused; closures under
    # stochastic volatility are solved (tests/test_closures_stochastic_vol.py checks the answer)
    with pytest.raises(MethodNotApplicable, match="temporary_impact.*linear impact"):
        solvers.solve(load_example("square-root-impact").replace_asset(
            0, temporary_impact=(load_example("square-root-impact").asset.temporary_impact,) * 10), "dp")
    r = solvers.solve(load_example("volatility-regimes").replace(closures=[{"after_slice": 3, "duration": 0.5}]), "dp")
    assert r.diagnostics["recursion"] == "exact-time-varying" and r.success


@pytest.mark.parametrize("name", ["volatility-regimes", "mean-reverting-volatility"])
def test_dp_time_varying_recursion_per_state_equals_the_exact_recursion(name):
    # constant per-slice lists take the time-varying recursion; the problem is the same
    p = load_example(name)
    a = p.asset
    same = p.replace_asset(0, temporary_impact=(a.temporary_impact,) * p.slices, spread=(a.spread,) * p.slices)
    ref, tv = solvers.solve(p, "dp"), solvers.solve(same, "dp")
    assert tv.diagnostics["recursion"] == "exact-time-varying" and ref.diagnostics["recursion"] == "exact"
    for key in ("objective", "expected_cost", "variance"):
        assert getattr(tv, key) == pytest.approx(getattr(ref, key), rel=1e-12)
    np.testing.assert_allclose(tv.holdings, ref.holdings, rtol=0, atol=1e-12 * abs(a.holdings))


def test_dp_time_varying_policy_under_regimes_matches_monte_carlo():
    p = load_example("volatility-regimes")
    rng = np.random.default_rng(0)
    p = p.replace_asset(0, temporary_impact=tuple(2.5e-6 * rng.uniform(0.5, 2, p.slices)), drift=0.01,
                        spread=tuple(0.0625 * rng.uniform(0.9, 1.1, p.slices))).replace(terminal_penalty=1e-6)
    r = solvers.solve(p, "dp")
    assert abs(r.diagnostics["objective_gap"]) <= 1e-10 * r.objective
    sim = simulate(p, r, paths=100_000, seed=1)
    assert abs(sim.mean.value - r.expected_cost) <= 4 * sim.mean.se
    assert abs(sim.risk_term.value - p.risk_aversion * r.variance) <= 4 * sim.risk_term.se


def test_qp_re_solves_a_new_profile_without_recompiling():
    first = solvers.solve(varying(40, seed=3, alpha=1e-6), "qp")
    second = solvers.solve(varying(40, seed=4, alpha=1e-6), "qp")
    assert second.diagnostics["cache_hit"] and second.success and first.success


# ---------------------------------------------------------------------------- Monte Carlo
@pytest.mark.parametrize("case", ["together", "closures"])
def test_monte_carlo_of_the_schedule_matches_its_stated_moments(case):
    # closures move the price with their variance and drift, eta_k / epsilon_k price slice k, the
    # remainder pays alpha x_N^2: E and V of costs.py within 4 standard errors, static = feedback
    p = varying(12, **{**CASES[case], "drift": 0.05})
    r = solvers.solve(p, "closed-form")
    stated = schedule_cost(p, r.holdings)
    static = simulate(p, r.holdings, paths=100_000, seed=3)
    feedback = simulate(p, ProportionalPolicy(p, r.holdings), paths=100_000, seed=3)
    np.testing.assert_allclose(feedback.cost, static.cost, rtol=1e-9, atol=1e-6 * stated.expected_cost)
    for sim in (static, feedback):
        assert abs(sim.mean.value - stated.expected_cost) <= 4 * sim.mean.se
        assert abs(sim.variance.value - stated.variance) <= 4 * sim.variance.se
        assert sim.risk_term.value == pytest.approx(p.risk_aversion * stated.variance, rel=1e-12)


def test_monte_carlo_sees_the_closures_and_the_remainder():
    # without the closures' risk, their drift or the terminal charge the same schedule would fail
    p = varying(12, alpha=2e-6, drift=0.05)
    r = solvers.solve(p, "closed-form")
    stated = schedule_cost(p, r.holdings)
    sim = simulate(p, r.holdings, paths=100_000, seed=3)
    no_closures = schedule_cost(p.replace(closures=[]), r.holdings)
    assert abs(sim.variance.value - no_closures.variance) > 4 * sim.variance.se
    paired = simulate(p, r.holdings, paths=1000, seed=3, antithetic=True)  # exact mean for a static schedule
    assert paired.mean.value == pytest.approx(stated.expected_cost, rel=1e-12)
    assert abs(stated.terminal) > 1e-6 * stated.expected_cost and abs(stated.drift - no_closures.drift) > 1e-6 * stated.expected_cost


def test_monte_carlo_basket_with_a_closure_and_a_soft_finish():
    p = load_example("two-asset-basket").replace(closures=[{"after_slice": 2, "duration": 1.0}],
                                                 terminal_penalty=[1e-5, 2e-5]).replace_asset(0, drift=0.01)
    r = solvers.solve(p, "closed-form")
    assert np.all(np.abs(r.holdings[-1]) > 0)
    stated = schedule_cost(p, r.holdings)
    sim = simulate(p, r.holdings, paths=100_000, seed=5)
    assert abs(sim.mean.value - stated.expected_cost) <= 4 * sim.mean.se
    assert abs(sim.variance.value - stated.variance) <= 4 * sim.variance.se


def test_validate_cross_checks_a_time_varying_spec():
    report = validate(varying(12, alpha=2e-6, drift=0.02), paths=20_000)
    assert report.passed, report.failures
    simulated = {c.a for c in report.checks if c.a.startswith("mc[")}
    assert {"mc[closed-form]", "mc[qp]"} <= simulated


# ---------------------------------------------------------------------------- examples and profiles
def test_intraday_example_is_its_profile():
    p = load_example("intraday-u-shape")
    pr = intraday_profile(78, daily_volume=5e6, volatility=1.0, spread=0.01, eta=2.5e-7, impact_exponent=0.6)
    a = p.asset
    for got, want in ((a.temporary_impact, pr.temporary_impact), (a.spread, pr.spread),
                      (a.market_volume, pr.volume), (p.volatility_model.path, pr.volatility)):
        np.testing.assert_allclose(got, want, rtol=1e-15)
    assert np.sum(pr.volume) == pytest.approx(5e6) and np.mean(pr.volatility) == pytest.approx(1.0)
    # U shape: busiest at the close, quietest at midday; impact highest where volume is lowest
    assert pr.volume[-1] > pr.volume[0] > pr.volume[39] and np.argmax(pr.temporary_impact) == np.argmin(pr.volume)
    assert pr.spread[0] > pr.spread[-1] and pr.volatility[0] > pr.volatility[39] < pr.volatility[-1]
    np.testing.assert_allclose(pr.temporary_impact * pr.volume**0.6, 2.5e-7 * np.mean(pr.volume) ** 0.6, rtol=1e-12)


def test_overnight_example_holds_a_third_of_a_session_overnight():
    p = load_example("overnight-gap")
    (c,) = p.closures
    assert c.after_slice == p.slices // 2
    assert c.duration * c.volatility**2 == pytest.approx(p.asset.volatility**2 / 3, rel=1e-12)
    r = solvers.solve(p, "closed-form")
    twap = schedule_cost(p, np.linspace(p.asset.holdings, 0, p.slices + 1))
    assert r.objective < twap.objective
    # the overnight risk makes the first session sell more than half
    assert r.holdings[c.after_slice] < 0.5 * p.asset.holdings


@pytest.mark.parametrize("name", ["intraday-u-shape", "overnight-gap"])
def test_validate_passes_on_the_example(name, capsys):
    assert main(["validate", "--example", name, "--paths", "4000"]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_frontier_refuses_time_varying_specs_by_name():
    with pytest.raises(MethodNotApplicable, match="closures"):
        efficient_frontier(load_example("overnight-gap"), [1e-6])


def test_profile_helpers_refuse_bad_input():
    with pytest.raises(SpecError, match="daily_volume"):
        u_shaped_volume(10, -1.0)
    with pytest.raises(SpecError, match="volume"):
        volume_scaled_impact(1e-7, [1.0, 0.0])


def test_one_slice_with_a_soft_finish():
    """N = 1 with a terminal penalty has one free holding: closed form = qp = dp exactly
    (``x_1 = 2 (eta/tau - gamma/2) X / (2 (eta/tau - gamma/2) + 2 lambda tau sigma^2 + 2 alpha - gamma)``)."""
    p = load_example("almgren-chriss-2001").replace(slices=1, terminal_penalty=1e-3)
    a, tau = p.asset, p.tau
    c = a.temporary_impact / tau - a.permanent_impact / 2
    x1 = 2 * c * a.holdings / (2 * c + 2 * p.risk_aversion * tau * a.volatility**2 + 2e-3 - a.permanent_impact)
    # the spread rewards the remainder: eps sign(X) more on the right-hand side
    x1 += a.spread / (2 * c + 2 * p.risk_aversion * tau * a.volatility**2 + 2e-3 - a.permanent_impact)
    for method in ("closed-form", "qp", "dp"):
        r = solvers.solve(p, method)
        assert r.holdings[-1] == pytest.approx(x1, rel=1e-9), method
