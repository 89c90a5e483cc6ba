"""Method hjb at the edges: an urgency ``kappa T`` beyond the grid is a SolverError naming the steps
it needs, a value that disagrees with its own moments is not called optimal, numerical failures are
never blamed on a setting, orders of any size are one scaled problem, memory is checked first."""

from __future__ import annotations

import numpy as np
import pytest

from hjb.pde import solve
from hjb.pde.method import MAX_KAPPA_DT, urgency
from hjb.pde.reduced import discretize
from hjb.pde.settings import HJBSettings
from solvers import SolverError, SpecError, load_example
from solvers.methods import solve as solve_method


def test_urgency_is_almgren_chriss_kappa_t_for_linear_impact():
    problem = load_example("almgren-chriss-2001")
    a = problem.asset
    kappa = np.sqrt(problem.risk_aversion * a.volatility**2 / a.temporary_impact)
    assert urgency(problem, discretize(problem, HJBSettings())) == pytest.approx(kappa * problem.horizon, rel=1e-12)


@pytest.mark.parametrize("name, changes", [
    ("square-root-impact", {"holdings": 1e100}),        # was optimal at 1.26e193 (the truth is ~1e163)
    ("mean-reverting-volatility", {"risk_aversion": 1e100}),  # was optimal at 2.0e12 against E + lambda V = 9e105
    ("square-root-impact", {"risk_aversion": 1e3}),     # was optimal at 1.13e12 against 7.5e11
])
def test_an_urgency_beyond_the_grid_is_a_solver_error_naming_what_it_needs(name, changes):
    problem = load_example(name)
    problem = problem.replace_asset(0, **changes) if "holdings" in changes else problem.replace(**changes)
    with pytest.raises(SolverError, match=r"status 'unresolved': the urgency kappa T = .* needs kappa dt <= "
                                          + f"{MAX_KAPPA_DT:g}"):
        solve(problem)


def test_a_value_apart_from_its_own_moments_is_not_optimal():
    # square-root impact at lambda = 0.01 (kappa T = 2000): was optimal with 3.38e7 against E + lambda V
    # = 3.01e7; resolved in time (4000 steps) the holdings grid still leaves a 5% gap
    problem = load_example("square-root-impact").replace(risk_aversion=0.01)
    res = solve(problem, time_steps=4000, extrapolate=False)
    assert res.status == "inaccurate" and "differ by" in res.message and "declared accuracy" in res.message
    assert res.diagnostics["moments_gap_relative"] > 5e-3
    with pytest.raises(SolverError, match="inaccurate"):
        solve_method(problem, "hjb", time_steps=4000, extrapolate=False)
    fine = solve(load_example("square-root-impact"))
    assert fine.status == "optimal" and abs(fine.diagnostics["moments_gap_relative"]) < 5e-3


@pytest.mark.parametrize("name", ["almgren-chriss-2001", "mean-reverting-volatility"])
def test_tiny_linear_orders_are_answered_like_normal_ones(name):
    # linear impact: the scaled HJB (c = lambda s^2 / eta) does not depend on |X|
    base = load_example(name)
    ref = solve(base, accuracy="low")
    tiny = solve(base.replace_asset(0, holdings=1e-200), accuracy="low")
    assert tiny.status == "optimal"
    np.testing.assert_allclose(tiny.holdings / 1e-200, ref.holdings / 1e6, rtol=1e-12, atol=1e-14)


def test_tiny_square_root_orders_trade_twap():
    # c = lambda s^2 |X|^(1/2) / eta is 1e-103 and 1e-53: no urgency, the optimum is TWAP for both
    base = load_example("square-root-impact")
    for size in (1e-200, 1e-100):
        res = solve(base.replace_asset(0, holdings=size), accuracy="low")
        assert res.status == "optimal"
        np.testing.assert_allclose(res.holdings / size, np.linspace(1.0, 0.0, base.slices + 1), atol=1e-6)


def test_a_horizon_no_grid_resolves_is_not_blamed_on_time_steps():
    problem = load_example("square-root-impact").replace(horizon=1e12, risk_aversion=0.0)
    with pytest.raises(SolverError, match=r"dt / dy = .* would need .* time steps"):
        solve(problem)


def test_the_memory_estimate_is_checked_before_allocating(monkeypatch):
    monkeypatch.setenv("OPTEXEC_MEMORY_LIMIT", "1M")
    with pytest.raises(SpecError, match=r"^slices = 10: method hjb needs about .* GiB \(estimate: hjb full"):
        solve(load_example("square-root-impact"))
