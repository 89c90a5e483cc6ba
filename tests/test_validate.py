"""optexec validate: agreement table, pair tolerances, failure path, CLI and JSON.

The independent truths here are the closed form (discrete and continuous time), the
simulator, and two test-only references in tests/test_simulate_support.py (a banded KKT
static optimum and an exact Riccati feedback policy for regimes) registered under their own
names, the way qp and dp slot into the registry.
"""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from solvers import load_example, solve
from solvers import methods as registry
from solvers.cli import main
from solvers.errors import MethodNotApplicable
from solvers.result import Result
from solvers.validate import MethodAccuracy, validate

SUPPORT = "tests.test_simulate_support"
# the module (solvers.validate, the package attribute, is the re-exported function)
validate_mod = importlib.import_module("solvers.validate")


def solve_with_wrong_eta(problem, **options):
    """The deliberately broken method of the failure fixture: solves with eta x 1.5, reports on
    the true spec (as a method that mis-reads one parameter would)."""
    wrong = problem.replace_asset(0, temporary_impact=1.5 * problem.asset.temporary_impact)
    return Result.from_schedule(problem, solve(wrong).holdings, method="wrong-eta")


def solve_raising(problem, **options):
    raise RuntimeError("grid exploded")


def solve_not_applicable(problem, **options):
    raise MethodNotApplicable("never", "this method applies to nothing")


@pytest.fixture
def wrong_eta_method(monkeypatch):
    """Register a method that is given a wrong parameter (eta x 1.5), declared as accurate as
    the closed form, so that validate must catch it."""
    monkeypatch.setitem(registry.METHODS, "wrong-eta", "tests.test_validate:solve_with_wrong_eta")
    monkeypatch.setitem(validate_mod.ACCURACY, "wrong-eta", MethodAccuracy(1e-12, 1e-10, "exact (test fixture)"))


@pytest.fixture
def reference_methods(monkeypatch):
    monkeypatch.setitem(registry.METHODS, "static-ref", f"{SUPPORT}:solve_static_reference")
    monkeypatch.setitem(registry.METHODS, "dp-ref", f"{SUPPORT}:solve_regime_dp")
    monkeypatch.setitem(validate_mod.ACCURACY, "static-ref", MethodAccuracy(1e-12, 1e-9, "banded KKT solve"))
    monkeypatch.setitem(validate_mod.ACCURACY, "dp-ref", MethodAccuracy(1e-12, 1e-9, "exact Riccati recursion"))


def test_ac_example_passes_with_table():
    report = validate(load_example("almgren-chriss-2001"), methods=["closed-form"], paths=4000)
    assert report.passed, report.failures
    labels = [r.label for r in report.runs]
    assert labels[:2] == ["closed-form", "closed-form/continuous"]
    text = report.table()
    for piece in ("closed-form/continuous", "mc[closed-form]", "largest disagreement in holdings",
                  "largest disagreement in objective", "discrete vs continuous time differ by O(tau)", "PASSED"):
        assert piece in text
    gap = [c for c in report.checks if c.quantity == "objective" and c.b == "closed-form/continuous"
           and c.a == "closed-form"][0]
    assert gap.expected < 0 and gap.passed  # the O(tau) gap is predicted, not hidden


def test_failure_fixture_names_the_pair(wrong_eta_method):
    report = validate(load_example("almgren-chriss-2001"), methods=["closed-form", "wrong-eta"], paths=4000)
    assert not report.passed
    msgs = "\n".join(report.failures)
    assert "closed-form vs wrong-eta: holdings differs by" in msgs
    assert "closed-form vs wrong-eta: objective differs by" in msgs
    # the wrong method is self-consistent (its own schedule, priced correctly): MC agrees with it
    assert all(c.passed for c in report.checks if c.a == "mc[wrong-eta]")


def test_failure_fixture_exit_code_and_message(wrong_eta_method, capsys, tmp_path):
    out = tmp_path / "report.json"
    rc = main(["validate", "--example", "almgren-chriss-2001", "--methods", "closed-form", "wrong-eta",
               "--paths", "2000", "--json", str(out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "closed-form vs wrong-eta" in err
    data = json.loads(out.read_text())
    assert data["passed"] is False
    assert any("wrong-eta" in f for f in data["failures"])


def test_failed_and_not_applicable_methods(monkeypatch):
    monkeypatch.setitem(registry.METHODS, "boom", "tests.test_validate:solve_raising")
    monkeypatch.setitem(registry.METHODS, "never", "tests.test_validate:solve_not_applicable")
    report = validate(load_example("almgren-chriss-2001"), methods=["closed-form", "boom", "never"], paths=2000)
    states = {r.label: (r.state, r.reason) for r in report.runs}
    assert states["never"] == ("not applicable", "this method applies to nothing")
    assert states["boom"][0] == "failed" and "RuntimeError: grid exploded" in states["boom"][1]
    assert not report.passed
    assert any(f.startswith("boom failed: RuntimeError: grid exploded") for f in report.failures)


def test_every_bundled_example_passes_cli(capsys):
    """Every registered method (closed-form, qp, dp, hjb as they land) on every bundled example."""
    from solvers import example_names

    for name in example_names():
        rc = main(["validate", "--example", name, "--paths", "2000"])
        out = capsys.readouterr()
        assert rc == 0, (name, out.out[-2000:], out.err)


def test_gap_prediction_residual_is_second_order():
    """discrete - continuous objective minus the first-order prediction is O(tau^2): fitted
    order on N = 10, 20, 40, 80 is 2 (within 0.15; measured 1.96-2.0)."""
    base = load_example("almgren-chriss-2001")
    taus, resid = [], []
    for n in (10, 20, 40, 80):
        p = base.replace(slices=n)
        d, c = solve(p), solve(p, time_model="continuous")
        first, tol, _ = validate_mod._gap_prediction(p, c)
        taus.append(p.tau)
        resid.append(abs((d.objective - c.objective) - first))
        assert abs((d.objective - c.objective) - first) <= tol
    order = np.polyfit(np.log(taus), np.log(resid), 1)[0]
    assert abs(order - 2.0) < 0.15, order


def test_static_and_feedback_under_regimes(reference_methods):
    """With a static optimum and a feedback policy registered, the regime example checks the
    one-sided 'feedback <= static' and the policy's MC value against its own value."""
    reg = load_example("volatility-regimes")
    report = validate(reg, methods=["static-ref", "dp-ref"], paths=6000)
    assert report.passed, report.failures
    one = [c for c in report.checks if c.one_sided]
    assert len(one) == 1 and one[0].a == "dp-ref" and one[0].difference < 0
    mc = [c for c in report.checks if c.a == "mc[dp-ref]"]
    assert mc and mc[0].passed
    assert any("state-dependent" in why for _, _, why in report.not_compared)


def test_constant_volatility_reference_methods_agree(reference_methods):
    """Constant sigma: closed form, banded KKT and the Riccati policy are one answer; every pair
    is held to near machine precision and passes (holdings of the policy = its mean path)."""
    ac = load_example("almgren-chriss-2001").replace(slices=12)
    report = validate(ac, methods=["closed-form", "static-ref", "dp-ref"], paths=2000)
    assert report.passed, report.failures
    pairs = {(c.a, c.b, c.quantity): c for c in report.checks}
    assert pairs[("closed-form", "dp-ref", "objective")].tolerance < 1e-5
    assert pairs[("closed-form", "static-ref", "holdings")].tolerance < 1e-2


def test_unknown_method_is_a_spec_error():
    with pytest.raises(Exception, match=r"methods = 'nope': unknown method"):
        validate(load_example("almgren-chriss-2001"), methods=["nope"])


def solve_biased_dp(problem, **options):
    """The exact regime policy reporting a value 0.5% too high (a subtly wrong value function)."""
    from tests.test_simulate_support import solve_regime_dp

    res = solve_regime_dp(problem)
    res.objective *= 1.005
    res.method = "dp-biased"
    return res


def test_control_variate_check_catches_what_plain_monte_carlo_misses(reference_methods, monkeypatch):
    """Regimes, 6000 paths: a feedback value 0.5% (7,000) too high hides inside the plain Monte
    Carlo tolerance (4 SE ~ 25,000) but not inside the control-variate one (4 paired SE ~ 2,000)."""
    monkeypatch.setitem(registry.METHODS, "dp-biased", "tests.test_validate:solve_biased_dp")
    monkeypatch.setitem(validate_mod.ACCURACY, "dp-biased", MethodAccuracy(1e-12, 1e-9, "exact (test fixture)"))
    report = validate(load_example("volatility-regimes"), methods=["static-ref", "dp-ref", "dp-biased"], paths=6000)
    checks = {(c.a, c.b): c for c in report.checks if c.quantity == "objective"}
    assert checks[("mc[dp-biased]", "dp-biased")].passed  # plain MC cannot see it
    assert not checks[("mc-cv[dp-biased]", "dp-biased")].passed
    assert checks[("mc-cv[dp-ref]", "dp-ref")].passed
    assert any(f.startswith("mc-cv[dp-biased] vs dp-biased: objective") for f in report.failures)


def test_exact_dp_recursion_is_held_to_rounding_not_to_a_grid_tolerance():
    from solvers import load_example
    from solvers.validate import validate as run_validate

    report = run_validate(load_example("almgren-chriss-2001"), methods=["closed-form", "dp"], monte_carlo=False)
    pairs = [c for c in report.checks if {c.a, c.b} == {"closed-form", "dp"}]
    assert pairs and report.passed
    for c in pairs:
        scale = 1.7e6 if c.quantity == "objective" else 1e6
        assert c.tolerance < 1e-9 * scale, c.message()
        assert "exact linear recursion" in c.why
