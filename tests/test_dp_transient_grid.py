"""Method dp on the (x, E) grid for transient impact (conventions page, "Transient impact"): the
Alfonsi-Fruth-Schied book shape ``delta < 1``, and ``delta = 1`` with caps, against the exact
``(x, D)`` recursion, qp, the Monte Carlo price of its policy, the limits ``delta -> 1`` and ``N -> infinity``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hjb.dp.settings import DPSettings
from hjb.dp.sizing import estimate
from solvers import load_example, solve
from solvers.costs import schedule_cost
from solvers.errors import MethodNotApplicable, SpecError
from solvers.simulation import simulate

#: small grids keep the file fast; each result states its own error (against half the points)
SMALL = {"x_points": 11, "e_points": 9}
MEDIUM = {"x_points": 21, "e_points": 17}


def spec(slices=12, risk_aversion=1e-5, **changes):
    """liquidity-cascade with a little temporary impact and risk aversion (rho tau = 0.5 at N = 12)."""
    p = load_example("liquidity-cascade").replace(slices=slices, risk_aversion=risk_aversion)
    return p.replace_asset(0, **{"temporary_impact": 1e-7, "resilience": 6.0, **changes})


def test_delta_one_on_the_grid_matches_the_exact_recursion():
    p = spec()
    exact = solve(p, "dp")
    assert exact.diagnostics["recursion"] == "exact-transient"
    grid = solve(p, "dp", recursion="grid", **SMALL)
    assert grid.diagnostics["recursion"] == "grid-transient"
    err = grid.diagnostics["objective_error"]
    # the grid's path is feasible and priced exactly: it can only lose, by at most its stated error
    # (the exact recursion is exact to 1e-10 relative; that much rounding is allowed below it)
    assert -1e-10 * exact.objective <= grid.objective - exact.objective <= err
    assert err <= 1e-3 * exact.objective  # the estimate is informative, not a blanket bound
    gap = np.max(np.abs(grid.holdings - exact.holdings))
    assert gap <= max(grid.diagnostics["holdings_error"], 1e-9 * p.asset.holdings)


def test_binding_cap_on_the_grid_matches_qp():
    p = spec(max_slice_trade=1.2e4)
    qp = solve(p, "qp")
    assert np.max(np.abs(qp.trades)) >= 1.2e4 * (1 - 1e-6)  # the cap binds
    dp = solve(p, "dp", **MEDIUM)
    assert dp.diagnostics["recursion"] == "grid-transient"
    assert np.max(np.abs(dp.trades)) <= 1.2e4 * (1 + 1e-12)
    # qp's KKT residual certifies it to ~1e-9 relative; dp's path can only lose, by its stated error
    assert -1e-9 * qp.objective <= dp.objective - qp.objective <= dp.diagnostics["objective_error"]


def test_stated_objective_is_the_monte_carlo_cost_of_the_policy():
    p = spec(transient_exponent=0.6, initial_deviation=0.05)
    dp = solve(p, "dp", **SMALL)
    assert dp.policy.uses_deviation
    mc = simulate(p, dp.policy, paths=1000, seed=11)
    # deterministic volatility: the policy (reading D_k along each path) retraces the stated path,
    # so the Monte Carlo only averages the price noise: 4 standard errors, nothing else
    assert np.allclose(mc.mean_holdings, dp.holdings, rtol=0, atol=1e-9 * p.asset.holdings)
    assert abs(mc.objective.value - dp.objective) <= 4.0 * mc.objective.se
    assert dp.cost_breakdown["transient"] > 0
    # a purchase is the mirror image (E, D and the trades change sign; the scaled problem is the same)
    buy = solve(spec(transient_exponent=0.6, initial_deviation=-0.05, holdings=-p.asset.holdings), "dp", **SMALL)
    assert buy.objective == pytest.approx(dp.objective, rel=1e-12)
    assert np.allclose(buy.holdings, -dp.holdings, rtol=0, atol=1e-9 * p.asset.holdings)


def test_delta_to_one_recovers_the_linear_answer_at_first_order():
    linear = solve(spec(), "dp").objective
    deltas = np.array([0.9, 0.97, 0.99, 0.999])
    results = [solve(spec(transient_exponent=float(d)), "dp", **SMALL) for d in deltas]
    gaps = np.array([abs(r.objective - linear) for r in results])
    errors = np.array([r.diagnostics["objective_error"] for r in results])
    assert np.all(np.diff(gaps) < 0)
    assert np.all(errors < 0.1 * gaps)  # the grids' errors cannot move the fitted slopes below
    # a smooth gap c1 (1 - delta) + c2 (1 - delta)^2 has log-log slope 1 + O(1 - delta): over
    # [0.9, 0.999] the fit sits at 0.92 (curvature), between 0.99 and 0.999 at 0.98
    slope = np.polyfit(np.log(1 - deltas), np.log(gaps), 1)[0]
    assert 0.85 <= slope <= 1.05, slope
    last = np.log(gaps[2] / gaps[3]) / np.log(10.0)
    assert 0.95 <= last <= 1.05, last


def test_optimal_cost_converges_in_the_number_of_slices():
    ns = np.array([4, 8, 16, 32])
    results = [solve(spec(slices=int(n), transient_exponent=0.6), "dp", **SMALL) for n in ns]
    objective = np.array([r.objective for r in results])
    diffs = np.abs(np.diff(objective))
    assert np.all(np.diff(diffs) < 0)
    assert max(r.diagnostics["objective_error"] for r in results) < 0.01 * diffs[-1]
    # discrete against continuous time is first order in tau (conventions page); at these N the
    # successive differences approach it from below: local orders 0.64, 0.83 (0.92 from 32 to
    # 64), fitted 0.73; the bounds admit that approach and refuse O(1) (order 0) or O(tau^2)
    local = np.log2(diffs[:-1] / diffs[1:])
    assert np.all(np.diff(local) > 0), local
    order = -np.polyfit(np.log(ns[1:]), np.log(diffs), 1)[0]
    assert 0.6 <= order <= 1.1, order


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=6), st.floats(0.2, 0.95), st.floats(0.01, 20.0),
       st.floats(0.1, 5.0))
def test_no_round_trip_has_negative_transient_cost(sizes, delta, resilience, horizon):
    """Any round trip (trades summing to zero; any sizes, spacing and resilience) pays a transient
    cost >= 0 under delta < 1, priced by solvers.costs: the book shape admits no price manipulation."""
    n = np.asarray(sizes) * 1e4
    n[-1] -= n.sum()
    p = load_example("liquidity-cascade").replace(slices=n.size, horizon=horizon).replace_asset(
        0, transient_exponent=delta, resilience=resilience)
    holdings = p.asset.holdings - np.concatenate([[0.0], np.cumsum(n)])
    cost = schedule_cost(p, holdings, check_endpoints=False)
    # rounding only: Phi's terms are at most kappa (2e4)^(1+delta) each, 2 per slice
    assert cost.transient >= -1e-13 * 12 * p.asset.transient_impact * 2e4 ** (1 + delta)


def test_reversal_is_refused_by_name_and_solved_one_way_with_no_reversal():
    # an initial deviation after earlier selling: buying into the depressed book pays
    p = spec(transient_exponent=0.7, initial_deviation=3.0)
    with pytest.raises(MethodNotApplicable, match="no_reversal"):
        solve(p, "dp", **SMALL)
    one_way = solve(p.replace(no_reversal=True), "dp", **SMALL)
    assert np.all(np.diff(one_way.holdings) <= 1e-9 * p.asset.holdings)


def test_refusals_and_settings():
    with pytest.raises(MethodNotApplicable, match="volatility_model"):
        solve(load_example("volatility-regimes").replace_asset(
            0, transient_impact=1e-6, resilience=5.0, transient_exponent=0.6), "dp")
    with pytest.raises(MethodNotApplicable, match="transient_exponent"):
        solve(spec(transient_exponent=0.6), "dp", recursion="exact")
    with pytest.raises(SpecError, match="settings.e_points"):
        solve(spec(transient_exponent=0.6), "dp", e_points=3)
    assert DPSettings.with_accuracy("high").e_points > DPSettings().e_points > DPSettings.with_accuracy("low").e_points
    note = estimate(spec(transient_exponent=0.6), DPSettings()).note
    assert "(x, E)" in note and "201 x 33" in note
