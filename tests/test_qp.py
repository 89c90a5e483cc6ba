"""The ``qp`` method against independent truths: the closed form (single asset and baskets),
dense numpy solves of the unscaled linear-quadratic problem, an independent scipy solve of
the power-law objective, finite differences of the optimal objective for cap duals.

Tolerances: the target is 1e-8 relative agreement. The scaled interior-point answer is
already within ~1e-11 here (raw KKT residuals 1e-12 at N = 10,000) and the Newton polish
takes it to rounding (1e-13 .. 1e-16), so 1e-8 has three orders of margin without being
loose enough to hide a wrong convention (a wrong sign or a missing 1/2 changes holdings by
O(1e-2) or more). Holdings are compared relative to |X| (they run down to 0); costs relative
to the cost itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize as so
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers import closed_form, load_example, schedule_cost
from solvers.methods import solve as solve_method
from solvers.errors import InfeasibleSpecError, MethodNotApplicable, SolverError, SpecError
from solvers.qp import clear_cache, convexity_certificate, convexity_thresholds, kkt_residual, scale_problem, solve
from solvers.spec import Asset, ExecutionProblem
from solvers.volatility import VolatilityPath

AC = load_example("almgren-chriss-2001")


def _rel_holdings(a, b, problem) -> float:
    x = np.abs(problem.initial_holdings)
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)).reshape(problem.slices + 1, -1) / x))


# --------------------------------------------------------------------------- linear vs closed form
@pytest.mark.parametrize("slices", [5, 390, 2000, 10000])
def test_linear_equals_closed_form(slices):
    problem = AC.replace(slices=slices)
    ref = closed_form.solve(problem)
    res = solve(problem, path="cvxpy")
    assert res.status == "optimal" and res.method == "qp"
    assert _rel_holdings(res.holdings, ref.holdings, problem) < 1e-8
    assert abs(res.objective / ref.objective - 1) < 1e-8
    assert abs(res.expected_cost / ref.expected_cost - 1) < 1e-8
    assert res.diagnostics["kkt_residual"] < 1e-9
    # the raw scaled solve is already accurate (the point of scaling: raw shares lose 4-5 digits)
    assert res.diagnostics["kkt_residual_solver"] < 1e-8
    for key in ("solver", "solver_status", "iterations", "compile_seconds", "solver_seconds", "solve_seconds",
                "scaling", "global_optimum", "global_optimum_reason", "convex_concave_iterations"):
        assert key in res.diagnostics


def test_unpolished_scaled_solve_is_accurate():
    problem = AC.replace(slices=390)
    ref = closed_form.solve(problem)
    res = solve(problem, path="cvxpy", polish=False, tolerance=1e-8)
    assert "polish" not in res.diagnostics
    assert _rel_holdings(res.holdings, ref.holdings, problem) < 1e-8


@st.composite
def linear_specs(draw):
    slices = draw(st.integers(2, 60))
    horizon = draw(st.floats(0.5, 20.0))
    x = draw(st.floats(1e3, 1e8)) * draw(st.sampled_from([1.0, -1.0]))
    eta = draw(st.floats(1e-8, 1e-4))
    tau = horizon / slices
    gamma = draw(st.floats(0.0, 1.9)) * eta / tau  # eta_tilde = eta - gamma tau/2 > 0
    sigma = draw(st.floats(0.05, 3.0))
    # risk aversion through kappa*T in [0, 8] so the profile is neither flat nor all in one slice
    kt = draw(st.floats(0.0, 8.0))
    eta_tilde = eta - 0.5 * gamma * tau
    lam = (kt / horizon) ** 2 * eta_tilde / sigma**2
    spread = draw(st.floats(0.0, 0.2))
    asset = Asset(name="A", holdings=x, price=50.0, volatility=sigma, permanent_impact=gamma,
                  temporary_impact=eta, spread=spread)
    return ExecutionProblem(horizon=horizon, slices=slices, risk_aversion=lam, assets=(asset,))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(linear_specs())
def test_random_linear_specs_equal_closed_form(problem):
    ref = closed_form.solve(problem)
    for path in ("cvxpy", "auto"):
        res = solve(problem, path=path)
        assert res.status == "optimal"
        assert _rel_holdings(res.holdings, ref.holdings, problem) < 1e-8
        assert abs(res.objective - ref.objective) <= 1e-8 * abs(ref.objective)


# --------------------------------------------------------------------------- baskets
def _random_basket(m: int, slices: int, seed: int) -> ExecutionProblem:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(m, m + 3))
    cov = a @ a.T / (m + 3)
    s = np.sqrt(np.diag(cov))
    corr = cov / np.outer(s, s)
    corr = 0.5 * (corr + corr.T)
    np.fill_diagonal(corr, 1.0)
    assets = tuple(
        Asset(name=f"A{i}", holdings=float(rng.uniform(1e5, 1e6) * rng.choice([-1, 1])), price=float(rng.uniform(10, 100)),
              volatility=float(rng.uniform(0.3, 1.5)), permanent_impact=float(rng.uniform(0, 2e-7)),
              temporary_impact=float(rng.uniform(1e-6, 5e-6)))
        for i in range(m))
    return ExecutionProblem(horizon=5.0, slices=slices, risk_aversion=1e-6, assets=assets,
                            correlation=[list(r) for r in corr])


@pytest.mark.parametrize("m,slices", [(2, 40), (50, 20)])
def test_basket_equals_closed_form(m, slices):
    problem = load_example("two-asset-basket").replace(slices=slices) if m == 2 else _random_basket(m, slices, 7)
    ref = closed_form.solve(problem)
    for path in ("cvxpy", "structured"):
        res = solve(problem, path=path)
        assert res.status == "optimal"
        assert _rel_holdings(res.holdings, ref.holdings, problem) < 1e-8
        assert abs(res.objective / ref.objective - 1) < 1e-8


def test_basket_with_binding_imbalance_band():
    base = load_example("two-asset-basket")
    free = solve(base)
    prices = np.array([a.price for a in base.assets])
    imbalance = np.abs(free.trades @ prices)
    band = 0.5 * float(imbalance.max())
    problem = base.replace(imbalance_band=band)
    res = solve(problem)
    assert res.status == "optimal" and res.diagnostics["path"] == "interior"  # a binding band: not the structured path
    got = np.abs(res.trades @ prices)
    assert got.max() <= band * (1 + 1e-12)
    assert np.sum(np.isclose(got, band, rtol=1e-10)) >= 1  # it binds
    assert res.diagnostics["kkt_residual"] < 1e-9
    assert res.objective > free.objective  # a binding constraint costs something


def test_hedged_basket_example_keeps_the_band():
    problem = load_example("hedged-basket")
    prices = np.array([a.price for a in problem.assets])
    free = solve(problem.replace(imbalance_band=None))
    assert np.abs(free.trades @ prices).max() > problem.imbalance_band  # unconstrained it would break the band
    res = solve(problem)
    imb = np.abs(res.trades @ prices)
    assert res.status == "optimal" and imb.max() <= problem.imbalance_band * (1 + 1e-12)
    assert res.diagnostics["kkt"]["active"].get("band_up", 0) + res.diagnostics["kkt"]["active"].get("band_down", 0) >= 1
    assert res.diagnostics["kkt_residual"] < 1e-9
    with pytest.raises(MethodNotApplicable, match="imbalance band binds"):
        closed_form.solve(problem)


# --------------------------------------------------------------------------- LQ with path vol and drift
def _dense_lq(problem: ExecutionProblem) -> np.ndarray:
    """Independent truth: unscaled normal equations of sum eta_tilde/tau n^2 + lam tau sum s_k x_k^2
    - tau mu sum x_k (no constraints), one dense solve."""
    n, tau, a = problem.slices, problem.tau, problem.asset
    et = problem.eta_tilde
    s2 = problem.slice_variance()
    h = np.zeros((n - 1, n - 1))
    for k in range(n - 1):
        h[k, k] = 2 * (2 * et / tau) + 2 * problem.risk_aversion * tau * s2[k]
        if k + 1 < n - 1:
            h[k, k + 1] = h[k + 1, k] = -2 * et / tau
    rhs = np.full(n - 1, tau * a.drift)
    rhs[0] += 2 * et / tau * a.holdings
    x = np.linalg.solve(h, rhs)
    return np.concatenate([[a.holdings], x, [0.0]])


def test_volatility_path_and_drift_match_dense_solve():
    sig = 0.95 * (1 + 0.5 * np.sin(np.linspace(0, 3, 30)))
    problem = AC.replace(slices=30, volatility_model=VolatilityPath(tuple(sig))).replace_asset(0, drift=0.05, spread=0.0)
    ref = _dense_lq(problem)
    for path in ("cvxpy", "structured"):
        res = solve(problem, path=path)
        assert res.status == "optimal"
        assert _rel_holdings(res.holdings, ref, problem) < 1e-8
    # DPP: a new volatility path re-solves on the cached compiled problem
    problem2 = problem.replace(volatility_model=VolatilityPath(tuple(0.95 * (1 + 0.3 * np.sin(np.linspace(0, 6, 30))))))
    res2 = solve(problem2, path="cvxpy")
    assert res2.diagnostics["cache_hit"] is True
    assert _rel_holdings(res2.holdings, _dense_lq(problem2), problem2) < 1e-8


def test_frontier_resolve_uses_cache():
    clear_cache()
    problem = AC.replace(slices=50)
    first = solve(problem, path="cvxpy")
    assert first.diagnostics["cache_hit"] is False
    for lam in (1e-7, 3e-6):
        p = problem.replace(risk_aversion=lam)
        res = solve(p, path="cvxpy")
        assert res.diagnostics["cache_hit"] is True
        assert _rel_holdings(res.holdings, closed_form.solve(p).holdings, p) < 1e-8


def test_stochastic_volatility_is_static_optimum_on_expected_variance():
    problem = load_example("mean-reverting-volatility")
    res = solve(problem, path="cvxpy")
    assert "E[sigma_k^2]" in res.diagnostics["volatility"]
    det = problem.replace(volatility_model=VolatilityPath(tuple(np.sqrt(problem.slice_variance()))))
    assert _rel_holdings(res.holdings, _dense_lq(det), problem) < 1e-8


# --------------------------------------------------------------------------- power law
def _scipy_power_law(problem: ExecutionProblem) -> np.ndarray:
    """Independent solve of tau eta sum |n/tau|^(1+b) - 1/2 gamma sum n^2 + lam tau sum s x^2 in
    fractions of X (trust-region Newton with exact derivatives, written here from the conventions page)."""
    a, n, tau = problem.asset, problem.slices, problem.tau
    big_x, b, eta, gam = a.holdings, a.impact_exponent, a.temporary_impact, a.permanent_impact
    s2 = problem.slice_variance()
    unit = problem.horizon * eta * (abs(big_x) / problem.horizon) ** (1 + b)

    def parts(y):
        full = np.concatenate([[1.0], y, [0.0]])
        d = (full[:-1] - full[1:]) * big_x
        return full, d

    def f(y):
        full, d = parts(y)
        return (tau * eta * np.sum(np.abs(d / tau) ** (1 + b)) - 0.5 * gam * np.sum(d**2)
                + problem.risk_aversion * tau * np.sum(s2 * (full[1:] * big_x) ** 2)) / unit

    def grad(y):
        full, d = parts(y)
        gd = eta * (1 + b) * np.abs(d / tau) ** b * np.sign(d) - gam * d
        return (big_x * (gd[1:] - gd[:-1]) + 2 * problem.risk_aversion * tau * s2[:-1] * y * big_x**2) / unit

    def hess(y):
        _, d = parts(y)
        hd = eta * (1 + b) * b * np.abs(d) ** (b - 1) / tau**b - gam
        h = np.diag(hd[:-1] + hd[1:]) - np.diag(hd[1:-1], 1) - np.diag(hd[1:-1], -1)
        return (big_x**2 * h + np.diag(2 * problem.risk_aversion * tau * s2[:-1] * big_x**2)) / unit

    y0 = np.linspace(1, 0, n + 1)[1:-1]
    out = so.minimize(f, y0, jac=grad, hess=hess, method="trust-exact", options={"gtol": 1e-13, "maxiter": 500})
    return np.concatenate([[1.0], out.x, [0.0]]) * big_x


@pytest.mark.parametrize("beta", [0.5, 1.5])
@pytest.mark.parametrize("gamma", [0.0, 2.5e-7])
def test_power_law_kkt_and_scipy_agreement(beta, gamma):
    eta = 2.5e-6 * (2e5) ** (1 - beta)  # same impact as the linear model at 2e5 shares/day
    # N = 10, beta = 0.5, gamma = 2.5e-7: one round trip does not pay (lambda tau sigma^2 = 4.5e-7 >
    # gamma), but trades alternating in sign do (gamma (1 + cos(pi/10)) = 4.9e-7 > 4.5e-7: see
    # test_alternating_trades_make_the_square_root_law_unbounded_and_qp_refuses), so that case is the
    # sell program that never buys; the unconstrained reference's local optimum is monotone there
    unbounded = beta < 1 and gamma > 0
    problem = AC.replace(slices=10, no_reversal=unbounded).replace_asset(0, impact_exponent=beta, temporary_impact=eta,
                                                                         permanent_impact=gamma, spread=0.0)
    res = solve(problem)
    assert res.status == "optimal"
    assert res.diagnostics["kkt_residual"] <= 1e-9
    if gamma > 0:
        assert res.diagnostics["convex_concave_iterations"] >= 2
    else:
        assert res.diagnostics["global_optimum"] is True
    ref = _scipy_power_law(problem)
    assert _rel_holdings(res.holdings, ref, problem) < 1e-8
    # the reported cost is the conventions page's (costs.py), the same function of the holdings
    assert res.objective == pytest.approx(schedule_cost(problem, res.holdings).objective, rel=1e-15)


def test_convexity_thresholds_and_certificate():
    # beta = 0.5: phi'' changes sign exactly at the threshold
    problem = AC.replace(slices=10).replace_asset(0, impact_exponent=0.5, temporary_impact=1e-3, permanent_impact=2.5e-7)
    th = convexity_thresholds(problem)[0]
    a, tau = problem.asset, problem.tau

    def phi(n):
        return tau * a.temporary_impact * abs(n / tau) ** 1.5 - 0.5 * a.permanent_impact * n**2

    for n_star, sign in ((th["threshold_shares"], 1),):
        for f, expect in ((0.9, 1), (1.1, -1)):
            n, h = f * n_star, 1e-3 * n_star
            assert np.sign(phi(n + h) - 2 * phi(n) + phi(n - h)) == expect * sign
    # the order (1e6) is below n* = 1.6e10: with no-reversal every feasible trade is in the convex region
    assert th["threshold_shares"] > 1e6
    convex = problem.replace(no_reversal=True)
    ok, why, _ = convexity_certificate(scale_problem(convex))
    assert ok and "convex on the feasible set" in why
    res = solve(convex)
    assert res.diagnostics["global_optimum"] is True
    # brute force: no random feasible schedule beats it
    rng = np.random.default_rng(3)
    for _ in range(200):
        w = rng.dirichlet(np.ones(10)) * 1e6
        x = 1e6 - np.concatenate([[0.0], np.cumsum(w)])
        x[-1] = 0.0
        assert schedule_cost(convex, x).objective >= res.objective
    # beta = 1.5 with permanent impact: concave near n = 0 and weak risk: not certified global
    weak = AC.replace(slices=10, risk_aversion=1e-9).replace_asset(
        0, impact_exponent=1.5, temporary_impact=2.5e-6 / np.sqrt(2e5), permanent_impact=2.5e-6)
    res = solve(weak)
    assert res.status == "optimal" and res.diagnostics["global_optimum"] is False
    assert "local optimum" in res.diagnostics["global_optimum_reason"]
    assert "local optimum" in res.message


def test_unbounded_power_law_spec_is_rejected():
    # beta < 1, gamma > lambda tau sigma^2: a large round trip makes E + lambda V -> -inf (costs.py says so)
    problem = load_example("square-root-impact").replace(risk_aversion=1e-7, no_reversal=False).replace_asset(0, spread=0.0)
    x = np.linspace(1e6, 0, 11)
    trip = x.copy()
    trip[3] -= 1e9
    assert schedule_cost(problem, trip).objective < -1e10
    with pytest.raises(SpecError, match=r"assets\[0\].permanent_impact = 2.5e-07: .*unbounded below.*4.5125e-08"):
        solve(problem)
    res = solve(problem.replace(no_reversal=True))  # bounded again: trades in [0, X]
    assert res.status == "optimal" and res.diagnostics["kkt_residual"] < 1e-9
    # a basket: each asset alone is bounded (gamma_ii < lambda tau sigma_i^2) but the cross impact
    # makes u'Gamma u > lambda tau u'C u along a hedged direction
    base = load_example("two-asset-basket").replace(correlation=[[1.0, 0.95], [0.95, 1.0]])
    basket = base.replace(assets=tuple(a.replace(impact_exponent=0.5, temporary_impact=a.temporary_impact * 450.0)
                                       for a in base.assets))
    lam_tau_c = basket.risk_aversion * basket.tau * basket.covariance
    gam = np.array([[2.0e-7, -1.9e-7], [-1.9e-7, 2.0e-7]])
    assert np.all(np.diag(gam) < np.diag(lam_tau_c)) and np.linalg.eigvalsh(gam - lam_tau_c)[-1] > 0
    spec = basket.replace(permanent_impact_matrix=gam.tolist())
    u = np.linalg.eigh(gam - lam_tau_c)[1][:, -1]
    hold = np.linspace(1.0, 0.0, spec.slices + 1)[:, None] * spec.initial_holdings[None, :]
    trip = hold.copy()
    trip[3] -= 1e10 * u
    assert schedule_cost(spec, trip).objective < -1e10  # costs.py agrees: unbounded below
    with pytest.raises(SpecError, match=r"unbounded below.*u'Gamma u > lambda tau u'C u"):
        solve(basket.replace(permanent_impact_matrix=gam.tolist()))


# --------------------------------------------------------------------------- caps and duals
def test_caps_bind_exactly_and_duals_match_finite_differences():
    problem = load_example("capped-participation")
    res = solve(problem)
    caps = problem.asset.slice_caps(problem.slices)
    assert res.status == "optimal"
    assert np.all(np.abs(res.trades) <= caps * (1 + 1e-12))
    duals = np.asarray(res.diagnostics["cap_duals"])
    binding = np.flatnonzero(duals > 0)
    assert binding.size >= 2
    assert np.allclose(np.abs(res.trades[binding]), caps[binding], rtol=1e-12)
    for k in binding[:2]:
        h = 1e-3 * caps[k]
        vals = []
        for sign in (1, -1):
            c = caps.copy()
            c[k] += sign * h
            p = problem.replace_asset(0, max_slice_trade=tuple(c), participation=None, market_volume=None)
            vals.append(solve(p).objective)
        fd = -(vals[0] - vals[1]) / (2 * h)  # -d objective / d cap
        assert duals[k] == pytest.approx(fd, rel=1e-4)


def test_no_reversal_and_holdings_bounds():
    # a sale that would buy back at the end (drift makes early selling and late buying pay)
    problem = AC.replace(slices=20, risk_aversion=0.0).replace_asset(0, spread=0.0, drift=-2.0)
    free = solve(problem)
    assert np.min(free.trades) < 0  # it does reverse
    bounded = solve(problem.replace(no_reversal=True))
    assert bounded.status == "optimal" and np.min(bounded.trades) >= -1e-9
    assert bounded.diagnostics["kkt_residual"] < 1e-9
    assert bounded.objective >= free.objective
    low = solve(problem.replace_asset(0, min_holdings=0.0))
    assert low.status == "optimal" and np.min(low.holdings) >= -1e-6
    assert low.diagnostics["kkt_residual"] < 1e-9


# --------------------------------------------------------------------------- errors
def test_infeasible_caps_name_the_shortfall():
    with pytest.raises(InfeasibleSpecError, match=r"shortfall 200000 shares"):
        AC.replace_asset(0, max_slice_trade=1.6e5)
    with pytest.raises(InfeasibleSpecError, match=r"participation \* market_volume.*shortfall"):
        AC.replace_asset(0, participation=0.1, market_volume=(1e6,) * 5)


def test_spec_errors_for_new_keys():
    with pytest.raises(SpecError, match=r"imbalance_band = 1000.0: applies to a basket"):
        AC.replace(imbalance_band=1e3)
    with pytest.raises(InfeasibleSpecError, match=r"imbalance_band .*shortfall 2e\+07 in currency"):
        load_example("two-asset-basket").replace(imbalance_band=1e6)
    with pytest.raises(InfeasibleSpecError, match=r"asset.max_holdings = 5e5|asset.max_holdings = 500000.0"):
        AC.assets[0].replace(max_holdings=5e5)
    with pytest.raises(SpecError, match=r"settings.backend = 'NOPE': is not an installed CVXPY solver"):
        solve(AC, backend="nope")
    with pytest.raises(SpecError, match=r"settings.tolerance = 0: must be a number in \(0, 1\)"):
        solve(AC, tolerance=0)
    with pytest.raises(MethodNotApplicable, match="risk_aversion = -1e-06 < 0"):
        solve(AC.replace(risk_aversion=-1e-6, risk_seeking=True))
    with pytest.raises(SpecError, match=r"settings.backend = 'PIQP': is a QP solver: power-law impact"):
        solve(load_example("square-root-impact"), backend="PIQP")
    with pytest.raises(MethodNotApplicable, match="structured path needs linear impact"):
        solve(load_example("square-root-impact"), path="structured")


def test_solver_failure_raises_with_status():
    # net dollar value 0, zero band: each slice must be dollar neutral, but asset B's first cap
    # is too small to offset asset A's forced first trade. Feasible-looking spec, infeasible QP.
    a = Asset(name="A", holdings=1e6, price=50.0, volatility=0.9, temporary_impact=2.5e-6, max_slice_trade=1e5)
    b = Asset(name="B", holdings=-1.25e6, price=40.0, volatility=0.8, temporary_impact=3e-6,
              max_slice_trade=(5e4,) + (2e5,) * 9)
    problem = ExecutionProblem(horizon=5.0, slices=10, risk_aversion=1e-6, assets=(a, b), imbalance_band=0.0)
    with pytest.raises(SolverError, match="infeasible"):
        solve(problem)


def test_kkt_certificate_rejects_a_wrong_schedule():
    ref = closed_form.solve(AC.replace(slices=20))
    bad = ref.holdings.copy()
    bad[5] *= 1 + 1e-6
    assert kkt_residual(AC.replace(slices=20), ref.holdings).residual < 1e-12
    assert kkt_residual(AC.replace(slices=20), bad).residual > 1e-7


# --------------------------------------------------------------------------- other solvers, CLI
@pytest.mark.parametrize("solver", ["PIQP", "OSQP"])
def test_qp_solvers_by_name(solver):
    problem = AC.replace(slices=100)
    res = solve(problem, path="cvxpy", backend=solver)
    assert res.diagnostics["solver"] == solver and res.status == "optimal"
    assert _rel_holdings(res.holdings, closed_form.solve(problem).holdings, problem) < 1e-8


def test_cli_solve_qp_json(capsys):
    import json

    from solvers.cli import main

    assert main(["solve", "--example", "capped-participation", "--method", "qp", "--solver", "PIQP",
                 "--json", "-", "--quiet"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "qp" and data["status"] == "optimal"
    assert data["diagnostics"]["kkt_residual"] < 1e-9
    assert len(data["diagnostics"]["cap_duals"]) == 10
    for key in ("holdings", "trades", "expected_cost", "variance", "objective", "solve_seconds"):
        assert key in data


# --------------------------------------------------------------------------- factor model
def _factor_basket(m: int, r: int, slices: int, seed: int = 5) -> ExecutionProblem:
    rng = np.random.default_rng(seed)
    b = rng.normal(scale=0.4, size=(m, r))
    s = rng.uniform(0.2, 0.8, m)
    vol = np.sqrt((b**2).sum(1) + s**2)
    assets = tuple(
        Asset(name=f"A{i}", holdings=float(rng.uniform(1e5, 1e6) * rng.choice([-1, 1])), price=float(rng.uniform(10, 100)),
              volatility=float(vol[i]), permanent_impact=float(rng.uniform(0, 2e-7)),
              temporary_impact=float(rng.uniform(1e-6, 5e-6)))
        for i in range(m))
    return ExecutionProblem(horizon=5.0, slices=slices, risk_aversion=1e-6, assets=assets,
                            factor_loadings=b.tolist(), specific_volatility=s.tolist())


def test_factor_model_basket_equals_closed_form():
    from solvers.spec import problem_from_toml

    problem = _factor_basket(50, 3, 20)
    assert problem_from_toml(problem.to_toml()) == problem
    b = np.array(problem.factor_loadings)
    assert np.allclose(problem.covariance, b @ b.T + np.diag(np.square(problem.specific_volatility)), rtol=1e-15)
    ref = closed_form.solve(problem)  # eigen closed form on the full covariance
    res = solve(problem, path="cvxpy")
    assert res.status == "optimal"
    assert _rel_holdings(res.holdings, ref.holdings, problem) < 1e-8
    assert abs(res.objective / ref.objective - 1) < 1e-8


def test_factor_model_spec_errors():
    problem = _factor_basket(3, 2, 5)
    with pytest.raises(SpecError, match=r"assets\[0\].volatility = 9.0: must equal sqrt\(sum_j B_ij\^2 \+ s_i\^2\)"):
        problem.replace_asset(0, volatility=9.0)
    with pytest.raises(SpecError, match=r"correlation = 'given': must be left out"):
        problem.replace(correlation=np.eye(3).tolist())
    with pytest.raises(SpecError, match=r"specific_volatility = None: is required"):
        problem.replace(specific_volatility=None)
    with pytest.raises(SpecError, match=r"specific_volatility\[1\] = -0.1: must be >= 0"):
        problem.replace(specific_volatility=[0.1, -0.1, 0.1])


# --------------------------------------------------------------------------- method contract
def test_settings_contract_and_info():
    from solvers.methods import method_info
    from solvers.qp import INFO, QPSettings

    assert method_info("qp") is INFO
    assert INFO.kind == "static" and INFO.time_models == ("discrete",) and INFO.settings is QPSettings
    assert (INFO.accuracy.objective_rtol, INFO.accuracy.holdings_rtol) == (1e-7, 1e-4)
    assert QPSettings(backend="piqp").backend == "PIQP"
    assert QPSettings.with_accuracy("high").tolerance == 1e-11
    with pytest.raises(SpecError, match=r"settings.solver = 'PIQP': unknown setting of method qp"):
        solve(AC, solver="PIQP")
    with pytest.raises(SpecError, match=r"settings.path = 'fast': must be one of"):
        solve(AC, path="fast")
    with pytest.raises(SpecError, match=r"settings.fallback_backend = 'NOPE': is not an installed CVXPY solver"):
        solve(AC, fallback_backend="nope")


@pytest.mark.parametrize("accuracy", ["high", "fast"])
def test_presets_meet_their_certificate(accuracy):
    from solvers.qp import QPSettings

    cfg = QPSettings.with_accuracy(accuracy)
    for name in ("capped-participation", "square-root-impact", "two-asset-basket"):
        problem = load_example(name)
        res = solve(problem, accuracy=accuracy, path="cvxpy")
        assert res.status == "optimal", (name, res.message)
        assert res.diagnostics["kkt_residual"] <= cfg.tolerance


def test_fallback_backend_is_opt_in_and_reported():
    # a back end that fails (OSQP stopped after one iteration: 'user_limit') raises by default;
    # with a fallback the solve is retried once, and the result says so
    problem, broken = AC.replace(slices=50), {"backend": "OSQP", "backend_options": {"max_iter": 1}, "path": "cvxpy"}
    with pytest.raises(SolverError, match="OSQP returned 'user_limit'"):
        solve(problem, **broken)
    res = solve(problem, **broken, fallback_backend="CLARABEL")
    assert res.status == "optimal" and res.diagnostics["solver"] == "CLARABEL"
    assert res.diagnostics["fallback"]["failed_backend"] == "OSQP"
    assert "user_limit" in res.diagnostics["fallback"]["error"]
    assert _rel_holdings(res.holdings, closed_form.solve(problem).holdings, problem) < 1e-8


def test_backend_warnings_are_recorded_not_printed():
    import warnings

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        res = solve(load_example("square-root-impact"), accuracy="high", path="cvxpy")
    assert not [w for w in shown if "inaccurate" in str(w.message)]
    assert any("Solution may be inaccurate" in text for text in res.diagnostics["solver_warnings"])
    # the status follows the KKT certificate, not the back end's word
    assert res.status == "optimal" and res.diagnostics["kkt_residual"] <= 1e-11


# --------------------------------------------------------------------------- magnitudes
def _at_magnitude(name: str, size: float, sign: float = 1.0) -> ExecutionProblem:
    """A bundled example with every order scaled to ``|X_i| = size |X_i| / max |X|`` (caps and
    volumes scaled with it, so the constraints keep their shape)."""
    problem = load_example(name)
    if name == "square-root-impact":
        problem = problem.replace(no_reversal=True)  # bounded below at every size (see the unbounded-spec test)
    f = sign * size / float(np.max(np.abs(problem.initial_holdings)))
    assets = []
    for a in problem.assets:
        kw = {"holdings": a.holdings * f}
        if a.max_slice_trade is not None:
            kw["max_slice_trade"] = np.multiply(a.max_slice_trade, abs(f)).tolist() if np.ndim(a.max_slice_trade) else a.max_slice_trade * abs(f)
        if a.market_volume is not None:
            kw["market_volume"] = tuple(np.multiply(a.market_volume, abs(f)))
        assets.append(a.replace(**kw))
    return problem.replace(assets=tuple(assets))


@pytest.mark.parametrize("size", [1e-200, 1e-100, 1e-12, 1.0, 1e12, 1e100])
@pytest.mark.parametrize("name", ["almgren-chriss-2001", "capped-participation", "square-root-impact", "two-asset-basket"])
def test_every_order_size_solves_certified(name, size):
    # scaled to fractions of the order the problem is normal at every size: X^2 (1e-400) or the cost
    # unit alone may leave float64, the scaled coefficients never do
    for sign in ((1.0, -1.0) if size == 1e-200 else (1.0,)):
        problem = _at_magnitude(name, size, sign)
        res = solve(problem)
        assert res.status == "optimal", (name, size, res.message)
        assert res.diagnostics["kkt_residual"] <= 1e-9
        assert np.all(np.isfinite(res.holdings)) and np.isfinite(res.objective)
        assert all(np.all(np.isfinite(np.asarray(v, dtype=float))) for k, v in res.diagnostics.items() if k == "cap_duals")
        if name in ("almgren-chriss-2001", "two-asset-basket"):
            ref = closed_form.solve(problem)
            assert _rel_holdings(res.holdings, ref.holdings, problem) < 1e-8
            if ref.objective != 0.0:  # X^2 costs of 1e-400 currency underflow to 0 in both
                assert abs(res.objective / ref.objective - 1) < 1e-8


# --------------------------------------------------------------------------- memory
@pytest.mark.parametrize("name", ["square-root-impact", "capped-participation"])
def test_power_law_and_caps_are_linear_in_memory(name):
    # N = 10,000: the CVXPY model of the power law with permanent impact held an N x N parameter
    # tensor (14 GB); the interior path keeps O(N) arrays and banded Newton systems
    import tracemalloc

    base = load_example(name)
    problem = (base.replace(slices=10_000, no_reversal=True) if name == "square-root-impact" else
               base.replace_asset(0, participation=None, market_volume=None, max_slice_trade=None)
               .replace(slices=10_000).replace_asset(0, max_slice_trade=150.0))  # TWAP is 100 a slice
    tracemalloc.start()
    try:
        res = solve(problem)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.status == "optimal" and res.diagnostics["path"] == "interior"
    assert res.diagnostics["kkt_residual"] <= 1e-9
    assert peak < 100 * 1024**2, peak / 1024**2


def test_alternating_trades_make_the_square_root_law_unbounded_and_qp_refuses():
    """With beta < 1 the quadratic part lambda tau sum sigma^2 x^2 - 1/2 gamma sum n^2 must be
    positive semi-definite on the free holdings: AC's gamma = 2.5e-7 at N = 10 has
    gamma (1 + cos(pi/10)) = 4.9e-7 > lambda tau sigma^2 = 4.5e-7 although gamma < lambda tau sigma^2,
    so a single round trip does not pay but alternation does. costs.py (the independent truth)
    shows the objective falling without bound along that direction; qp refuses, naming the fix."""
    problem = load_example("square-root-impact").replace(no_reversal=False)
    n, x = problem.slices, abs(problem.asset.holdings)
    base = np.linspace(x, 0.0, n + 1)
    k = np.arange(1, n)
    direction = np.sin(np.pi * (n - 1) * k / n)
    values = []
    for amplitude in (1e10, 1e11, 1e12):
        path = base.copy()
        path[1:n] += amplitude * direction / np.abs(direction).max()
        values.append(schedule_cost(problem, path).objective)
    assert values[0] > values[1] > values[2] and values[2] < -1e16
    with pytest.raises(SpecError, match=r"permanent_impact = 2.5e-07: .*unbounded below.*no_reversal = true"):
        solve(problem)
    assert solve(problem.replace(slices=2)).success  # N = 2: one round trip, gamma < lambda tau sigma^2 bounds it
    assert solve(problem.replace(no_reversal=True)).success


@pytest.mark.parametrize("drift, grid_gap", [(-0.5, 1e-5), (-5.0, 1e-12)])
def test_holdings_bound_and_zero_trades_bind_together(drift, grid_gap):
    """A falling price (drift < 0) sells out early: x_k = 0 (min_holdings) and n_k = 0 bind on
    the same slices, so the active rows are dependent and their multipliers are not unique. qp is
    optimal (the KKT check takes the sign-feasible multipliers, the polish leaves implied rows out
    of its Newton system) and dp's grid, which keeps x in [0, X] by construction, prices a
    feasible policy: at most the grid's error above qp (measured 4.2e-6 at drift -0.5, falling to
    7.5e-7 at accuracy='high'; at -5.0 the pieces are quadratic and the grid is exact, 2e-16)."""
    p = load_example("almgren-chriss-2001").replace(slices=20, no_reversal=True)
    q = p.replace_asset(0, min_holdings=0.0, drift=drift)
    res = solve(q)
    assert res.status == "optimal" and res.diagnostics["kkt_residual"] <= 1e-9
    assert res.diagnostics["kkt"]["active"]["lb"] >= 5
    dp = solve_method(q, "dp")
    assert -1e-12 <= dp.objective / res.objective - 1 <= grid_gap
