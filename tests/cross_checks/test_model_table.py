"""The chain of cross-checks of the conventions page, one parametrized case per row.

Hold this module against the table "The chain of cross-checks" in solvers/docs/conventions.md.
Every method is called through the registry (:func:`solvers.solve`); a method missing from the
registry fails here (``SpecError: unknown method``), it is never skipped. Tolerances:

* exact against exact: ``1e-9`` relative in the objective and in ``max |dx| / |X|`` (both are
  float64 solves of the same linear-quadratic problem; observed agreement is 1e-13 or better);
* a grid method against an exact one: the grid method's declared accuracy
  (``method_info(m).accuracy``), the figure ``validate`` holds it to;
* Monte Carlo: 4 standard errors plus the method's declared accuracy.

Deeper convergence tests of each row (fitted orders, refinement in N) live beside each method's
own tests; this module is the one place a reader can check that every row is exercised.
"""

from __future__ import annotations

import numpy as np
import pytest

from solvers import load_example, solve
from solvers.costs import schedule_cost
from solvers.methods import method_info
from solvers.schedules import twap
from solvers.simulation import simulate
from solvers.volatility import RegimeVolatility

EXACT = 1e-9


def _agree_exactly(a, b):
    x = np.max(np.abs(np.asarray(a.problem.initial_holdings)))
    assert abs(a.objective - b.objective) <= EXACT * abs(b.objective), (a.method, b.method, a.objective, b.objective)
    gap = np.max(np.abs(np.asarray(a.holdings) - np.asarray(b.holdings))) / x
    assert gap <= EXACT, (a.method, b.method, gap)


def _agree_within_accuracy(grid, exact):
    acc = method_info(grid.method).accuracy
    x = np.max(np.abs(np.asarray(exact.problem.initial_holdings)))
    tol = grid.diagnostics.get("objective_error", acc.objective_rtol * abs(exact.objective))
    assert abs(grid.objective - exact.objective) <= tol, (grid.method, grid.objective, exact.objective, tol)
    gap = np.max(np.abs(np.asarray(grid.holdings) - np.asarray(exact.holdings))) / x
    assert gap <= acc.holdings_rtol, (grid.method, gap, acc.holdings_rtol)


def _priced_by_monte_carlo(result, paths=40_000, seed=7):
    strategy = result.policy if result.policy is not None else result.holdings
    mc = simulate(result.problem, strategy, paths=paths, seed=seed, antithetic=True)
    acc = method_info(result.method).accuracy
    slack = 4.0 * mc.objective.se + acc.objective_rtol * abs(result.objective)
    assert abs(mc.objective.value - result.objective) <= slack, (result.method, mc.objective, result.objective, slack)


def row_constant_sigma_linear_impact():
    """closed form = qp = dp exactly; hjb = the continuous closed form (its N -> infinity limit)."""
    p = load_example("almgren-chriss-2001").replace(slices=40)
    cf = solve(p, "closed-form")
    _agree_exactly(solve(p, "qp"), cf)
    _agree_exactly(solve(p, "dp"), cf)
    hjb = solve(p, "hjb")
    cont = solve(p, "closed-form", time_model="continuous")
    assert abs(hjb.objective - cont.objective) <= method_info("hjb").accuracy.objective_rtol * cont.objective


def row_deterministic_sigma_path():
    """A deterministic volatility path: dp's exact recursion = qp."""
    p = load_example("almgren-chriss-2001").replace(slices=12, volatility_model={
        "kind": "path", "path": [0.95 * (1.0 + 0.5 * np.sin(k / 2.0)) for k in range(12)]})
    _agree_exactly(solve(p, "dp"), solve(p, "qp"))


def row_time_varying():
    """Per-slice eta and spread, a closure and a terminal penalty: the exact linear-quadratic
    closed form = qp = dp's exact recursion (the dense KKT solve is in tests/test_time_varying.py);
    its Monte Carlo within 4 standard errors; under regimes, dp's stated moments = Monte Carlo."""
    n = 12
    p = load_example("almgren-chriss-2001").replace(
        slices=n, closures=[{"after_slice": 5, "duration": 0.7}], terminal_penalty=1e-6).replace_asset(
        0, temporary_impact=[2.5e-6 * (1.0 + 0.3 * np.cos(k / 2.0)) for k in range(n)],
        spread=[0.0625 * (1.0 + 0.05 * np.sin(k)) for k in range(n)])
    cf = solve(p, "closed-form")
    _agree_exactly(cf, solve(p, "qp"))
    _agree_exactly(solve(p, "dp"), cf)
    _priced_by_monte_carlo(cf)
    regimes = load_example("volatility-regimes").replace(slices=n, terminal_penalty=1e-6).replace_asset(
        0, temporary_impact=[2.5e-6 * (1.0 + 0.3 * np.cos(k / 2.0)) for k in range(n)])
    _priced_by_monte_carlo(solve(regimes, "dp"))


def row_terminal_penalty_continuous():
    """A soft finish in continuous time: Cartea-Jaimungal's closed form = hjb (RK4 on smooth
    unknowns, order 4: 1e-14 measured), exactly; with alpha - gamma/2 > 0 and < 0, and with the
    spread, whose one-way cost epsilon (X - x_T) rewards the remainder (the closed form's shift
    c sinh(kappa t) / kappa; hjb's linear term B)."""
    for alpha, spread in ((1e-6, 0.0), (0.0, 0.0), (1e-6, 0.0625), (1e-5, 0.5)):
        p = load_example("almgren-chriss-2001").replace(terminal_penalty=alpha).replace_asset(0, spread=spread)
        cj = solve(p, "closed-form", time_model="continuous")
        _agree_exactly(solve(p, "hjb"), cj)
        assert cj.diagnostics["quadrature_gap"] <= 1e-12


def row_drift():
    """Drift (AC 2001 with mu = 0.1): the closed form = qp = dp's exact recursion; dp's grid (with
    no-reversal) = qp within its declared accuracy; hjb as N -> infinity: the discrete optimum
    approaches it at first order (fitted slope within 0.1 of 1; Richardson of N = 20, 40 within
    0.2% of hjb, the size of the second-order rest measured at 0.13%)."""
    p = load_example("almgren-chriss-2001").replace(slices=10).replace_asset(0, drift=0.1)
    cf = solve(p, "closed-form")
    _agree_exactly(solve(p, "qp"), cf)
    _agree_exactly(solve(p, "dp"), cf)
    one_way = p.replace(no_reversal=True)
    _agree_within_accuracy(solve(one_way, "dp", recursion="grid"), solve(one_way, "qp"))
    h = solve(p, "hjb").objective
    slices = np.array([10, 20, 40])
    gaps = np.array([solve(p.replace(slices=int(n)), "dp").objective - h for n in slices])
    slope = np.polyfit(np.log(slices), np.log(np.abs(gaps)), 1)[0]
    assert abs(slope + 1.0) <= 0.1, slope
    assert abs(2 * gaps[-1] - gaps[-2]) <= 2e-3 * h


def row_nonlinear_impact_constant_sigma():
    """Square-root impact: qp = dp (grid) within dp's declared accuracy."""
    p = load_example("square-root-impact")
    _agree_within_accuracy(solve(p, "dp"), solve(p, "qp"))


def row_per_slice_caps():
    """Slice and participation caps: qp = dp with the same bounds (dp's exact or grid accuracy)."""
    p = load_example("capped-participation")
    _agree_within_accuracy(solve(p, "dp"), solve(p, "qp"))


def row_basket_linear_impact():
    """A correlated basket: the multi-asset closed form = qp exactly."""
    p = load_example("two-asset-basket")
    _agree_exactly(solve(p, "qp"), solve(p, "closed-form"))


def row_stochastic_sigma():
    """Regimes: dp's policy, priced by Monte Carlo, matches its stated objective; hjb = dp as the
    slices refine: dp at N = 40, 80, 160 extrapolated twice (Richardson for an O(tau) gap, then
    O(tau^2)) lands on hjb's continuous value. The residual after two steps is O(tau^3): about
    |R2 - R1| / 21 = 2e-5 relative here, so 1e-4 holds the pair with room and fails a 0.1% error."""
    p = load_example("volatility-regimes")
    dp = [solve(p.replace(slices=n), "dp") for n in (40, 80, 160)]
    _priced_by_monte_carlo(dp[0])
    v = [r.objective for r in dp]
    r1, r2 = 2 * v[1] - v[0], 2 * v[2] - v[1]
    limit = r2 + (r2 - r1) / 3.0
    hjb = solve(p, "hjb")
    assert abs(hjb.objective - limit) <= 1e-4 * limit, (hjb.objective, limit)


def row_any_schedule():
    """Any static schedule: costs.py's E + lambda V = Monte Carlo within 4 standard errors."""
    p = load_example("almgren-chriss-2001").replace(slices=20)
    holdings = twap(p)
    mc = simulate(p, holdings, paths=40_000, seed=3, antithetic=True)
    assert mc.objective.contains(float(schedule_cost(p, holdings).objective), z=4.0)


def _transient_spec(**changes):
    p = load_example("liquidity-cascade")
    return p.replace_asset(0, **changes) if changes else p


def row_transient_exponential():
    """Pure Obizhaeva-Wang: closed form = qp = dp (exact); with eta, gamma, lambda, drift and D_1:
    qp = dp (exact); dp's feedback policy priced by Monte Carlo."""
    p = _transient_spec()
    cf = solve(p, "closed-form")
    _agree_exactly(solve(p, "qp"), cf)
    _agree_exactly(solve(p, "dp"), cf)
    q = _transient_spec(temporary_impact=1e-7, permanent_impact=2e-6, drift=0.05, initial_deviation=0.2).replace(
        risk_aversion=1e-5)
    dp = solve(q, "dp")
    _agree_exactly(solve(q, "qp"), dp)
    _priced_by_monte_carlo(dp)


def row_transient_afs():
    """delta < 1 (dp on the (x, E) grid): its stated objective is the Monte Carlo cost of its
    feedback policy (deterministic volatility: only the price noise is averaged, 4 standard errors);
    delta -> 1 recovers the linear case, first order in 1 - delta."""
    base = _transient_spec(temporary_impact=1e-7).replace(slices=10, risk_aversion=1e-5)
    grid = {"x_points": 11, "e_points": 9}
    afs = solve(base.replace_asset(0, transient_exponent=0.6, initial_deviation=0.05), "dp", **grid)
    assert afs.diagnostics["recursion"] == "grid-transient"
    mc = simulate(afs.problem, afs.policy, paths=1000, seed=5)
    assert abs(mc.objective.value - afs.objective) <= 4.0 * mc.objective.se, (mc.objective, afs.objective)
    linear = solve(base, "dp")
    near = [solve(base.replace_asset(0, transient_exponent=d), "dp", x_points=21, e_points=17)
            for d in (0.99, 0.999)]
    gaps = [abs(r.objective - linear.objective) for r in near]
    # each grid's stated error is below 1% of its gap; a first-order gap shrinks tenfold with 1 -
    # delta, up to its O(1 - delta) curvature (about 4% here): 10 +- 1.5
    assert all(r.diagnostics["objective_error"] < 0.01 * g for r, g in zip(near, gaps))
    assert 8.5 <= gaps[0] / gaps[1] <= 11.5, gaps


def row_transient_power_law():
    """A power-law kernel: qp = a dense KKT solve of 1/2 n'(K + diag(2 eta / tau)) n on sum n = X."""
    p = _transient_spec(temporary_impact=1e-7, transient_kernel="power_law", resilience=0.0, kernel_exponent=0.4,
                        kernel_timescale=0.05)
    qp = solve(p, "qp")
    a, n, tau = p.asset, p.slices, p.tau
    s = p.trade_times
    hess = a.transient_impact * (1 + np.abs(s[:, None] - s[None, :]) / 0.05) ** -0.4 + np.eye(n) * 2 * a.temporary_impact / tau
    kkt = np.block([[hess, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    trades = np.linalg.solve(kkt, np.r_[np.zeros(n), a.holdings])[:n]
    assert np.max(np.abs(qp.trades - trades)) / a.holdings <= EXACT


def row_transient_stochastic_sigma():
    """Transient impact under volatility regimes: dp's exact (x, D) recursion per regime, priced by
    Monte Carlo of its feedback policy; hjb's coupled Riccati system as the limit of dp as N grows
    (dp's Richardson value within its last correction, the second-order remainder's size)."""
    p = _transient_spec(temporary_impact=1e-6, permanent_impact=1e-6, initial_deviation=0.1).replace(
        risk_aversion=1e-4, slices=25,
        volatility_model=RegimeVolatility(levels=(0.4, 1.2), generator=((-1.0, 1.0), (2.0, -2.0))))
    dp = [solve(p.replace(slices=n), "dp") for n in (25, 50, 100)]
    _priced_by_monte_carlo(dp[0], paths=20_000)
    hjb = solve(p, "hjb", time_steps=400)
    v = [r.objective for r in dp]
    r1, r2 = 2 * v[1] - v[0], 2 * v[2] - v[1]
    assert abs(r2 - hjb.objective) <= abs(r2 - r1), (r1, r2, hjb.objective)


ROWS = {
    "constant sigma, linear impact": row_constant_sigma_linear_impact,
    "deterministic sigma path": row_deterministic_sigma_path,
    "drift": row_drift,
    "time-varying eta and spread, closures, terminal penalty": row_time_varying,
    "terminal penalty, continuous": row_terminal_penalty_continuous,
    "nonlinear impact, constant sigma": row_nonlinear_impact_constant_sigma,
    "per-slice caps": row_per_slice_caps,
    "basket, linear impact": row_basket_linear_impact,
    "stochastic sigma": row_stochastic_sigma,
    "any schedule or policy": row_any_schedule,
    "transient, exponential kernel": row_transient_exponential,
    "transient, power-law kernel": row_transient_power_law,
    "transient with stochastic sigma": row_transient_stochastic_sigma,
    "transient, delta < 1": row_transient_afs,
}


@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_conventions_row(row):
    ROWS[row]()


def test_every_row_of_the_conventions_table_has_a_case():
    """The table in the conventions page and this module list the same rows."""
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "solvers" / "docs" / "conventions.md").read_text(encoding="utf-8")
    table = page.split("## The chain of cross-checks", 1)[1]
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [r for r in rows if r != "case"]
    assert rows, "the conventions page has no cross-check table"
    for case in rows:
        assert any(case.startswith(name) or name.startswith(case) for name in ROWS), f"no test case for row {case!r}"
