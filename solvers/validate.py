"""``optexec validate``: every method on one spec, one table of agreement.

Runs each method of :data:`solvers.methods.METHODS` (in the variants of :data:`VARIANTS`, e.g.
the closed form in discrete and in continuous time), prices each answer by Monte Carlo on
common random numbers (:mod:`solvers.simulate`), and checks every pair of answers against a
tolerance built from data:

* :data:`ACCURACY`: each method's own accuracy (objective relative to ``|objective|``, holdings
  relative to ``max |X_i|``) and why. A method may instead report its own error estimate in
  ``Result.diagnostics["objective_error"]`` (currency) or ``["holdings_error"]`` (shares),
  which then replaces the table's figure. A pair is held to the sum of its two accuracies.
* Discrete against continuous time (``Result.time_model``): the two optima differ by O(tau),
  and that gap is not hidden in the tolerance but *predicted*: to first order in tau,

      objective_discrete - objective_continuous
          = -tau * (1/2 lambda X' C_1 X + lambda int (d/dt E[sigma^2]) x^2 dt + 1/2 int v' Gamma v dt),

  (the risk sum ``tau sum_k sigma^2(t_{k-1}) x_k^2`` takes sigma at the left and x at the right
  end of each slice: against the integral that is ``tau/2 int (sigma^2 (x^2)' - (sigma^2)' x^2)
  dt``, which integrates by parts to the first two terms; the discrete permanent cost has
  ``-1/2 sum n' Gamma n``; the temporary term and the rest are O(tau^2). The middle term
  matters under a volatility that moves in time: on the mean-reverting example, which starts
  above its mean, it is a third of the gap. It is evaluated on the expected variance and the
  continuous answer's (expected) holdings, ``sum_k (E[sigma_{k+1}^2] - E[sigma_k^2]) x_k^2``.) The check is ``|difference - prediction| <= min(1, kappa_hat tau / 2)
  |prediction|`` plus the methods' accuracies, ``kappa_hat`` the fastest exponential rate of the
  continuous answer's trades (the residual is O(tau^2): about 0.23 kappa tau |prediction| for
  AC). Holdings of the two differ by O(tau) too and are held to one slice's largest trade.
* Static against dynamic methods under stochastic volatility solve different problems (the
  best schedule on ``E[sigma_k^2]`` against the best feedback policy): only the one-sided
  ``dynamic <= static`` is checked; the difference is the value of adaptivity
  (``optexec adaptivity``).
* Monte Carlo: the simulated ``E[C + R]`` of each answer's strategy against its objective
  within 4 standard errors plus the method's accuracy (a continuous-time schedule is priced
  in discrete time against :mod:`solvers.costs`' value of the same holdings); a static
  schedule's simulated cost variance against its ``V`` within 4 standard errors; and each
  feedback policy once more with the first static discrete answer as control variate
  (``mc-cv[...]``: exact static value minus the paired difference, a much smaller error).

A method that raises :class:`MethodNotApplicable` is listed as not applicable with the reason;
one that fails (a status other than ``optimal``, or an exception) fails the validation.
"""

from __future__ import annotations

import dataclasses

import argparse
import itertools
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .costs import schedule_cost
from .errors import MethodNotApplicable, SpecError
from .spec import ExecutionProblem

__all__ = [
    "MethodAccuracy",
    "ACCURACY",
    "VARIANTS",
    "MC_SIGMAS",
    "MethodRun",
    "PairCheck",
    "ValidationReport",
    "validate",
    "register",
]


@dataclass(frozen=True)
class MethodAccuracy:
    """How closely a method's answer meets the exact optimum of its own time model."""

    objective_rtol: float
    holdings_rtol: float
    why: str


#: per-method accuracy (new methods add a line; unknown ones get DEFAULT_ACCURACY)
ACCURACY: dict[str, MethodAccuracy] = {
    "closed-form": MethodAccuracy(1e-12, 1e-10, "closed form in float64"),
    "qp": MethodAccuracy(1e-7, 1e-4, "convex solver at ~1e-8 on the scaled problem; holdings move with the "
                                     "square root of the objective's error"),
    "dp": MethodAccuracy(2e-3, 2e-2, "backward induction on a state grid with interpolation"),
    "hjb": MethodAccuracy(5e-3, 3e-2, "finite differences, first order in the time step"),
    "mc": MethodAccuracy(1e-3, 2e-2, "Monte Carlo optimisation"),
}
DEFAULT_ACCURACY = MethodAccuracy(1e-3, 2e-2, "no accuracy declared for this method: a loose default")

#: method -> list of (label, options) to run; methods not listed run once with no options
VARIANTS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "closed-form": [("closed-form", {}), ("closed-form/continuous", {"time_model": "continuous"})],
}

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
    options: dict[str, Any]
    state: str  # "ok", "not applicable", "failed"
    reason: str = ""
    result: Any = None
    seconds: float = 0.0
    simulation: Any = None

    @property
    def kind(self) -> str:
        return "dynamic" if self.result is not None and self.result.policy is not None else "static"

    def accuracy(self) -> MethodAccuracy:
        """The method's declared accuracy; a result may state its own reason in
        ``diagnostics["accuracy_note"]`` (with ``objective_error`` / ``holdings_error``)."""
        acc = ACCURACY.get(self.method, DEFAULT_ACCURACY)
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
        out: dict[str, Any] = {"label": self.label, "method": self.method, "options": self.options,
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
class ValidationReport:
    problem: ExecutionProblem
    runs: list[MethodRun]
    checks: list[PairCheck]
    not_compared: list[tuple[str, str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        out = [f"{r.label} failed: {r.reason}" for r in self.runs if r.state == "failed"]
        out += [c.message() for c in self.checks if not c.passed]
        return out

    @property
    def passed(self) -> bool:
        return not self.failures

    def largest(self, quantity: str) -> PairCheck | None:
        cands = [c for c in self.checks if c.quantity == quantity]
        return max(cands, key=lambda c: c.excess) if cands else None

    def to_dict(self) -> dict[str, Any]:
        largest = {q: (c.to_dict() if c else None) for q in ("objective", "holdings")
                   for c in [self.largest(q)]}
        return {"problem": self.problem.name or None, "spec": self.problem.to_dict(), "passed": self.passed,
                "failures": self.failures, "settings": self.settings, "methods": [r.to_dict() for r in self.runs],
                "checks": [c.to_dict() for c in self.checks], "largest_disagreement": largest,
                "not_compared": [{"a": a, "b": b, "reason": w} for a, b, w in self.not_compared]}

    def table(self) -> str:
        p = self.problem
        lines = [f"optexec validate - {p.name or 'problem'}: T = {p.horizon:g}, N = {p.slices}, "
                 f"lambda = {p.risk_aversion:g}, volatility {p.volatility_model.kind}", ""]
        head = f"  {'method':<28} {'status':<15} {'objective':>16} {'E':>16} {'V':>16} {'time':>10}"
        lines += [head, "  " + "-" * (len(head) - 2)]
        for r in self.runs:
            if r.state != "ok":
                status = "n/a" if r.state == "not applicable" else "FAILED"
                lines.append(f"  {r.label:<28} {status:<15} {r.reason}")
                continue
            res = r.result
            lines.append(f"  {r.label:<28} {res.status + ' ' + res.time_model[:4]:<15} {res.objective:16.10g} "
                         f"{res.expected_cost:16.10g} {res.variance:16.10g} {res.solve_seconds * 1e3:8.2f}ms")
        for r in self.runs:
            if r.simulation is not None:
                s = r.simulation
                lines.append(f"  {'mc[' + r.label + ']':<28} {'+/-' + format(s.objective.se, '.2g'):<15} "
                             f"{s.objective.value:16.10g} {s.mean.value:16.10g} {s.variance.value:16.10g} "
                             f"{s.seconds * 1e3:8.2f}ms")
        lines += ["", f"  checks ({len(self.checks)}): pair, quantity, a - b, expected, tolerance, why"]
        for c in self.checks:
            mark = "ok  " if c.passed else "FAIL"
            exp = f"{c.expected:.4g}" if c.expected else "0"
            lines.append(f"  {mark} {c.a} vs {c.b}: {c.quantity} {c.difference:.4g} (expected {exp}, "
                         f"tol {c.tolerance:.3g}{', one-sided' if c.one_sided else ''}) - {c.why}")
        for a, b, why in self.not_compared:
            lines.append(f"  --   {a} vs {b}: not compared ({why})")
        lines.append("")
        for q in ("holdings", "objective"):
            c = self.largest(q)
            if c is not None:
                lines.append(f"  largest disagreement in {q}: {c.a} vs {c.b}, {abs(c.difference - c.expected):.4g} "
                             f"beyond prediction = {c.excess:.3g} x tolerance {c.tolerance:.3g}")
        if self.passed and not self.checks:
            lines.append("  PASSED, vacuously: no registered method applies to this spec, so nothing was cross-checked")
        else:
            lines.append("  PASSED" if self.passed else "  FAILED:\n    " + "\n    ".join(self.failures))
        return "\n".join(lines)


# ---------------------------------------------------------------------------- running
def _variants(methods: Sequence[str]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for m in methods:
        for label, opts in VARIANTS.get(m, [(m, {})]):
            out.append((label, m, dict(opts)))
    return out


def _run_method(problem: ExecutionProblem, label: str, method: str, options: dict[str, Any]) -> MethodRun:
    from .methods import get_method

    start = time.perf_counter()
    try:
        result = get_method(method)(problem, **options)
    except MethodNotApplicable as err:
        return MethodRun(label, method, options, "not applicable", err.reason, seconds=time.perf_counter() - start)
    except SpecError:
        raise
    except Exception as err:  # noqa: BLE001 - a failing method is reported, not hidden
        tb = traceback.extract_tb(err.__traceback__)[-1]
        return MethodRun(label, method, options, "failed", f"{type(err).__name__}: {err} ({tb.filename}:{tb.lineno})",
                         seconds=time.perf_counter() - start)
    run = MethodRun(label, method, options, "ok", result=result, seconds=time.perf_counter() - start)
    if not result.success:
        run.state, run.reason = "failed", f"status {result.status!r}: {result.message}"
    return run


def _gap_prediction(problem: ExecutionProblem, continuous) -> tuple[float, float, float]:
    """(predicted discrete - continuous objective, its tolerance, kappa_hat) from the
    continuous answer (module docstring)."""
    tau = problem.tau
    x0 = problem.initial_holdings
    if problem.is_basket:
        c1 = problem.covariance
    else:
        c1 = np.array([[float(problem.slice_variance()[0])]])
    gamma = problem.permanent_impact_matrix_array
    n = np.asarray(continuous.trades, dtype=np.float64).reshape(problem.slices, -1)
    drift_of_variance = 0.0  # int (d/dt E[sigma^2]) x^2 dt, for a volatility that moves in time
    if not problem.is_basket and not problem.has_constant_volatility:
        s2 = problem.slice_variance()
        x = np.asarray(continuous.holdings, dtype=np.float64).reshape(problem.slices + 1)
        drift_of_variance = float(np.sum(np.diff(s2) * x[1:-1] ** 2))
    first = -tau * (0.5 * problem.risk_aversion * float(x0 @ c1 @ x0)
                    + problem.risk_aversion * drift_of_variance
                    + 0.5 * float(np.einsum("ki,ij,kj->", n, gamma, n)) / tau)
    norms = np.linalg.norm(n, axis=1)
    ok = (norms[:-1] > 0) & (norms[1:] > 0)
    rates = np.abs(np.log(norms[1:][ok] / norms[:-1][ok])) / tau if np.any(ok) else np.array([0.0])
    kappa_hat = float(rates.max()) if rates.size else 0.0
    return first, min(1.0, 0.5 * kappa_hat * tau) * abs(first), kappa_hat


def _pair_checks(problem: ExecutionProblem, a: MethodRun, b: MethodRun) -> tuple[list[PairCheck], str | None]:
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
            first, gap_tol, _ = _gap_prediction(problem, cont)
            expected = first if sta.result is cont else -first
            tol_obj += gap_tol
            why = f", after the predicted discrete-vs-continuous O(tau) gap {expected:.4g}"
        return [PairCheck(dyn.label, sta.label, "objective", diff, expected, tol_obj,
                          "stochastic volatility: a feedback policy can only improve on the best static schedule "
                          f"(the gap is the value of adaptivity, see 'optexec adaptivity'){why}", one_sided=True)], \
            "holdings: a static schedule against a state-dependent policy"
    expected = 0.0
    hold_extra = 0.0
    if ra.time_model != rb.time_model:
        cont = ra if ra.time_model == "continuous" else rb
        first, gap_tol, kappa_hat = _gap_prediction(problem, cont)
        expected = first if rb is cont else -first
        tol_obj += gap_tol
        why_obj = (f"discrete vs continuous time differ by O(tau): predicted -tau(lambda X'C_1 X/2 + lambda int (E sigma^2)' x^2 dt "
                   f"+ int v'Gamma v/2) = {first:.4g}, residual O(tau^2) held to min(1, kappa tau/2) = "
                   f"{min(1.0, 0.5 * kappa_hat * problem.tau):.3g} of it, plus {why_obj}")
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
    return checks, skip


def _mc_checks(problem: ExecutionProblem, run: MethodRun) -> list[PairCheck]:
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
            first, gap_tol, _ = _gap_prediction(problem, res)
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
    return out


def _control_variate_checks(problem: ExecutionProblem, ok: list[MethodRun]) -> list[PairCheck]:
    """A feedback policy's objective to the precision of a *paired* difference: on common paths,
    ``value(static) - (E[C+R]_static - E[C+R]_policy)`` estimates the policy's objective with the
    static schedule's exact ``E + lambda V`` as control variate (standard error of the
    difference: typically 5-10x smaller than the policy's own)."""
    from .simulate import compare

    refs = [r for r in ok if r.kind == "static" and r.result.time_model == "discrete"]
    if not refs:
        return []
    ref = refs[0]
    out = []
    for run in ok:
        if run.kind != "dynamic":
            continue
        diff = compare(ref.simulation, run.simulation)["objective"].estimate
        estimate = ref.result.objective - diff.value
        tol = run.objective_tolerance() + ref.objective_tolerance()
        expected = 0.0
        what = f"{run.label}'s objective"
        if run.result.time_model == "continuous":
            first, gap_tol, _ = _gap_prediction(problem, run.result)
            expected, tol = first, tol + gap_tol
            what += " with the predicted O(tau) discrete-vs-continuous gap"
        out.append(PairCheck(f"mc-cv[{run.label}]", run.label, "objective", estimate - run.result.objective, expected,
                             MC_SIGMAS * diff.se + tol + ROUNDING * abs(run.result.objective),
                             f"simulated E[C + R] with {ref.label}'s exact value as control variate (paired "
                             f"SE {diff.se:.3g}) against {what}: {MC_SIGMAS:g} standard errors + method accuracies"))
    return out


def validate(
    problem: ExecutionProblem,
    *,
    methods: Sequence[str] | None = None,
    paths: int = 20_000,
    seed: int = 0,
    antithetic: bool = True,
    monte_carlo: bool = True,
) -> ValidationReport:
    """Run every registered method (or ``methods``) on ``problem`` and cross-check them.

    Args:
        problem: the spec.
        methods: method names (default: all of :data:`solvers.methods.METHODS`).
        paths, seed, antithetic: Monte Carlo settings (common random numbers for every method).
        monte_carlo: price every answer by simulation too.
    """
    from .methods import METHODS
    from .simulate import simulate

    names = list(METHODS) if methods is None else list(methods)
    for m in names:
        if m not in METHODS:
            raise SpecError("methods", m, f"unknown method (available: {', '.join(METHODS)})")
    runs = [_run_method(problem, label, m, opts) for label, m, opts in _variants(names)]
    ok = [r for r in runs if r.state == "ok"]
    checks: list[PairCheck] = []
    not_compared: list[tuple[str, str, str]] = []
    for a, b in itertools.combinations(ok, 2):
        pair, skip = _pair_checks(problem, a, b)
        checks += pair
        if skip:
            not_compared.append((a.label, b.label, skip))
    if monte_carlo:
        for r in ok:
            r.simulation = simulate(problem, r.result, paths=paths, seed=seed, antithetic=antithetic, label=r.label)
            checks += _mc_checks(problem, r)
        checks += _control_variate_checks(problem, ok)
    return ValidationReport(problem, runs, checks, not_compared,
                            {"paths": paths, "seed": seed, "antithetic": antithetic, "monte_carlo": monte_carlo,
                             "mc_sigmas": MC_SIGMAS})


# ---------------------------------------------------------------------------- CLI
def _cmd_validate(args: argparse.Namespace) -> int:
    from .cli import problem_from_args, write_json

    problem = problem_from_args(args)
    report = validate(problem, methods=args.methods or None, paths=args.paths, seed=args.seed,
                      antithetic=not args.no_antithetic, monte_carlo=not args.no_mc)
    out = sys.stderr if args.json == "-" else sys.stdout
    print(report.table(), file=out)
    if args.json:
        write_json(report.to_dict(), args.json)
    if not report.passed:
        for msg in report.failures:
            print(f"optexec validate: {msg}", file=sys.stderr)
        return 1
    return 0


def register(subparsers) -> None:
    """``optexec validate SPEC | --example NAME``."""
    from .cli import add_spec_arguments

    p = subparsers.add_parser("validate", help="run every method on a spec and cross-check them (exit 1 on disagreement)")
    add_spec_arguments(p)
    p.add_argument("--methods", nargs="*", metavar="METHOD", help="methods to run (default: every registered method)")
    p.add_argument("--paths", type=int, default=20_000, help="Monte Carlo paths (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="Monte Carlo seed")
    p.add_argument("--no-antithetic", action="store_true", help="plain Monte Carlo (default: antithetic pairs)")
    p.add_argument("--no-mc", action="store_true", help="skip the Monte Carlo pricing")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON ('-' for stdout)")
    p.set_defaults(func=_cmd_validate)
