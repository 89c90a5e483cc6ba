"""The HJB's accuracy at its presets against independent references (benchmarks/hjb_references.py): Chebyshev
collocation in the volatility with an implicit Runge-Kutta in time (scipy Radau) for mean-reverting
volatility, Radau on the regime Riccati system, and the first integral of the Euler-Lagrange
equation (Almgren 2003) by quadrature for square-root impact."""

from __future__ import annotations

import math

import pytest

from benchmarks.hjb_references import almgren_2003, mean_reverting_reference, objective_from_urgency, regime_reference
from hjb.pde import solve
from solvers.spec import load_example
from solvers.volatility import MeanRevertingVolatility

#: accuracy claimed at each preset, relative to the objective
TOL = {"default": 1e-5, "high": 1e-7}


def _mean_reverting(p: float):
    base = load_example("mean-reverting-volatility")
    xi = 0.5 * 0.95 ** (1.0 - p)  # the same relative vol-of-vol at the mean
    return base.replace(volatility_model=MeanRevertingVolatility(2.0, 0.95, xi, p))


def test_the_references_reproduce_closed_forms():
    ac = load_example("almgren-chriss-2001")
    a = ac.asset
    kappa = a.volatility * math.sqrt(ac.risk_aversion / a.temporary_impact)
    exact = objective_from_urgency(ac, kappa / math.tanh(kappa * ac.horizon))
    assert almgren_2003(ac) == pytest.approx(exact, rel=1e-12)
    # vanishing vol-of-vol: the collocation reference is the constant-volatility closed form
    still = ac.replace(volatility_model=MeanRevertingVolatility(2.0, a.volatility, 1e-9, 1.0))
    assert mean_reverting_reference(still, n=16) == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_mean_reverting_objective_at_default_and_high(p):
    problem = _mean_reverting(p)
    for preset in ("default", "high"):
        res = solve(problem, accuracy=preset)
        truth = mean_reverting_reference(problem, (res.diagnostics["vol_min"], res.diagnostics["vol_max"]))
        assert res.diagnostics["moments"] == "policy"
        assert abs(res.objective / truth - 1) < TOL[preset], (preset, res.objective / truth - 1)
        repriced = res.expected_cost + problem.risk_aversion * res.variance
        assert abs(repriced / truth - 1) < TOL[preset], (preset, repriced / truth - 1)


def test_regimes_objective_at_default_and_high():
    problem = load_example("volatility-regimes")
    truth = regime_reference(problem)
    for preset in ("default", "high"):
        res = solve(problem, accuracy=preset)
        assert abs(res.objective / truth - 1) < TOL[preset], (preset, res.objective / truth - 1)
        repriced = res.expected_cost + problem.risk_aversion * res.variance
        assert abs(repriced / truth - 1) < TOL[preset]


def test_square_root_impact_objective_and_moments_at_default():
    problem = load_example("square-root-impact")
    truth = almgren_2003(problem)
    res = solve(problem)
    assert res.diagnostics["moments"] == "policy" and res.diagnostics["extrapolated"]
    assert abs(res.objective / truth - 1) < TOL["default"], res.objective / truth - 1
    repriced = res.expected_cost + problem.risk_aversion * res.variance
    assert abs(repriced / truth - 1) < TOL["default"], repriced / truth - 1
    # Richardson's companion grid: half the steps, every other holdings point (nested exactly)
    assert res.diagnostics["coarse_grid"] == {"time_steps": 1000, "vol_points": 128, "holdings_points": 129}
