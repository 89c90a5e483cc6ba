"""The validation report: a compact text table (:meth:`ValidationReport.table`; every check
with its reason under ``verbose``) and JSON (:meth:`ValidationReport.to_dict`). A pair is
``ok``, ``FAIL`` or ``not comparable`` at the spec's N; the report passes when every
comparable check does. Costs in currency and in bps of the order's notional ``|X| S_0``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..result import format_amount, in_bps, order_notional
from ..spec import ExecutionProblem
from .cross_check import MethodRun, NotComparable, PairCheck

__all__ = ["ValidationReport"]


@dataclass
class ValidationReport:
    """The runs, the checks and the pairs not compared (with the reason) of one validation."""

    problem: ExecutionProblem
    runs: list[MethodRun]
    checks: list[PairCheck]
    not_compared: list[tuple[str, str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    not_comparable: list[NotComparable] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        out = [f"{r.label} failed: {r.reason}" for r in self.runs if r.state == "failed"]
        out += [c.message() for c in self.checks if not c.passed]
        return out

    @property
    def passed(self) -> bool:
        """Every method ran and every comparable check is within its tolerance (pairs not
        comparable at this N are counted in :attr:`not_comparable`, neither passed nor failed)."""
        return not self.failures

    @property
    def state(self) -> str:
        """``passed``, ``passed (n not comparable)`` or ``failed``."""
        if not self.passed:
            return "failed"
        return f"passed ({len(self.not_comparable)} not comparable)" if self.not_comparable else "passed"

    def largest(self, quantity: str) -> PairCheck | None:
        cands = [c for c in self.checks if c.quantity == quantity]
        return max(cands, key=lambda c: c.excess) if cands else None

    def to_dict(self) -> dict[str, Any]:
        largest = {q: (c.to_dict() if c else None) for q in ("objective", "holdings")
                   for c in [self.largest(q)]}
        return {"problem": self.problem.name or None, "spec": self.problem.to_dict(), "passed": self.passed,
                "state": self.state, "not_comparable": [n.to_dict() for n in self.not_comparable],
                "notional": float(order_notional(self.problem).sum()), "failures": self.failures, "settings": self.settings, "methods": [r.to_dict() for r in self.runs],
                "checks": [c.to_dict() for c in self.checks], "largest_disagreement": largest,
                "not_compared": [{"a": a, "b": b, "reason": w} for a, b, w in self.not_compared]}

    def table(self, verbose: bool = False) -> str:
        """The report as text: one row per method variant (and its Monte Carlo price), one per
        pair of answers (its largest disagreement in units of its tolerance, ok/FAIL), the
        largest disagreements and the verdict. ``verbose`` adds every check with its reason."""
        p = self.problem
        notional = float(order_notional(p).sum())
        lines = [f"optexec validate - {p.name or 'problem'}: T = {p.horizon:g}, N = {p.slices}, "
                 f"lambda = {p.risk_aversion:g}, volatility {p.volatility_model.kind}",
                 f"  costs in currency; 'bps' columns: basis points of the order's notional |X| S_0 = {format_amount(notional)}",
                 ""]
        head = (f"  {'method':<28} {'status':<15} {'objective':>16} {'bps':>8} {'E':>16} {'bps':>8} {'V':>16} "
                f"{'time':>10}")
        lines += [head, "  " + "-" * (len(head) - 2)]
        for r in self.runs:
            if r.state != "ok":
                status = "n/a" if r.state == "not applicable" else "FAILED"
                lines.append(f"  {r.label:<28} {status:<15} {r.reason}")
                continue
            res = r.result
            lines.append(f"  {r.label:<28} {res.status + ' ' + res.time_model[:4]:<15} {res.objective:16.10g} "
                         f"{in_bps(res.objective, notional):8.4g} {res.expected_cost:16.10g} "
                         f"{in_bps(res.expected_cost, notional):8.4g} {res.variance:16.10g} "
                         f"{res.solve_seconds * 1e3:8.2f}ms")
        for r in self.runs:
            if r.simulation is not None:
                s = r.simulation
                lines.append(f"  {'mc[' + r.label + ']':<28} {'+/-' + format(s.objective.se, '.2g'):<15} "
                             f"{s.objective.value:16.10g} {in_bps(s.objective.value, notional):8.4g} "
                             f"{s.mean.value:16.10g} {in_bps(s.mean.value, notional):8.4g} {s.variance.value:16.10g} "
                             f"{s.seconds * 1e3:8.2f}ms")
        pairs: dict[tuple[str, str], list[PairCheck]] = {}
        for c in self.checks:
            pairs.setdefault((c.a, c.b), []).append(c)
        if pairs or self.not_compared or self.not_comparable:
            head = f"  {'pair':<48} {'|a - b - expected| / tolerance':<44} verdict"
            lines += ["", head, "  " + "-" * (len(head) - 2)]
        for (a, b), group in pairs.items():
            ratios = ", ".join(f"{c.quantity} {c.excess:.3g}{' (one-sided)' if c.one_sided else ''}" for c in group)
            verdict = "ok" if all(c.passed for c in group) else "FAIL"
            lines.append(f"  {a + ' vs ' + b:<48} {ratios:<44} {verdict}")
        for a, b, why in self.not_compared:
            lines.append(f"  {a + ' vs ' + b:<48} {'not compared':<44} --")
        for nc in self.not_comparable:
            lines.append(f"  {nc.a + ' vs ' + nc.b:<48} {'needs N >= ' + str(nc.slices_needed):<44} NOT COMPARABLE")
        if verbose:
            lines += ["", f"  checks ({len(self.checks)}): pair, quantity, a - b, expected, tolerance, why"]
            for c in self.checks:
                mark = "ok  " if c.passed else "FAIL"
                exp = f"{c.expected:.4g}" if c.expected else "0"
                lines.append(f"  {mark} {c.a} vs {c.b}: {c.quantity} {c.difference:.4g} (expected {exp}, "
                             f"tol {c.tolerance:.3g}{', one-sided' if c.one_sided else ''}) - {c.why}")
            for a, b, why in self.not_compared:
                lines.append(f"  --   {a} vs {b}: not compared ({why})")
        reasons: dict[str, int] = {}
        for nc in self.not_comparable:
            reasons[nc.reason] = reasons.get(nc.reason, 0) + 1
        for reason, count in reasons.items():
            lines.append(f"  NOT COMPARABLE ({count} pair(s) above): {reason}")
        lines.append("")
        for q in ("holdings", "objective"):
            c = self.largest(q)
            if c is not None:
                lines.append(f"  largest disagreement in {q}: {c.a} vs {c.b}, {abs(c.difference - c.expected):.4g} "
                             f"beyond prediction = {c.excess:.3g} x tolerance {c.tolerance:.3g}")
        n_nc = len(self.not_comparable)
        also = (f"; {n_nc} pair(s) NOT COMPARABLE at N = {p.slices} (neither passed nor failed: rerun with the N "
                "named above to compare them)") if n_nc else ""
        if self.passed and not self.checks:
            lines.append("  PASSED, vacuously: no comparable pair (no registered method applies to this spec, or "
                         "none can be compared at this N), so nothing was cross-checked" + also)
        elif self.passed:
            lines.append(f"  PASSED: all {len(self.checks)} comparable checks within their tolerances" + also)
        else:
            lines.append("  FAILED:\n    " + "\n    ".join(self.failures) + ("\n  " + also[2:] if n_nc else ""))
        return "\n".join(lines)
