"""Closures under stochastic volatility (the conventions page, "Time-varying markets"): the
volatility runs on calendar time across a closure (slice k+1's state is read when the market
closes after slice k, so the step to slice k+2 spans d + tau), the closure is charged
d sigma_{k+1}^2 x_k^2 (dp: its expectation given slice k's state), and dp, qp and the simulator
agree on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

import solvers
from hjb.dp.chain import volatility_chain
from solvers.costs import schedule_cost
from solvers.simulation import simulate
from solvers.spec import load_example

N = 10
#: one long closure on the model's volatility early on (far from the stationary law), one with its own
CLOSURES = [{"after_slice": 2, "duration": 2.0}, {"after_slice": 6, "duration": 0.5, "volatility": 1.5}]


def regimes():
    # slow switching: the regime seen at the close persists through the closure, so its conditional
    # variance differs from the unconditional one (dp must charge the former), and calendar time
    # moves E[sigma^2] visibly (0.5 vs 2.5 time units to the next slice)
    return load_example("volatility-regimes").replace(slices=N, closures=CLOSURES, volatility_model={
        "kind": "regimes", "levels": [0.6, 1.8], "generator": [[-0.3, 0.3], [0.6, -0.6]]})


def mean_reverting():
    # elasticity 1/2: the simulator draws sigma exactly (noncentral chi-square), so a gap to dp is
    # the chain's own discretization, not the simulator's scheme
    return load_example("mean-reverting-volatility").replace(slices=N, closures=CLOSURES, volatility_model={
        "kind": "mean_reverting", "reversion": 2.0, "mean": 0.95, "vol_of_vol": 0.5, "elasticity": 0.5})


def test_volatility_is_read_on_calendar_time():
    p = regimes()
    tau = p.tau
    # u_k = t_{k-1} + the closures before it, except the one right after slice k-1
    k = np.arange(1, N + 1)
    want = tau * (k - 1) + np.where(k >= 4, 2.0, 0.0) + np.where(k >= 8, 0.5, 0.0)
    np.testing.assert_allclose(p.volatility_times, want, rtol=1e-15)
    steps = np.full(N - 1, tau)
    steps[2], steps[6] = tau + 2.0, tau + 0.5  # slice 3 -> 4 and slice 7 -> 8
    np.testing.assert_array_equal(p.volatility_steps, steps)
    # E[sigma_k^2] at those times; a closure's default variance is slice k+1's
    expected = p.volatility_model.expected_variance(p.asset.volatility, want)
    np.testing.assert_allclose(p.slice_variance(), expected, rtol=1e-13)
    assert p.closure_variance(p.closures[0]) == p.slice_variance()[2]


def test_the_chain_steps_over_tau_plus_d_across_a_closure():
    p = regimes()
    q = p.volatility_model.generator_array
    chain = volatility_chain(p)
    assert chain.transitions.shape == (N - 1, 2, 2)
    for k in range(1, N):  # slice k -> k+1
        dt = p.tau + {3: 2.0, 7: 0.5}.get(k, 0.0)
        np.testing.assert_allclose(chain.step(k), expm(q * dt), rtol=0, atol=1e-14)
    # the chain's moments are the model's on calendar time (exact for regimes; moment-matched rows)
    np.testing.assert_allclose(chain.slice_variance(), p.slice_variance(), rtol=1e-12)
    mr = mean_reverting()
    np.testing.assert_allclose(volatility_chain(mr, vol_states=9).slice_variance(), mr.slice_variance(), rtol=1e-10)
    # no closure: the time-homogeneous fast path
    assert volatility_chain(p.replace(closures=[])).transitions is None


def test_equal_regime_levels_with_closures_are_the_constant_answer():
    # two regimes at the same level: the switching is invisible, so dp must give the deterministic
    # answer (one state) to rounding, through the per-step transitions and the closure risk
    rng = np.random.default_rng(2)
    base = load_example("almgren-chriss-2001").replace(slices=N, closures=CLOSURES, terminal_penalty=1e-6)
    base = base.replace_asset(0, temporary_impact=tuple(2.5e-6 * rng.uniform(0.5, 2.0, N)), drift=0.01)
    flat = base.replace(volatility_model={"kind": "regimes", "levels": [0.95, 0.95],
                                          "generator": [[-0.5, 0.5], [2.0, -2.0]]})
    ref, got = solvers.solve(base, "dp"), solvers.solve(flat, "dp")
    assert got.diagnostics["vol_states"] == 2 and ref.diagnostics["vol_states"] == 1
    for key in ("objective", "expected_cost", "variance"):  # exact recursions: rounding only
        assert getattr(got, key) == pytest.approx(getattr(ref, key), rel=1e-12), key
    np.testing.assert_allclose(got.holdings, ref.holdings, rtol=0, atol=1e-12 * 1e6)


def _within_four_se(sim, result, problem):
    lam = problem.risk_aversion
    assert abs(sim.mean.value - result.expected_cost) <= 4 * sim.mean.se
    assert abs(sim.risk_term.value - lam * result.variance) <= 4 * sim.risk_term.se
    assert abs(sim.objective.value - result.objective) <= 4 * sim.objective.se


def test_dp_under_regimes_with_closures_matches_the_monte_carlo_of_its_policy():
    p = regimes()
    r = solvers.solve(p, "dp")
    assert abs(r.diagnostics["objective_gap"]) <= 1e-10 * r.objective  # value = forward moments
    # antithetic pairs share the volatility path: a sharp check on E and on the closure's risk
    sim = simulate(p, r, paths=20_000, seed=0, antithetic=True)
    _within_four_se(sim, r, p)


def test_dp_under_mean_reversion_with_closures_matches_the_monte_carlo_of_its_policy():
    p = mean_reverting()
    r = solvers.solve(p, "dp", vol_states=9)
    assert r.diagnostics["chain"]["calendar_steps"] == [p.tau, p.tau + 0.5, p.tau + 2.0]
    # the chain matches the model's first two conditional moments per step; at 9 states the policy's
    # interpolation error is far below the Monte Carlo error of 20k antithetic paths (0.05 %)
    sim = simulate(p, r, paths=20_000, seed=0, antithetic=True)
    _within_four_se(sim, r, p)


@pytest.mark.parametrize("make", [regimes, mean_reverting])
def test_qp_static_optimum_on_expected_variance_matches_monte_carlo(make):
    p = make()
    r = solvers.solve(p, "qp")
    assert "static optimum on E[sigma_k^2]" in r.diagnostics["volatility"]
    # the same schedule problem written with deterministic numbers: E[sigma_k^2] per slice and each
    # closure's E[sigma_{k+1}^2] (or its own sigma_c) made explicit; exact solves agree to 1e-9
    det = p.replace(volatility_model={"kind": "path", "path": list(np.sqrt(p.slice_variance()))},
                    closures=[{**c.to_dict(), "volatility": float(np.sqrt(p.closure_variance(c)))} for c in p.closures])
    cf = solvers.solve(det, "closed-form")
    assert abs(r.objective - cf.objective) <= 1e-9 * abs(cf.objective)
    assert np.max(np.abs(r.holdings - cf.holdings)) / abs(p.asset.holdings) <= 1e-9
    # a static schedule's cost variance is E[sum tau sigma_k^2 x_k^2 + d sigma_c^2 x_k^2] exactly,
    # so E, Var[C] and the risk term of costs.py hold within 4 SE of the simulation
    stated = schedule_cost(p, r.holdings)
    sim = simulate(p, r.holdings, paths=40_000, seed=1)
    assert abs(sim.mean.value - stated.expected_cost) <= 4 * sim.mean.se
    assert abs(sim.variance.value - stated.variance) <= 4 * sim.variance.se
    assert abs(sim.risk_term.value - p.risk_aversion * stated.variance) <= 4 * sim.risk_term.se


@pytest.mark.parametrize("model", [
    {"kind": "regimes", "levels": [0.6, 1.8], "generator": [[-0.5, 0.5], [2.0, -2.0]]},
    {"kind": "mean_reverting", "reversion": 2.0, "mean": 0.95, "vol_of_vol": 0.5, "elasticity": 1.0},
])
def test_uniform_steps_draw_what_the_default_draws(model):
    # without closures the simulator passes no steps: the same scheme and the same random stream
    sigma0 = 0.6 if model["kind"] == "regimes" else 0.95
    vm = load_example("almgren-chriss-2001").replace_asset(0, volatility=sigma0).replace(
        volatility_model=model).volatility_model
    draws = [vm.sample(np.random.default_rng(7), 500, N, 0.5, sigma0, 4, steps)
             for steps in (None, np.full(N - 1, 0.5))]
    np.testing.assert_array_equal(draws[0][0], draws[1][0])


def test_hjb_is_the_limit_of_dp_with_a_closure_under_regimes():
    """The two time models share the closure's convention (the volatility in force at t_k held
    through it, the regimes running on over its duration): dp on the same calendar model with
    N = 40, 80, 160 slices approaches hjb at first order (fitted slope within 0.1 of -1), and
    Richardson of the last two lands within 5e-4 of hjb (measured 1.6e-4, the second-order rest)."""
    base = load_example("volatility-regimes")
    gaps, hjb_value = [], None
    for n in (40, 80, 160):
        p = base.replace(slices=n, closures=[{"after_slice": n // 2, "duration": 0.5}])
        if hjb_value is None:
            hjb_value = solvers.solve(p, "hjb").objective
        gaps.append(solvers.solve(p, "dp").objective - hjb_value)
    slope = np.polyfit(np.log([40, 80, 160]), np.log(np.abs(gaps)), 1)[0]
    assert abs(slope + 1.0) <= 0.1, slope
    assert abs(2 * gaps[-1] - gaps[-2]) <= 5e-4 * hjb_value
