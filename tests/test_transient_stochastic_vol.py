"""Transient impact (exponential kernel, delta = 1) under stochastic volatility: dp's exact (x, D)
recursion per chain state, hjb's coupled Riccati system, and the simulator's deviation-aware
feedback loop (with the final unfilled block's transient cost)."""

from __future__ import annotations

import numpy as np
import pytest

from solvers import load_example, solve
from solvers.methods import estimate_resources
from solvers.schedules import twap
from solvers.simulation import simulate
from solvers.transient import transient_model
from solvers.volatility import MeanRevertingVolatility, RegimeVolatility


def _spec(slices=20, **asset):
    changes = {"temporary_impact": 1e-6, "permanent_impact": 1e-6, "initial_deviation": 0.1, **asset}
    return load_example("liquidity-cascade").replace_asset(0, **changes).replace(risk_aversion=1e-4, slices=slices)


def _regimes(p, levels=(0.4, 1.2)):
    return p.replace(volatility_model=RegimeVolatility(levels=levels, generator=((-1.0, 1.0), (2.0, -2.0)),
                                                       initial_regime=0))


def _mean_reverting(p):
    return p.replace_asset(0, volatility=0.6).replace(
        volatility_model=MeanRevertingVolatility(reversion=2.0, mean=0.4, vol_of_vol=0.8, elasticity=1.0))


# ---------------------------------------------------------------------------- dp
def test_dp_with_equal_regime_levels_is_the_deterministic_recursion():
    """Two regimes at one level are the constant-volatility problem: the same recursion, so the
    same answer to rounding (1e-12 relative: float64 sums of ~20 terms)."""
    p = _spec()
    det, reg = solve(p, "dp"), solve(_regimes(p, (0.4, 0.4)), "dp")
    for key in ("objective", "expected_cost", "variance"):
        assert abs(getattr(reg, key) - getattr(det, key)) <= 1e-12 * abs(getattr(det, key)), key
    for key, value in det.cost_breakdown.items():
        assert abs(reg.cost_breakdown[key] - value) <= 1e-12 * abs(det.objective), key
    assert np.max(np.abs(reg.holdings - det.holdings)) <= 1e-12 * p.asset.holdings


def test_dp_regimes_stated_moments_are_its_policys_by_monte_carlo():
    """The forward pass prices the policy exactly: its objective is the value function's to rounding,
    and Monte Carlo of the policy (deviation and regime read along each path) agrees within 4 SE."""
    p = _regimes(_spec())
    dp = solve(p, "dp")
    assert dp.status == "optimal" and dp.policy.uses_deviation
    assert abs(dp.diagnostics["objective_gap"]) <= 1e-10 * dp.objective
    mc = simulate(p, dp.policy, paths=20_000, seed=11, antithetic=True)
    assert abs(mc.objective.value - dp.objective) <= 4.0 * mc.objective.se, (mc.objective, dp.objective)
    # the stochastic regime costs more than staying calm
    assert dp.objective > solve(_spec(), "dp").objective


def test_dp_mean_reverting_policy_by_monte_carlo_within_the_chain_error():
    """On the true mean-reverting model the policy blends the chain's gains between nodes: Monte
    Carlo agrees with the stated objective within 4 SE plus the stated chain error."""
    p = _mean_reverting(_spec())
    dp = solve(p, "dp")
    assert dp.diagnostics["chain_method"] == "moment-matched" and dp.diagnostics["objective_error"] > 0
    mc = simulate(p, dp.policy, paths=20_000, seed=5, antithetic=True)
    slack = 4.0 * mc.objective.se + dp.diagnostics["objective_error"]
    assert abs(mc.objective.value - dp.objective) <= slack, (mc.objective, dp.objective, slack)


# ---------------------------------------------------------------------------- hjb
def test_hjb_with_one_regime_is_todays_transient_answer():
    """One regime (and two at one level) run the coupled system with a single level: it equals the
    deterministic Hamiltonian flow within its stated error; holdings to the frozen path's order-2
    stepping (2e-4 of X at 200 steps: observed 2e-5)."""
    p = _spec()
    det = solve(p, "hjb")
    for model in (RegimeVolatility(levels=(0.4,), generator=((0.0,),)), _regimes(p, (0.4, 0.4)).volatility_model):
        h = solve(p.replace(volatility_model=model), "hjb", time_steps=200)
        assert h.status == "optimal" and h.diagnostics["formulation"] == "transient-riccati-coupled"
        assert abs(h.objective - det.objective) <= h.diagnostics["error_estimate"] + 1e-10 * det.objective
        assert abs(h.variance - det.variance) <= 1e-8 * det.variance
        assert np.max(np.abs(h.holdings - det.holdings)) <= 2e-4 * p.asset.holdings


def test_hjb_regimes_converges_at_order_three_in_time_with_consistent_moments():
    """RK4 from the singular start: successive differences of the unextrapolated value fall by 2^3
    (fitted order within 0.3 of 3); the policy's moments reproduce the value (Feynman-Kac) to 1e-9."""
    p = _regimes(_spec())
    runs = [solve(p, "hjb", time_steps=n) for n in (200, 400, 800)]
    grid = [r.diagnostics["value_function_grid"] for r in runs] + [runs[0].diagnostics["value_function_coarse"]]
    d = [grid[3] - grid[0], grid[0] - grid[1], grid[1] - grid[2]]
    orders = [np.log2(d[i] / d[i + 1]) for i in range(2)]
    assert all(abs(o - 3.0) <= 0.3 for o in orders), orders
    assert abs(runs[1].objective - runs[2].objective) <= runs[1].diagnostics["error_estimate"]
    assert runs[2].diagnostics["moments_gap_relative"] <= 1e-9


def test_hjb_regimes_is_the_limit_of_dp_at_first_order():
    """dp at N = 25..200 (fixed T) approaches hjb at first order (fitted slope -1 +- 0.15); dp's
    two-step Richardson values then approach hjb at second order, so the last one is within the last
    correction |R(200) - R(100)| (the remainder is about a third of it)."""
    p = _regimes(_spec())
    hjb = solve(p, "hjb", time_steps=400)
    ns = np.array([25, 50, 100, 200])
    v = np.array([solve(p.replace(slices=int(n)), "dp").objective for n in ns])
    slope = np.polyfit(np.log(ns), np.log(np.abs(v - hjb.objective)), 1)[0]
    assert abs(slope + 1.0) <= 0.15, slope
    rich = 2.0 * v[1:] - v[:-1]
    assert abs(rich[-1] - hjb.objective) <= abs(rich[-1] - rich[-2]), (rich, hjb.objective)


def test_hjb_mean_reverting_agrees_with_dp_as_both_refine():
    """Mean-reverting volatility: hjb on 16 and 24 vol points (second order in ds) and dp on
    growing chains and N: dp's three-level Richardson value lies within the hjb's grid change plus
    dp's last second-order correction (both the errors' sizes)."""
    p = _mean_reverting(_spec())
    coarse, fine = (solve(p, "hjb", time_steps=200, vol_points=m) for m in (16, 24))
    v = np.array([solve(p.replace(slices=n), "dp", vol_states=s).objective for n, s in ((50, 21), (100, 31),
                                                                                       (200, 41))])
    r = 2.0 * v[1:] - v[:-1]
    limit = r[1] + (r[1] - r[0]) / 3.0
    tol = abs(fine.objective - coarse.objective) + abs(r[1] - r[0]) / 3.0
    assert abs(limit - fine.objective) <= tol, (limit, fine.objective, tol)


def _stiff_spec():
    """The mean-reverting example with transient impact: a stiff volatility generator at the default
    128 points (exit rates ~ vol_points^2), solved by Strang splitting."""
    return load_example("mean-reverting-volatility").replace_asset(0, transient_impact=1e-6, resilience=5.0)


def test_hjb_mean_reverting_splitting_converges_at_order_two_in_time():
    """Strang splitting (the generator's exact flow around RK4 per state): successive differences of
    the unextrapolated value fall by 2^2 (fitted order within 0.1 of 2: observed 2.0008 and 2.0002
    at 32 points); the extrapolated values move by less than the stated time error."""
    p = _stiff_spec()
    runs = [solve(p, "hjb", vol_points=32, time_steps=n) for n in (200, 400, 800)]
    assert all(r.diagnostics["scheme"] == "strang" and r.diagnostics["order_time"] == 2 for r in runs)
    grid = [r.diagnostics["value_function_grid"] for r in runs] + [runs[0].diagnostics["value_function_coarse"]]
    d = [grid[3] - grid[0], grid[0] - grid[1], grid[1] - grid[2]]
    orders = [np.log2(d[i] / d[i + 1]) for i in range(2)]
    assert all(abs(o - 2.0) <= 0.1 for o in orders), orders
    assert abs(runs[1].objective - runs[2].objective) <= runs[1].diagnostics["time_error"]
    assert runs[2].diagnostics["moments_gap_relative"] <= 1e-9


def test_hjb_mean_reverting_default_grid_is_within_its_error_of_a_fine_reference():
    """The default solve (128 points) against 256 points extrapolated in ``ds`` at second order: the
    difference lies within the default's error estimate (time plus the change on half the points; observed
    1.14 against 1.50), and the reference's own grid error is smaller than the default's."""
    p = _stiff_spec()
    default, fine = solve(p, "hjb"), solve(p, "hjb", vol_points=256)
    assert default.diagnostics["error_covers"] == "time and volatility grid"
    ratio = default.diagnostics["vol_grid_error"] / fine.diagnostics["vol_grid_error"]
    assert ratio > 2.0, ratio
    r = default.diagnostics["vol_grid_ds"] / fine.diagnostics["vol_grid_ds"]  # ~ 2
    reference = fine.objective + (fine.objective - default.objective) / (r**2 - 1.0)
    assert abs(default.objective - reference) <= default.diagnostics["error_estimate"], (default.objective, reference)
    # the resource estimate sizes this schedule: fine steps x states, then the coarse run beside the grid of half the points
    assert "hjb transient (strang): steps x states = 2000 x 128, then 1000 x 192" in estimate_resources(p, "hjb").note


# ---------------------------------------------------------------------------- simulator
@pytest.mark.parametrize("kernel", [
    {}, {"transient_kernel": "power_law", "resilience": 0.0, "kernel_exponent": 0.4, "kernel_timescale": 0.05},
    {"transient_exponent": 0.6}], ids=["exponential", "power-law", "delta-0.6"])
def test_final_unfilled_block_pays_its_transient_cost(kernel):
    """A participation cap leaves a deterministic remainder, sold at t_N: the transient part of the
    simulated cost (with minus without the kernel, same paths) is the exact transient cost of the
    executed trades plus the block at t_N (solvers.transient), to rounding."""
    p = _spec(slices=10).replace_asset(0, market_volume=[2e5] * 10, fill_participation=0.04, **kernel)
    bare = p.replace_asset(0, transient_impact=0.0, initial_deviation=0.0)
    holdings = twap(p)
    with_kernel, without = (simulate(q, holdings, paths=64, seed=2) for q in (p, bare))
    executed = np.minimum(-np.diff(holdings), 0.04 * 2e5)
    block = p.asset.holdings - executed.sum()
    assert block > 0 and np.allclose(with_kernel.remainder, block)
    times = np.r_[p.trade_times, p.trade_times[-1] + p.tau]
    exact = transient_model(p.asset).cost(np.r_[executed, block], times)
    assert np.allclose(with_kernel.cost - without.cost, exact, rtol=1e-9, atol=0.0)
