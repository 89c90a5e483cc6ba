"""The value of adaptivity: the best static schedule against the best feedback policy,
priced by the simulator on common random numbers (``optexec adaptivity SPEC``).

Under stochastic volatility the static optimum (a method such as ``qp`` minimizing
``E + lambda V`` with ``V = tau sum E[sigma_k^2] x_k^2``, i.e. on the expected-volatility
path) commits to its trades at ``t_0``; a feedback policy (``dp`` or ``hjb``) trades
``n_k = n(t_{k-1}, x_{k-1}, sigma_k)`` and can slow down when volatility is low and speed up
when it is high. Both are executed on the *same* simulated paths; per path we record the
cost ``C``, the realized risk term ``R = lambda tau sum sigma_k^2 x_k^2`` and ``C + R`` (the
objective of MODEL.md). The value of adaptivity is ``E[C + R]_static - E[C + R]_feedback``;
because the paths are common, its standard error comes from the per-path (or per antithetic
pair) differences, which is far smaller than either run's own error. With constant volatility
the optimal feedback policy trades the static optimum on every path and the value is zero.

All amounts are in currency.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import MethodNotApplicable
from .spec import ExecutionProblem

__all__ = ["AdaptivityReport", "value_of_adaptivity", "plot_adaptivity", "STATIC_METHODS", "DYNAMIC_METHODS", "register"]

#: static optimizers tried in order (first registered one that applies)
STATIC_METHODS: tuple[str, ...] = ("qp", "closed-form")
#: feedback-policy methods tried in order
DYNAMIC_METHODS: tuple[str, ...] = ("dp", "hjb")


@dataclass
class AdaptivityReport:
    """Static against feedback on common random numbers."""

    problem: ExecutionProblem
    static_label: str
    dynamic_label: str
    static_sim: Any
    dynamic_sim: Any
    differences: dict[str, Any]  # "cost", "risk_term", "objective": Difference (static - dynamic)
    static_value: float | None = None  # the static method's E + lambda V
    dynamic_value: float | None = None  # the dynamic solver's value at t = 0
    notes: list[str] = field(default_factory=list)
    dynamic_gap: float = 0.0  # predicted discrete - continuous O(tau) gap for a continuous-time policy

    @property
    def value(self):
        """The value of adaptivity ``E[C+R]_static - E[C+R]_feedback`` (an Estimate)."""
        return self.differences["objective"].estimate

    @property
    def dynamic_objective_cv(self):
        """The feedback policy's objective with the static schedule as control variate:
        ``static_value - (E[C+R]_static - E[C+R]_feedback)``, an Estimate whose error is the
        paired difference's (the static value is exact: E + lambda V of solvers.costs). None
        when the static strategy came without its value."""
        from .simulate import Estimate

        if self.static_value is None:
            return None
        return Estimate(self.static_value - self.value.value, self.value.se)

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
        s, d = self.static_sim, self.dynamic_sim
        p = self.problem
        lines = [f"value of adaptivity - {p.name or 'problem'} (volatility {p.volatility_model.kind}), "
                 f"{s.paths} common paths, seed {s.seed}{', antithetic' if s.antithetic else ''}", "",
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
        lines.append(f"  {'std of cost':<28} {s.std.value:26.10g} {d.std.value:26.10g}")
        for a in s.stats["var"]:
            lines.append(f"  {'VaR ' + format(a, 'g'):<28} {s.stats['var'][a].value:26.10g} {d.stats['var'][a].value:26.10g}")
        v = self.value
        lo, hi = v.ci()
        rel = v.value / s.objective.value if s.objective.value else float("nan")
        lines += ["", f"  value of adaptivity = {v.value:.6g} (95% CI [{lo:.6g}, {hi:.6g}]), "
                      f"{100 * rel:.4g}% of the static objective"]
        for name, a in self.agreement().items():
            what = ("dynamic (static schedule as control variate)" if name == "dynamic_control_variate" else name)
            if name != "static" and self.dynamic_gap:
                what += " [continuous value + predicted O(tau) gap]"
            lines.append(f"  {what} solver value {a['solver_value']:.10g}, simulated {a['simulated']:.10g} "
                         f"+/- {a['se']:.2g} (z = {a['z']:.2f})")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _solve_first(problem: ExecutionProblem, names: Sequence[str], want_policy: bool, options: dict | None):
    from .methods import METHODS, get_method

    reasons = []
    for name in names:
        if name not in METHODS:
            reasons.append(f"{name}: not registered")
            continue
        try:
            result = get_method(name)(problem, **(options or {}))
        except MethodNotApplicable as err:
            reasons.append(f"{name}: {err.reason}")
            continue
        result.raise_for_status()
        if want_policy and result.policy is None:
            reasons.append(f"{name}: returned no feedback policy")
            continue
        return name, result
    kind = "feedback-policy" if want_policy else "static"
    raise MethodNotApplicable("adaptivity", f"no {kind} method applies ({'; '.join(reasons)})")


def value_of_adaptivity(
    problem: ExecutionProblem,
    *,
    static: Any = None,
    dynamic: Any = None,
    static_method: str | Sequence[str] | None = None,
    dynamic_method: str | Sequence[str] | None = None,
    static_options: dict | None = None,
    dynamic_options: dict | None = None,
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
            solve with the first of ``static_method`` (default :data:`STATIC_METHODS`) that applies.
        dynamic: a feedback policy or a ``Result`` carrying one; default: the first of
            ``dynamic_method`` (default :data:`DYNAMIC_METHODS`) that applies.
        paths, seed, antithetic, levels, vol_substeps: simulator settings (shared).
    """
    from .simulate import compare, simulate

    notes = []
    static_value = dynamic_value = None
    if static is None:
        names = (static_method,) if isinstance(static_method, str) else (static_method or STATIC_METHODS)
        s_label, res = _solve_first(problem, names, False, static_options)
        static, static_value = res, res.objective
    else:
        s_label = getattr(static, "method", None) or "static"
        static_value = getattr(static, "objective", None)
    if dynamic is None:
        names = (dynamic_method,) if isinstance(dynamic_method, str) else (dynamic_method or DYNAMIC_METHODS)
        d_label, res = _solve_first(problem, names, True, dynamic_options)
        dynamic, dynamic_value = res, res.objective
    else:
        d_label = getattr(dynamic, "method", None) or type(dynamic).__name__
        dynamic_value = getattr(dynamic, "objective", None)
        if dynamic_value is None:
            dynamic_value = getattr(dynamic, "value", None)
    dynamic_gap = 0.0
    if getattr(dynamic, "time_model", "discrete") == "continuous" and hasattr(dynamic, "trades"):
        from .validate import _gap_prediction

        dynamic_gap = _gap_prediction(problem, dynamic)[0]
        notes.append(f"{d_label}'s value {dynamic_value:.10g} is the continuous-time optimum; executed in "
                     f"{problem.slices} slices its cost differs by O(tau): the solver value compared below is "
                     f"shifted by the predicted first-order gap {dynamic_gap:.6g} (see optexec validate)")
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


def plot_adaptivity(report: AdaptivityReport, path: str | Path) -> Path:
    """Three panels: cost histograms of both strategies, holdings fans (static: its schedule;
    feedback: 5-95% band and mean), and the three differences with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    s, d = report.static_sim, report.dynamic_sim
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    ax = axes[0]
    lo = min(np.quantile(s.cost, 0.001), np.quantile(d.cost, 0.001))
    hi = max(np.quantile(s.cost, 0.999), np.quantile(d.cost, 0.999))
    bins = np.linspace(lo, hi, 80)
    for i, sim in enumerate((s, d)):
        ax.hist(sim.cost, bins=bins, density=True, histtype="step", lw=1.5, color=f"C{i}", label=sim.strategy)
        ax.axvline(sim.mean.value, color=f"C{i}", lw=1)
    ax.set_xlabel("cost C (currency)")
    ax.set_ylabel("density")
    ax.set_title("cost distribution")
    ax.legend(fontsize=8)
    ax = axes[1]
    t = report.problem.times
    for i, sim in enumerate((s, d)):
        q = sim.fan_quantiles((0.05, 0.5, 0.95))
        ax.fill_between(t, q[0], q[2], color=f"C{i}", alpha=0.2)
        ax.plot(t, sim.mean_holdings, color=f"C{i}", lw=1.5, label=f"{sim.strategy} (mean, 5-95%)")
    ax.set_xlabel("time")
    ax.set_ylabel("holdings (shares)")
    ax.set_title("holdings")
    ax.legend(fontsize=8)
    ax = axes[2]
    keys = ("cost", "risk_term", "objective")
    vals = [report.differences[k].estimate for k in keys]
    err = [v.ci()[1] - v.value for v in vals]
    ax.bar(range(3), [v.value for v in vals], yerr=err, capsize=6, color=["C2", "C4", "C3"])
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(3), ["E[C]", "E[R]", "E[C + R]"])
    ax.set_ylabel("static - feedback (currency), 95% CI")
    ax.set_title(f"value of adaptivity = {report.value.value:.4g} +/- {err[2]:.2g}")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------- CLI
def _cmd_adaptivity(args: argparse.Namespace) -> int:
    from .cli import emit_outputs, problem_from_args

    problem = problem_from_args(args)
    report = value_of_adaptivity(problem, static_method=args.static_method, dynamic_method=args.dynamic_method,
                                 paths=args.paths, seed=args.seed, antithetic=not args.no_antithetic)
    emit_outputs(args, report.summary(), report.to_dict(), lambda path: plot_adaptivity(report, path))
    return 0


def register(subparsers) -> None:
    """``optexec adaptivity SPEC | --example NAME``."""
    from .cli import add_spec_arguments

    p = subparsers.add_parser("adaptivity", help="value of a feedback policy over the static optimum (Monte Carlo, CRN)")
    add_spec_arguments(p)
    p.add_argument("--static-method", help=f"static optimizer (default: first that applies of {', '.join(STATIC_METHODS)})")
    p.add_argument("--dynamic-method", help=f"feedback method (default: first that applies of {', '.join(DYNAMIC_METHODS)})")
    p.add_argument("--paths", type=int, default=100_000, help="Monte Carlo paths (default 100000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-antithetic", action="store_true", help="plain Monte Carlo (default: antithetic pairs)")
    p.add_argument("--json", metavar="PATH", help="write the report as JSON ('-' for stdout)")
    p.add_argument("--plot", metavar="PNG", help="plot histograms, holdings and differences")
    p.set_defaults(func=_cmd_adaptivity)
