"""Schedule costing (the conventions page) against sums written straight from the price dynamics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers import (
    Asset,
    ExecutionProblem,
    InfeasibleSpecError,
    SpecError,
    VolatilityPath,
    baseline_result,
    exponential,
    linear_ramp,
    load_example,
    percentage_of_volume,
    schedule_cost,
    twap,
    vwap,
)

from .reference import expected_cost_by_definition, variance_by_definition


def one(n=8, beta=1.0, eta=2.5e-6, eps=0.0625, gamma=2.5e-7, x=1e6, **kw):
    a = Asset(name="A", holdings=x, price=50.0, volatility=0.95, permanent_impact=gamma, temporary_impact=eta,
              spread=eps, impact_exponent=beta)
    return ExecutionProblem(horizon=4.0, slices=n, risk_aversion=1e-6, assets=(a,), **kw)


@settings(max_examples=40, deadline=None)
@given(
    fractions=st.lists(st.floats(-0.5, 1.5), min_size=2, max_size=12),
    beta=st.sampled_from([0.3, 0.5, 1.0, 1.5, 2.0]),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_expected_cost_and_variance_match_definitions(fractions, beta, sign):
    n = len(fractions)
    w = np.asarray(fractions)
    if abs(w.sum()) < 1e-3:
        w[0] += 1.0
    trades = sign * 1e6 * w / w.sum()
    p = one(n=n, beta=beta, x=sign * 1e6)
    holdings = np.concatenate([[p.asset.holdings], p.asset.holdings - np.cumsum(trades)])
    holdings[-1] = 0.0
    c = schedule_cost(p, holdings)
    trades = holdings[:-1] - holdings[1:]
    want = expected_cost_by_definition(trades, p.tau, 2.5e-7, p.asset.temporary_impact, 0.0625, beta)
    assert c.expected_cost == pytest.approx(want, rel=1e-11)
    assert c.variance == pytest.approx(variance_by_definition(holdings, p.tau, 0.95**2), rel=1e-11)
    assert c.objective == pytest.approx(c.expected_cost + 1e-6 * c.variance, rel=1e-14)


def test_linear_impact_equals_ac_eta_tilde_form():
    p = one(n=6)
    x = linear_ramp(p, 0.7)
    n = x[:-1] - x[1:]
    c = schedule_cost(p, x)
    ac_form = 0.5 * 2.5e-7 * 1e12 + 0.0625 * np.abs(n).sum() + p.eta_tilde / p.tau * np.sum(n**2)
    assert c.expected_cost == pytest.approx(ac_form, rel=1e-13)
    assert c.permanent + c.temporary == pytest.approx(0.5 * 2.5e-7 * 1e12 + p.eta_tilde / p.tau * np.sum(n**2), rel=1e-13)


def test_drift_term_and_time_varying_volatility():
    path = (0.95, 1.2, 0.8, 1.0)
    p = one(n=4, volatility_model=VolatilityPath(path=path)).replace_asset(0, drift=0.02)
    x = twap(p)
    c = schedule_cost(p, x)
    # drift mu raises every later execution price: E gains -mu * sum_k n_k t_{k-1} = -tau mu sum x_k
    n = x[:-1] - x[1:]
    assert c.drift == pytest.approx(-0.02 * np.sum(n * p.times[:-1]), rel=1e-13)
    assert c.variance == pytest.approx(variance_by_definition(x, p.tau, np.square(path)), rel=1e-13)


def test_basket_costs_add_up_for_independent_assets():
    a = Asset(name="A", holdings=1e6, price=50.0, volatility=0.95, permanent_impact=2.5e-7, temporary_impact=2.5e-6, spread=0.01)
    b = Asset(name="B", holdings=-3e5, price=20.0, volatility=0.5, permanent_impact=1e-7, temporary_impact=1e-6,
              spread=0.02, impact_exponent=0.5)
    basket = ExecutionProblem(horizon=2.0, slices=5, risk_aversion=1e-6, assets=(a, b))
    xa = linear_ramp(basket.replace(assets=(a,)), 0.5)
    xb = exponential(basket.replace(assets=(b,)), 1.3)
    c = schedule_cost(basket, np.stack([xa, xb], axis=1))
    ca = schedule_cost(basket.replace(assets=(a,)), xa)
    cb = schedule_cost(basket.replace(assets=(b,)), xb)
    assert c.expected_cost == pytest.approx(ca.expected_cost + cb.expected_cost, rel=1e-13)
    assert c.variance == pytest.approx(ca.variance + cb.variance, rel=1e-13)
    # correlation adds 2 rho sigma_a sigma_b tau sum xa xb
    rho = 0.4
    cc = schedule_cost(basket.replace(correlation=[[1, rho], [rho, 1]]), np.stack([xa, xb], axis=1))
    cross = 2 * rho * 0.95 * 0.5 * basket.tau * np.sum(xa[1:] * xb[1:])
    assert cc.variance == pytest.approx(c.variance + cross, rel=1e-13)


def test_batch_costing_equals_one_by_one():
    p = one(n=5)
    batch = np.stack([twap(p), linear_ramp(p, 1.0), exponential(p, 0.8)])
    c = schedule_cost(p, batch)
    for i in range(3):
        assert c.objective[i] == pytest.approx(schedule_cost(p, batch[i]).objective, rel=1e-15)


def test_endpoints_are_checked():
    p = one(n=3)
    with pytest.raises(ValueError, match=r"x_0 = X, x_N = 0"):
        schedule_cost(p, [1e6, 5e5, 1e5, 1e3])
    with pytest.raises(ValueError, match=r"expected \(\.\.\., 4\)"):
        schedule_cost(p, [1e6, 0.0])


# ------------------------------------------------------------------ baselines
def test_baselines_shapes_and_relations():
    p = load_example("capped-participation")
    for name in ("twap", "vwap"):
        r = baseline_result(p, name)
        assert r.holdings[0] == 1e6 and r.holdings[-1] == 0 and np.all(np.diff(r.holdings) <= 0)
    uniform = vwap(p, np.ones(p.slices))
    np.testing.assert_allclose(uniform, twap(p), rtol=1e-13)
    np.testing.assert_allclose(linear_ramp(p, 0.0), twap(p), rtol=1e-13)
    np.testing.assert_allclose(exponential(p, 0.0), twap(p), rtol=1e-13)
    # exponential decay: x(t) proportional to exp(-r t) - exp(-r T)
    x = exponential(p, 1.0)
    t, big_t = p.times, p.horizon
    np.testing.assert_allclose(x, 1e6 * (np.exp(-t) - np.exp(-big_t)) / (1 - np.exp(-big_t)), rtol=1e-12, atol=1e-6)
    # percentage of volume: 10% of each slice's volume until done
    pov = percentage_of_volume(p, 0.1)
    traded = pov[:-1] - pov[1:]
    vol = np.asarray(p.asset.market_volume)
    assert np.all(traded <= 0.1 * vol * (1 + 1e-12))
    assert traded[0] == pytest.approx(2.6e5)


def test_pov_that_cannot_finish_names_the_shortfall():
    p = load_example("capped-participation")
    with pytest.raises(InfeasibleSpecError, match=r"rate = 0\.05: .*shortfall 190000 shares"):  # 1e6 - 0.05 * 16.2e6
        percentage_of_volume(p, 0.05)
    with pytest.raises(SpecError, match=r"tilt = 2\.0: must be in \[-1, 1\]"):
        linear_ramp(p, 2.0)
    with pytest.raises(SpecError, match=r"baseline = 'bogus': unknown baseline"):
        baseline_result(p, "bogus")
