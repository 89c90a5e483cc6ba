"""Spec validation: every rule names the field, its value and the rule; TOML round trips."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from solvers import (
    Asset,
    ExecutionProblem,
    InfeasibleSpecError,
    MeanRevertingVolatility,
    RegimeVolatility,
    SpecError,
    VolatilityPath,
    example_names,
    load_example,
    problem_from_toml,
)

BASE = """
horizon = 5.0
slices = 5
risk_aversion = 1e-6

[[assets]]
name = "XYZ"
holdings = 1e6
price = 50.0
volatility = 0.95
permanent_impact = 2.5e-7
temporary_impact = 2.5e-6
spread = 0.0625
"""


def asset(**kw):
    base = dict(name="A", holdings=1e6, price=50.0, volatility=0.95, permanent_impact=2.5e-7, temporary_impact=2.5e-6)
    base.update(kw)
    return Asset(**base)


def problem(**kw):
    base = dict(horizon=5.0, slices=5, risk_aversion=1e-6, assets=(asset(),))
    base.update(kw)
    return ExecutionProblem(**base)


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(volatility=float("nan")), r"asset\.volatility = nan: must be finite"),
        (dict(volatility=-0.1), r"asset\.volatility = -0\.1: must be >= 0"),
        (dict(temporary_impact=-1e-6), r"asset\.temporary_impact = -1e-06: must be > 0"),
        (dict(permanent_impact=-1e-9), r"asset\.permanent_impact = -1e-09: must be >= 0"),
        (dict(spread=float("inf")), r"asset\.spread = inf: must be finite"),
        (dict(holdings=0.0), r"asset\.holdings = 0\.0: must be non-zero"),
        (dict(price=0.0), r"asset\.price = 0\.0: must be > 0"),
        (dict(impact_exponent=2.5), r"asset\.impact_exponent = 2\.5: must be in \(0, 2\]"),
        (dict(participation=0.1), r"asset\.market_volume = None: is required when participation is set"),
        (dict(participation=1.5, market_volume=(1.0,) * 5), r"asset\.participation = 1\.5: must be in \(0, 1\]"),
        (dict(max_slice_trade=-5.0), r"asset\.max_slice_trade = -5\.0: must be > 0"),
        (dict(volatility="high"), r"asset\.volatility = 'high': must be a number"),
    ],
)
def test_asset_rules(kw, pattern):
    with pytest.raises(SpecError, match=pattern):
        asset(**kw)


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(slices=0), r"slices = 0: must be >= 1"),
        (dict(slices=2.5), r"slices = 2\.5: must be an integer"),
        (dict(horizon=0.0), r"horizon = 0\.0: must be > 0"),
        (dict(horizon=-1.0), r"horizon = -1\.0: must be > 0"),
        (dict(risk_aversion=float("nan")), r"risk_aversion = nan: must be finite"),
        (dict(assets=()), r"assets = \[\]: needs at least one asset"),
    ],
)
def test_problem_rules(kw, pattern):
    with pytest.raises(SpecError, match=pattern):
        problem(**kw)


def test_eta_tilde_must_be_positive_and_names_both_numbers():
    # tau = 1: eta_tilde = 1e-7 - 1e-6 / 2 < 0
    with pytest.raises(SpecError, match=r"assets\[0\]\.temporary_impact = 1e-07: eta_tilde = eta - gamma\*tau/2 = "
                                        r"1e-07 - 1e-06\*1/2 = -4e-07 must be > 0"):
        problem(assets=(asset(temporary_impact=1e-7, permanent_impact=1e-6),))
    # the same numbers are fine with finer slices (tau = 0.05): the rule is about eta_tilde
    problem(slices=100, assets=(asset(temporary_impact=1e-7, permanent_impact=1e-6),))
    # nonlinear impact: eta_tilde is not the convexity condition, so it is not enforced here
    problem(assets=(asset(temporary_impact=1e-7, permanent_impact=1e-6, impact_exponent=0.5),))


def test_correlation_must_be_psd_and_reports_smallest_eigenvalue():
    bad = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]
    smallest = np.linalg.eigvalsh(np.array(bad)).min()
    assets = (asset(name="A"), asset(name="B"), asset(name="C"))
    with pytest.raises(SpecError, match=rf"correlation = .*positive semi-definite \(smallest eigenvalue {smallest:.6g}\)"):
        problem(assets=assets, correlation=bad)
    with pytest.raises(SpecError, match=r"correlation\[0\]\[1\] = 0\.5: matrix must be symmetric"):
        problem(assets=assets[:2], correlation=[[1.0, 0.5], [0.4, 1.0]])
    with pytest.raises(SpecError, match=r"correlation\[1\]\[1\] = 0\.9: diagonal must be 1"):
        problem(assets=assets[:2], correlation=[[1.0, 0.5], [0.5, 0.9]])
    with pytest.raises(SpecError, match=r"correlation = .* must be a 2 x 2 matrix"):
        problem(assets=assets[:2], correlation=[[1.0]])


def test_basket_eta_tilde_matrix_must_be_positive_definite():
    assets = (asset(name="A"), asset(name="B"))
    with pytest.raises(SpecError, match=r"temporary_impact_matrix = .*positive definite"):
        problem(assets=assets, temporary_impact_matrix=[[1e-6, 2e-6], [2e-6, 1e-6]])
    with pytest.raises(SpecError, match=r"eta_tilde = H - tau/2 Gamma must be positive definite"):
        problem(assets=assets, temporary_impact_matrix=[[1e-6, 0.0], [0.0, 1e-6]],
                permanent_impact_matrix=[[3e-6, 0.0], [0.0, 3e-6]])


def test_caps_that_cannot_complete_the_order_name_the_shortfall():
    with pytest.raises(InfeasibleSpecError, match=r"caps cannot complete the order of \|X\| = 1e\+06 shares \(shortfall 100000 shares\)"):
        problem(assets=(asset(max_slice_trade=1.8e5),))
    with pytest.raises(InfeasibleSpecError, match=r"participation \* market_volume.*shortfall 500000 shares"):
        problem(assets=(asset(participation=0.1, market_volume=(1e6,) * 5),))
    with pytest.raises(SpecError, match=r"max_slice_trade = '3 numbers': must be one number or one per slice"):
        problem(assets=(asset(max_slice_trade=(1e6, 1e6, 1e6)),))


def test_unknown_toml_keys_are_errors():
    with pytest.raises(SpecError, match=r"risk_aversoin = 1e-06: unknown key"):
        problem_from_toml(BASE.replace("risk_aversion", "risk_aversoin"))
    with pytest.raises(SpecError, match=r"assets\[0\]\.volatilty = 0\.95: unknown key"):
        problem_from_toml(BASE.replace("volatility = 0.95", "volatilty = 0.95"))
    with pytest.raises(SpecError, match=r"volatility_model\.reversoin = 2\.0: unknown key for kind 'mean_reverting'"):
        problem_from_toml(BASE + '\n[volatility_model]\nkind = "mean_reverting"\nreversoin = 2.0\n')
    with pytest.raises(SpecError, match=r"spec = 'TOML': is not valid TOML"):
        problem_from_toml("horizon = ")
    with pytest.raises(SpecError, match=r"slices = None: is required"):
        problem_from_toml(BASE.replace("slices = 5", ""))
    with pytest.raises(SpecError, match=r"assets\[0\]\.volatility = -1\.0: must be >= 0"):
        problem_from_toml(BASE.replace("volatility = 0.95", "volatility = -1.0"))


def test_volatility_model_rules():
    with pytest.raises(SpecError, match=r"volatility_model\.generator\[0\] = \[-1\.0, 0\.5\]: row must sum to zero"):
        RegimeVolatility(levels=(0.5, 1.0), generator=((-1.0, 0.5), (1.0, -1.0)))
    with pytest.raises(SpecError, match=r"volatility_model\.generator\[1\]\[0\] = -1\.0: off-diagonal rates must be >= 0"):
        RegimeVolatility(levels=(0.5, 1.0), generator=((-1.0, 1.0), (-1.0, 1.0)))
    with pytest.raises(SpecError, match=r"volatility_model\.initial_regime = 2: must be an integer in 0\.\.1"):
        RegimeVolatility(levels=(0.5, 1.0), generator=((-1.0, 1.0), (1.0, -1.0)), initial_regime=2)
    with pytest.raises(SpecError, match=r"volatility_model\.elasticity = 0\.7: must be 0, 0\.5 or 1"):
        MeanRevertingVolatility(reversion=1.0, mean=1.0, vol_of_vol=0.1, elasticity=0.7)
    with pytest.raises(SpecError, match=r"volatility_model\.reversion = 0\.0: must be > 0"):
        MeanRevertingVolatility(reversion=0.0, mean=1.0)
    with pytest.warns(UserWarning, match=r"Feller condition 2\*reversion\*mean = 0\.2 < vol_of_vol\^2 = 1"):
        MeanRevertingVolatility(reversion=0.1, mean=1.0, vol_of_vol=1.0, elasticity=0.5)
    with pytest.raises(SpecError, match=r"volatility_model\.path = '4 numbers': must give one volatility per slice"):
        problem(volatility_model=VolatilityPath(path=(0.95,) * 4))
    with pytest.raises(SpecError, match=r"assets\[0\]\.volatility = 0\.95: must equal the initial regime's level"):
        problem(volatility_model=RegimeVolatility(levels=(0.5, 1.0), generator=((-1.0, 1.0), (1.0, -1.0))))
    with pytest.raises(SpecError, match=r"volatility_model\.kind = 'path': only 'constant' is supported for a basket"):
        problem(assets=(asset(name="A"), asset(name="B")), volatility_model=VolatilityPath(path=(0.95,) * 5))


def test_mean_reverting_moments_are_exact():
    # p = 0 (OU): E sigma = theta + (s0 - theta) e^{-kt}, Var = xi^2 (1 - e^{-2kt}) / (2k)
    m = MeanRevertingVolatility(reversion=2.0, mean=1.0, vol_of_vol=0.3, elasticity=0.0)
    t = np.array([0.0, 0.5, 3.0])
    m1, m2 = m.moments(1.5, t)
    mean = 1.0 + 0.5 * np.exp(-2 * t)
    var = 0.09 * (1 - np.exp(-4 * t)) / 4
    np.testing.assert_allclose(m1, mean, rtol=1e-13)
    np.testing.assert_allclose(m2, var + mean**2, rtol=1e-13)
    # p = 1 with xi = 0 is deterministic: E sigma^2 = (E sigma)^2
    d = MeanRevertingVolatility(reversion=2.0, mean=1.0, vol_of_vol=0.0, elasticity=1.0)
    m1, m2 = d.moments(1.5, t)
    np.testing.assert_allclose(m2, m1**2, rtol=1e-13)


def test_regime_distribution_and_slice_variance():
    q = ((-1.0, 1.0), (3.0, -3.0))
    model = RegimeVolatility(levels=(0.5, 1.5), generator=q, initial_regime=0)
    p = problem(slices=4, assets=(asset(volatility=0.5),), volatility_model=model)
    # two-state chain: P(regime 1 at t) = a/(a+b) (1 - e^{-(a+b)t}), a = 1, b = 3
    t = p.tau * np.arange(4)
    p1 = 0.25 * (1 - np.exp(-4 * t))
    np.testing.assert_allclose(p.slice_variance(), (1 - p1) * 0.25 + p1 * 2.25, rtol=1e-12)
    np.testing.assert_allclose(model.transition_matrix(0.3).sum(axis=1), 1.0, rtol=1e-15)


def test_toml_round_trip_of_every_example():
    assert len(example_names()) >= 5
    for name in example_names():
        p = load_example(name)
        again = problem_from_toml(p.to_toml())
        assert again == p, name


def test_problem_is_immutable_and_replace_revalidates():
    p = problem()
    with pytest.raises(Exception):
        p.horizon = 3.0  # type: ignore[misc]
    with pytest.raises(SpecError, match=r"horizon = -2\.0"):
        p.replace(horizon=-2.0)
    assert p.replace_asset(0, volatility=0.5).asset.volatility == 0.5
    assert p.tau == 1.0 and np.array_equal(p.times, np.arange(6.0))
    assert math.isclose(p.eta_tilde, 2.5e-6 - 0.5 * 2.5e-7)


def test_examples_validate_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in example_names():
            load_example(name)


def test_unknown_example_lists_the_available_ones():
    with pytest.raises(SpecError, match=r"example = 'nope': unknown example \(available: .*almgren-chriss-2001"):
        load_example("nope")


# ---------------------------------------------------------------------- magnitudes, sign and order of checks
def test_slices_have_an_upper_bound_and_tau_must_not_underflow():
    from solvers.spec import MAX_SLICES

    problem(slices=MAX_SLICES)  # the bound itself is allowed
    with pytest.raises(SpecError, match=r"slices = 1000000000: must be <= 1,000,000"):
        problem(slices=10**9)
    with pytest.raises(SpecError, match=r"horizon = 5e-324: must be at least 2.225e-308 \(a normal float"):
        problem(horizon=5e-324)
    with pytest.raises(SpecError, match=r"slices = 1000: tau = horizon / slices = .* underflows"):
        problem(horizon=1e-306, slices=1000)


@pytest.mark.parametrize(
    "kw, pattern",
    [
        (dict(holdings=1e156), r"assets\[0\]\.holdings = 1e\+156: makes X\^2 \(shares\^2\) about 1e312, over the 1e\+300"),
        (dict(volatility=1e300), r"assets\[0\]\.volatility = 1e\+300: makes sigma\^2.* beyond the float range"),
        (dict(temporary_impact=5e-324), r"assets\[0\]\.temporary_impact = 5e-324: makes gamma X\^2 / K about 1e317"),
        (dict(spread=1e296, permanent_impact=0.0), r"assets\[0\]\.spread = 1e\+296: makes epsilon \|X\| \(currency\)"),
        (dict(price=1e299), r"assets\[0\]\.price = 1e\+299: makes S_0 \|X\|"),
    ],
)
def test_overflowing_magnitudes_are_refused_naming_the_field_and_the_quantity(kw, pattern):
    with pytest.raises(SpecError, match=pattern):
        problem(assets=(asset(**kw),))


def test_short_horizon_that_overflows_the_trade_rate_names_the_horizon():
    with pytest.raises(SpecError, match=r"horizon = 1e-300: makes \(\|X\| / tau\)\^\(1 \+ beta\)"):
        problem(horizon=1e-300)


def test_tiny_and_large_orders_that_are_fine_after_scaling_are_accepted():
    # every scaled quantity (ratios to the cost unit) is moderate: only the currency amounts are tiny
    tiny = problem(assets=(asset(holdings=1e-200),))
    assert tiny.initial_holdings[0] == 1e-200
    problem(assets=(asset(holdings=-1e-300, spread=0.0),))
    problem(assets=(asset(holdings=1e140, temporary_impact=1e-250, permanent_impact=1e-255),))
    with pytest.raises(SpecError, match=r"holdings = 5e-324: \|holdings\| must be at least 2.225e-308"):
        asset(holdings=5e-324)


def test_mean_reverting_variance_that_overflows_names_vol_of_vol():
    model = MeanRevertingVolatility(reversion=2.0, mean=0.95, vol_of_vol=20.0, elasticity=1.0)
    with pytest.raises(SpecError, match=r"volatility_model\.vol_of_vol = 20\.0: E\[sigma\(t\)\^2\] over \[0, T = 5\] "
                                        r"grows like exp\(\(vol_of_vol\^2 - 2 reversion\) t\) = exp\(1980\)"):
        problem(volatility_model=model)
    # the same model over a short horizon is fine, and elasticity 0 grows only linearly in xi^2
    problem(horizon=0.05, volatility_model=model)
    problem(volatility_model=MeanRevertingVolatility(reversion=2.0, mean=0.95, vol_of_vol=20.0, elasticity=0.0))


def test_huge_matrix_entries_do_not_break_the_eigenvalue_checks():
    assets = (asset(name="A"), asset(name="B"))
    with pytest.raises(SpecError, match=r"temporary_impact_matrix = .*max \|temporary_impact_matrix\|"):
        problem(assets=assets, temporary_impact_matrix=[[1e300, 0.0], [0.0, 1e300]])
    with pytest.raises(SpecError, match=r"permanent_impact_matrix = .*positive semi-definite"):
        problem(assets=assets, permanent_impact_matrix=[[1e300, 1e308], [1e308, 1e300]])


def test_negative_risk_aversion_needs_risk_seeking():
    with pytest.raises(SpecError, match=r"risk_aversion = -1e-06: must be >= 0 .*set risk_seeking = true"):
        problem(risk_aversion=-1e-6)
    seeking = problem(risk_aversion=-1e-6, risk_seeking=True)
    assert seeking.to_dict()["risk_seeking"] is True
    assert problem_from_toml(seeking.to_toml()) == seeking
    with pytest.raises(SpecError, match=r"risk_aversion = -1e-06: must be >= 0"):
        problem_from_toml(BASE.replace("risk_aversion = 1e-6", "risk_aversion = -1e-6"))
    assert problem_from_toml("risk_seeking = true\n" + BASE.replace("1e-6", "-1e-6")).risk_aversion == -1e-6
    with pytest.raises(SpecError, match=r"risk_seeking = 'yes': must be true or false"):
        problem(risk_seeking="yes")


def test_top_level_scalars_are_checked_before_the_assets(tmp_path):
    # the CLI path of 'optexec solve SPEC' with a negative horizon: the error names the horizon, even
    # when an asset's per-slice list is also broken
    text = (BASE.replace("horizon = 5.0", "horizon = -1.0")
            + "participation = 0.5\nmarket_volume = [-1.0, 1e6, 1e6, 1e6, 1e6]\n")
    with pytest.raises(SpecError, match=r"^horizon = -1\.0: must be > 0"):
        problem_from_toml(text)
    from solvers.cli import main

    path = tmp_path / "bad.toml"
    path.write_text(Path_example("almgren-chriss-2001").replace("horizon = 5.0", "horizon = -1.0"))
    assert main(["solve", str(path)]) != 0


def Path_example(name):
    from solvers.spec import example_path

    return example_path(name).read_text()
