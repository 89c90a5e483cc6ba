"""The cross-checks of ``validate``: every pair of method answers, and each answer against its
Monte Carlo price, held to tolerances built from data.

* A pair is held to the sum of the two methods' declared accuracies (``MethodInfo.accuracy``:
  objective relative to ``|objective|``, holdings to ``max |X_i|``), or to the errors a result states itself
  (``diagnostics["objective_error"]``, ``["holdings_error"]``).
* Discrete against continuous time: the O(tau) gap is predicted (:mod:`.gap`), not hidden.
* Static against dynamic under stochastic volatility: only ``dynamic <= static`` is checked.
* Monte Carlo: ``E[C + R]`` within ``MC_SIGMAS`` standard errors, the variance of a static
  schedule, and each feedback policy with a static answer as control variate (``mc-cv[...]``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..costs import schedule_cost
from ..methods import MethodAccuracy, method_info
from ..simulation import compare
from ..spec import ExecutionProblem
from .gap import GAP_FRACTION, GapPrediction, not_comparable_reason, predicted_discretization_gap, slices_needed

__all__ = [
    "MC_SIGMAS", "ROUNDING", "MethodRun", "PairCheck", "NotComparable", "pair_checks",
    "monte_carlo_checks", "control_variate_checks",
]

#: Monte Carlo comparisons allow this many standard errors
MC_SIGMAS = 4.0
#: relative rounding allowed between a simulated mean and an analytic value (float64 sums of
#: N slices over many paths; matters only when antithetic pairs make the estimate exact)
ROUNDING = 1e-11


@dataclass
class MethodRun:
    """One method variant's outcome on the spec."""

    label: str
    method: str
    settings: dict[str, Any]
    state: str  # "ok", "not applicable", "failed"
    reason: str = ""
    result: Any = None
    seconds: float = 0.0
    simulation: Any = None
    kind: str = "static"  # as the method declares (MethodInfo.kind)
    declared: MethodAccuracy | None = None  # MethodInfo.accuracy

    def accuracy(self) -> MethodAccuracy:
        """The method's declared accuracy (``MethodInfo.accuracy``); a result may state its own
        reason in ``diagnostics["accuracy_note"]`` (with ``objective_error`` / ``holdings_error``)."""
        acc = self.declared if self.declared is not None else method_info(self.method).accuracy
        note = self.result.diagnostics.get("accuracy_note") if self.result is not None else None
        return dataclasses.replace(acc, why=note) if note else acc

    def objective_tolerance(self) -> float:
        r = self.result
        if "objective_error" in r.diagnostics:
            return float(r.diagnostics["objective_error"])
        return self.accuracy().objective_rtol * abs(r.objective)

    def holdings_tolerance(self) -> float:
        r = self.result
        if "holdings_error" in r.diagnostics:
            return float(r.diagnostics["holdings_error"])
        return self.accuracy().holdings_rtol * float(np.max(np.abs(r.problem.initial_holdings)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "method": self.method, "settings": self.settings,
                               "state": self.state, "reason": self.reason, "seconds": self.seconds}
        if self.result is not None:
            out["result"] = self.result.to_dict()
            out["kind"] = self.kind
        if self.simulation is not None:
            out["monte_carlo"] = self.simulation.to_dict()
        return out


@dataclass
class PairCheck:
    """``a - b`` of one quantity against its prediction and tolerance."""

    a: str
    b: str
    quantity: str
    difference: float
    expected: float
    tolerance: float
    why: str
    one_sided: bool = False

    @property
    def excess(self) -> float:
        """How far beyond the prediction, in units of the tolerance (<= 1 passes)."""
        gap = self.difference - self.expected
        if self.one_sided:
            gap = max(gap, 0.0)
        return abs(gap) / self.tolerance if self.tolerance > 0 else (0.0 if gap == 0 else math.inf)

    @property
    def passed(self) -> bool:
        return self.excess <= 1.0

    def message(self) -> str:
        rel = "exceeds" if self.one_sided else "differs by"
        return (f"{self.a} vs {self.b}: {self.quantity} {rel} {self.difference:.6g}"
                + (f" (expected {self.expected:.6g})" if self.expected else "")
                + f", beyond its tolerance {self.tolerance:.3g} ({self.why})")

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "quantity": self.quantity, "difference": self.difference,
                "expected": self.expected, "tolerance": self.tolerance, "excess": self.excess,
                "passed": self.passed, "one_sided": self.one_sided, "why": self.why}


@dataclass
class NotComparable:
    """A pair that cannot be compared at the spec's N (its reason says which N can)."""

    a: str
    b: str
    reason: str
    slices_needed: int

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "state": "not comparable", "reason": self.reason,
                "slices_needed": self.slices_needed}


def _gap(problem: ExecutionProblem, a: str, b: str, continuous: Any) -> tuple[GapPrediction, NotComparable | None]:
    pred = predicted_discretization_gap(problem, continuous)
    reason = not_comparable_reason(problem, pred)
    return pred, (NotComparable(a, b, reason, slices_needed(problem, pred.kappa_hat)) if reason else None)


def pair_checks(problem: ExecutionProblem, a: MethodRun, b: MethodRun
                ) -> tuple[list[PairCheck], str | None, NotComparable | None]:
    """The checks of one pair, a note on what is not compared, and the pair itself when it is
    not comparable at this N (then there are no checks)."""
    ra, rb = a.result, b.result
    stochastic = problem.volatility_model.stochastic
    tol_obj = a.objective_tolerance() + b.objective_tolerance()
    tol_hold = a.holdings_tolerance() + b.holdings_tolerance()
    why_obj = f"{a.accuracy().why} + {b.accuracy().why}" if a.method != b.method else a.accuracy().why
    if stochastic and a.kind != b.kind:
        dyn, sta = (a, b) if a.kind == "dynamic" else (b, a)
        diff = dyn.result.objective - sta.result.objective
        expected, why = 0.0, ""
        if dyn.result.time_model != sta.result.time_model:
            cont = dyn.result if dyn.result.time_model == "continuous" else sta.result
            (first, gap_tol, _), incomparable = _gap(problem, dyn.label, sta.label, cont)
            if incomparable:
                return [], None, incomparable
            expected = first if sta.result is cont else -first
            tol_obj += gap_tol
            why = f", after the predicted discrete-vs-continuous O(tau) gap {expected:.4g}"
        return [PairCheck(dyn.label, sta.label, "objective", diff, expected, tol_obj,
                          "stochastic volatility: a feedback policy can only improve on the best static schedule "
                          f"(the gap is the value of adaptivity, see 'optexec adaptivity'){why}", one_sided=True)], \
            "holdings: a static schedule against a state-dependent policy", None
    expected = 0.0
    hold_extra = 0.0
    if ra.time_model != rb.time_model:
        cont = ra if ra.time_model == "continuous" else rb
        (first, gap_tol, kappa_hat), incomparable = _gap(problem, a.label, b.label, cont)
        if incomparable:
            return [], None, incomparable
        expected = first if rb is cont else -first
        tol_obj += gap_tol
        why_obj = (f"discrete vs continuous time differ by O(tau): predicted -tau(lambda X'C_1 X/2 + lambda int (E sigma^2)' x^2 dt "
                   f"+ int v'Gamma v/2) = {first:.4g}, residual O(tau^2) held to min({GAP_FRACTION:g}, kappa tau/2) = "
                   f"{min(GAP_FRACTION, 0.5 * kappa_hat * problem.tau):.3g} of it, plus {why_obj}")
        hold_extra = float(np.max(np.abs(cont.trades)))
    checks = [PairCheck(a.label, b.label, "objective", ra.objective - rb.objective, expected, tol_obj, why_obj)]
    skip = None
    if stochastic and a.kind == "dynamic":
        skip = "holdings: both are state-dependent policies (their objectives are compared)"
    else:
        ha = np.asarray(ra.holdings, dtype=np.float64)
        hb = np.asarray(rb.holdings, dtype=np.float64)
        idx = np.unravel_index(int(np.argmax(np.abs(ha - hb))), ha.shape)
        why_h = ("discrete vs continuous time: O(tau), held to one slice's largest trade "
                 f"({hold_extra:.4g}) plus the methods' accuracies" if hold_extra else
                 f"method accuracies ({why_obj})")
        checks.append(PairCheck(a.label, b.label, "holdings", float(ha[idx] - hb[idx]), 0.0, tol_hold + hold_extra, why_h))
    return checks, skip, None


def monte_carlo_checks(problem: ExecutionProblem, run: MethodRun) -> tuple[list[PairCheck], list[NotComparable]]:
    """An answer against its Monte Carlo price (objective; a static schedule's variance too)."""
    sim, res = run.simulation, run.result
    label = f"mc[{run.label}]"
    out = []
    if run.kind == "static" and res.time_model == "continuous":
        value = float(schedule_cost(problem, res.holdings).objective)
        variance = float(schedule_cost(problem, res.holdings).variance)
        what = "the same holdings priced by solvers.costs in discrete time"
        tol = 0.0
        expected = 0.0
    else:
        value, variance = res.objective, res.variance
        what = f"{run.label}'s objective"
        tol = run.objective_tolerance()
        expected = 0.0
        if res.time_model == "continuous":  # a continuous-time policy executed in discrete slices
            (first, gap_tol, _), incomparable = _gap(problem, label, run.label, res)
            if incomparable:
                return [], [incomparable]
            expected, tol = first, tol + gap_tol
            what += " with the predicted O(tau) discrete-vs-continuous gap"
    rounding = ROUNDING * abs(value)  # antithetic pairs make a static linear cost exact: SE ~ 0
    out.append(PairCheck(label, run.label, "objective", sim.objective.value - value, expected,
                         MC_SIGMAS * sim.objective.se + tol + rounding,
                         f"simulated E[C + R] against {what}: {MC_SIGMAS:g} standard errors"
                         + (" + method accuracy" if tol else "") + f" + rounding {ROUNDING:g}"))
    if run.kind == "static":
        out.append(PairCheck(label, run.label, "variance", sim.variance.value - variance, 0.0,
                             MC_SIGMAS * sim.variance.se + 1e-12 * variance,
                             f"simulated cost variance against V: {MC_SIGMAS:g} standard errors"))
    return out, []


def control_variate_checks(problem: ExecutionProblem, ok: list[MethodRun]
                           ) -> tuple[list[PairCheck], list[NotComparable]]:
    """A feedback policy's objective to the precision of a *paired* difference: on common paths,
    ``value(static) - (E[C+R]_static - E[C+R]_policy)`` estimates the policy's objective with the
    static schedule's exact ``E + lambda V`` as control variate (standard error of the
    difference: typically 5-10x smaller than the policy's own)."""
    refs = [r for r in ok if r.kind == "static" and r.result.time_model == "discrete"]
    if not refs:
        return [], []
    ref = refs[0]
    out = []
    incomparable = []
    for run in ok:
        if run.kind != "dynamic":
            continue
        diff = compare(ref.simulation, run.simulation)["objective"].estimate
        estimate = ref.result.objective - diff.value
        tol = run.objective_tolerance() + ref.objective_tolerance()
        expected = 0.0
        what = f"{run.label}'s objective"
        if run.result.time_model == "continuous":
            (first, gap_tol, _), nc = _gap(problem, f"mc-cv[{run.label}]", run.label, run.result)
            if nc:
                incomparable.append(nc)
                continue
            expected, tol = first, tol + gap_tol
            what += " with the predicted O(tau) discrete-vs-continuous gap"
        out.append(PairCheck(f"mc-cv[{run.label}]", run.label, "objective", estimate - run.result.objective, expected,
                             MC_SIGMAS * diff.se + tol + ROUNDING * abs(run.result.objective),
                             f"simulated E[C + R] with {ref.label}'s exact value as control variate (paired "
                             f"SE {diff.se:.3g}) against {what}: {MC_SIGMAS:g} standard errors + method accuracies"))
    return out, incomparable
