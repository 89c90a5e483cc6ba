"""optexec validate: agreement table, pair tolerances, failure path, CLI and JSON.

The independent truths here are the closed form (discrete and continuous time), the
simulator, and two test-only references (tests/helpers: a banded KKT static optimum and an
exact Riccati feedback policy for regimes) registered under their own names in one call each,
the way qp and dp slot into the registry.
"""

from __future__ import annotations

import json
from contextlib import ExitStack

import numpy as np
import pytest

from solvers import load_example, solve
from solvers.cli import main
from solvers.methods import method_info, method_names, registered
from solvers.validation import predicted_discretization_gap, validate


def _register(*names):
    """Register test methods ``tests/helpers/<name>_method.py`` (one call each)."""
    stack = ExitStack()
    for name in names:
        stack.enter_context(registered(name, f"tests.helpers.{name.replace('-', '_')}_method"))
    return stack


@pytest.fixture
def wrong_eta_method():
    """A method given a wrong parameter (eta x 1.5), declared as accurate as the closed form,
    so that validate must catch it."""
    with _register("wrong-eta"):
        yield


@pytest.fixture
def reference_methods():
    with _register("static-ref", "dp-ref"):
        yield


def test_ac_example_passes_with_table():
    # N = 10: kappa tau = 0.3, where the discrete-vs-continuous pair is comparable (at the example's
    # N = 5 it is not: see test_discrete_vs_continuous_not_comparable_at_large_kappa_tau)
    report = validate(load_example("almgren-chriss-2001").replace(slices=10), methods=["closed-form"], paths=4000)
    assert report.passed, report.failures
    labels = [r.label for r in report.runs]
    assert labels[:2] == ["closed-form", "closed-form/continuous"]
    text = report.table(verbose=True)
    for piece in ("closed-form/continuous", "mc[closed-form]", "largest disagreement in holdings",
                  "largest disagreement in objective", "discrete vs continuous time differ by O(tau)", "PASSED"):
        assert piece in text
    # the compact table: one row per variant and one per pair (ratio to tolerance, verdict), no reasons
    compact = report.table()
    assert "discrete vs continuous time differ by O(tau)" not in compact and "PASSED" in compact
    pair = [line for line in compact.splitlines() if line.strip().startswith("closed-form vs closed-form/continuous")]
    assert len(pair) == 1 and "objective" in pair[0] and "holdings" in pair[0] and pair[0].rstrip().endswith("ok")
    gap = [c for c in report.checks if c.quantity == "objective" and c.b == "closed-form/continuous"
           and c.a == "closed-form"][0]
    assert gap.expected < 0 and gap.passed  # the O(tau) gap is predicted, not hidden


def test_discrete_vs_continuous_not_comparable_at_large_kappa_tau(capsys):
    """Where kappa tau > MAX_KAPPA_TAU the first-order gap is untrusted: the pair is 'not comparable
    at this N' with its reason and the N that would make it comparable, never 'ok'; the gap's
    tolerance never exceeds GAP_FRACTION of the prediction."""
    from solvers.validation import GAP_FRACTION, MAX_KAPPA_TAU

    ac = load_example("almgren-chriss-2001")
    report = validate(ac, methods=["closed-form"], paths=2000)
    assert report.passed and report.state == "passed (1 not comparable)"
    (nc,) = report.not_comparable
    assert (nc.a, nc.b) == ("closed-form", "closed-form/continuous") and nc.slices_needed == 10
    assert "not comparable at N = 5: kappa tau = 0.591 > 0.3" in nc.reason and "N >= kappa T / 0.3 = 10" in nc.reason
    assert not [c for c in report.checks if {c.a, c.b} == {"closed-form", "closed-form/continuous"}]
    text = report.table()
    row = [line for line in text.splitlines() if line.strip().startswith("closed-form vs closed-form/continuous")]
    assert len(row) == 1 and row[0].rstrip().endswith("NOT COMPARABLE") and "ok" not in row[0].split()
    assert "1 pair(s) NOT COMPARABLE at N = 5" in text
    # kappa tau = 10: the actual gap is 1/5.6 of the first-order prediction; the old tolerance
    # (all of the prediction) let it pass. Now the pair is not comparable, and says which N is.
    fast = ac.replace(risk_aversion=ac.risk_aversion * 290)
    rep = validate(fast, methods=["closed-form"], paths=2000, monte_carlo=False)
    (nc,) = rep.not_comparable
    assert "kappa tau = 10.2 > 0.3" in nc.reason and nc.slices_needed == 171
    assert not rep.checks and "PASSED, vacuously" in rep.table()
    # at a comparable N, a continuous answer 10x apart from the predicted gap fails
    from solvers.validation import run_method
    from solvers.validation.cross_check import pair_checks

    p10 = ac.replace(slices=20)
    disc = run_method(p10, "closed-form", "closed-form", {})
    cont = run_method(p10, "closed-form/continuous", "closed-form", {"time_model": "continuous"})
    checks, _, incomparable = pair_checks(p10, disc, cont)
    ok_obj = checks[0]
    assert incomparable is None and ok_obj.quantity == "objective" and ok_obj.passed
    for factor in (10.0, 0.1, 2.0, 0.5):  # the actual gap scaled: 10x, 1/10, 2x, 1/2 of what it is
        bad = run_method(p10, "closed-form/continuous", "closed-form", {"time_model": "continuous"})
        bad.result.objective = disc.result.objective - factor * (disc.result.objective - cont.result.objective)
        obj = pair_checks(p10, disc, bad)[0][0]
        assert not obj.passed and obj.tolerance <= GAP_FRACTION * abs(obj.expected) + ok_obj.tolerance
    # the tolerance is at most GAP_FRACTION of the predicted gap, at every kappa tau
    for lam in (1e-8, 1e-6, 1e-5, 1e-4, 1e-3):
        for n in (5, 20, 80):
            p = ac.replace(risk_aversion=lam, slices=n)
            g = predicted_discretization_gap(p, solve(p, time_model="continuous"))
            assert g.tolerance <= GAP_FRACTION * abs(g.gap) + 1e-12
            assert 0 < MAX_KAPPA_TAU <= 0.5
    rc = main(["validate", "--example", "almgren-chriss-2001", "--methods", "closed-form", "--paths", "2000"])
    out = capsys.readouterr().out
    assert rc == 0 and "NOT COMPARABLE" in out and "PASSED: all" in out and "1 pair(s) NOT COMPARABLE" in out


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


def test_failed_and_not_applicable_methods():
    with _register("boom", "never"):
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
        first, tol, _ = predicted_discretization_gap(p, c)
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


def test_control_variate_check_catches_what_plain_monte_carlo_misses(reference_methods):
    """Regimes, 6000 paths: a feedback value 0.5% (7,000) too high hides inside the plain Monte
    Carlo tolerance (4 SE ~ 25,000) but not inside the control-variate one (4 paired SE ~ 2,000)."""
    with _register("dp-biased"):
        report = validate(load_example("volatility-regimes"), methods=["static-ref", "dp-ref", "dp-biased"], paths=6000)
    checks = {(c.a, c.b): c for c in report.checks if c.quantity == "objective"}
    assert checks[("mc[dp-biased]", "dp-biased")].passed  # plain MC cannot see it
    assert not checks[("mc-cv[dp-biased]", "dp-biased")].passed
    assert checks[("mc-cv[dp-ref]", "dp-ref")].passed
    assert any(f.startswith("mc-cv[dp-biased] vs dp-biased: objective") for f in report.failures)


def test_exact_dp_recursion_is_held_to_rounding_not_to_a_grid_tolerance():
    report = validate(load_example("almgren-chriss-2001"), methods=["closed-form", "dp"], monte_carlo=False)
    pairs = [c for c in report.checks if {c.a, c.b} == {"closed-form", "dp"}]
    assert pairs and report.passed
    for c in pairs:
        scale = 1.7e6 if c.quantity == "objective" else 1e6
        assert c.tolerance < 1e-9 * scale, c.message()
        assert "exact linear recursion" in c.why


def test_a_method_registered_in_one_place_is_validated(capsys):
    """One call registers the toy method; validate (library and CLI) runs it beside the others."""
    with registered("toy", "tests.helpers.toy_method"):
        report = validate(load_example("almgren-chriss-2001"), methods=["closed-form", "toy"], monte_carlo=False)
        assert [r.label for r in report.runs][-1] == "toy" and report.runs[-1].state == "ok"
        assert any({c.a, c.b} == {"closed-form", "toy"} for c in report.checks)
        assert main(["validate", "--example", "almgren-chriss-2001", "--methods", "toy", "--no-mc"]) == 0
        assert "toy" in capsys.readouterr().out
    assert "toy" not in method_names()


def test_accuracy_and_variants_come_from_the_registry():
    """validate holds each method to MethodInfo.accuracy and runs MethodInfo.run_variants."""
    report = validate(load_example("almgren-chriss-2001"), methods=["closed-form"], monte_carlo=False)
    assert [r.label for r in report.runs] == [v.label for v in method_info("closed-form").run_variants]
    assert all(r.accuracy().objective_rtol == method_info("closed-form").accuracy.objective_rtol for r in report.runs)
