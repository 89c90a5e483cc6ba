"""Transient impact (the conventions page, "Transient impact"): spec rules, the kernel object, the
cost of a schedule, Obizhaeva-Wang's closed form, qp and dp exact, the simulator, validate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import SUITES, bench_transient
from solvers import VolatilityPath, load_example, solve
from solvers.calibration.synthetic import SyntheticTruth, generate
from solvers.calibration.transient import fit_transient_impact
from solvers.costs import schedule_cost
from solvers.errors import MethodNotApplicable, SpecError
from solvers.methods import registered
from solvers.qp.formulation import compiled_problem
from solvers.qp.scaling import scale_problem
from solvers.schedules import twap
from solvers.simulation import simulate
from solvers.transient import TransientKernel, ow_continuous_cost, transient_model
from solvers.validation import validate

EXACT = 1e-10


def pure(slices=30, rho_tau=0.2, horizon=1.0, **changes):
    p = load_example("liquidity-cascade").replace(slices=slices, horizon=horizon)
    return p.replace_asset(0, **{"resilience": rho_tau * slices / horizon, **changes})


def gap(a, b):
    return np.max(np.abs(np.asarray(a.holdings) - np.asarray(b.holdings))) / abs(a.problem.asset.holdings)


# ---------------------------------------------------------------------------- spec
@pytest.mark.parametrize("changes, field", [
    ({"transient_impact": -1.0}, "transient_impact"),
    ({"resilience": -1.0}, "resilience"),
    ({"transient_kernel": "power_law", "resilience": 0.0, "kernel_exponent": 0.0, "kernel_timescale": 1.0},
     "kernel_exponent"),
    ({"transient_kernel": "power_law", "resilience": 0.0, "kernel_exponent": 0.5, "kernel_timescale": -1.0},
     "kernel_timescale"),
    ({"transient_exponent": 0.0}, "transient_exponent"),
    ({"transient_exponent": 1.5}, "transient_exponent"),
    ({"transient_kernel": "power_law", "resilience": 0.0, "kernel_exponent": 0.5, "kernel_timescale": 1.0,
      "transient_exponent": 0.5}, "transient_exponent"),
    ({"transient_kernel": "gaussian"}, "transient_kernel"),
])
def test_bad_transient_keys_are_clear_errors(changes, field):
    with pytest.raises(SpecError) as err:
        pure(**changes)
    assert field in err.value.field


def test_no_false_refusal_on_rounding():
    """rho tau = 1e-12 at N = 4000: K is positive definite by construction."""
    p = pure(slices=4000, rho_tau=1e-12)
    cf = solve(p, "closed-form")
    assert solve(p, "qp").status == "optimal"
    assert abs(solve(p, "dp").objective / cf.objective - 1) < 1e-9


def test_not_convex_is_refused_naming_the_keys():
    with pytest.raises(SpecError, match="transient_impact"):
        pure(permanent_impact=1e-3, rho_tau=1e-3)


def test_to_dict_round_trip_keeps_transient_keys():
    p = pure(initial_deviation=0.1)
    from solvers.spec import problem_from_dict
    assert problem_from_dict(p.to_dict()) == p
    assert "transient_impact" not in load_example("almgren-chriss-2001").to_dict()["assets"][0]


# ---------------------------------------------------------------------------- cost
def test_cost_is_half_nkn_plus_initial_term_for_both_kernels():
    s = np.array([0.0, 0.3, 0.7, 1.5])
    n = np.array([3.0, -1.0, 2.0, 0.5])
    for kern in (TransientKernel(2.0, rho=1.3, initial_deviation=0.4),
                 TransientKernel(2.0, kind="power_law", nu=0.6, t0=0.2, initial_deviation=0.4)):
        k = kern.matrix(s)
        want = 0.5 * n @ k @ n + 0.4 * n @ kern.initial_factors(s)
        assert kern.cost(n, s) == pytest.approx(want, rel=1e-13)


def test_afs_cost_reduces_to_linear_at_delta_one():
    s = np.linspace(0, 1, 6)
    n = np.array([1.0, 2.0, 0.5, 0.1, 1.0, 0.4])
    near = TransientKernel(2.0, rho=3.0, delta=1.0 - 1e-7).cost(n, s)
    assert near == pytest.approx(TransientKernel(2.0, rho=3.0).cost(n, s), rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=8), st.floats(0.2, 1.0), st.floats(0.0, 5.0))
def test_no_round_trip_has_negative_cost(trades, delta, rho):
    """A round trip (trades summing to zero) never pays a negative transient cost (no price manipulation)."""
    n = np.asarray(trades)
    n[-1] -= n.sum()
    kern = TransientKernel(1.0, rho=rho, delta=delta)
    assert kern.cost(n, np.arange(n.size) * 0.1) >= -1e-12


# ---------------------------------------------------------------------------- the chain
@pytest.mark.parametrize("slices", [10, 100, 1000])
@pytest.mark.parametrize("rho_tau", [1e-3, 1e-1, 1.0, 10.0])
def test_pure_ow_closed_form_qp_dp_agree(slices, rho_tau):
    p = pure(slices=slices, rho_tau=rho_tau)
    cf, qp, dp = solve(p, "closed-form"), solve(p, "qp"), solve(p, "dp")
    for other in (qp, dp):
        assert gap(other, cf) <= EXACT
        assert abs(other.objective / cf.objective - 1) <= EXACT
    assert cf.cost_breakdown["transient"] == pytest.approx(cf.objective, rel=1e-12)


def test_discrete_cost_converges_to_continuous_at_the_stated_orders():
    rho, big_t, kap, x = 6.0, 1.0, 2e-5, 1e5
    ns = np.array([20, 40, 80, 160, 320])
    costs = np.array([solve(pure(slices=int(n), rho_tau=rho / n), "closed-form").objective for n in ns])
    err_t = np.abs(costs - ow_continuous_cost(x, kap, rho, big_t))
    err_tp = np.abs(costs - np.array([kap * x * x / (rho * (n - 1) * big_t / n + 2) for n in ns]))
    slope_t = np.polyfit(np.log(ns), np.log(err_t), 1)[0]
    slope_tp = np.polyfit(np.log(ns), np.log(err_tp), 1)[0]
    assert -1.2 < slope_t < -0.8
    assert -2.3 < slope_tp < -1.7
    cont = solve(pure(slices=40, rho_tau=rho / 40), "closed-form", time_model="continuous")
    assert cont.objective == pytest.approx(ow_continuous_cost(x, kap, rho, big_t), rel=1e-14)


@pytest.mark.parametrize("slices", [10, 200])
def test_full_exponential_qp_equals_dp(slices):
    p = pure(slices=slices, temporary_impact=1e-7, permanent_impact=2e-6, drift=0.05,
             initial_deviation=0.2).replace(risk_aversion=1e-5)
    qp, dp = solve(p, "qp"), solve(p, "dp")
    assert gap(qp, dp) <= 1e-9
    assert abs(qp.objective / dp.objective - 1) <= 1e-9
    assert abs(dp.diagnostics["objective_gap"]) <= 1e-9 * abs(dp.objective)


def test_power_law_qp_equals_a_dense_kkt_solve():
    p = pure(slices=60, temporary_impact=1e-7, transient_kernel="power_law", resilience=0.0, kernel_exponent=0.4,
             kernel_timescale=0.05, initial_deviation=0.1)
    res = solve(p, "qp")
    a, n, tau, s = p.asset, p.slices, p.tau, p.trade_times
    g = (1 + np.abs(s[:, None] - s[None, :]) / 0.05) ** -0.4
    hess = a.transient_impact * g + np.eye(n) * 2 * a.temporary_impact / tau
    lin = a.initial_deviation * (1 + s / 0.05) ** -0.4
    kkt = np.block([[hess, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    trades = np.linalg.solve(kkt, np.r_[-lin, a.holdings])[:n]
    assert np.max(np.abs(res.trades - trades)) / a.holdings <= 1e-9
    cvx = solve(p, "qp", path="cvxpy")
    assert cvx.status == "optimal" and cvx.diagnostics["kkt_residual"] <= 1e-6


def test_caps_bind_in_qp_and_kkt_certifies():
    p = pure(slices=20, temporary_impact=1e-7, max_slice_trade=8e3)
    res = solve(p, "qp")
    assert res.diagnostics["path"] == "cvxpy" and res.status == "optimal"
    assert np.max(np.abs(res.trades)) <= 8e3 * (1 + 1e-7)


def test_refusals_name_the_key():
    afs = pure(transient_exponent=0.6)
    with pytest.raises(MethodNotApplicable, match="transient_exponent"):
        solve(afs, "qp")
    with pytest.raises(MethodNotApplicable, match="transient"):
        solve(afs, "dp", recursion="exact")  # the (x, E) grid solves it (tests/test_dp_transient_grid.py)
    with pytest.raises(MethodNotApplicable, match="transient_impact"):
        solve(pure(temporary_impact=1e-7), "closed-form")
    with pytest.raises(MethodNotApplicable, match="transient_impact"):
        solve(pure(), "hjb")  # eta = 0: the continuous optimum trades blocks
    with pytest.raises(MethodNotApplicable, match="temporary_impact = 1e-15"):
        solve(pure(temporary_impact=1e-15), "hjb")  # stiffness: refused before any work
    with pytest.raises(MethodNotApplicable, match="transient_kernel"):
        solve(pure(temporary_impact=1e-7, transient_kernel="power_law", resilience=0.0, kernel_exponent=0.4,
                   kernel_timescale=0.05), "hjb")


# ---------------------------------------------------------------------------- simulator, validate
def test_simulator_prices_schedules_and_deviation_policies():
    p = pure(slices=20, temporary_impact=1e-7, initial_deviation=0.3).replace(risk_aversion=1e-5)
    dp = solve(p, "dp")
    by_policy = simulate(p, dp.policy, paths=4000, seed=3, antithetic=True)
    by_schedule = simulate(p, dp.holdings, paths=4000, seed=3, antithetic=True)
    assert np.allclose(by_policy.cost, by_schedule.cost, rtol=1e-9, atol=1e-6)
    assert abs(by_schedule.objective.value - dp.objective) <= 4 * by_schedule.objective.se + 1e-9 * dp.objective
    block = np.r_[p.asset.holdings, np.zeros(p.slices)]
    assert simulate(p, block, paths=2000).mean.value > dp.expected_cost
    assert schedule_cost(p, twap(p)).transient > dp.cost_breakdown["transient"]


def test_validate_liquidity_cascade_passes_and_catches_wrong_resilience():
    p = load_example("liquidity-cascade")
    assert validate(p, paths=4000).passed
    with registered("wrong-resilience", "tests.helpers.wrong_resilience_method"):
        report = validate(p, methods=["closed-form", "wrong-resilience"], paths=4000)
    assert not report.passed
    assert any("wrong-resilience" in m for m in report.failures)


def test_transient_model_of_an_asset():
    assert transient_model(load_example("almgren-chriss-2001").asset) is None
    k = transient_model(load_example("liquidity-cascade").asset)
    assert k.exponential and k.linear and k.kappa == 2e-5


def test_pure_ow_with_closures_is_the_irregular_grid_optimum():
    """A closure delays later trades: the closed form's weights on the trade times s_k = a dense KKT solve."""
    from solvers.spec import Closure
    p = pure(slices=12, rho_tau=0.3).replace(closures=(Closure(after_slice=4, duration=0.5),
                                                      Closure(after_slice=9, duration=0.05)))
    s = p.trade_times
    assert s[4] - s[3] == pytest.approx(p.tau + 0.5)
    cf = solve(p, "closed-form")
    kern = p.asset.transient_impact * np.exp(-p.asset.resilience * np.abs(s[:, None] - s[None, :]))
    n = p.slices
    kkt = np.block([[kern, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
    trades = np.linalg.solve(kkt, np.r_[np.zeros(n), p.asset.holdings])[:n]
    assert np.max(np.abs(cf.trades - trades)) / p.asset.holdings <= EXACT
    assert cf.objective == pytest.approx(0.5 * trades @ kern @ trades, rel=EXACT)
    assert cf.objective == pytest.approx(cf.diagnostics["closed_form_transient"], rel=EXACT)


# ---------------------------------------------------------------------------- notebook claims, benchmark
def test_optimum_saves_against_block_and_twap_for_every_resilience():
    p0 = load_example("liquidity-cascade")
    for rho in (1.0, 6.0, 30.0, 120.0):
        p = p0.replace_asset(0, resilience=rho)
        opt = solve(p, "closed-form").objective
        block = schedule_cost(p, np.r_[p.asset.holdings, np.zeros(p.slices)]).transient
        assert block == pytest.approx(0.5 * p.asset.transient_impact * p.asset.holdings ** 2, rel=1e-12)
        assert opt < block and opt <= schedule_cost(p, twap(p)).transient * (1 + 1e-12)


def test_bench_transient_quick_records_agree(tmp_path):
    assert "benchmarks.bench_transient" in SUITES
    out = bench_transient.run(True, tmp_path)
    assert {r["N"] for r in out["records"]} >= {390, 2000}
    for r in out["records"]:
        for key in ("cvxpy_objective_rel_diff", "dp_objective_rel_diff"):
            if key in r:
                assert r[key] <= 1e-8, r


# ---------------------------------------------------------------------------- hjb: the (x, D) Riccati system
def hjb_case(**changes):
    return pure(rho_tau=6.0 / 30, **{"temporary_impact": 1e-6, "initial_deviation": 0.1, **changes}).replace(
        risk_aversion=1e-5)


def test_hjb_is_the_limit_of_the_discrete_optimum_at_first_order():
    """qp exact at N = 100..800: the gap to hjb is first order in tau (one Richardson step leaves a
    second-order remainder, a second removes it)."""
    p = hjb_case()
    hjb = solve(p, "hjb")
    assert hjb.status == "optimal" and hjb.time_model == "continuous"
    assert hjb.diagnostics["moments_gap_relative"] <= 1e-8
    v = np.array([solve(p.replace(slices=n), "qp").objective for n in (100, 200, 400, 800)])
    r1 = 2 * v[1:] - v[:-1]
    err1 = np.abs(r1 / hjb.objective - 1)
    assert 3.0 < err1[1] / err1[2] < 5.0              # order 2 left after removing order 1
    r2 = (4 * r1[1:] - r1[:-1]) / 3
    assert abs(r2[-1] / hjb.objective - 1) <= 1e-7
    assert abs(v[-1] / hjb.objective - 1) <= 1e-4


def test_validate_with_hjb_on_a_blended_transient_spec():
    """hjb now solves eta > 0: validate compares qp, dp and the simulator, and sets hjb's
    discrete-vs-continuous pairs aside with the reason (no first-order gap prediction)."""
    report = validate(hjb_case(), paths=2000)
    assert report.passed, report.failures
    assert any("temporary_impact > 0" in nc.reason for nc in report.not_comparable)


def test_hjb_transient_reduces_to_almgren_chriss_and_handles_deterministic_volatility():
    p = hjb_case(transient_impact=1e-12, initial_deviation=0.0)
    ac = solve(p.replace_asset(0, transient_impact=0.0, resilience=0.0, initial_deviation=0.0), "closed-form",
               time_model="continuous")
    assert solve(p, "hjb").objective == pytest.approx(ac.objective, rel=1e-5)
    q = hjb_case().replace(volatility_model=VolatilityPath(tuple(np.linspace(0.4, 0.8, 30))))
    res = solve(q, "hjb")
    assert res.status == "optimal" and res.diagnostics["moments_gap_relative"] <= 1e-8
    assert res.holdings[0] == q.asset.holdings and res.holdings[-1] == 0.0


# ---------------------------------------------------------------------------- calibration
def test_transient_calibration_round_trip_covers_the_truth_over_seeds():
    """Synthetic mids with a decaying deviation (kappa_T = 2e-6, rho = 10/day): the 95% intervals
    of the propagator regression cover both truths in at least 16 of 20 seeds."""
    truth = SyntheticTruth(transient_impact=2e-6, resilience=10.0)
    hits_k = hits_r = 0
    for seed in range(20):
        data = generate(truth, days=250, parents_per_day=2, children=(6, 12), seed=seed)
        fit = fit_transient_impact(data.fills, data.bars)
        hits_k += fit.transient_impact.covers(2e-6)
        hits_r += fit.resilience.covers(10.0)
        assert fit.resilience.ci_low < fit.resilience.value < fit.resilience.ci_high
    assert hits_k >= 16 and hits_r >= 16
    assert fit.diagnostics["permanent_plus_instant"] == pytest.approx(truth.permanent_impact, rel=0.5)


def test_synthetic_data_without_transient_term_is_unchanged():
    plain = generate(SyntheticTruth(), days=5, seed=4)
    zero = generate(SyntheticTruth(resilience=7.0), days=5, seed=4)
    assert np.array_equal(plain.bars.mid, zero.bars.mid) and np.array_equal(plain.fills.price, zero.fills.price)


def test_hjb_tends_to_obizhaeva_wang_from_above_as_eta_vanishes():
    """eta -> 0: the continuous value falls to kappa_T X^2 / (rho T + 2) like sqrt(eta)."""
    cont = ow_continuous_cost(1e5, 2e-5, 6.0, 1.0)
    excess = [solve(pure(rho_tau=6.0 / 30, temporary_impact=eta), "hjb").objective - cont for eta in (1e-10, 1e-12)]
    assert excess[0] > 0 and excess[1] > 0
    assert 7.0 < excess[0] / excess[1] < 13.0


@pytest.mark.parametrize("kernel", ["exponential", "power_law"])
def test_power_law_impact_with_a_kernel_is_polished_to_stationarity(kernel):
    """beta = 0.6 with a transient kernel (qp's CVXPY path; the Newton polish carries the dense
    kernel block): optimal at the default tolerance, and the stationarity of the conventions'
    objective written here in numpy holds: every trade's marginal cost
    ``eps + (1+b) eta (n_j/tau)^b - gamma n_j + kappa_T (G n)_j + l_j - 2 lambda tau sigma^2
    sum_{k>=j} x_k`` equals one multiplier to 1e-8 of its size (rounding of a 1e-9 KKT residual)."""
    extra = {} if kernel == "exponential" else {"transient_kernel": "power_law", "resilience": 0.0,
                                                "kernel_exponent": 0.4, "kernel_timescale": 0.05}
    p = pure(slices=24, temporary_impact=2e-6, impact_exponent=0.6, permanent_impact=1e-7, spread=0.01,
             initial_deviation=0.05, **extra).replace(risk_aversion=1e-6, no_reversal=True)
    res = solve(p, "qp")
    assert res.status == "optimal" and res.diagnostics["polish"]["applied"], res.message
    a, tau, n = p.asset, p.tau, res.trades
    assert np.all(n > 0)
    g = transient_model(a).decay(np, np.abs(p.trade_times[:, None] - p.trade_times[None, :]))
    lin = a.initial_deviation * transient_model(a).initial_factors(p.trade_times)
    x = res.holdings[1:-1]
    risk = 2 * p.risk_aversion * tau * a.volatility**2 * np.r_[np.cumsum(x[::-1])[::-1], 0.0]
    marginal = (a.spread + (1 + a.impact_exponent) * a.temporary_impact * (n / tau) ** a.impact_exponent
                - a.permanent_impact * n + a.transient_impact * (g @ n) + lin - risk)
    assert np.ptp(marginal) <= 1e-8 * np.max(np.abs(marginal))


def test_cvxpy_kernel_is_a_constant_and_a_new_kernel_recompiles():
    """The kernel factor is a constant of the compiled CVXPY problem (as an N x N parameter it made
    CVXPY's parameter tensor N x N^2: 477 GiB asked for at N = 4,000), so the parameters stay O(N);
    a new resilience compiles a new problem, and each answer equals the O(N) path to 1e-9."""
    for rho in (3.0, 30.0):
        p = pure(slices=80, temporary_impact=1e-7, resilience=rho)
        cvx, fast = solve(p, "qp", path="cvxpy"), solve(p, "qp")
        assert cvx.status == "optimal" and fast.diagnostics["path"] != "cvxpy"
        assert gap(cvx, fast) <= 1e-9
        compiled, hit = compiled_problem(scale_problem(p))
        assert hit and sum(par.size for par in compiled.problem.parameters()) <= 10 * p.slices


def test_pure_obizhaeva_wang_with_a_soft_finish_is_convex_and_qp_solves_it():
    """eta = gamma = 0 with a terminal penalty: the banded Hessian check (without the kernel) is 0,
    but K is positive definite, so the spec is valid; qp equals the dense solve of
    ``min 1/2 n'Kn + alpha (X - 1'n)^2`` written here: ``(K + 2 alpha 11') n = 2 alpha X 1``."""
    alpha = 1e-4
    p = load_example("liquidity-cascade").replace(terminal_penalty=alpha)
    assert p.hessian_check() <= 0  # the kernel is what makes it convex
    a = p.asset
    k = transient_model(a).matrix(p.trade_times)
    n = np.linalg.solve(k + 2 * alpha * np.ones((p.slices, p.slices)), np.full(p.slices, 2 * alpha * a.holdings))
    res = solve(p, "qp")
    assert res.status == "optimal"
    assert np.max(np.abs(res.trades - n)) / a.holdings <= 1e-9
    x_end = a.holdings - n.sum()
    assert res.objective == pytest.approx(0.5 * n @ k @ n + alpha * x_end**2, rel=1e-9)
