"""One result record for every method (the conventions page, "Results are JSON with at least ...").

A :class:`Result` carries the schedule (``times``, ``holdings``, ``trades``), its expected
cost, variance and objective, the cost split, the status and timing of the solve, and a
free-form ``diagnostics`` mapping (iterations, residuals, grid sizes, ...). Static methods
build it with :meth:`Result.from_schedule`, which prices the schedule through
:mod:`solvers.costs`, so a cost is never defined twice.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .costs import ScheduleCost, schedule_cost, trades_from_holdings
from .errors import SolverError
from .serialize import plain as _plain
from .spec import ExecutionProblem

__all__ = ["Result", "OK_STATUSES", "check_result", "order_notional", "in_bps", "format_amount"]

#: statuses that mean "this answer is the optimum to the stated accuracy"
OK_STATUSES = ("optimal",)


def order_notional(problem: ExecutionProblem) -> np.ndarray:
    """The order's notional per asset, ``|X_i| S_0,i`` (currency), shape (m,)."""
    return np.array([abs(a.holdings) * a.price for a in problem.assets], dtype=np.float64)


def in_bps(amount: float, notional: float) -> float:
    """``amount`` in basis points of ``notional``: ``1e4 amount / notional`` (NaN for a zero notional)."""
    return 1e4 * float(amount) / float(notional) if notional else math.nan


def format_amount(amount: float) -> str:
    """A currency amount for people: ``50,000,000``, ``1,234.5``, ``0.25``."""
    return f"{amount:,.2f}".rstrip("0").rstrip(".") if abs(amount) >= 1 else f"{amount:.4g}"


@dataclass
class Result:
    """The answer of one method to one problem.

    Attributes:
        method: ``closed-form``, ``qp``, ``dp``, ``hjb`` or ``mc``.
        status: ``optimal`` when the answer meets its accuracy; anything else is a failure
            or a caveat explained in ``message``.
        problem: the spec that was solved.
        times: ``t_k``, k = 0..N (time units).
        holdings: ``x_k`` (shares), shape (N+1,) or (N+1, m).
        trades: ``n_k = x_{k-1} - x_k`` (shares), shape (N,) or (N, m).
        expected_cost, variance, objective: currency, currency^2, currency.
        solve_seconds: wall time of the solve (compile time is in diagnostics when separate).
        time_model: ``discrete`` (the spec's N slices) or ``continuous`` (the tau -> 0 limit).
        cost_breakdown: permanent, temporary, spread and drift parts of ``expected_cost``.
        diagnostics: method-specific numbers: iterations, residuals, grid sizes, kappa, ...
        message: human-readable note on the status.
        policy: a feedback policy (dynamic methods), not serialized.
    """

    method: str
    status: str
    problem: ExecutionProblem
    times: np.ndarray
    holdings: np.ndarray
    trades: np.ndarray
    expected_cost: float
    variance: float
    objective: float
    solve_seconds: float
    time_model: str = "discrete"
    cost_breakdown: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    policy: Any = None

    @classmethod
    def from_schedule(
        cls,
        problem: ExecutionProblem,
        holdings: np.ndarray,
        *,
        method: str,
        status: str = "optimal",
        solve_seconds: float = 0.0,
        diagnostics: dict[str, Any] | None = None,
        message: str = "",
        time_model: str = "discrete",
    ) -> "Result":
        """Price a static schedule with :func:`solvers.costs.schedule_cost` and wrap it."""
        holdings = np.asarray(holdings, dtype=np.float64)
        cost = schedule_cost(problem, holdings)
        return cls(
            method=method, status=status, problem=problem, times=problem.times, holdings=holdings,
            trades=trades_from_holdings(holdings), expected_cost=float(cost.expected_cost),
            variance=float(cost.variance), objective=float(cost.objective),
            solve_seconds=float(solve_seconds), time_model=time_model,
            cost_breakdown=cost.as_dict(), diagnostics=dict(diagnostics or {}), message=message,
        )

    @classmethod
    def from_cost(
        cls,
        problem: ExecutionProblem,
        holdings: np.ndarray,
        cost: ScheduleCost,
        *,
        method: str,
        objective: float | None = None,
        status: str = "optimal",
        solve_seconds: float = 0.0,
        diagnostics: dict[str, Any] | None = None,
        message: str = "",
        time_model: str = "discrete",
        policy: Any = None,
        times: np.ndarray | None = None,
    ) -> "Result":
        """Wrap a cost record a method computed itself (:func:`solvers.costs.policy_cost`).
        ``objective`` defaults to ``cost.objective``; a dynamic method passes its value function."""
        holdings = np.asarray(holdings, dtype=np.float64)
        return cls(
            method=method, status=status, problem=problem, times=problem.times if times is None else times,
            holdings=holdings, trades=trades_from_holdings(holdings), expected_cost=float(cost.expected_cost),
            variance=float(cost.variance), objective=float(cost.objective if objective is None else objective),
            solve_seconds=float(solve_seconds), time_model=time_model, cost_breakdown=cost.as_dict(),
            diagnostics=dict(diagnostics or {}), message=message, policy=policy,
        )

    @property
    def success(self) -> bool:
        return self.status in OK_STATUSES

    @property
    def std(self) -> float:
        """``sqrt(V)`` (currency)."""
        return math.sqrt(max(self.variance, 0.0))

    def raise_for_status(self) -> "Result":
        """Raise :class:`SolverError` unless the status is ``optimal``; return self."""
        if not self.success:
            raise SolverError(self.method, self.status, self.message or "no message")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data, the shared result keys first; ``*_bps`` are basis points of the
        order's notional ``sum_i |X_i| S_0,i`` (``notional``, currency)."""
        notional = float(order_notional(self.problem).sum())
        return {
            "method": self.method,
            "status": self.status,
            "message": self.message,
            "time_model": self.time_model,
            "problem": self.problem.name or None,
            "assets": [a.name for a in self.problem.assets],
            "times": _plain(self.times),
            "holdings": _plain(self.holdings),
            "trades": _plain(self.trades),
            "expected_cost": _plain(self.expected_cost),
            "variance": _plain(self.variance),
            "std": _plain(self.std),
            "objective": _plain(self.objective),
            "risk_aversion": self.problem.risk_aversion,
            "cost_breakdown": _plain(self.cost_breakdown),
            "notional": float(notional),
            "expected_cost_bps": _plain(in_bps(self.expected_cost, notional)),
            "objective_bps": _plain(in_bps(self.objective, notional)),
            "std_bps": _plain(in_bps(self.std, notional)),
            "solve_seconds": self.solve_seconds,
            "diagnostics": _plain(self.diagnostics),
            "spec": self.problem.to_dict(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=True)

    def summary(self) -> str:
        """A readable multi-line summary: header, trajectory table, cost figures."""
        p = self.problem
        names = [a.name for a in p.assets]
        lines = [
            f"optexec {self.method} ({self.time_model} time) - {p.name or 'problem'}: status {self.status}"
            + (f" ({self.message})" if self.message else ""),
            f"  T = {p.horizon:g}, N = {p.slices}, tau = {p.tau:g}, lambda = {p.risk_aversion:g}",
            "",
        ]
        header = f"  {'k':>5} {'t_k':>10} " + " ".join(f"{'x ' + n:>16} {'n ' + n:>14}" for n in names)
        lines.append(header)
        hold = self.holdings.reshape(len(self.times), -1)
        trd = self.trades.reshape(len(self.times) - 1, -1)
        rows = range(len(self.times))
        if len(self.times) > 24:
            rows = list(range(10)) + [-1] + list(range(len(self.times) - 10, len(self.times)))
        for k in rows:
            if k == -1:
                lines.append(f"  {'...':>5}")
                continue
            cells = []
            for i in range(hold.shape[1]):
                trade = "" if k == 0 else f"{trd[k - 1, i]:14.6g}"
                cells.append(f"{hold[k, i]:16.8g} {trade:>14}")
            lines.append(f"  {k:5d} {self.times[k]:10.5g} " + " ".join(cells))
        notional = order_notional(p)
        total = float(notional.sum())

        def bps(amount: float) -> str:
            return f"   {in_bps(amount, total):10.4g} bps"

        lines += [
            "",
            f"  costs in currency and in basis points (bps) of the order's notional |X| S_0 = {format_amount(total)}"
            + (" (" + ", ".join(f"{n} {format_amount(v)}" for n, v in zip(names, notional)) + ")" if p.is_basket else ""),
            f"  expected cost E      {self.expected_cost:18.8g}{bps(self.expected_cost)}",
            f"  variance V           {self.variance:18.8g}",
            f"  std sqrt(V)          {self.std:18.8g}{bps(self.std)}",
            f"  objective E+lambda*V {self.objective:18.8g}{bps(self.objective)}",
        ]
        if p.is_basket:
            per_asset = _per_asset_expected_cost(self)
            if per_asset is not None:
                lines.append("  E per asset (temporary, spread and own permanent impact): " + ", ".join(
                    f"{n} {c:.6g} = {in_bps(c, v):.4g} bps" for n, c, v in zip(names, per_asset, notional)))
        if p.volatility_model.stochastic and self.policy is None:
            lines.append("  note: a static schedule under stochastic volatility: this solves the static problem "
                         "on the expected variance E[sigma_k^2] of each slice (a feedback method can do better; "
                         "see 'optexec adaptivity')")
        priced = self.expected_cost + self.problem.risk_aversion * self.variance
        if abs(priced - self.objective) > 1e-12 * max(abs(self.objective), 1.0):
            # a dynamic method's objective is its value function; E and V are its policy's moments
            lines.append(f"  (E + lambda*V of the reported E, V: {priced:.10g}; the objective above is the "
                         f"value function, the gap is the discretization)")
        if self.cost_breakdown:
            parts = ", ".join(f"{k} {v:.6g}" for k, v in self.cost_breakdown.items())
            lines.append(f"  E split: {parts}")
        for key in ("kappa", "half_life"):
            if key in self.diagnostics and self.diagnostics[key] is not None:
                lines.append(f"  {key:<20} {self.diagnostics[key]:18.8g}")
        lines.append(f"  solve time           {self.solve_seconds * 1e3:15.3f} ms")
        return "\n".join(lines)


#: diagnostics keys that hold a method's own residual or error estimate (must be finite)
ERROR_KEYS = ("objective_error", "holdings_error", "kkt_residual", "error_estimate", "objective_gap")


def _per_asset_expected_cost(result: Result) -> np.ndarray | None:
    """Each asset's share of ``E`` for a basket result, when the cost splits by asset (no cross
    impact): the expected cost of asset ``i``'s own holdings alone; else None."""
    p = result.problem
    gamma = np.asarray(p.permanent_impact_matrix_array, dtype=np.float64)
    if np.any(gamma - np.diag(np.diag(gamma))) or result.holdings.ndim != 2:
        return None
    out = []
    for i in range(p.n_assets):
        single = p.replace(assets=(p.assets[i],), correlation=None)
        out.append(float(schedule_cost(single, result.holdings[:, i]).expected_cost))
    return np.array(out)


def check_result(result: Result) -> Result:
    """The result rule shared by every method: ``optimal`` only if every number is finite, the
    schedule starts at ``X`` and ends at 0 (relative 1e-9 of ``|X|``), and the method's own
    residual or error estimate (:data:`ERROR_KEYS`) is finite; under a terminal penalty ``x_N`` is
    free (any finite number). An answer that breaks it gets the
    status ``numerical_error`` and a message saying which number broke which rule."""
    if result.status not in OK_STATUSES:
        return result
    problems = []
    for name in ("holdings", "trades"):
        values = np.asarray(getattr(result, name), dtype=np.float64)
        if not np.all(np.isfinite(values)):
            problems.append(f"{name} has {int(np.sum(~np.isfinite(values)))} non-finite entries")
    for name in ("expected_cost", "variance", "objective"):
        value = getattr(result, name)
        if not isinstance(value, (int, float, np.floating)) or not math.isfinite(float(value)):
            problems.append(f"{name} = {value!r} is not a finite number")
    for key in ERROR_KEYS:
        value = result.diagnostics.get(key)
        if value is not None and isinstance(value, (int, float, np.floating)) and not math.isfinite(float(value)):
            problems.append(f"diagnostics[{key!r}] = {value!r} is not finite")
    if not problems:
        hold = np.asarray(result.holdings, dtype=np.float64).reshape(len(result.times), -1)
        big_x = np.asarray(result.problem.initial_holdings, dtype=np.float64)
        scale = 1e-9 * np.abs(big_x)
        if np.any(np.abs(hold[0] - big_x) > scale):
            problems.append(f"holdings start at {hold[0].tolist()}, not X = {big_x.tolist()}")
        if not result.problem.has_terminal_penalty and np.any(np.abs(hold[-1]) > scale):
            problems.append(f"holdings end at {hold[-1].tolist()}, not 0")
    if not problems:
        return result
    result.status = "numerical_error"
    result.message = "; ".join(problems) + (f" ({result.message})" if result.message else "")
    return result
