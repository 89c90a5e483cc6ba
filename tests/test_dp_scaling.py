"""Method dp at the edges: orders of any size are one scaled problem, an optimum that crosses zero
is refused with the fix, the memory estimate is checked before allocating, and the grid policy's
frozen path (one compiled forward scan) equals the numpy loop of the same minimizations."""

from __future__ import annotations

import numpy as np
import pytest

from hjb.dp import solve
from solvers import MethodNotApplicable, SpecError, load_example


@pytest.mark.parametrize("name", ["almgren-chriss-2001", "mean-reverting-volatility"])
def test_tiny_and_huge_linear_orders_are_the_scaled_problem_of_a_normal_one(name):
    # linear impact: the scaled problem does not depend on |X| at all (X^2 / c0 = T / eta)
    base = load_example(name)
    ref = solve(base)
    for size in (1e-200, 1e-100, 1e100):
        res = solve(base.replace_asset(0, holdings=size))
        assert res.status == "optimal"
        np.testing.assert_allclose(res.holdings / size, ref.holdings / 1e6, rtol=1e-10, atol=1e-13)
        assert np.isfinite(res.objective)
    # the currency scale: objective / X^2 is the same where c0 = eta X^2 / T is representable
    big = solve(base.replace_asset(0, holdings=1e100))
    parts = ref.objective - 0.0625 * 1e6  # the spread is linear in |X|
    assert (big.objective - 0.0625 * 1e100) / 1e200 == pytest.approx(parts / 1e12, rel=1e-9)


def test_square_root_orders_of_1e_200_and_1e_100_shares_sell_alike():
    # |X|^(1-beta) T^beta / eta is 1e-97 and 1e-47: risk is negligible in both, so both trade TWAP
    base = load_example("square-root-impact").replace(no_reversal=True)
    tiny = solve(base.replace_asset(0, holdings=1e-200))
    small = solve(base.replace_asset(0, holdings=1e-100))
    np.testing.assert_allclose(tiny.holdings / 1e-200, small.holdings / 1e-100, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tiny.holdings / 1e-200, np.linspace(1.0, 0.0, base.slices + 1), atol=1e-6)


def test_an_optimum_that_crosses_zero_is_refused_with_the_fix():
    # impact_exponent -> 0: the temporary cost is almost linear, the concave -1/2 gamma n^2 pays for
    # selling past zero and buying back; the grid (x in [0, X]) sold out in slice 1 and said optimal.
    # gamma = 2e-7 keeps the quadratic part positive definite (gamma (1 + cos(pi/N)) = 3.9e-7 < lambda
    # tau sigma^2 = 4.5e-7: no unbounded alternation), so the crossing check is what refuses it
    problem = load_example("square-root-impact").replace(no_reversal=False).replace_asset(
        0, impact_exponent=1e-30, permanent_impact=2.0e-7)
    with pytest.raises(MethodNotApplicable, match=r"crosses zero: slice 1 sells out.*set no_reversal = true"):
        solve(problem)
    assert solve(problem.replace(no_reversal=True)).status == "optimal"


def test_the_memory_estimate_is_checked_before_allocating(monkeypatch):
    monkeypatch.setenv("OPTEXEC_MEMORY_LIMIT", "1M")
    with pytest.raises(SpecError, match=r"^slices = 10: method dp needs about .* GiB \(estimate: dp: grid"):
        solve(load_example("square-root-impact").replace(no_reversal=True))


def test_compiled_frozen_path_equals_the_policy_loop():
    problem = load_example("volatility-regimes").replace(slices=40, no_reversal=True).replace_asset(
        0, impact_exponent=0.5, temporary_impact=1.1e-3)
    jx = solve(problem, x_points=41)
    npy = solve(problem, x_points=41, engine="numpy")
    np.testing.assert_allclose(jx.holdings, npy.holdings, rtol=1e-10, atol=1e-6)
    # and the loop over the compiled tables themselves (GridDPPolicy.next_fraction)
    q, path = np.ones(1), [1.0]
    chain = jx.policy.chain
    for k in range(1, problem.slices):
        q = jx.policy.next_fraction(k, q, np.array([chain.initial_state]), np.zeros(1),
                                    np.array([chain.levels[k - 1, chain.initial_state]]))
        path.append(float(q[0]))
    np.testing.assert_allclose(jx.holdings[:-1] / 1e6, path, rtol=1e-12, atol=1e-13)


def test_alternation_that_pays_without_bound_is_a_spec_error_naming_the_fix():
    """At gamma = 2.5e-7 the same spec is unbounded below (gamma (1 + cos(pi/10)) = 4.9e-7 > 4.5e-7)."""
    problem = load_example("square-root-impact").replace(no_reversal=False).replace_asset(0, impact_exponent=1e-30)
    with pytest.raises(SpecError, match=r"permanent_impact = 2.5e-07: round trips .*unbounded below.*no_reversal = true"):
        solve(problem)
