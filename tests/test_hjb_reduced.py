"""Reduced HJB (linear impact): against the continuous AC closed form, an independent scipy
solve of the Riccati ODEs, the deterministic-path limit, and its own fitted orders."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hjb.pde.reduced import generator_rows, solve_mean_reverting_batch, solve_reduced, volatility_grid
from hjb.pde.reference import reduced_pde_numpy
from hjb.pde import HJBSettings
from solvers import closed_form
from solvers.spec import load_example
from solvers.volatility import MeanRevertingVolatility, RegimeVolatility


def _value(problem, sol) -> float:
    a = problem.asset
    return a.temporary_impact * a.holdings**2 * sol.value_coefficient


def _exact_constant(problem) -> float:
    """X^2 sqrt(eta lambda) sigma coth(kappa T) (the conventions page)."""
    a = problem.asset
    kappa = a.volatility * math.sqrt(problem.risk_aversion / a.temporary_impact)
    return a.holdings**2 * math.sqrt(a.temporary_impact * problem.risk_aversion) * a.volatility / math.tanh(
        kappa * problem.horizon)


def _slope(h, err) -> float:
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


def test_constant_volatility_converges_to_ac_continuous_at_fitted_order_four():
    problem = load_example("almgren-chriss-2001")
    exact = _exact_constant(problem)
    steps = np.array([10, 20, 40, 80])
    errors = [abs(_value(problem, solve_reduced(problem, HJBSettings(time_steps=int(n)))) / exact - 1)
              for n in steps]
    order = _slope(problem.horizon / steps, errors)
    # classical RK4 on the smooth q = eta/A: order 4 (observed 4.1-4.3 on these grids)
    assert 3.6 < order < 4.6, (order, errors)
    # the default grid reproduces AC 2001's continuous target 1,696,984.9 (incl. 1/2 gamma X^2 and spread)
    from hjb.pde import solve

    result = solve(problem)
    assert result.objective == pytest.approx(1_696_984.9, abs=0.05)
    assert result.objective == pytest.approx(closed_form.solve(problem, time_model="continuous").objective, rel=1e-12)


def test_frozen_path_equals_the_continuous_closed_form_path_and_costs():
    from hjb.pde import solve

    problem = load_example("almgren-chriss-2001").replace(slices=10)
    result = solve(problem)
    cf = closed_form.solve(problem, time_model="continuous")
    # G_k by trapezoid on 2000 steps: O(dt^2) ~ 1e-7 relative on the path
    np.testing.assert_allclose(result.holdings, cf.holdings, rtol=0, atol=1e-6 * 1e6)
    assert result.expected_cost == pytest.approx(cf.expected_cost, rel=1e-6)
    assert result.variance == pytest.approx(cf.variance, rel=1e-6)
    assert result.diagnostics["frozen_path_objective"] == pytest.approx(result.objective, rel=1e-6)
    # the policy, applied slice by slice from X with sigma frozen, reproduces the path
    x = np.array([problem.asset.holdings])
    for k in range(1, problem.slices + 1):
        x = x - result.policy.trade(k, x, np.array([0.95]))
        assert x[0] == pytest.approx(cf.holdings[k], abs=1.0)
    assert x[0] == 0.0


def test_regimes_with_equal_levels_reproduce_constant_volatility():
    base = load_example("almgren-chriss-2001")
    regimes = base.replace(volatility_model=RegimeVolatility(levels=(0.95, 0.95), generator=((-3.0, 3.0), (1.0, -1.0))))
    settings = HJBSettings(time_steps=400)
    a = solve_reduced(regimes, settings).a_start
    ref = solve_reduced(base, settings).value_coefficient
    np.testing.assert_allclose(a, ref, rtol=1e-13)


def _riccati_ivp_d_form(levels, generator, lam_over_eta, horizon):
    """Independent solve: a = 1/theta + d, d' = c - 2 d/theta - d^2 + Q d (time to go), Radau from
    theta0 = 1e-7 with the series d = c theta0 / 3 + Q c theta0^2 / 12 (a different unknown and
    a different integrator from the solver's RK4 on q = 1/a)."""
    c = lam_over_eta * np.asarray(levels) ** 2
    q = np.asarray(generator)
    theta0 = 1e-7
    d0 = c * theta0 / 3 + (q @ (c / 3)) * theta0**2 / 4

    def rhs(theta, d):
        return c - 2 * d / theta - d**2 + q @ d

    sol = solve_ivp(rhs, (theta0, horizon), d0, method="Radau", rtol=1e-12, atol=1e-15)
    assert sol.success
    return 1.0 / horizon + sol.y[:, -1]


def test_two_regime_chain_agrees_with_scipy_solve_ivp_to_1e_8():
    problem = load_example("volatility-regimes")
    model = problem.volatility_model
    eta = problem.asset.temporary_impact
    ref = _riccati_ivp_d_form(model.levels, model.generator_array, problem.risk_aversion / eta, problem.horizon)
    got = solve_reduced(problem, HJBSettings(time_steps=2000)).a_start
    # RK4 with dt = 2.5e-3: truncation ~1e-12; 1e-8 is the bar
    np.testing.assert_allclose(got, ref, rtol=1e-8)


def _mean_reverting(xi: float, p: float = 1.0):
    base = load_example("mean-reverting-volatility")
    return base.replace(volatility_model=MeanRevertingVolatility(reversion=2.0, mean=0.95, vol_of_vol=xi, elasticity=p))


def test_mean_reverting_fitted_orders_in_time_and_in_volatility():
    problem = _mean_reverting(0.5)
    # time: self-convergence (successive differences) on four grids at a fixed s grid
    steps = [100, 200, 400, 800]
    vals = [solve_reduced(problem, HJBSettings(time_steps=n, vol_points=33)).value_coefficient for n in steps]
    diffs = np.abs(np.diff(vals))
    order_t = _slope(np.array(steps[:-1], dtype=float) ** -1, diffs)
    assert 0.85 < order_t < 1.15, (order_t, diffs)  # backward Euler: order 1
    # volatility: upwind drift is first order (central diffusion is second): order 1
    points = [17, 33, 65, 129]
    vals = [solve_reduced(problem, HJBSettings(time_steps=200, vol_points=n, s_drift="upwind")).value_coefficient
            for n in points]
    diffs = np.abs(np.diff(vals))
    order_s = _slope(1.0 / (np.array(points[:-1]) - 1.0), diffs)
    assert 0.8 < order_s < 1.3, (order_s, diffs)
    # central drift (the default): second order (observed 3.0 on these grids: the few upwinded
    # tail rows, |mu| ds > b, carry almost no mass)
    vals = [solve_reduced(problem, HJBSettings(time_steps=200, vol_points=n)).value_coefficient for n in points]
    diffs = np.abs(np.diff(vals))
    order_s = _slope(1.0 / (np.array(points[:-1]) - 1.0), diffs)
    assert order_s > 1.8, (order_s, diffs)


def test_mean_reverting_with_vanishing_vol_of_vol_tends_to_the_deterministic_path():
    problem = _mean_reverting(1e-6)
    a = problem.asset
    kappa, theta_bar, s0 = 2.0, 0.95, a.volatility
    lam_eta = problem.risk_aversion / a.temporary_impact
    horizon = problem.horizon

    def sigma(t):
        return theta_bar + (s0 - theta_bar) * math.exp(-kappa * t)

    # independent: q = 1/a in time to go with the deterministic sigma(T - theta), DOP853
    ref = solve_ivp(lambda th, q: 1 - lam_eta * sigma(horizon - th) ** 2 * q**2, (0, horizon), [0.0],
                    method="DOP853", rtol=1e-13, atol=1e-16)
    exact = 1.0 / ref.y[0, -1]
    errors = []
    for n in (33, 65, 129):
        got = solve_reduced(problem, HJBSettings(time_steps=200, vol_points=n, vol_bounds=(0.9, 1.25))).value_coefficient
        errors.append(abs(got / exact - 1))
    # pure advection along the deterministic path: the upwind error (O(ds)) shrinks with ds down
    # to the time error (backward Euler, dt = 0.025: ~3e-4 relative, the size of the 100 -> 200
    # step difference in the time-order test)
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[-1] < 5e-4, errors


def test_jax_scheme_matches_numpy_reference_and_batch_matches_single_solves():
    problem = _mean_reverting(0.5)
    settings = HJBSettings(time_steps=200, vol_points=33)
    sol = solve_reduced(problem, settings)
    grid = volatility_grid(problem, settings)
    a = problem.asset
    c = problem.risk_aversion * grid.s**2 / a.temporary_impact
    h = problem.horizon / settings.steps_for(problem.slices)[0]
    d = reduced_pde_numpy(c, grid.lower, grid.diagonal, grid.upper, h, settings.steps_for(problem.slices)[0])
    np.testing.assert_allclose(sol.a_start, 1.0 / problem.horizon + d, rtol=1e-12)
    xis = [0.2, 0.5]
    batch = solve_mean_reverting_batch(problem, xis, settings)
    widest = volatility_grid(problem, settings, model=problem.volatility_model)  # xi = 0.5 is the widest
    for xi, got in zip(xis, batch["value_coefficient"]):
        model = MeanRevertingVolatility(2.0, 0.95, xi, 1.0)
        rows = generator_rows(model, widest.s)
        d = reduced_pde_numpy(c, *rows[:3], h, settings.steps_for(problem.slices)[0])
        assert got == pytest.approx(1.0 / problem.horizon + d[widest.start_index], rel=1e-12)
    # more vol-of-vol, more expected risk from a start above the mean: the value increases
    assert batch["value_coefficient"][1] > batch["value_coefficient"][0]


def test_boundary_rows_do_not_reach_the_value_when_the_grid_covers_the_mass():
    """The stated boundary condition (diffusion dropped, drift upwinded inward) is an
    approximation at the ends; with the default coverage its effect on A(0, sigma_0) must be
    below the discretization error: extending the grid by 32 nodes at the same spacing (same
    nodes, same sigma_0 node) moves the value by < 1e-4 relative (measured 1.1e-5; the
    first-order grid error of this 33-point grid is ~3e-3)."""
    problem = _mean_reverting(0.5)
    settings = HJBSettings(time_steps=200, vol_points=33)
    grid = volatility_grid(problem, settings)
    base = solve_reduced(problem, settings).value_coefficient
    wider = HJBSettings(time_steps=200, vol_points=33 + 32,
                        vol_bounds=(float(grid.s[0]), float(grid.s[-1] + 32 * grid.ds)))
    wide_grid = volatility_grid(problem, wider)
    np.testing.assert_allclose(wide_grid.s[:33], grid.s, rtol=1e-13)
    assert solve_reduced(problem, wider).value_coefficient == pytest.approx(base, rel=1e-4)
