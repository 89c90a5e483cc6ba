"""Closed-form Almgren-Chriss against the published example and brute-force KKT solves."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import (
    Asset,
    ExecutionProblem,
    MethodNotApplicable,
    SpecError,
    ac2001_moments,
    cost_vs_horizon,
    discrete_kappa,
    efficient_frontier,
    half_life,
    load_example,
    mean_var_optimum,
    optimal_holdings,
    schedule_cost,
    twap,
)
from solvers import closed_form

from .reference import kkt_basket, kkt_single


@pytest.fixture(scope="module")
def ac():
    return load_example("almgren-chriss-2001")


def single(x=1e6, n=5, t=5.0, lam=1e-6, sigma=0.95, gamma=2.5e-7, eta=2.5e-6, eps=0.0625, **kw):
    asset = Asset(name="A", holdings=x, price=50.0, volatility=sigma, permanent_impact=gamma,
                  temporary_impact=eta, spread=eps, **kw)
    return ExecutionProblem(horizon=t, slices=n, risk_aversion=lam, risk_seeking=bool(lam < 0), assets=(asset,))


# ------------------------------------------------------------------ AC 2001, section 3
def test_ac2001_example_reproduces(ac):
    r = closed_form.solve(ac)
    # Published to 5 significant digits (kappa) and 0.1 share (holdings).
    assert discrete_kappa(ac) == pytest.approx(0.60708, abs=5e-6)
    np.testing.assert_allclose(r.holdings, [1e6, 541955.6, 289854.2, 147897.5, 62141.8, 0.0], rtol=0, atol=0.05)
    # E = 911227 and V = 3.64129e11 are printed to 6 digits: half a unit in the last digit.
    assert r.expected_cost == pytest.approx(911227, abs=0.5)
    assert r.variance == pytest.approx(3.64129e11, abs=0.5e6)
    assert r.status == "optimal" and r.time_model == "discrete"


def test_ac2001_naive_strategy(ac):
    cost = schedule_cost(ac, twap(ac))
    assert cost.expected_cost == pytest.approx(662500, rel=1e-12)
    assert cost.variance == pytest.approx(1.083e12, rel=1e-12)


def test_eq20_matches_direct_sums(ac):
    for lam in (1e-8, 1e-7, 1e-6, 1e-5, 1e-4):
        p = ac.replace(risk_aversion=lam)
        expected, variance = ac2001_moments(p)
        r = closed_form.solve(p)
        assert r.expected_cost == pytest.approx(expected, rel=1e-10)
        # eq. 20's V subtracts two terms of size ~1/kappa^2: it loses digits as kappa T -> 0
        assert r.variance == pytest.approx(variance, rel=1e-8)


def test_continuous_limit_value(ac):
    r = closed_form.solve(ac, time_model="continuous")
    assert r.objective == pytest.approx(1_696_984.9, abs=0.05)  # AC 2001 continuous-time value
    a = ac.asset
    kappa = a.volatility * math.sqrt(ac.risk_aversion / a.temporary_impact)
    x_sq_a0 = a.holdings**2 * math.sqrt(a.temporary_impact * ac.risk_aversion) * a.volatility / math.tanh(kappa * ac.horizon)
    assert r.objective == pytest.approx(0.5 * a.permanent_impact * a.holdings**2 + a.spread * a.holdings + x_sq_a0, rel=1e-13)
    assert r.time_model == "continuous"


def test_discrete_converges_to_continuous_at_first_order(ac):
    cont = closed_form.solve(ac, time_model="continuous").objective
    slices = np.array([20, 40, 80, 160, 320])
    gaps = np.array([abs(closed_form.solve(ac.replace(slices=int(n))).objective - cont) for n in slices])
    order = -np.polyfit(np.log(ac.horizon / slices), np.log(gaps), 1)[0] * -1
    # risk is charged at the end of each slice and eta_tilde = eta - gamma tau / 2: an O(tau) gap
    assert order == pytest.approx(1.0, abs=0.05)


def test_continuous_small_kappa_series_is_smooth():
    # across the switch between series and closed expressions (|q| = 1e-4) values are continuous
    values = []
    for lam in np.geomspace(1e-13, 1e-11, 21):
        p = single(lam=lam, n=50)
        values.append(closed_form.solve(p, time_model="continuous").variance)
    ratios = np.diff(values) / np.asarray(values[:-1])
    assert np.all(np.abs(ratios) < 1e-3)


# ------------------------------------------------------------------ brute force
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.one_of(st.integers(1, 40), st.sampled_from([390, 1000, 2000])),
    x=st.floats(-1e7, 1e7).filter(lambda v: abs(v) > 1.0),
    horizon=st.floats(0.05, 50.0),
    sigma=st.floats(0.0, 5.0),
    log_lam=st.floats(-12.0, -3.0),
    eta=st.floats(1e-8, 1e-4),
    gamma_frac=st.floats(0.0, 0.99),
)
def test_closed_form_equals_kkt_solve(n, x, horizon, sigma, log_lam, eta, gamma_frac):
    tau = horizon / n
    gamma = gamma_frac * 2.0 * eta / tau  # keeps eta_tilde > 0
    p = single(x=x, n=n, t=horizon, lam=10.0**log_lam, sigma=sigma, gamma=gamma, eta=eta, eps=0.0)
    kappa_t = discrete_kappa(p) * horizon
    got = optimal_holdings(p)
    want = kkt_single(x, n, tau, p.eta_tilde, p.risk_aversion, sigma**2)
    # the tridiagonal solve is backward stable: errors relative to |X| (tiny holdings near the
    # end of a fast trajectory are not resolved relatively by either method)
    assert np.max(np.abs(got - want)) <= 1e-9 * abs(x) * max(1.0, kappa_t / 50.0)
    assert schedule_cost(p, got).objective <= schedule_cost(p, want).objective * (1 + 1e-12) + 1e-9


def test_lambda_zero_is_twap_and_small_lambda_is_continuous():
    p = single(lam=0.0, n=7)
    np.testing.assert_allclose(optimal_holdings(p), twap(p), rtol=1e-14)
    assert half_life(p) == math.inf
    for lam in (1e-300, 1e-30, 1e-20):
        h = optimal_holdings(p.replace(risk_aversion=lam))
        np.testing.assert_allclose(h, twap(p), rtol=0, atol=1e-12 * 1e6)
    # just above lambda = 0 the profile bends by O(lambda): compare with the KKT solve
    q = p.replace(risk_aversion=1e-15)
    np.testing.assert_allclose(optimal_holdings(q), kkt_single(1e6, 7, q.tau, q.eta_tilde, 1e-15, 0.95**2),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("kappa_t", [50.0, 700.0, 5000.0])
def test_no_overflow_for_large_kappa_t(kappa_t):
    p = single(n=5)
    # choose lambda so that kappa T hits the target: cosh(kappa tau) = 1 + a/2
    a = 2.0 * (math.cosh(kappa_t / 5.0) - 1.0) if kappa_t / 5.0 < 700 else math.inf
    if math.isinf(a):
        lam = 1e300 / (p.tau**2 * 0.95**2 / p.eta_tilde)
    else:
        lam = a * p.eta_tilde / (p.tau**2 * 0.95**2)
    q = p.replace(risk_aversion=lam)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        r = closed_form.solve(q)
    assert np.all(np.isfinite(r.holdings)) and math.isfinite(r.objective)
    assert np.all(np.diff(r.holdings) <= 0)
    if math.isfinite(a):
        assert discrete_kappa(q) * q.horizon == pytest.approx(kappa_t, rel=1e-10)
        want = kkt_single(1e6, 5, q.tau, q.eta_tilde, lam, 0.95**2)
        np.testing.assert_allclose(r.holdings, want, rtol=0, atol=1e-9 * 1e6)
    if kappa_t >= 700:
        # ratios like exp(-kappa t) underflow gracefully to 0, never to inf or nan
        assert r.holdings[1] < 1e-50


def test_risk_seeking_trigonometric_branch_equals_kkt():
    p = single(n=10, lam=-2e-7)
    r = closed_form.solve(p)
    assert r.diagnostics["branch"] == "trigonometric"
    want = kkt_single(1e6, 10, p.tau, p.eta_tilde, p.risk_aversion, 0.95**2)
    np.testing.assert_allclose(r.holdings, want, rtol=0, atol=1e-9 * 1e6)


def test_risk_seeking_unbounded_raises_clear_error():
    with pytest.raises(SpecError, match=r"risk_aversion = 'risk seeking'.*unbounded below.*theta\*N < pi"):
        closed_form.solve(single(n=10, lam=-1e-5))


# ------------------------------------------------------------------ frontier, mean-VaR, horizon
def test_frontier_is_vectorized_and_slope_is_minus_lambda(ac):
    lams = np.geomspace(1e-8, 1e-4, 9)
    f = efficient_frontier(ac, lams)
    assert f.holdings.shape == (9, ac.slices + 1)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(f.holdings[i], closed_form.solve(ac.replace(risk_aversion=lam)).holdings, rtol=1e-14)
        # dE/dV by a symmetric difference in lambda around each point
        h = 1e-4 * lam
        lo, hi = efficient_frontier(ac, [lam - h, lam + h]).expected_cost, efficient_frontier(ac, [lam - h, lam + h]).variance
        assert (lo[1] - lo[0]) / (hi[1] - hi[0]) == pytest.approx(-lam, rel=1e-6)


def test_mean_var_optimum_is_tangent_and_minimal(ac):
    mv = mean_var_optimum(ac, 0.95)
    assert 2 * mv.risk_aversion * mv.result.std == pytest.approx(mv.z, rel=1e-9)
    best = mv.value_at_risk_objective
    for factor in (0.5, 0.9, 0.99, 1.01, 1.1, 2.0):
        r = closed_form.solve(ac.replace(risk_aversion=mv.risk_aversion * factor))
        assert r.expected_cost + mv.z * r.std > best


def test_mean_var_beyond_frontier_bound_liquidates_at_once():
    p = single(n=5, sigma=50.0, eta=1e-9, gamma=0.0)
    mv = mean_var_optimum(p, 0.999)
    assert mv.risk_aversion == math.inf
    np.testing.assert_array_equal(mv.result.holdings, [1e6, 0, 0, 0, 0, 0])


def test_cost_vs_horizon_is_u_shaped_with_the_brute_force_minimum(ac):
    curve = cost_vs_horizon(ac, range(1, 41))
    best = curve.best_index
    assert 0 < best < 39
    assert np.all(np.diff(curve.twap_objective[: best + 1]) < 0) and np.all(np.diff(curve.twap_objective[best:]) > 0)
    # brute force: TWAP's E + lambda V over every horizon, written out from the conventions page
    a, tau, lam = ac.asset, ac.tau, ac.risk_aversion
    brute = []
    for n in range(1, 41):
        x = np.linspace(a.holdings, 0, n + 1)
        nk = a.holdings / n
        e = 0.5 * a.permanent_impact * a.holdings**2 + a.spread * a.holdings + (a.temporary_impact - a.permanent_impact * tau / 2) / tau * n * nk**2
        brute.append(e + lam * tau * a.volatility**2 * np.sum(x[1:] ** 2))
    np.testing.assert_allclose(curve.twap_objective, brute, rtol=1e-12)
    assert np.all(np.diff(curve.optimal_objective) <= 1e-9 * curve.optimal_objective[0])
    assert np.all(curve.optimal_objective <= curve.twap_objective * (1 + 1e-12))


# ------------------------------------------------------------------ baskets
def random_basket(rng, m, n, full_matrices=False):
    corr = rng.normal(size=(m, m + 2))
    corr = corr @ corr.T
    d = np.sqrt(np.diag(corr))
    corr = corr / d[:, None] / d[None, :]
    np.fill_diagonal(corr, 1.0)
    assets = tuple(
        Asset(name=f"A{i}", holdings=float(rng.choice([-1, 1]) * rng.uniform(1e5, 1e6)), price=50.0,
              volatility=float(rng.uniform(0.2, 2.0)), permanent_impact=float(rng.uniform(0, 2e-7)),
              temporary_impact=float(rng.uniform(1e-6, 5e-6)))
        for i in range(m)
    )
    kw = {}
    if full_matrices:
        g = rng.normal(size=(m, m)) * 1e-8
        kw["permanent_impact_matrix"] = (np.diag([a.permanent_impact for a in assets]) + g @ g.T).tolist()
        h = rng.normal(size=(m, m)) * 5e-7
        kw["temporary_impact_matrix"] = (np.diag([a.temporary_impact for a in assets]) + h @ h.T).tolist()
    return ExecutionProblem(horizon=5.0, slices=n, risk_aversion=1e-6, assets=assets,
                            correlation=corr.tolist(), **kw)


@pytest.mark.parametrize("m,n,full", [(2, 10, False), (5, 40, True), (50, 30, False)])
def test_basket_closed_form_equals_stacked_kkt(m, n, full):
    rng = np.random.default_rng(m * 100 + n)
    p = random_basket(rng, m, n, full)
    r = closed_form.solve(p)
    want = kkt_basket(p.initial_holdings, n, p.tau, p.eta_tilde_matrix, p.risk_aversion, p.covariance)
    scale = np.abs(p.initial_holdings).max()
    np.testing.assert_allclose(r.holdings, want, rtol=0, atol=1e-9 * scale)
    assert r.holdings.shape == (n + 1, m)


def test_basket_of_independent_assets_splits_into_single_problems():
    rng = np.random.default_rng(7)
    p = random_basket(rng, 3, 12).replace(correlation=None)
    r = closed_form.solve(p)
    for i, a in enumerate(p.assets):
        q = p.replace(assets=(a,))
        np.testing.assert_allclose(r.holdings[:, i], closed_form.solve(q).holdings, rtol=1e-11, atol=1e-6)


def test_basket_continuous_matches_single_asset_when_independent():
    rng = np.random.default_rng(3)
    p = random_basket(rng, 2, 8).replace(correlation=None)
    r = closed_form.solve(p, time_model="continuous")
    parts = [closed_form.solve(p.replace(assets=(a,)), time_model="continuous") for a in p.assets]
    assert r.objective == pytest.approx(sum(q.objective for q in parts), rel=1e-12)


# ------------------------------------------------------------------ applicability
def test_not_applicable_cases_say_why(ac):
    with pytest.raises(MethodNotApplicable, match="linear temporary impact"):
        closed_form.solve(load_example("square-root-impact"))
    with pytest.raises(MethodNotApplicable, match="constant volatility"):
        closed_form.solve(load_example("mean-reverting-volatility"))
    with pytest.raises(MethodNotApplicable, match="drift"):  # discrete time solves drift (AC 2001 section 2.2)
        closed_form.solve(ac.replace_asset(0, drift=0.01), time_model="continuous")
    with pytest.raises(MethodNotApplicable, match=r"a cap binds: \|n_1\|"):
        closed_form.solve(ac.replace_asset(0, max_slice_trade=3e5))


def test_caps_that_do_not_bind_keep_the_optimum(ac):
    r = closed_form.solve(ac.replace_asset(0, max_slice_trade=5e5))
    np.testing.assert_allclose(r.holdings, closed_form.solve(ac).holdings, rtol=0, atol=0)


def test_holdings_bounds_and_imbalance_band_are_checked():
    rng = np.random.default_rng(11)
    p = random_basket(rng, 2, 10)
    free = closed_form.solve(p)
    prices = np.array([a.price for a in p.assets])
    worst = float(np.max(np.abs(free.trades @ prices)))
    # a band wider than every slice's imbalance does not bind: same answer
    loose = closed_form.solve(p.replace(imbalance_band=1.01 * worst))
    np.testing.assert_array_equal(loose.holdings, free.holdings)
    need = abs(float(prices @ p.initial_holdings))
    with pytest.raises(MethodNotApplicable, match=r"the imbalance band binds"):
        closed_form.solve(p.replace(imbalance_band=max(0.5 * worst, need / 10 * 1.01)))
    ac = load_example("almgren-chriss-2001")
    with pytest.raises(MethodNotApplicable, match=r"max_holdings binds"):
        # theta N ~ 2.5 > pi/2: the risk seeker first buys more (x_1 > X), which max_holdings = X forbids
        closed_form.solve(ac.replace(risk_aversion=-7e-7, risk_seeking=True, slices=20).replace_asset(0, spread=0.0, max_holdings=1e6))


# ------------------------------------------------------------------ method contract, batch
def test_settings_contract_and_info():
    from solvers.methods import method_info

    info = method_info("closed-form")
    assert info.kind == "static" and info.time_models == ("discrete", "continuous")
    assert info.accuracy.objective_rtol == 1e-12 and info.accuracy.holdings_rtol == 1e-10
    assert [v.label for v in info.run_variants] == ["closed-form", "closed-form/continuous"]
    assert info.batch_solve is closed_form.solve_batch
    ac = load_example("almgren-chriss-2001")
    cont = closed_form.solve(ac, closed_form.ClosedFormSettings(time_model="continuous"))
    assert cont.objective == closed_form.solve(ac, time_model="continuous").objective
    with pytest.raises(SpecError, match=r"settings.time_model = 'weekly': must be one of"):
        closed_form.solve(ac, time_model="weekly")
    with pytest.raises(SpecError, match=r"settings.solver = 'x': unknown setting of method closed-form"):
        closed_form.solve(ac, solver="x")


def test_batch_equals_one_by_one_and_leaves_what_solve_refuses():
    ac = load_example("almgren-chriss-2001").replace(slices=20).replace_asset(0, spread=0.0, max_holdings=1e6)
    lams = [1e-6, 2e-7, 0.0, -7e-7]  # the last one overshoots X: max_holdings binds
    problems = {i: ac.replace(risk_aversion=lam, risk_seeking=lam < 0) for i, lam in enumerate(lams)}
    problems[9] = load_example("two-asset-basket")
    batch = closed_form.solve_batch(problems, closed_form.ClosedFormSettings())
    assert sorted(batch) == [0, 1, 2]
    for pid in batch:
        one = closed_form.solve(problems[pid])
        np.testing.assert_allclose(batch[pid].holdings, one.holdings, rtol=1e-14, atol=1e-8)
        assert batch[pid].objective == pytest.approx(one.objective, rel=1e-14)
        assert batch[pid].cost_breakdown == pytest.approx(one.cost_breakdown, rel=1e-14, abs=1e-9)
        assert batch[pid].status == "optimal" and batch[pid].diagnostics["vectorized_batch"] == 4
    with pytest.raises(MethodNotApplicable, match=r"max_holdings binds"):
        closed_form.solve(problems[3])
    assert closed_form.solve_batch(problems, closed_form.ClosedFormSettings(time_model="continuous")) == {}


def test_kappa_is_one_formula_in_both_time_models(ac):
    assert closed_form.kappa(ac) == discrete_kappa(ac)
    lam, sigma, eta = ac.risk_aversion, ac.asset.volatility, ac.asset.temporary_impact
    assert closed_form.kappa(ac, time_model="continuous") == pytest.approx(sigma * math.sqrt(lam / eta), rel=1e-14)
    lams = np.array([1e-6, 2e-6])
    np.testing.assert_allclose(closed_form.kappa(ac, lams), [closed_form.kappa(ac.replace(risk_aversion=l)) for l in lams],
                               rtol=1e-15)
    assert closed_form.kappa(ac.replace(risk_aversion=-1e-7, risk_seeking=True)) < 0
    s = np.array([0.0, 0.3, 0.95])
    k = s * math.sqrt(lam / eta)
    expected = np.where(k > 0, k / np.tanh(np.where(k > 0, k, 1.0) * ac.horizon), 1.0 / ac.horizon)
    np.testing.assert_allclose(closed_form.urgency(ac, s), expected, rtol=1e-14)
    # the continuous value function A(0) X^2 = eta urgency X^2: the temporary-plus-risk part of the objective
    cont = closed_form.solve(ac, time_model="continuous")
    consts = cont.cost_breakdown["permanent"] + cont.cost_breakdown["spread"]
    assert cont.objective - consts == pytest.approx(eta * closed_form.urgency(ac, sigma) * ac.asset.holdings**2, rel=1e-12)
