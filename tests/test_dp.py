"""Backward induction (method dp) against independent truths: the discrete closed form, a direct
solve of the static first-order conditions, CVXPY (qp) and scipy on the same discrete objective."""

from __future__ import annotations

import json
import numpy as np
import pytest
from scipy.optimize import minimize

from hjb.dp import DPSettings, solve
from hjb.dp import GridDPPolicy, LinearDPPolicy
from solvers import MethodNotApplicable, SpecError, VolatilityPath, closed_form, load_example, schedule_cost
from solvers.cli import main as cli_main
from solvers.methods import solve as solve_method
from solvers.policy import FeedbackPolicy


def _ac(slices: int = 5, **asset_changes):
    problem = load_example("almgren-chriss-2001").replace(slices=slices)
    return problem.replace_asset(0, **asset_changes) if asset_changes else problem


# ------------------------------------------------------------------ linear impact, exact recursion
@pytest.mark.parametrize("slices", [1, 2, 5, 50, 2000])
def test_one_state_linear_equals_discrete_closed_form(slices):
    # Both are exact: the recursion a_{k-1} = c d / (c + d) and AC 2001's sinh profile differ only
    # by rounding (products of N ratios: ~N eps relative, 4e-13 at N = 2000), hence 1e-12.
    problem = _ac(slices)
    dp, cf = solve(problem), closed_form.solve(problem)
    assert dp.method == "dp" and dp.time_model == "discrete" and dp.status == "optimal"
    assert dp.diagnostics["recursion"] == "exact"
    np.testing.assert_allclose(dp.holdings, cf.holdings, rtol=0, atol=1e-12 * abs(problem.asset.holdings))
    assert dp.objective == pytest.approx(cf.objective, rel=1e-12)
    assert dp.diagnostics["value_function_objective"] == pytest.approx(cf.objective, rel=1e-12)
    assert dp.expected_cost == pytest.approx(cf.expected_cost, rel=1e-12)


@pytest.mark.parametrize("changes", [dict(holdings=-4e5), dict(spread=0.0, permanent_impact=0.0)])
def test_buy_orders_and_no_constants_equal_closed_form(changes):
    problem = _ac(40, **changes)
    dp, cf = solve(problem), closed_form.solve(problem)
    np.testing.assert_allclose(dp.holdings, cf.holdings, rtol=0, atol=1e-12 * abs(problem.asset.holdings))
    assert dp.objective == pytest.approx(cf.objective, rel=1e-12)


def test_zero_and_negative_risk_aversion():
    twap = _ac(20).replace(risk_aversion=0.0)
    np.testing.assert_allclose(solve(twap).holdings, closed_form.solve(twap).holdings, atol=1e-12 * 1e6)
    seeking = _ac(20, spread=0.0).replace(risk_aversion=-2e-7, risk_seeking=True)  # inside the convex range
    np.testing.assert_allclose(solve(seeking).holdings, closed_form.solve(seeking).holdings, atol=1e-12 * 1e6)
    with pytest.raises(SpecError, match="risk_aversion"):
        solve(_ac(20, spread=0.0).replace(risk_aversion=-1e-3, risk_seeking=True))


def test_risk_seeking_with_no_reversal_falls_back_to_the_grid():
    # lam < 0 inside the convex range but beyond reversal: the unconstrained optimum buys (x_1 > X);
    # with no_reversal the grid must hold x_1 = X, checked by brute force over x_1 (N = 2).
    problem = _ac(2, spread=0.0).replace(risk_aversion=-6e-7, risk_seeking=True)
    assert solve(problem).holdings[1] > 1e6
    capped = problem.replace(no_reversal=True)
    dp = solve(capped, x_points=41, engine="numpy")
    assert dp.diagnostics["recursion"] == "grid"
    x1 = np.linspace(0.0, 1e6, 100001)
    costs = schedule_cost(capped, np.stack([np.full_like(x1, 1e6), x1, np.zeros_like(x1)], axis=1)).objective
    assert dp.holdings[1] == pytest.approx(x1[np.argmin(costs)], abs=1e-6)
    assert dp.objective == pytest.approx(costs.min(), rel=1e-12)


def _static_linear_optimum(problem):
    """Independent truth: the first-order conditions of the static problem with sigma_k,
    (2 eta_tilde / tau)(2 x_k - x_{k-1} - x_{k+1}) + 2 lam tau sigma_k^2 x_k = 0, k = 1..N-1."""
    n, tau, big_x = problem.slices, problem.tau, problem.asset.holdings
    c = problem.eta_tilde / tau
    s2 = problem.slice_variance()
    mat = np.zeros((n - 1, n - 1))
    rhs = np.zeros(n - 1)
    for i in range(n - 1):  # unknown x_{i+1}
        mat[i, i] = 2 * c + problem.risk_aversion * tau * s2[i]
        if i > 0:
            mat[i, i - 1] = -c
        if i < n - 2:
            mat[i, i + 1] = -c
    rhs[0] = c * big_x
    return np.concatenate([[big_x], np.linalg.solve(mat, rhs), [0.0]])


def test_deterministic_path_equals_the_static_optimum():
    # A deterministic sigma_k makes the dynamic problem the static one: same optimum.
    # Tolerance 1e-10 of X (the issue's): both sides are direct solves, rounding only.
    rng = np.random.default_rng(7)
    path = (0.95,) + tuple(np.round(0.95 * np.exp(0.4 * rng.standard_normal(59)), 6))
    problem = _ac(60).replace(volatility_model=VolatilityPath(path=path))
    dp = solve(problem)
    truth = _static_linear_optimum(problem)
    np.testing.assert_allclose(dp.holdings, truth, rtol=0, atol=1e-10 * 1e6)
    assert dp.objective == pytest.approx(schedule_cost(problem, truth).objective, rel=1e-12)
    qp = solve_method(problem, "qp")
    np.testing.assert_allclose(dp.holdings, qp.holdings, rtol=0, atol=1e-10 * 1e6)
    assert dp.objective == pytest.approx(qp.objective, rel=1e-10)


# ------------------------------------------------------------------ grid recursion
def test_grid_reproduces_linear_impact_to_rounding():
    # Cubic Hermite with envelope-theorem slopes is exact for V = a x^2 (+ spread * x), so even 11
    # points reproduce the exact recursion up to rounding and the bisection width (1e-16).
    problem = _ac(30)
    exact = solve(problem)
    grid = solve(problem, recursion="grid", x_points=11, engine="numpy")
    assert grid.diagnostics["recursion"] == "grid" and grid.diagnostics["max_bracket_width"] < 1e-15
    np.testing.assert_allclose(grid.holdings, exact.holdings, rtol=0, atol=1e-11 * 1e6)
    assert grid.diagnostics["value_function_objective"] == pytest.approx(exact.objective, rel=1e-12)


def _sqrt_capped(slices: int = 10):
    return load_example("square-root-impact").replace(slices=slices).replace_asset(0, max_slice_trade=1.3e5)


def _scipy_truth(problem):
    """The same discrete objective minimized directly by SLSQP over x_1..x_{N-1} (fractions of X):
    value from solvers.costs, analytic gradient (checked against finite differences here)."""
    a, n, tau = problem.asset, problem.slices, problem.tau
    big_x, beta = a.holdings, a.impact_exponent
    c0 = problem.horizon * a.temporary_impact * (big_x / problem.horizon) ** (1 + beta)
    cap = np.asarray(a.slice_caps(n)) / big_x

    def full(z):
        return np.concatenate([[1.0], z, [0.0]])

    def f(z):
        return schedule_cost(problem, big_x * full(z), check_endpoints=False).objective / c0

    def grad(z):
        q = full(z)
        nn = np.maximum(q[:-1] - q[1:], 0.0)
        dn = (tau * a.temporary_impact * (big_x / tau) ** (1 + beta) * (1 + beta) * nn**beta
              - a.permanent_impact * big_x**2 * nn + a.spread * big_x) / c0
        return dn[1:] - dn[:-1] + 2 * problem.risk_aversion * tau * problem.slice_variance()[1:] * big_x**2 * q[1:-1] / c0

    zr = np.sort(np.random.default_rng(3).uniform(0.05, 0.95, n - 1))[::-1]
    fd = [(f(zr + 1e-6 * e) - f(zr - 1e-6 * e)) / 2e-6 for e in np.eye(n - 1)]
    np.testing.assert_allclose(grad(zr), fd, atol=1e-7)
    d = np.zeros((n, n - 1))
    for k in range(n):
        if k > 0:
            d[k, k - 1] = 1.0
        if k < n - 1:
            d[k, k] = -1.0
    off = np.zeros(n)
    off[0] = 1.0
    cons = [dict(type="ineq", fun=lambda z: d @ z + off, jac=lambda z: d),
            dict(type="ineq", fun=lambda z: cap - off - d @ z, jac=lambda z: -d)]
    res = minimize(f, np.linspace(1, 0, n + 1)[1:-1], jac=grad, method="SLSQP", constraints=cons,
                   options=dict(ftol=1e-16, maxiter=2000))
    return big_x * full(res.x)


def test_graded_grid_resolves_square_root_impact():
    # W ~ q^(3/2) near q = 0 is not smooth in q; on q = U u^2 it is u^3 (cubic Hermite exact), so the
    # graded grid is far more accurate on few points: at M = 41 the uniform grid misses the qp
    # holdings by 7e-4 of X, the graded one by 3e-7 (measured; asserted with margin).
    problem = load_example("square-root-impact").replace(slices=20, no_reversal=True)
    truth = solve_method(problem, "qp").holdings
    graded = solve(problem, x_points=41, engine="numpy")
    uniform = solve(problem, x_points=41, engine="numpy", x_grid="uniform")
    assert graded.diagnostics["x_grid"].startswith("graded")
    err_graded = np.max(np.abs(graded.holdings - truth)) / 1e6
    err_uniform = np.max(np.abs(uniform.holdings - truth)) / 1e6
    assert err_graded < 2e-6 and err_uniform > 100 * err_graded


def test_power_law_with_caps_converges_to_the_static_optimum_at_a_fitted_order():
    problem = _sqrt_capped()
    truth = _scipy_truth(problem)
    qp = solve_method(problem, "qp")
    # two independent optimizers of the same objective: SLSQP stops near 1e-9 of X
    np.testing.assert_allclose(truth, qp.holdings, rtol=0, atol=1e-8 * 1e6)
    truth = qp.holdings
    points = [25, 49, 97, 193]
    errors, value_errors = [], []
    for m in points:
        r = solve(problem, x_points=m, engine="numpy")
        caps = problem.asset.slice_caps(problem.slices)
        assert np.all(r.trades <= caps * (1 + 1e-12)) and np.all(r.trades >= 0)
        errors.append(np.max(np.abs(r.holdings - truth)) / 1e6)
        value_errors.append(abs(r.diagnostics["value_function_objective"] / schedule_cost(problem, truth).objective - 1))
        if m == 49:  # the safeguarded-Newton option lands on the same minimizers (1e-10 of X)
            newton = solve(problem, x_points=m, engine="numpy", stage_minimizer="newton")
            np.testing.assert_allclose(newton.holdings, r.holdings, rtol=0, atol=1e-10 * 1e6)
    h = 1.0 / (np.array(points) - 1)
    order = np.polyfit(np.log(h), np.log(errors), 1)[0]
    # Hermite continuation with exact slopes: C' is O(h^3) where the value is smooth; the caps'
    # switching points and the sqrt impact at n -> 0 are not smooth, so ask for order > 2.5 (fit ~3.2).
    assert order > 2.5, (order, errors)
    assert errors[-1] < 5e-9
    assert value_errors[-1] < 1e-9 and value_errors[0] < 1e-4


def test_jax_scan_equals_the_numpy_loop():
    # Same formulas (hjb.dp.stage), different array backends and loop drivers: rounding only.
    problem = load_example("volatility-regimes").replace(no_reversal=True).replace_asset(
        0, impact_exponent=0.5, temporary_impact=1.1e-3)
    jx = solve(problem, x_points=41)
    npy = solve(problem, x_points=41, engine="numpy")
    assert jx.diagnostics["compile_seconds"] >= 0 and jx.diagnostics["run_seconds"] > 0
    np.testing.assert_allclose(jx.policy.tables, npy.policy.tables, rtol=1e-11, atol=1e-12)
    assert jx.objective == pytest.approx(npy.objective, rel=1e-12)


# ------------------------------------------------------------------ policy interface
def test_policies_follow_the_feedback_protocol_and_the_constraints():
    linear = solve(_ac(10))
    assert isinstance(linear.policy, LinearDPPolicy) and isinstance(linear.policy, FeedbackPolicy)
    x = linear.holdings[:-1]
    for k in range(1, 11):
        n = linear.policy.trade(k, np.array([x[k - 1]]), np.array([0.95]))
        assert n[0] == pytest.approx(linear.trades[k - 1], rel=1e-12)
    problem = _sqrt_capped()
    grid = solve(problem, x_points=49, engine="numpy")
    assert isinstance(grid.policy, GridDPPolicy) and isinstance(grid.policy, FeedbackPolicy)
    cap = problem.asset.slice_caps(problem.slices)
    holdings = np.linspace(0.0, 1e6, 37)  # off the path: caps and no-reversal still hold
    for k in range(1, problem.slices + 1):
        n = grid.policy.trade(k, holdings, np.full(37, 0.95))
        if k == problem.slices:
            np.testing.assert_array_equal(n, holdings)
        else:
            assert np.all(n >= 0) and np.all(n <= cap[k - 1] * (1 + 1e-12)) and np.all(n <= holdings + 1e-6)


# ------------------------------------------------------------------ errors and faces
def test_errors_name_the_parameter():
    with pytest.raises(SpecError, match=r"^settings.x_points = 2: must be >= 3"):
        solve(_ac(), x_points=2)
    with pytest.raises(SpecError, match=r"^settings.recursion = 'fast': must be one of"):
        solve(_ac(), recursion="fast")
    with pytest.raises(SpecError, match=r"^settings.stage_minimizer = 'brent': must be one of"):
        solve(_ac(), stage_minimizer="brent")
    with pytest.raises(SpecError, match=r"^settings.time_model = 'continuous': unknown setting of method dp"):
        solve(_ac(), time_model="continuous")
    with pytest.raises(SpecError, match=r"^settings.accuracy = 'ultra'"):
        DPSettings.with_accuracy("ultra")
    with pytest.raises(MethodNotApplicable, match="single asset"):
        solve(load_example("two-asset-basket"))
    with pytest.raises(MethodNotApplicable, match="impact_exponent = 0.5"):
        solve(_sqrt_capped(), recursion="exact")
    with pytest.raises(MethodNotApplicable, match="no_reversal"):  # the grid with drift (linear: exact recursion)
        solve(_ac(drift=0.01), engine="numpy", recursion="grid")
    # square-root impact without caps or no_reversal: round trips make the cost unbounded below
    # (gamma > lambda tau sigma^2 at N = 20); the grid would silently solve the monotone problem
    sqrt20 = load_example("square-root-impact").replace(slices=20, no_reversal=False)
    with pytest.raises(SpecError, match=r"assets\[0\]\.permanent_impact = 2.5e-07: round trips .*unbounded below"):
        solve(sqrt20, engine="numpy")
    with pytest.raises(MethodNotApplicable, match="round trips"):
        solve(sqrt20.replace_asset(0, max_slice_trade=1.3e5), engine="numpy")


def test_registry_and_cli_json(capsys):
    result = solve_method(load_example("capped-participation"), "dp", x_points=33, engine="numpy")
    assert result.method == "dp" and result.diagnostics["x_points"] == 33
    code = cli_main(["solve", "--example", "almgren-chriss-2001", "--method", "dp", "--json", "-", "--quiet"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "dp" and data["time_model"] == "discrete" and len(data["holdings"]) == 6
    cf = closed_form.solve(load_example("almgren-chriss-2001"))
    assert data["objective"] == pytest.approx(cf.objective, rel=1e-12)


def test_buy_order_with_participation_caps_and_square_root_impact_equals_qp():
    # Mirror of a sell: x in [X, 0] for X < 0; trades respect |n_k| <= caps. Both solvers are
    # accurate far below 1e-8 of |X| here (measured gap 1e-9 of |X| at 101 points).
    problem = load_example("capped-participation").replace_asset(0, holdings=-1e6, impact_exponent=0.5,
                                                                  temporary_impact=1.1e-3)
    dp, qp = solve(problem, x_points=101, engine="numpy"), solve_method(problem, "qp")
    np.testing.assert_allclose(dp.holdings, qp.holdings, rtol=0, atol=1e-8 * 1e6)
    assert dp.objective == pytest.approx(qp.objective, rel=1e-10)
    assert np.all(dp.trades <= 0) and np.all(-dp.trades <= problem.asset.slice_caps(problem.slices) * (1 + 1e-12))
