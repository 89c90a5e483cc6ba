"""Execution as it happens: fills, re-optimization and the exact benchmark under fills.

Certainty equivalence (full fills, constant volatility: re-optimization is the static optimum,
path for path), dp under fills = dp at full fills, and a fill model on a bundled example where
every policy's objective and gap to the benchmark carry 95% intervals and none beats it.
"""

from __future__ import annotations

import numpy as np
import pytest

from hjb.dp.fills import solve_under_fills
from solvers import load_example, simulate, solve
from solvers.errors import SpecError
from solvers.execution import CatchUp, RecedingHorizon, StaticSchedule, execution_table
from solvers.market import market_model

FILLS = dict(volume_volatility=0.4, volume_autocorrelation=0.5, fill_participation=0.1, fill_rate=0.9)


def test_defaults_keep_full_fills():
    p = load_example("capped-participation")
    assert not market_model(p).active
    assert "volume_volatility" not in p.to_dict()["assets"][0]


def test_market_keys_are_validated():
    p = load_example("almgren-chriss-2001")
    with pytest.raises(SpecError, match="market_volume"):
        p.replace_asset(fill_participation=0.1)
    with pytest.raises(SpecError, match="volume_autocorrelation"):
        load_example("capped-participation").replace_asset(volume_autocorrelation=1.0)
    with pytest.raises(SpecError, match="fill_rate"):
        p.replace_asset(fill_rate=0.0)


def test_a_cap_that_never_binds_changes_nothing_path_for_path():
    p = load_example("capped-participation")
    loose = p.replace_asset(fill_participation=1.0, volume_volatility=0.1)  # volume >> the order
    x = solve(p, "qp").holdings
    a = simulate(p, x, paths=2000, seed=4)
    b = simulate(loose, StaticSchedule(loose, x), paths=2000, seed=4)
    np.testing.assert_allclose(b.cost, a.cost, rtol=1e-9, atol=1e-9 * abs(a.mean.value))
    assert np.all(b.remainder == 0)


@pytest.mark.parametrize("name", ["almgren-chriss-2001", "volatility-regimes"])
def test_certainty_equivalence_receding_horizon_is_the_static_optimum(name):
    p = load_example(name).replace(volatility_model=load_example("almgren-chriss-2001").volatility_model)
    p = p.replace_asset(volatility=0.95)
    x = solve(p, "closed-form").holdings
    static = simulate(p, x, paths=4000, seed=7)
    rh = RecedingHorizon(p)
    assert rh.path == "closed-form"
    again = simulate(p, rh, paths=4000, seed=7)
    scale = abs(static.mean.value)
    np.testing.assert_allclose(again.cost, static.cost, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(again.risk, static.risk, rtol=1e-9)


@pytest.mark.parametrize("name", ["almgren-chriss-2001", "volatility-regimes", "square-root-impact"])
def test_dp_under_fills_is_dp_at_full_fills(name):
    p = load_example(name)
    dp = solve(p, "dp")
    fills = solve_under_fills(p)
    assert fills.objective == pytest.approx(dp.objective, rel=1e-9)
    a = simulate(p, dp.policy if dp.policy is not None else dp, paths=2000, seed=2)
    b = simulate(p, fills.policy, paths=2000, seed=2)
    # same paths; the fill policy interpolates its node orders where dp's grid policy re-minimizes
    # at each x (exact recursion: identical), so per path they agree to the grid's resolution
    np.testing.assert_allclose(b.cost, a.cost, rtol=0, atol=1e-4 * abs(a.mean.value))
    assert abs(b.objective.value - a.objective.value) < 1e-5 * abs(a.objective.value)


def test_policies_under_fills_against_the_exact_benchmark():
    p = load_example("capped-participation").replace_asset(**FILLS)
    report = execution_table(p, paths=20_000, seed=1, dp_settings={"x_points": 101})
    names = [r.name for r in report.rows]
    assert names == ["static", "catch-up", "pov", "receding-horizon", "dp-under-fills"]
    bench = report.row("dp-under-fills").simulation.objective
    # the benchmark's own value against its simulation: 4 SE plus its quadrature/grid error (0.5%)
    assert abs(bench.value - report.benchmark_objective) < 4 * bench.se + 5e-3 * report.benchmark_objective
    for row in report.rows:
        lo, hi = row.simulation.objective.ci()
        assert lo < row.simulation.objective.value < hi
        if row.name == "dp-under-fills":
            continue
        glo, ghi = row.gap.ci()
        assert glo <= row.gap.value <= ghi
        assert ghi >= 0, f"{row.name} beats the exact benchmark beyond its interval: {row.gap}"
    # the blind schedule carries its shortfall to the end; catching up leaves less unfilled
    assert report.row("static").shortfall.value > report.row("catch-up").shortfall.value > 0
    assert report.resolve_seconds and "dp" in next(iter(report.resolve_seconds))
    assert "dp-under-fills" in report.summary() and report.to_dict()["policies"][0]["objective_ci95"]


def test_catch_up_and_static_agree_at_full_fills():
    p = load_example("almgren-chriss-2001")
    x = solve(p, "closed-form").holdings
    a = simulate(p, CatchUp(p, x), paths=1000, seed=3)
    b = simulate(p, StaticSchedule(p, x), paths=1000, seed=3)
    np.testing.assert_allclose(a.cost, b.cost, rtol=1e-9)
