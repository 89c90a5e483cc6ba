"""Volatility chains of the backward induction (hjb.dp.chain) against the models' exact laws."""

from __future__ import annotations

import numpy as np
import pytest

from hjb.dp.chain import mean_reverting_chain, moment_matched_row, volatility_chain
from solvers import ExecutionProblem, MeanRevertingVolatility, SpecError, VolatilityPath, load_example


def _mr_problem(slices: int, elasticity: float = 1.0, sigma0: float = 1.2, vol_of_vol: float = 0.5) -> ExecutionProblem:
    base = load_example("mean-reverting-volatility")
    model = MeanRevertingVolatility(reversion=2.0, mean=0.95, vol_of_vol=vol_of_vol, elasticity=elasticity)
    return base.replace(slices=slices, volatility_model=model).replace_asset(0, volatility=sigma0)


def test_regime_chain_is_the_model_and_reproduces_its_variance():
    problem = load_example("volatility-regimes")
    chain = volatility_chain(problem)
    model = problem.volatility_model
    np.testing.assert_array_equal(chain.transition, model.transition_matrix(problem.tau))
    np.testing.assert_array_equal(chain.levels[3], model.levels)
    assert chain.initial_state == model.initial_regime
    # P^k from the chain vs expm(Q t_k) from the model: same matrix exponential, rounding only
    np.testing.assert_allclose(chain.slice_variance(), problem.slice_variance(), rtol=1e-12)


def test_constant_path_and_deterministic_mean_chains():
    problem = load_example("almgren-chriss-2001")
    chain = volatility_chain(problem)
    assert chain.n_states == 1 and chain.method == "constant"
    np.testing.assert_array_equal(chain.levels[:, 0], problem.asset.volatility)
    path = [0.95, 1.1, 0.8, 0.9, 1.3]
    chain = volatility_chain(problem.replace(volatility_model=VolatilityPath(path=tuple(path))))
    np.testing.assert_array_equal(chain.levels[:, 0], path)
    det = _mr_problem(12, vol_of_vol=0.0)
    chain = volatility_chain(det)
    assert chain.method == "deterministic-mean"
    # xi = 0: sigma(t) is deterministic, its square is the exact E[sigma^2]
    np.testing.assert_allclose(chain.slice_variance(), det.slice_variance(), rtol=1e-13)


@pytest.mark.parametrize("elasticity,states", [(0.0, 21), (0.5, 31), (1.0, 41)])
def test_moment_matched_chain_has_the_exact_first_two_moments(elasticity, states):
    # Rows match the exact conditional moments, which are affine in (sigma, sigma^2); the tower
    # rule then makes the chain's E[sigma_k], E[sigma_k^2] exact at every slice: rounding only
    # (1e-12 relative over 20 steps of products of O(1) stochastic matrices).
    problem = _mr_problem(20, elasticity=elasticity)
    chain = volatility_chain(problem, vol_states=states)
    assert chain.method == "moment-matched"
    assert chain.diagnostics["resolution_fallback_rows"] == [] and chain.diagnostics["clamped_rows"] == []
    assert np.all(chain.transition >= 0)
    np.testing.assert_allclose(chain.transition.sum(axis=1), 1.0, rtol=1e-14)
    assert chain.nodes[chain.initial_state] == problem.asset.volatility
    m1, m2 = chain.moments()
    e1, e2 = problem.volatility_model.moments(problem.asset.volatility, problem.times[:-1])
    np.testing.assert_allclose(m1, e1, rtol=1e-12)
    np.testing.assert_allclose(m2, e2, rtol=1e-12)
    np.testing.assert_allclose(chain.slice_variance(), problem.slice_variance(), rtol=1e-12)


def test_unresolved_rows_are_reported_and_keep_the_mean():
    # Small tau and p = 1: near sigma = 0 the conditional variance (xi^2 sigma^2 tau) falls below the
    # grid's resolution d (h - d); those rows fall back to two nodes (exact mean, larger variance).
    problem = _mr_problem(200, elasticity=1.0)
    chain = volatility_chain(problem, vol_states=15)
    rows = chain.diagnostics["resolution_fallback_rows"]
    assert rows and max(rows) < chain.n_states // 2  # the low-volatility tail, not the bulk
    m1, m2 = chain.moments()
    e1, e2 = problem.volatility_model.moments(problem.asset.volatility, problem.times[:-1])
    np.testing.assert_allclose(m1, e1, rtol=1e-12)  # the mean stays exact (every row matches it)
    assert np.max(np.abs(m2 / e2 - 1)) < 1e-3  # the tail rows carry little mass


def test_moment_matched_row_cases():
    nodes = np.linspace(0.0, 2.0, 11)  # h = 0.2
    row, status = moment_matched_row(nodes, 0.93, 0.93**2 + 0.05)
    assert status == "matched"
    assert abs(row @ nodes - 0.93) < 1e-13 and abs(row @ nodes**2 - (0.93**2 + 0.05)) < 1e-13
    # variance 0.001 < d (h - d) = 0.13 * 0.07: not representable; two-point row with the exact mean
    row, status = moment_matched_row(nodes, 0.93, 0.93**2 + 0.001)
    assert status == "resolution" and np.count_nonzero(row) == 2 and abs(row @ nodes - 0.93) < 1e-15
    row, status = moment_matched_row(nodes, 2.5, 6.3)
    assert status == "clamped" and row[-1] == 1.0


def test_chain_settings_errors_name_the_parameter():
    problem = _mr_problem(10)
    with pytest.raises(SpecError, match=r"vol_states = 2: must be an integer >= 3"):
        volatility_chain(problem, vol_states=2)
    with pytest.raises(SpecError, match=r"vol_width = -1.0: must be a finite number > 0"):
        mean_reverting_chain(problem.volatility_model, 1.2, 5.0, 10, width=-1.0)
