"""Value of adaptivity: static optimum against feedback policy on common random numbers.

Truths: the exact Riccati feedback policy for regimes and the banded-KKT static optimum on
E[sigma_k^2] (tests/helpers, tests/reference.py), whose own values the
simulated objectives must match within 4 standard errors; and, with constant volatility, the
fact that the optimal feedback policy trades the static optimum (value zero).
"""

from __future__ import annotations

import json

import pytest

from solvers import load_example
from solvers import methods as registry
from solvers.adaptivity import value_of_adaptivity
from solvers.cli import main
from solvers.errors import MethodNotApplicable
from solvers.methods import method_info, registered

from tests.helpers.method_kit import without_methods
from tests.helpers.regime_riccati import RegimeRiccatiPolicy
from tests.helpers.static_ref_method import solve as solve_static_reference

Z = 4.0


@pytest.fixture
def reference_methods():
    """The test references as the only static and dynamic methods besides the closed form (which
    does not apply to regimes), so the default resolution by MethodInfo.kind picks them."""
    with without_methods("qp", "dp", "hjb"), registered("static-ref", "tests.helpers.static_ref_method"), registered("dp-ref", "tests.helpers.dp_ref_method"):
        yield


def test_regimes_feedback_beats_static_with_ci():
    """Regime example: the feedback policy's advantage is positive with a 95% CI that excludes
    zero, and each simulated objective matches its own solver's value within 4 SE."""
    reg = load_example("volatility-regimes")
    static = solve_static_reference(reg)
    policy = RegimeRiccatiPolicy(reg)
    rep = value_of_adaptivity(reg, static=static, dynamic=policy, paths=20_000, seed=3)
    lo, hi = rep.value.ci()
    assert lo > 0, (rep.value, lo, hi)
    # the exact values: static E + lambda V and the DP value; their difference lies in the CI too
    assert rep.static_sim.objective.contains(static.objective, Z)
    assert rep.dynamic_sim.objective.contains(policy.value, Z)
    assert rep.value.contains(static.objective - policy.value, Z)
    # common random numbers: the paired SE is far below either run's own SE
    assert rep.value.se < 0.5 * rep.static_sim.objective.se
    text = rep.summary()
    assert "value of adaptivity" in text and "95% CI" in text


def test_constant_volatility_value_is_zero():
    """Constant sigma: the feedback optimum trades the static optimum on every path, so every
    difference is zero within its CI (here exactly, up to rounding)."""
    ac = load_example("almgren-chriss-2001").replace(slices=20)
    rep = value_of_adaptivity(ac, dynamic=RegimeRiccatiPolicy(ac), paths=4000, seed=1)
    assert rep.static_label in ("qp", "closed-form")  # the registry's static optimum
    for d in rep.differences.values():
        lo, hi = d.estimate.ci()
        assert lo - 1e-9 * rep.static_sim.objective.value <= 0.0 <= hi + 1e-9 * rep.static_sim.objective.value
    assert any("deterministic" in n for n in rep.notes)


def test_registry_resolution_cli_json_and_plot(reference_methods, tmp_path, capsys):
    out, png = tmp_path / "a.json", tmp_path / "a.png"
    rc = main(["adaptivity", "--example", "volatility-regimes", "--paths", "4000", "--json", str(out), "--plot", str(png)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "feedback: dp-ref" in text and "static: static-ref" in text
    data = json.loads(out.read_text())
    assert data["static"] == "static-ref" and data["dynamic"] == "dp-ref"
    lo, hi = data["value_of_adaptivity"]["ci95"]
    assert lo < data["value_of_adaptivity"]["value"] < hi
    assert png.stat().st_size > 1000


def test_no_feedback_method_is_reported(capsys):
    with without_methods("dp", "hjb"):
        _no_feedback_method_is_reported(capsys)


def _no_feedback_method_is_reported(capsys):
    with pytest.raises(MethodNotApplicable, match=r"no feedback-policy method applies \(no registered method declares kind 'dynamic'\)"):
        value_of_adaptivity(load_example("almgren-chriss-2001"), paths=100)
    with pytest.raises(MethodNotApplicable, match=r"no feedback-policy method applies \(dp: not registered; hjb: not registered\)"):
        value_of_adaptivity(load_example("almgren-chriss-2001"), dynamic_method=("dp", "hjb"), paths=100)
    assert main(["adaptivity", "--example", "almgren-chriss-2001", "--paths", "100"]) == 3
    assert "adaptivity does not apply" in capsys.readouterr().err



@pytest.mark.parametrize("example", ["volatility-regimes", "mean-reverting-volatility"])
def test_registered_dp_policy_value_and_adaptivity(example):
    """The registered dp's feedback policy, simulated: E[C + R] = dp's value at t = 0 within
    4 SE, and the value of adaptivity over the registered qp is positive with a 95% CI that
    excludes zero (measured on 1e5 paths: regimes 29,845 +/- 378, i.e. 2.1%, the exact
    qp - dp difference being 29,468; mean-reverting 8,899 +/- 160, 0.5%)."""
    problem = load_example(example)
    rep = value_of_adaptivity(problem, paths=20_000, seed=5)
    assert (rep.static_label, rep.dynamic_label) == ("qp", "dp")
    assert rep.dynamic_sim.objective.contains(rep.dynamic_value, Z)
    assert rep.static_sim.objective.contains(rep.static_value, Z)
    assert rep.value.ci()[0] > 0
    # With the exact static value as control variate the policy's objective is known to the
    # paired SE (~80 at 1e5 paths), which resolves dp's own discretization: on the
    # mean-reverting example (15-state volatility chain) dp's value is 520 +/- 81 (3e-4)
    # above its policy's simulated cost; dp is held to its declared accuracy there.
    cv = rep.dynamic_objective_cv
    allowed = Z * cv.se + method_info("dp").accuracy.objective_rtol * abs(rep.dynamic_value)
    assert abs(cv.value - rep.dynamic_value) <= allowed


def test_continuous_time_policy_is_compared_after_the_predicted_gap():
    """hjb's value is the continuous-time optimum; its policy executed in N slices costs O(tau)
    less (regimes: 1,547,923 continuous against about 1,396,000 simulated). The report shifts
    the solver value by validate's first-order gap and says so; adaptivity stays positive."""
    reg = load_example("volatility-regimes")
    rep = value_of_adaptivity(reg, dynamic_method="hjb", paths=10_000, seed=2)
    assert rep.dynamic_label == "hjb" and rep.dynamic_gap < 0
    assert any("continuous-time optimum" in n for n in rep.notes)
    shifted = rep.dynamic_value + rep.dynamic_gap
    # first order explains the gap: the O(tau^2) residual measured 9% of it (regime jumps make it
    # larger than the smooth estimate kappa tau / 2 = 7%; validate adds the methods' accuracies)
    assert abs(rep.dynamic_objective_cv.value - shifted) < 0.25 * abs(rep.dynamic_gap)
    assert rep.value.ci()[0] > 0


def test_summary_explains_its_statistics_in_words_and_bps():
    from solvers import load_example
    from solvers.adaptivity import value_of_adaptivity

    text = value_of_adaptivity(load_example("almgren-chriss-2001"), paths=200).summary()
    assert "[bps] of the order's notional |X| S_0 = 50,000,000" in text and " bps (95% CI" in text
    for words in ("static - feedback: on the same simulated paths", "95% CI: the range that holds the true difference",
                  "z: how many standard errors the simulated objective lies from the method's own value"):
        assert words in text
