"""Backward induction under stochastic volatility: a brute-force scenario tree, the grid against the
exact recursion, and the continuous-time HJB as tau -> 0."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hjb.dp import solve
from solvers import RegimeVolatility, load_example


def _regime_problem(slices: int):
    return load_example("volatility-regimes").replace(slices=slices)


def _scenario_tree(problem):
    """Independent truth for regimes + linear impact: every regime history is a node with its own
    holdings; E[sum eta_tilde/tau n_k^2 + lam tau sigma_k^2 x_k^2] is a weighted least-squares
    problem in all node holdings at once (no recursion). Returns (min value, E[sum n^2] eta_tilde/tau,
    E[sum tau sigma^2 x^2], frozen path), currency, for X = 1 then scaled by X^2."""
    model: RegimeVolatility = problem.volatility_model
    n, tau, lam = problem.slices, problem.tau, problem.risk_aversion
    c = problem.eta_tilde / tau
    p = model.transition_matrix(tau)
    levels = np.asarray(model.levels)
    histories = [h for k in range(1, n) for h in itertools.product(range(len(levels)), repeat=k)
                 if h[0] == model.initial_regime]
    index = {h: i for i, h in enumerate(histories)}

    def prob(h):
        return float(np.prod([p[a, b] for a, b in zip(h[:-1], h[1:])]))

    rows, target, kinds = [], [], []
    for h in histories:  # x at t_k after regimes r_1..r_k (k = len(h)); slice k's trade and risk
        w = prob(h)
        row = np.zeros(len(histories))
        row[index[h]] = -np.sqrt(c * w)
        parent = h[:-1]
        if parent:
            row[index[parent]] = np.sqrt(c * w)
            target.append(0.0)
        else:
            target.append(-np.sqrt(c * w))  # x_0 = X = 1
        rows.append(row)
        kinds.append("trade")
        risk = np.zeros(len(histories))
        risk[index[h]] = np.sqrt(tau * levels[h[-1]] ** 2 * w)
        rows.append(np.sqrt(lam) * risk)
        target.append(0.0)
        kinds.append("risk")
        if len(h) == n - 1:  # the last slice sells the rest: n_N = x_{N-1}
            last = np.zeros(len(histories))
            last[index[h]] = np.sqrt(c * w)
            rows.append(last)
            target.append(0.0)
            kinds.append("trade")
    a, b = np.array(rows), np.array(target)
    z = np.linalg.lstsq(a, b, rcond=None)[0]
    res = (a @ z - b) ** 2
    kinds = np.array(kinds)
    big_x2 = problem.asset.holdings ** 2
    frozen = [1.0] + [z[index[(model.initial_regime,) * k]] for k in range(1, n)] + [0.0]
    return (res.sum() * big_x2, res[kinds == "trade"].sum() * big_x2,
            res[kinds == "risk"].sum() / lam * big_x2, problem.asset.holdings * np.array(frozen))


def test_regime_recursion_equals_the_scenario_tree():
    # Both are exact linear algebra (tree: 63 node holdings by least squares): 1e-10 relative.
    problem = _regime_problem(7)
    dp = solve(problem)
    value, trade_cost, risk, frozen = _scenario_tree(problem)
    consts = 0.5 * problem.asset.permanent_impact * 1e12 + problem.asset.spread * 1e6
    assert dp.diagnostics["value_function_objective"] - consts == pytest.approx(value, rel=1e-10)
    assert dp.objective == pytest.approx(dp.diagnostics["value_function_objective"], rel=1e-12)
    assert dp.variance == pytest.approx(risk, rel=1e-10)
    assert dp.expected_cost - consts == pytest.approx(trade_cost, rel=1e-10)
    np.testing.assert_allclose(dp.holdings, frozen, rtol=0, atol=1e-9 * 1e6)


def test_grid_equals_exact_recursion_under_regimes_and_mean_reversion():
    # Linear impact: the Hermite tables are exact for quadratics, the chain-rule cost/risk tables
    # too, so the grid agrees with the exact recursion to rounding (1e-12) for the value, E and V.
    for problem in (_regime_problem(20), load_example("mean-reverting-volatility")):
        exact = solve(problem, vol_states=9)
        grid = solve(problem, vol_states=9, recursion="grid", x_points=21, engine="numpy")
        assert grid.diagnostics["vol_states"] == exact.diagnostics["vol_states"] > 1
        assert grid.diagnostics["value_function_objective"] == pytest.approx(exact.objective, rel=1e-12)
        assert grid.expected_cost == pytest.approx(exact.expected_cost, rel=1e-11)
        assert grid.variance == pytest.approx(exact.variance, rel=1e-11)
        np.testing.assert_allclose(grid.holdings, exact.holdings, rtol=0, atol=1e-10 * 1e6)


def test_policy_off_the_chain_nodes_interpolates_and_reacts_to_volatility():
    problem = load_example("mean-reverting-volatility")
    dp = solve(problem, vol_states=21)
    policy, nodes = dp.policy, dp.policy.chain.nodes
    x = np.full(3, 6e5)
    k = 5
    at_nodes = policy.trade(k, x[:2], nodes[8:10])
    mid = policy.trade(k, x[:1], np.array([0.5 * (nodes[8] + nodes[9])]))
    assert at_nodes[0] < mid[0] < at_nodes[1]  # more volatility, faster selling
    sig = np.array([0.6, 1.0, 1.6])
    trades = policy.trade(k, x, sig)
    assert np.all(np.diff(trades) > 0) and np.all(trades > 0) and np.all(trades < x)


def test_dp_approaches_the_hjb_at_first_order_in_tau():
    # The DP is exact in time, the HJB is the tau -> 0 limit: the gap is C tau + o(tau). With 41
    # chain states the chain's own error is far below the gap, so log|gap| against log tau has slope
    # ~1 (measured 0.98); the Richardson extrapolation 2 gap(2N) - gap(N) is the remaining error,
    # within the HJB's own accuracy (its medium and high presets differ by 3e-4 of the value).
    from hjb.pde import solve as solve_hjb

    base = load_example("mean-reverting-volatility")
    hjb = solve_hjb(base, accuracy="high")
    slices = np.array([10, 20, 40, 80, 160])
    gaps = np.array([solve(base.replace(slices=int(n)), vol_states=41).objective - hjb.objective for n in slices])
    order = np.polyfit(np.log(base.horizon / slices), np.log(np.abs(gaps)), 1)[0]
    assert 0.9 < order < 1.1, (order, gaps)
    assert abs(2 * gaps[-1] - gaps[-2]) < 1e-3 * hjb.objective


def test_square_root_impact_under_regimes_converges_at_fourth_order_on_the_graded_grid():
    # Self-convergence (no closed form exists): successive differences of the value as M doubles.
    # Cubic Hermite with exact slopes is O(h^4) for smooth values; on the graded grid the
    # q^(3/2) singularity is smooth in u, so the fitted order is ~4 (measured 4.1-4.4); ask > 3.
    problem = load_example("volatility-regimes").replace(no_reversal=True).replace_asset(
        0, impact_exponent=0.5, temporary_impact=1.1e-3)
    points = np.array([21, 41, 81, 161])
    values = np.array([solve(problem, x_points=int(m), engine="numpy").objective for m in points])
    diffs = np.abs(np.diff(values))
    order = np.polyfit(np.log(1.0 / (points[1:] - 1)), np.log(diffs), 1)[0]
    assert order > 3.0, (order, values)
    assert diffs[-1] < 1e-8 * values[-1]
