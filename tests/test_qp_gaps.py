"""qp's time-varying model on the cases it used to refuse: a terminal penalty below gamma / 2 (convex by
the Hessian rule, not by each term) and transient impact with per-slice coefficients, closures and a
soft finish; against the closed form, dp, and a dense KKT solve of the conventions page written here."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

import solvers
from solvers.costs import schedule_cost
from solvers.errors import MethodNotApplicable, SpecError
from solvers.qp.sizing import DENSE_KERNEL_SLICES
from solvers.spec import load_example
from tests.helpers.dense_kkt import dense_optimum

#: exact against exact: all are float64 solves of one linear-quadratic problem (observed 1e-13 or better)
EXACT = 1e-9


def ac(n=5):
    return load_example("almgren-chriss-2001").replace(slices=n)


def _agree(r, holdings, objective):
    x = abs(r.problem.asset.holdings)
    assert abs(r.objective - objective) <= EXACT * abs(objective), (r.method, r.objective, objective)
    assert np.max(np.abs(np.asarray(r.holdings) - holdings)) / x <= EXACT, r.method


# ---------------------------------------------------------------------------- alpha < gamma / 2
@pytest.mark.parametrize("fraction", [0.0, 0.25])
def test_terminal_penalty_below_gamma_half_qp_equals_closed_form_and_dp(fraction):
    p = ac().replace(terminal_penalty=fraction * ac().asset.permanent_impact)
    assert p.hessian_check() > 0  # convex by the Hessian rule, though alpha - gamma / 2 < 0
    ref, obj, *_ = dense_optimum(p)
    cf = solvers.solve(p, "closed-form")
    _agree(cf, ref, obj)
    for method in ("qp", "dp"):
        r = solvers.solve(p, method)
        _agree(r, cf.holdings, cf.objective)
    assert ref[-1] > 0  # a soft finish that leaves a remainder


def test_terminal_penalty_below_gamma_half_with_a_varying_market():
    rng = np.random.default_rng(5)
    n = 12
    # no spread: with one, the optimum of this market buys back a little in the last slice (a kink)
    p = ac(n).replace_asset(0, temporary_impact=tuple(2.5e-6 * rng.uniform(0.8, 1.5, n)), spread=0.0).replace(
        terminal_penalty=0.0, closures=[{"after_slice": 4, "duration": 0.5}])
    ref, obj, *_ = dense_optimum(p)
    _agree(solvers.solve(p, "qp"), ref, obj)
    _agree(solvers.solve(p, "dp"), ref, obj)


def test_non_convex_soft_finish_is_still_refused_by_the_spec_with_its_numbers():
    with pytest.raises(SpecError) as err:
        ac().replace(terminal_penalty=0.0, risk_aversion=0.0).replace_asset(0, permanent_impact=4.9e-6)
    assert err.value.field == "terminal_penalty"
    text = str(err.value)
    for number in ("smallest eigenvalue -", "eta = 2.5e-06", "gamma = 4.9e-06", "terminal_penalty = 0", "tau = 1"):
        assert number in text, (number, text)


# ---------------------------------------------------------------------------- transient in a varying market
def transient_varying(n=12, *, kernel="exponential", alpha=None, seed=2):
    rng = np.random.default_rng(seed)
    p = ac(n).replace_asset(0, temporary_impact=tuple(2.5e-6 * rng.uniform(0.5, 2.0, n)),
                            spread=tuple(0.0625 * rng.uniform(0.9, 1.1, n)), drift=0.02,
                            transient_impact=1e-6, transient_kernel=kernel, initial_deviation=0.05,
                            **({"resilience": 0.8} if kernel == "exponential" else
                               {"resilience": 0.0, "kernel_exponent": 0.4, "kernel_timescale": 0.3}))
    sig = 0.95 * rng.uniform(0.7, 1.3, n)
    sig[0] = 0.95
    top = {"volatility_model": {"kind": "path", "path": list(sig)},
           "closures": [{"after_slice": n // 3, "duration": 0.7}, {"after_slice": 2 * n // 3, "duration": 1.5,
                                                                     "volatility": 1.4}]}
    if alpha is not None:
        top["terminal_penalty"] = alpha
    return p.replace(**top)


@pytest.mark.parametrize("kernel, alpha", [("exponential", None), ("exponential", 1e-6), ("power_law", None),
                                           ("power_law", 1e-6), ("power_law", 0.0)])
def test_transient_with_a_varying_market_equals_a_dense_kkt_solve(kernel, alpha):
    # the soft finishes here stop trading in some slices and buy back at the end: the dense KKT solve
    # fixes qp's zero trades and prices the others' spread by their sign; its multipliers must lie in
    # the spread's subgradient [-eps_k, eps_k], so the reference is optimal, not just qp's active set
    p = transient_varying(kernel=kernel, alpha=alpha)
    r = solvers.solve(p, "qp")
    assert r.diagnostics["factor"] == "dense" and r.diagnostics["transient"]["kernels"] == [kernel]
    ref, obj, nu, eps = dense_optimum(p, np.sign(r.trades))
    _agree(r, ref, obj)
    assert np.all(np.abs(nu) <= eps), (nu, eps)
    assert r.cost_breakdown["transient"] != 0
    if alpha is not None:  # the remainder pays alpha x_N^2 (no transient term on x_N)
        assert r.cost_breakdown["terminal"] == pytest.approx(alpha * r.holdings[-1] ** 2, rel=1e-12, abs=1e-12)
    if alpha == 0.0:
        assert np.any(r.trades == 0) and np.any(r.trades < 0), r.trades


def test_negative_eta_tilde_made_convex_by_the_kernel():
    # slice 3's eta_k < gamma tau / 2: q_k < 0, the kernel restores convexity on the trades
    n = 8
    eta = np.full(n, 2e-7)
    eta[3] = 0.5e-7
    p = ac(n).replace(risk_aversion=1e-7, closures=[{"after_slice": 4, "duration": 0.3}]).replace_asset(
        0, temporary_impact=tuple(eta), permanent_impact=1e-6, spread=0.0, transient_impact=2e-5, resilience=0.5)
    assert eta[3] - p.asset.permanent_impact * p.tau / 2 < 0
    ref, obj, *_ = dense_optimum(p)
    _agree(solvers.solve(p, "qp"), ref, obj)


@pytest.mark.parametrize("closures", [[{"after_slice": 3, "duration": 0.2}],
                                      [{"after_slice": 1, "duration": 0.05}, {"after_slice": 20, "duration": 0.5}]])
def test_pure_obizhaeva_wang_with_closures_equals_the_closed_form(closures):
    p = load_example("liquidity-cascade").replace(closures=closures)
    cf = solvers.solve(p, "closed-form")
    r = solvers.solve(p, "qp")
    _agree(r, cf.holdings, cf.objective)
    ref, obj, *_ = dense_optimum(p)
    _agree(r, ref, obj)


def test_transient_profile_re_solves_without_recompiling():
    first = solvers.solve(transient_varying(seed=3, alpha=1e-6), "qp")
    second = solvers.solve(transient_varying(seed=4, alpha=1e-6), "qp")
    assert first.success and second.success and second.diagnostics["cache_hit"]


def test_dense_kernel_beyond_the_limit_is_refused_before_allocating():
    n = DENSE_KERNEL_SLICES + 1
    p = ac(n).replace(horizon=5.0, closures=[{"after_slice": 10, "duration": 0.1}]).replace_asset(
        0, transient_impact=1e-7, resilience=1.0)
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(MethodNotApplicable, match=rf"dense N x N kernel.*N = {DENSE_KERNEL_SLICES + 1} > {DENSE_KERNEL_SLICES}.*GiB"):
        solvers.solve(p, "qp")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # one dense N x N float64 matrix is 200 MB: refusing must cost a small fraction of one
    assert peak < 20e6, peak
    assert time.perf_counter() - start < 5.0
