"""The value of adaptivity: the best static schedule against the best feedback policy, both
priced by the simulator on common random numbers (:func:`value_of_adaptivity`).

A static optimum commits to its trades at ``t_0``; a feedback policy trades
``n_k = n(t_{k-1}, x_{k-1}, sigma_k)``. On the same paths the value of adaptivity is
``E[C + R]_static - E[C + R]_feedback`` (``R = lambda tau sum sigma_k^2 x_k^2``, currency), with
the standard error of the paired differences. Under constant volatility it is zero. Static
and dynamic methods are those the registry declares (``MethodInfo.kind``), in its order.
Costs are shown in currency and in bps of the order's notional ``|X| S_0``. Under a fill model,
:func:`execution_table` (from :mod:`solvers.execution`) compares every execution policy with the
backward induction under fills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import MethodNotApplicable
from .execution import ExecutionReport, execution_table
from .methods import method_info, method_names, solve
from .result import format_amount, in_bps, order_notional
from .simulation import Difference, MonteCarloEstimate, SimulationResult, compare, simulate
from .spec import ExecutionProblem
from .validation import not_comparable_reason, predicted_discretization_gap

__all__ = ["AdaptivityReport", "value_of_adaptivity", "methods_of_kind", "ExecutionReport", "execution_table"]


@dataclass
class AdaptivityReport:
    """Static against feedback on common random numbers."""

    problem: ExecutionProblem
    static_label: str
    dynamic_label: str
    static_sim: SimulationResult
    dynamic_sim: SimulationResult
    differences: dict[str, Difference]  # "cost", "risk_term", "objective": static - dynamic
    static_value: float | None = None  # the static method's E + lambda V
    dynamic_value: float | None = None  # the dynamic solver's value at t = 0
    notes: list[str] = field(default_factory=list)
    dynamic_gap: float = 0.0  # predicted discrete - continuous O(tau) gap for a continuous-time policy

    @property
    def value(self) -> MonteCarloEstimate:
        """The value of adaptivity ``E[C+R]_static - E[C+R]_feedback`` (currency)."""
        return self.differences["objective"].estimate

    @property
    def dynamic_objective_cv(self) -> MonteCarloEstimate | None:
        """The feedback policy's objective with the static schedule as control variate:
        ``static_value - (E[C+R]_static - E[C+R]_feedback)``, whose error is the paired
        difference's (the static value is exact: E + lambda V of solvers.costs). None when the
        static strategy came without its value."""
        if self.static_value is None:
            return None
        return MonteCarloEstimate(self.static_value - self.value.value, self.value.se)

    def agreement(self) -> dict[str, Any]:
        """Simulated objectives against the methods' own values (z-scores)."""
        out = {}
        dyn = None if self.dynamic_value is None else self.dynamic_value + self.dynamic_gap
        for name, sim, value in (("static", self.static_sim, self.static_value),
                                 ("dynamic", self.dynamic_sim, dyn)):
            if value is not None:
                se = sim.objective.se
                out[name] = {"solver_value": value, "simulated": sim.objective.value, "se": se,
                             "z": (sim.objective.value - value) / se if se > 0 else 0.0}
        cv = self.dynamic_objective_cv
        if cv is not None and dyn is not None:
            out["dynamic_control_variate"] = {"solver_value": dyn, "simulated": cv.value, "se": cv.se,
                                              "z": (cv.value - dyn) / cv.se if cv.se > 0 else 0.0}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem.name or None, "static": self.static_label, "dynamic": self.dynamic_label,
            "static_simulation": self.static_sim.to_dict(), "dynamic_simulation": self.dynamic_sim.to_dict(),
            "differences_static_minus_dynamic": {k: d.to_dict() for k, d in self.differences.items()},
            "value_of_adaptivity": {**self.value.to_dict(), "ci95": list(self.value.ci())},
            "solver_values": self.agreement(), "notes": self.notes,
        }

    def summary(self) -> str:
        """The comparison as text, with its statistics explained in words."""
        s, d = self.static_sim, self.dynamic_sim
        p = self.problem
        notional = float(order_notional(p).sum())
        lines = [f"value of adaptivity - {p.name or 'problem'} (volatility {p.volatility_model.kind}), "
                 f"{s.paths} common paths, seed {s.seed}{', antithetic' if s.antithetic else ''}",
                 f"  costs in currency (+/- one standard error); [bps] of the order's notional |X| S_0 = "
                 f"{format_amount(notional)}", "",
                 f"  {'':<28} {'static: ' + self.static_label:>26} {'feedback: ' + self.dynamic_label:>26} "
                 f"{'static - feedback (95% CI)':>40}"]
        rows = (("mean cost E[C]", s.mean, d.mean, "cost"),
                ("risk term E[R]", s.risk_term, d.risk_term, "risk_term"),
                ("objective E[C + R]", s.objective, d.objective, "objective"))
        for name, a, b, key in rows:
            est = self.differences[key].estimate
            lo, hi = est.ci()
            lines.append(f"  {name:<28} {a.value:18.10g} +/-{a.se:5.2g} {b.value:18.10g} +/-{b.se:5.2g} "
                         f"{est.value:14.6g} [{lo:.6g}, {hi:.6g}]")
            lines.append(f"  {'  [bps]':<28} {in_bps(a.value, notional):26.4g} {in_bps(b.value, notional):26.4g} "
                         f"{in_bps(est.value, notional):14.4g} [{in_bps(lo, notional):.4g}, {in_bps(hi, notional):.4g}]")
        lines.append(f"  {'std of cost':<28} {s.std.value:26.10g} {d.std.value:26.10g}")
        for a in s.stats["var"]:
            lines.append(f"  {'VaR ' + format(a, 'g'):<28} {s.stats['var'][a].value:26.10g} {d.stats['var'][a].value:26.10g}")
        v = self.value
        lo, hi = v.ci()
        rel = v.value / s.objective.value if s.objective.value else float("nan")
        lines += ["", f"  value of adaptivity = {v.value:.6g} = {in_bps(v.value, notional):.4g} bps "
                      f"(95% CI [{lo:.6g}, {hi:.6g}]), {100 * rel:.4g}% of the static objective"]
        for name, a in self.agreement().items():
            what = ("dynamic (static schedule as control variate)" if name == "dynamic_control_variate" else name)
            if name != "static" and self.dynamic_gap:
                what += " [continuous value + predicted O(tau) gap]"
            lines.append(f"  {what} solver value {a['solver_value']:.10g}, simulated {a['simulated']:.10g} "
                         f"+/- {a['se']:.2g} (z = {a['z']:.2f})")
        lines += ["", "  how to read this:",
                  "  - static - feedback: on the same simulated paths, the static schedule's cost minus the feedback "
                  "policy's; a positive value means reacting to the market saves that much on average.",
                  "  - 95% CI: the range that holds the true difference with 95% confidence (the estimate "
                  "+/- 1.96 standard errors of the path-by-path differences); if it contains 0, this many paths "
                  "cannot tell the two strategies apart.",
                  "  - z: how many standard errors the simulated objective lies from the method's own value; "
                  "|z| below about 3 means the simulation confirms the method."]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def methods_of_kind(kind: str) -> list[str]:
    """The registered methods that declare ``kind`` (``static`` or ``dynamic``), in registry order."""
    return [name for name in method_names() if method_info(name).kind == kind]


def _solve_first(problem: ExecutionProblem, names: Sequence[str], want_policy: bool, settings: dict | None):
    known = method_names()
    reasons = []
    for name in names:
        if name not in known:
            reasons.append(f"{name}: not registered")
            continue
        try:
            result = solve(problem, name, **(settings or {}))
        except MethodNotApplicable as err:
            reasons.append(f"{name}: {err.reason}")
            continue
        if want_policy and result.policy is None:
            reasons.append(f"{name}: returned no feedback policy")
            continue
        return name, result
    kind = "feedback-policy" if want_policy else "static"
    if not names:
        reasons.append(f"no registered method declares kind {'dynamic' if want_policy else 'static'!r}")
    raise MethodNotApplicable("adaptivity", f"no {kind} method applies ({'; '.join(reasons)})")


def value_of_adaptivity(
    problem: ExecutionProblem,
    *,
    static: Any = None,
    dynamic: Any = None,
    static_method: str | Sequence[str] | None = None,
    dynamic_method: str | Sequence[str] | None = None,
    static_settings: dict | None = None,
    dynamic_settings: dict | None = None,
    paths: int = 100_000,
    seed: int = 0,
    antithetic: bool = True,
    levels: Sequence[float] = (0.95, 0.99),
    vol_substeps: int = 4,
) -> AdaptivityReport:
    """Compare a static optimum with a feedback policy on common random numbers.

    Args:
        problem: a single-asset spec (stochastic volatility is the interesting case).
        static: holdings, a ``Result`` or a policy to use as the static strategy; default:
            solve with the first of ``static_method`` (default: the registered static methods,
            in registry order) that applies.
        dynamic: a feedback policy or a ``Result`` carrying one; default: the first of
            ``dynamic_method`` (default: the registered dynamic methods) that applies.
        static_settings, dynamic_settings: method settings (keywords) for those solves.
        paths, seed, antithetic, levels, vol_substeps: simulator settings (shared).
    """
    notes = []
    static_value = dynamic_value = None
    if static is None:
        names = (static_method,) if isinstance(static_method, str) else (static_method or methods_of_kind("static"))
        s_label, res = _solve_first(problem, names, False, static_settings)
        static, static_value = res, res.objective
    else:
        s_label = getattr(static, "method", None) or "static"
        static_value = getattr(static, "objective", None)
    if dynamic is None:
        names = (dynamic_method,) if isinstance(dynamic_method, str) else (dynamic_method or methods_of_kind("dynamic"))
        d_label, res = _solve_first(problem, names, True, dynamic_settings)
        dynamic, dynamic_value = res, res.objective
    else:
        d_label = getattr(dynamic, "method", None) or type(dynamic).__name__
        dynamic_value = getattr(dynamic, "objective", None)
        if dynamic_value is None:
            dynamic_value = getattr(dynamic, "value", None)
    dynamic_gap = 0.0
    if getattr(dynamic, "time_model", "discrete") == "continuous" and hasattr(dynamic, "trades"):
        dynamic_gap = predicted_discretization_gap(problem, dynamic).gap
        notes.append(f"{d_label}'s value {dynamic_value:.10g} is the continuous-time optimum; executed in "
                     f"{problem.slices} slices its cost differs by O(tau): the solver value compared below is "
                     f"shifted by the predicted first-order gap {dynamic_gap:.6g} (see optexec validate)")
        untrusted = not_comparable_reason(problem, predicted_discretization_gap(problem, dynamic))
        if untrusted:
            notes.append(f"the z of {d_label} is not meaningful here: {untrusted}")
    if not problem.volatility_model.stochastic:
        notes.append("volatility is deterministic: the optimal feedback policy is the static optimum, "
                     "so the value should be zero within its confidence interval")
    opts = dict(paths=paths, seed=seed, antithetic=antithetic, levels=levels, vol_substeps=vol_substeps)
    s_sim = simulate(problem, static, label=s_label, **opts)
    d_sim = simulate(problem, dynamic, label=d_label, **opts)
    diffs = compare(s_sim, d_sim)
    return AdaptivityReport(problem, s_label, d_label, s_sim, d_sim, diffs,
                            static_value=None if static_value is None else float(static_value),
                            dynamic_value=None if dynamic_value is None else float(dynamic_value), notes=notes,
                            dynamic_gap=float(dynamic_gap))
