"""Stochastic volatility: the continuous-time HJB against the discrete backward induction
(method ``dp``) as the slices refine. The DP is exact in time for its N slices
and converges to the continuous problem at O(tau); two Richardson levels on N, 2N, 4N remove
that, so the comparison is of the two continuous limits."""

from __future__ import annotations

import pytest

from solvers.methods import solve
from solvers.simulation import simulate
from solvers.spec import load_example


def _dp_continuous(problem, slices):
    vals = [solve(problem.replace(slices=n), "dp").raise_for_status().objective for n in slices]
    r1 = [2 * vals[1] - vals[0], 2 * vals[2] - vals[1]]
    return (4 * r1[1] - r1[0]) / 3


def test_two_regime_chain_hjb_equals_the_continuous_limit_of_backward_induction():
    problem = load_example("volatility-regimes")
    hjb = solve(problem, "hjb").objective  # RK4 on the coupled Riccati system: exact to ~1e-12
    dp = _dp_continuous(problem, (80, 160, 320))
    # measured 1.5e-6 (the O(tau^3) remainder of the extrapolation at N = 80..320)
    assert hjb == pytest.approx(dp, rel=1e-5)


def test_mean_reverting_hjb_converges_to_the_continuous_limit_of_backward_induction():
    problem = load_example("mean-reverting-volatility")
    dp = _dp_continuous(problem, (40, 80, 160))
    grids = ((33, 1000), (65, 2000), (129, 4000))  # ds and dt halved together
    values = [solve(problem, "hjb", vol_points=ns, time_steps=nt, s_drift="upwind", extrapolate=False).objective
              for ns, nt in grids]  # the first-order scheme
    errors = [v - dp for v in values]
    # first order in (ds, dt) from above: each refinement halves the error (measured 2.03, 2.03)
    assert all(e > 0 for e in errors), errors
    assert 1.8 < errors[0] / errors[1] < 2.2 and 1.8 < errors[1] / errors[2] < 2.2, errors
    # extrapolated HJB vs extrapolated DP (15-state chain): measured 1.7e-5
    assert 2 * values[2] - values[1] == pytest.approx(dp, rel=5e-5)


@pytest.mark.parametrize("name", ["volatility-regimes", "mean-reverting-volatility"])
def test_hjb_feedback_policy_in_the_simulator_is_as_good_as_the_dp_policy(name):
    problem = load_example(name).replace(slices=80)
    hjb = solve(problem, "hjb", accuracy="low")
    dp = solve(problem, "dp")
    # common random numbers: the same volatility and price paths for both policies
    a = simulate(problem, hjb, paths=10_000, seed=3)
    b = simulate(problem, dp, paths=10_000, seed=3)
    gap = (a.cost + a.risk) - (b.cost + b.risk)
    mean, se = gap.mean(), gap.std() / gap.size**0.5
    # the DP policy is optimal for these 80 slices: the continuous-time HJB policy applied slice by
    # slice cannot beat it beyond noise, and loses only O(tau^2) (measured: 6e-5 of the objective)
    assert mean > -3 * se, (mean, se)
    assert mean < 3e-4 * dp.objective, (mean, se)
