"""The validation report: a compact text table (:meth:`ValidationReport.table`; every check
with its reason under ``verbose``) and JSON (:meth:`ValidationReport.to_dict`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..spec import ExecutionProblem
from .cross_check import MethodRun, PairCheck

__all__ = ["ValidationReport"]


@dataclass
class ValidationReport:
    """The runs, the checks and the pairs not compared (with the reason) of one validation."""

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

    def table(self, verbose: bool = False) -> str:
        """The report as text: one row per method variant (and its Monte Carlo price), one per
        pair of answers (its largest disagreement in units of its tolerance, ok/FAIL), the
        largest disagreements and the verdict. ``verbose`` adds every check with its reason."""
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
        pairs: dict[tuple[str, str], list[PairCheck]] = {}
        for c in self.checks:
            pairs.setdefault((c.a, c.b), []).append(c)
        if pairs or self.not_compared:
            head = f"  {'pair':<48} {'|a - b - expected| / tolerance':<44} verdict"
            lines += ["", head, "  " + "-" * (len(head) - 2)]
        for (a, b), group in pairs.items():
            ratios = ", ".join(f"{c.quantity} {c.excess:.3g}{' (one-sided)' if c.one_sided else ''}" for c in group)
            verdict = "ok" if all(c.passed for c in group) else "FAIL"
            lines.append(f"  {a + ' vs ' + b:<48} {ratios:<44} {verdict}")
        for a, b, why in self.not_compared:
            lines.append(f"  {a + ' vs ' + b:<48} {'not compared':<44} --")
        if verbose:
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
