"""Monte Carlo simulator against independent truths: the conventions page's analytic E and V
(solvers.costs), the Gaussian law of a static linear cost, the exact moments of the
volatility models, and an exact dynamic-programming value of a feedback policy.

Statistical tolerance: 4 standard errors at a fixed seed. For one comparison that fails by
chance with probability 6e-5 (two-sided normal), so the whole file (about 60 such checks)
fails by chance with probability below 0.4%, while a wrong model term (e.g. the permanent
impact's 1/2 gamma sum n^2, off by 1e4 on the AC example where SE ~ 5e2) is many SE away.
"""

from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest
from scipy.stats import norm

from solvers import load_example, schedule_cost, solve
from solvers.errors import SpecError
from solvers.schedules import linear_ramp, twap
from solvers.plots import plot_cost_histogram, plot_fan_chart
from solvers.policy import ProportionalPolicy
from solvers.simulation import compare, sample_statistics, simulate, simulate_volatility
from solvers.volatility import MeanRevertingVolatility, RegimeVolatility

from tests.helpers.regime_riccati import RegimeRiccatiPolicy

Z = 4.0


def _ac():
    return load_example("almgren-chriss-2001")


def _cases():
    ac = _ac()
    yield "linear", ac, solve(ac).holdings
    sq = load_example("square-root-impact")
    yield "power-law", sq, linear_ramp(sq, 0.7)
    basket = load_example("two-asset-basket")
    yield "basket", basket, solve(basket).holdings
    loads = ((0.8,), (0.5,))  # one factor; specific vols make sqrt(B B' + s^2) the assets' vols
    factor = basket.replace(correlation=None, factor_loadings=loads,
                            specific_volatility=(math.sqrt(0.95**2 - 0.64), math.sqrt(0.8**2 - 0.25)))
    yield "factor basket", factor, solve(factor).holdings
    drift = ac.replace_asset(0, drift=0.05)
    yield "drift", drift, linear_ramp(drift, 0.5)
    mr = load_example("mean-reverting-volatility")
    yield "mean-reverting p=1", mr, linear_ramp(mr, 0.5)
    for p, theta in ((0.0, 0.95), (0.5, 0.95)):
        model = MeanRevertingVolatility(reversion=2.0, mean=theta, vol_of_vol=0.5, elasticity=p)
        yield f"mean-reverting p={p}", mr.replace(volatility_model=model), linear_ramp(mr, 0.5)
    reg = load_example("volatility-regimes")
    yield "regimes", reg, linear_ramp(reg, 0.5)
    caps = load_example("capped-participation")
    yield "caps (twap)", caps, twap(caps)


CASES = list(_cases())


@pytest.mark.parametrize("name,problem,holdings", CASES, ids=[c[0] for c in CASES])
def test_static_mean_and_variance_match_analytic(name, problem, holdings):
    """Simulated mean and variance of the cost of a static schedule = schedule_cost's E, V
    within 4 standard errors (fixed seed); the risk term's mean = lambda V likewise."""
    cost = schedule_cost(problem, holdings)
    r = simulate(problem, holdings, paths=40_000, seed=11)
    assert r.mean.contains(cost.expected_cost, Z), (name, r.mean, cost.expected_cost)
    assert r.variance.contains(cost.variance, Z), (name, r.variance, cost.variance)
    lam_v = problem.risk_aversion * cost.variance
    if not problem.volatility_model.stochastic:  # deterministic volatility: the realized risk term is exactly lambda V
        assert r.risk_term.value == pytest.approx(lam_v, rel=1e-12)
    else:
        assert r.risk_term.contains(lam_v, Z)
    assert r.objective.contains(cost.objective, Z)


def test_permanent_impact_term_is_detected():
    """The check has power: the conventions page's -1/2 gamma sum n^2 (25,000 on TWAP of the AC example) is
    resolved. Without antithetics it is ~5 SE at 40,000 paths; antithetic pairs make a static
    linear cost exact per pair, so E without that term is rejected by millions of SE."""
    ac = _ac()
    h = twap(ac)
    n = h[:-1] - h[1:]
    right = schedule_cost(ac, h).expected_cost
    wrong = right + 0.5 * ac.asset.permanent_impact * float(np.sum(n**2))
    r = simulate(ac, h, paths=2000, seed=3, antithetic=True)
    assert r.mean.contains(right, Z) or r.mean.value == pytest.approx(right, rel=1e-12)
    assert not r.mean.contains(wrong, 1e6)


def test_gaussian_var_cvar_match_closed_form():
    """Linear impact and constant sigma: C ~ N(E, V) exactly, so VaR_a = E + z_a sqrt(V) and
    CVaR_a = E + sqrt(V) phi(z_a) / (1 - a); both within 4 SE."""
    ac = _ac()
    h = solve(ac).holdings
    cost = schedule_cost(ac, h)
    r = simulate(ac, h, paths=100_000, seed=5, levels=(0.9, 0.95, 0.99))
    for a in (0.9, 0.95, 0.99):
        z = norm.ppf(a)
        assert r.stats["var"][a].contains(cost.expected_cost + z * cost.std, Z), a
        assert r.stats["cvar"][a].contains(cost.expected_cost + cost.std * norm.pdf(z) / (1 - a), Z), a
    assert r.std.contains(cost.std, Z)


def test_standard_errors_are_calibrated():
    """Coverage of the 95% intervals over 300 independent small runs of a Gaussian cost.

    Expected 0.95; the binomial sd of the fraction is 0.0126, so [0.90, 0.99] is a 4-sd band
    below (an SE that is 20% too small drops coverage to about 0.90)."""
    rng = np.random.default_rng(2024)
    mu, sd, n = 3.0, 2.0, 2000
    cover = {"mean": 0, "std": 0, "var": 0, "cvar": 0}
    a = 0.95
    z = norm.ppf(a)
    truth = {"mean": mu, "std": sd, "var": mu + sd * z, "cvar": mu + sd * norm.pdf(z) / (1 - a)}
    reps = 300
    for _ in range(reps):
        st = sample_statistics(mu + sd * rng.standard_normal(n), (a,))
        est = {"mean": st["mean"], "std": st["std"], "var": st["var"][a], "cvar": st["cvar"][a]}
        for key in cover:
            cover[key] += est[key].contains(truth[key], 1.96)
    for key, hits in cover.items():
        assert 0.90 <= hits / reps <= 0.99, (key, hits / reps)


def test_antithetic_pairs_are_exact_for_static_linear_cost():
    """A static schedule's cost is linear in xi, so each antithetic pair averages to E[C] and the
    mean's SE collapses to rounding; the variance estimate still matches V within 4 SE."""
    ac = _ac()
    h = solve(ac).holdings
    cost = schedule_cost(ac, h)
    plain = simulate(ac, h, paths=20_000, seed=9)
    anti = simulate(ac, h, paths=20_000, seed=9, antithetic=True)
    assert anti.mean.value == pytest.approx(cost.expected_cost, rel=1e-12)  # rounding only
    assert anti.mean.se < 1e-9 * plain.mean.se
    assert anti.variance.contains(cost.variance, Z)


@pytest.mark.parametrize("p,theta", [(0.0, 0.95), (0.5, 0.95), (1.0, 0.95), (0.5, 0.0), (1.0, 0.0)])
def test_mean_reverting_volatility_moments(p, theta):
    """E[sigma_k] and E[sigma_k^2] of the scheme = the model's exact moments within 4 SE
    (theta = 0: sigma decays towards an absorbing 0 - the Poisson-gamma draw with d = 0 for
    p = 1/2, the log-space moment match for p = 1 - with no overflow or division warnings,
    which pytest turns into errors here)."""
    mr = load_example("mean-reverting-volatility")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the Feller warning for theta = 0
        model = MeanRevertingVolatility(reversion=2.0, mean=theta, vol_of_vol=0.6, elasticity=p)
    problem = mr.replace(volatility_model=model)
    sigma, regime = simulate_volatility(problem, 40_000, np.random.default_rng(7), vol_substeps=1)
    assert regime is None
    m1, m2 = model.moments(1.2, problem.times[:-1])
    for got, want in ((sigma, m1), (sigma**2, m2)):
        se = got.std(axis=0, ddof=1) / math.sqrt(got.shape[0])
        se[0] = 1e-12  # sigma(t_0) is deterministic
        assert np.all(np.abs(got.mean(axis=0) - want) <= Z * se + 1e-12), (p, got.mean(axis=0) - want, se)


def test_regime_distribution_matches_chain():
    """The share of paths in each regime at t_k = the chain's law start @ expm(Q t_k), 4 SE."""
    reg = load_example("volatility-regimes")
    sigma, regime = simulate_volatility(reg, 40_000, np.random.default_rng(8))
    model = reg.volatility_model
    want = model.distribution(reg.times[:-1])[:, 1]
    got = (regime == 1).mean(axis=0)
    se = np.sqrt(np.maximum(want * (1 - want), 1e-12) / regime.shape[0])
    assert np.all(np.abs(got - want) <= Z * se + 1e-12)
    assert np.array_equal(sigma, np.asarray(model.levels)[regime])


def test_feedback_policy_value_matches_exact_dp():
    """A regime-switching feedback policy (exact Riccati recursion, tests/helpers/regime_riccati.py)
    priced by the simulator: E[C + R] = the policy's value at t = 0 within 4 SE."""
    reg = load_example("volatility-regimes")
    policy = RegimeRiccatiPolicy(reg)
    r = simulate(reg, policy, paths=40_000, seed=21)
    assert r.objective.contains(policy.value, Z), (r.objective, policy.value)
    assert r.diagnostics["engine"].startswith("feedback")


def test_riccati_helper_reproduces_closed_form():
    """The test helper itself: with constant sigma its value is the discrete AC objective."""
    ac = _ac().replace(slices=20)
    assert RegimeRiccatiPolicy(ac).value == pytest.approx(solve(ac).objective, rel=1e-12)


def _proportional_cases():
    ac = _ac()
    yield "ac", ac, solve(ac).holdings
    sq = load_example("square-root-impact").replace_asset(0, drift=0.05)
    yield "sqrt impact + drift", sq, linear_ramp(sq, 0.6)
    reg = load_example("volatility-regimes")
    yield "regimes", reg, linear_ramp(reg, 0.4)


PROPORTIONAL = list(_proportional_cases())


@pytest.mark.parametrize("name,problem,holdings", PROPORTIONAL, ids=[c[0] for c in PROPORTIONAL])
def test_proportional_policy_reproduces_schedule_on_common_paths(name, problem, holdings):
    """A schedule in closed-loop form trades the schedule itself on every path, so the feedback
    engine (prices carried slice by slice: impact, spread, drift, volatility draws) and the
    static engine (summation by parts) agree path by path on common random numbers, and the
    feedback objective matches costs.py's E + lambda V within 4 SE. For the AC optimum this is
    the optimal feedback policy (time consistency)."""
    cost = schedule_cost(problem, holdings)
    static = simulate(problem, holdings, paths=5000, seed=4, label="static")
    fb = simulate(problem, ProportionalPolicy(problem, holdings), paths=5000, seed=4, label="feedback")
    assert np.allclose(fb.cost, static.cost, rtol=0, atol=1e-9 * abs(cost.expected_cost))
    assert np.allclose(fb.risk, static.risk, rtol=1e-12, atol=1e-9 * abs(cost.expected_cost))
    d = compare(fb, static)
    assert abs(d["objective"].estimate.value) < 1e-9 * cost.objective
    assert fb.objective.contains(cost.objective, Z)


def test_reproducible_seeds_and_prefix_property():
    reg = load_example("volatility-regimes")
    h = linear_ramp(reg, 0.5)
    a = simulate(reg, h, paths=3000, seed=1, block_paths=1000)
    b = simulate(reg, h, paths=3000, seed=1, block_paths=1000)
    c = simulate(reg, h, paths=1500, seed=1, block_paths=1000)
    d = simulate(reg, h, paths=3000, seed=2, block_paths=1000)
    assert np.array_equal(a.cost, b.cost) and np.array_equal(a.risk, b.risk)
    assert np.array_equal(a.cost[:1500], c.cost)
    assert not np.allclose(a.cost, d.cost)


def test_blocks_bound_memory_for_long_runs():
    """N = 390, 60,000 paths: 23.4M normals (187 MB at once) are drawn in blocks of about
    2**21, so the traced peak stays far below the unchunked size (per-path scalars: 1 MB)."""
    ac = _ac().replace(slices=390)
    h = twap(ac)
    tracemalloc.start()
    r = simulate(ac, h, paths=60_000, seed=0, fan_paths=100)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r.diagnostics["blocks"] > 1
    assert r.diagnostics["block_paths"] * 390 <= 2**21 + 390
    assert peak < 120e6, peak
    assert r.mean.contains(schedule_cost(ac, h).expected_cost, Z)


def test_progress_bar_and_plots(tmp_path, capsys):
    ac = _ac()
    r = simulate(ac, solve(ac), paths=2000, seed=0, progress=True, label="ac")
    assert "simulate ac" in capsys.readouterr().err
    t = simulate(ac, twap(ac), paths=2000, seed=0, label="twap")
    assert plot_cost_histogram([r, t], tmp_path / "hist.png").stat().st_size > 1000
    assert plot_fan_chart(r, tmp_path / "fan.png").stat().st_size > 1000
    q = r.fan_quantiles()
    assert q.shape == (5, ac.slices + 1)


def test_bad_arguments_name_the_parameter():
    ac = _ac()
    h = twap(ac)
    with pytest.raises(SpecError, match=r"paths = 3: must be even with antithetic=True"):
        simulate(ac, h, paths=3, antithetic=True)
    with pytest.raises(SpecError, match=r"paths = 1: must be an integer >= 2"):
        simulate(ac, h, paths=1)
    with pytest.raises(SpecError, match=r"strategy = 'holdings of shape \(3,\)'"):
        simulate(ac, np.zeros(3), paths=10)
    with pytest.raises(SpecError, match=r"strategy = 'holdings': must start at X and end at 0"):
        simulate(ac, np.zeros(ac.slices + 1), paths=10)
    with pytest.raises(SpecError, match=r"levels = 1.5: VaR levels must be in \(0, 1\)"):
        simulate(ac, h, paths=10, levels=(1.5,))
    with pytest.raises(SpecError, match=r"vol_substeps = 0"):
        simulate(ac, h, paths=10, vol_substeps=0)
    # non-positive or absurd counts are SpecErrors naming the argument (block_paths=0 used to loop forever)
    for kwargs, name in [({"block_paths": 0}, "block_paths = 0"), ({"block_paths": -4}, "block_paths = -4"),
                         ({"block_paths": 2.5}, "block_paths = 2.5"), ({"paths": 10**12}, "paths = 1000000000000"),
                         ({"paths": 0}, "paths = 0"), ({"seed": -1}, "seed = -1"), ({"seed": 1.5}, "seed = 1.5"),
                         ({"vol_substeps": 10**9}, "vol_substeps = 1000000000"), ({"fan_paths": -1}, "fan_paths = -1")]:
        with pytest.raises(SpecError, match=rf"{name}: must be an integer >= \d+ \(and at most [\d,]+\)"):
            simulate(ac, h, **{"paths": 10, **kwargs})
    small = simulate(ac, h, paths=10, block_paths=2)  # the smallest block: five blocks, bounded
    assert small.diagnostics["blocks"] == 5

    class Broken:
        time_model = "discrete"
        problem = ac

        def trade(self, k, holdings, sigma, regime=None):
            return holdings * np.nan

    with pytest.raises(SpecError, match=r"policy = 'Broken': returned a non-finite trade in slice k = 1"):
        simulate(ac, Broken(), paths=10)


def test_regime_model_unit_check():
    """Guard: the regime example's chain really switches (else the feedback test is vacuous)."""
    reg = load_example("volatility-regimes")
    assert isinstance(reg.volatility_model, RegimeVolatility)
    policy = RegimeRiccatiPolicy(reg)
    assert np.ptp(policy.fraction[:-1], axis=1).max() > 1e-3


def test_basket_feedback_engine_matches_static_engine():
    """A basket policy in closed-loop form (each asset sells the schedule's fraction of what it
    still holds) trades the static schedule on every path: the feedback engine (which carries
    correlated prices with the permanent-impact matrix) and the static engine (summation by
    parts) agree path by path, and both match E and V."""
    basket = load_example("two-asset-basket")
    res = solve(basket)
    x = res.holdings

    class BasketProportional:
        time_model = "discrete"
        problem = basket

        def trade(self, k, holdings, sigma, regime=None):
            assert holdings.shape[1] == 2 and sigma.shape == holdings.shape
            return holdings * ((x[k - 1] - x[k]) / x[k - 1])

    static = simulate(basket, x, paths=4000, seed=12)
    fb = simulate(basket, BasketProportional(), paths=4000, seed=12)
    assert np.allclose(fb.cost, static.cost, rtol=0, atol=1e-8 * abs(res.expected_cost))
    assert np.allclose(fb.risk, static.risk, rtol=1e-12)
    assert fb.mean.contains(res.expected_cost, Z) and fb.variance.contains(res.variance, Z)


def test_schedule_policy_shapes_for_one_asset_and_a_basket():
    """SchedulePolicy.trade returns one trade per path: (paths,) for one asset, (paths, m) for a
    basket (it used to return (paths, m, m) for a basket), and the simulator prices it as the
    static schedule it wraps."""
    from solvers.policy import SchedulePolicy

    basket = load_example("two-asset-basket")
    x = solve(basket).holdings
    pol = SchedulePolicy(basket, x)
    out = pol.trade(3, np.zeros((7, 2)), np.ones((7, 2)))
    assert out.shape == (7, 2) and np.allclose(out, x[2] - x[3])
    ac = _ac()
    single = SchedulePolicy(ac, solve(ac).holdings)
    assert single.trade(1, np.zeros(5), np.ones(5)).shape == (5,)
    a = simulate(basket, pol, paths=1000, seed=3)
    b = simulate(basket, x, paths=1000, seed=3)
    assert np.array_equal(a.cost, b.cost)
