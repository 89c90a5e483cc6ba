"""``validate``: every method variant on one spec, priced by Monte Carlo on common random
numbers, every pair cross-checked (:mod:`.cross_check`); the answer is a
:class:`~.report.ValidationReport`."""

from __future__ import annotations

import itertools
import time
import traceback
from typing import Any, Sequence

from ..errors import MethodNotApplicable, SpecError
from ..methods import method_info, method_names, solve
from ..simulation import simulate
from ..spec import ExecutionProblem
from .cross_check import (
    MC_SIGMAS,
    MethodRun,
    NotComparable,
    PairCheck,
    control_variate_checks,
    monte_carlo_checks,
    pair_checks,
)
from .report import ValidationReport

__all__ = ["validate", "run_method"]


def _variants(methods: Sequence[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, method, settings) of every variant the methods declare (``MethodInfo.run_variants``)."""
    return [(v.label, m, dict(v.settings)) for m in methods for v in method_info(m).run_variants]


def run_method(problem: ExecutionProblem, label: str, method: str, settings: dict[str, Any]) -> MethodRun:
    """Solve with one method variant; a failure or a method that does not apply is recorded,
    never raised (a :class:`SpecError` in the spec or the settings is raised)."""
    info = method_info(method)
    facts = {"kind": info.kind, "declared": info.accuracy}
    start = time.perf_counter()
    try:
        result = solve(problem, method, throw=False, **settings)
    except MethodNotApplicable as err:
        return MethodRun(label, method, settings, "not applicable", err.reason, seconds=time.perf_counter() - start,
                         **facts)
    except SpecError:
        raise
    except Exception as err:  # noqa: BLE001 - a failing method is reported, not hidden
        tb = traceback.extract_tb(err.__traceback__)[-1]
        return MethodRun(label, method, settings, "failed", f"{type(err).__name__}: {err} ({tb.filename}:{tb.lineno})",
                         seconds=time.perf_counter() - start, **facts)
    run = MethodRun(label, method, settings, "ok", result=result, seconds=time.perf_counter() - start, **facts)
    if not result.success:
        run.state, run.reason = "failed", f"status {result.status!r}: {result.message}"
    return run


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
        methods: method names (default: every registered method, in registry order).
        paths, seed, antithetic: Monte Carlo settings (common random numbers for every method).
        monte_carlo: price every answer by simulation too.
    """
    known = method_names()
    names = known if methods is None else list(methods)
    for m in names:
        if m not in known:
            raise SpecError("methods", m, f"unknown method (available: {', '.join(known)})")
    runs = [run_method(problem, label, m, opts) for label, m, opts in _variants(names)]
    ok = [r for r in runs if r.state == "ok"]
    checks: list[PairCheck] = []
    not_compared: list[tuple[str, str, str]] = []
    not_comparable: list[NotComparable] = []
    for a, b in itertools.combinations(ok, 2):
        pair, skip, incomparable = pair_checks(problem, a, b)
        checks += pair
        if skip:
            not_compared.append((a.label, b.label, skip))
        if incomparable:
            not_comparable.append(incomparable)
    if monte_carlo:
        for r in ok:
            r.simulation = simulate(problem, r.result, paths=paths, seed=seed, antithetic=antithetic, label=r.label)
            mc, incomparable = monte_carlo_checks(problem, r)
            checks += mc
            not_comparable += incomparable
        cv, incomparable = control_variate_checks(problem, ok)
        checks += cv
        not_comparable += incomparable
    return ValidationReport(problem, runs, checks, not_compared,
                            {"paths": paths, "seed": seed, "antithetic": antithetic, "monte_carlo": monte_carlo,
                             "mc_sigmas": MC_SIGMAS}, not_comparable)
