"""One sweep task: solve a batch of points with every method, on a dask worker or in process.

:func:`solve_batch` builds each point's spec (the base with the point's dotted paths set),
then runs each method: a method that declares ``MethodInfo.batch_solve`` solves the points it
can in one call, the rest are solved one by one through :func:`solvers.methods.solve`. It
never raises for a point: a rejected value (``invalid``), a method that does not apply
(``not-applicable``), a solver failure (``solver-error``) or any other exception (``error``)
becomes a row with its status and error. Rows carry ``objective`` ``E + lambda V``,
``expected_cost``, ``std`` (currency), ``variance`` (currency^2), ``solve_seconds``, ``batched``.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from typing import Any, Mapping, Sequence

from ..errors import MethodNotApplicable, SolverError, SpecError
from ..methods import METHODS, method_info, register_method, solve
from ..result import Result, check_result
from ..serialize import cell, plain
from ..settings import merge_settings
from ..spec import ExecutionProblem, problem_from_dict
from .axes import apply_params

__all__ = ["solve_batch", "point_problem", "empty_row"]


def point_problem(base: Mapping[str, Any], params: Mapping[str, Any]) -> ExecutionProblem:
    """The problem at a point: the base spec with the point's dotted paths set, validated."""
    return problem_from_dict(apply_params(base, params))


def _failure(err: BaseException) -> dict[str, Any]:
    if isinstance(err, SpecError):
        status = "invalid"
    elif isinstance(err, MethodNotApplicable):
        status = "not-applicable"
    elif isinstance(err, SolverError):
        status = "solver-error"
    else:
        status = "error"
    text = str(err) or repr(err)
    if status == "error":
        text += "\n" + "".join(traceback.format_exception(err)[-3:])
    return {"status": status, "error_type": type(err).__name__, "error": text}


def _diagnostics_text(diagnostics: Mapping[str, Any]) -> str:
    try:
        return json.dumps(plain(dict(diagnostics)), allow_nan=True, default=repr)
    except (TypeError, ValueError):
        return repr(diagnostics)


def _outcome_from_result(result: Result) -> dict[str, Any]:
    return {
        "status": result.status, "objective": float(result.objective), "expected_cost": float(result.expected_cost),
        "variance": float(result.variance), "std": float(result.std), "solve_seconds": float(result.solve_seconds),
        "message": result.message, "diagnostics": _diagnostics_text(result.diagnostics), "batched": 0,
        "time_model": result.time_model,
    }


def _solve_one(name: str, problem: ExecutionProblem, options: Mapping[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = solve(problem, name, throw=False, **options)
    except Exception as err:  # noqa: BLE001 - every failure becomes a recorded row
        out = _failure(err)
        out["solve_seconds"] = time.perf_counter() - start
        return out
    if not isinstance(result, Result):
        return {"status": "error", "error_type": "TypeError",
                "error": f"method returned {type(result).__name__}, not a Result"}
    return _outcome_from_result(result)


def _batch_outcome(result: Result, batched: int, seconds: float) -> dict[str, Any]:
    out = _outcome_from_result(check_result(result))
    out.update(batched=batched, solve_seconds=seconds / batched)
    return out


def solve_batch(base: Mapping[str, Any], points: Sequence[tuple[int, Mapping[str, Any]]],
                methods: Sequence[Mapping[str, Any]], vectorize: bool = True, task: int = -1,
                run_id: str = "", registry: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Solve every point of one task with every method; one row dict per point and method.

    This runs on a dask worker (or in process). ``registry`` (method name -> module) carries
    the driver's registrations to the worker. It never raises for a point: a point the spec
    rejects, a method that does not apply, or a solver failure becomes a row with its status
    and error text.
    """
    for name, module in (registry or {}).items():
        if METHODS.get(name) != module:
            register_method(name, module)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    problems: dict[int, Any] = {}
    build_errors: dict[int, dict[str, Any]] = {}
    for pid, params in points:
        try:
            problems[pid] = point_problem(base, params)
        except Exception as err:  # noqa: BLE001
            build_errors[pid] = _failure(err)
    rows: list[dict[str, Any]] = []
    for method in methods:
        name, label, options = method["name"], method["label"], dict(method.get("options", {}))
        outcomes: dict[int, dict[str, Any]] = {}
        resolve_error = None
        try:
            info = method_info(name)
        except Exception as err:  # noqa: BLE001 - every point of this method records it
            info, resolve_error = None, _failure(err)
        batch = info.batch_solve if info is not None and vectorize and method.get("vectorize", True) else None
        if batch is not None and len(problems) > 1:
            try:
                settings = merge_settings(info.settings, None, options)
                start = time.perf_counter()
                results = batch(problems, settings) or {}
                elapsed = time.perf_counter() - start
                outcomes.update({pid: _batch_outcome(r, len(results), elapsed) for pid, r in results.items()})
            except Exception:  # noqa: BLE001 - fall back to one by one, which reports the error
                outcomes = {}
        for pid, params in points:
            if pid in build_errors:
                outcome = build_errors[pid]
            elif pid in outcomes:
                outcome = outcomes[pid]
            elif resolve_error is not None:
                outcome = resolve_error
            else:
                outcome = _solve_one(name, problems[pid], options)
            row = empty_row()
            row.update(outcome)
            row.update(point_id=int(pid), method=label, worker=worker, task=task, run_id=run_id)
            row.update({k: cell(v) for k, v in params.items()})
            rows.append(row)
    return rows


def empty_row() -> dict[str, Any]:
    nan = float("nan")
    return {"point_id": -1, "method": "", "status": "", "objective": nan, "expected_cost": nan, "variance": nan,
            "std": nan, "solve_seconds": nan, "batched": 0, "error_type": "", "error": "", "message": "",
            "diagnostics": "", "worker": "", "task": -1, "run_id": "", "time_model": ""}
