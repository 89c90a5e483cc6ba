"""One sweep task: solve a batch of points with every method, on a dask worker or in process.

:func:`solve_batch` builds each point's spec (the base with the point's dotted paths set,
validated by the spec), then runs each method: methods with a vectorized solver in
:data:`BATCH_SOLVERS` solve the points they can in one call, the others (and the points a
vectorized solver leaves out) are solved one by one through :func:`solvers.methods.solve`
(or an import path ``package.module:function``). It returns one row dict per point and method
and never raises for a point: a value the spec rejects (``invalid``), a method that does not
apply (``not-applicable``), a solver failure (``solver-error``) or any other exception
(``error``) becomes a row with its status, error type and text.

Row fields: ``objective`` = ``E + lambda V`` (currency), ``expected_cost`` ``E`` (currency),
``variance`` ``V`` (currency^2), ``std``, ``solve_seconds`` (for a vectorized batch: its
time divided by its points), ``batched`` (batch size, 0 for a single solve), ``time_model``,
``diagnostics`` (JSON text), ``worker`` (host:pid), and the point's parameters.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import socket
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import MethodNotApplicable, SolverError, SpecError
from .result import Result
from .sweep_store import _cell

__all__ = ["solve_batch", "BATCH_SOLVERS", "point_problem", "empty_row"]


def point_problem(base: Mapping[str, Any], params: Mapping[str, Any]):
    """The problem at a point: the base spec with the point's dotted paths set, validated."""
    from .sweep_axes import apply_params
    from .spec import problem_from_dict

    return problem_from_dict(apply_params(base, params))


def _resolve_method(name: str) -> Callable[..., Result]:
    if ":" in name:
        module, _, attr = name.partition(":")
        return getattr(importlib.import_module(module), attr)
    from .methods import get_method

    return get_method(name)


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
    from .result import _plain

    try:
        return json.dumps(_plain(dict(diagnostics)), allow_nan=True, default=repr)
    except (TypeError, ValueError):
        return repr(diagnostics)


def _outcome_from_result(result: Result) -> dict[str, Any]:
    return {
        "status": result.status, "objective": float(result.objective), "expected_cost": float(result.expected_cost),
        "variance": float(result.variance), "std": float(result.std), "solve_seconds": float(result.solve_seconds),
        "message": result.message, "diagnostics": _diagnostics_text(result.diagnostics), "batched": 0,
        "time_model": result.time_model,
    }


def _solve_one(solve: Callable[..., Result], problem, options: Mapping[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = solve(problem, **options)
    except Exception as err:  # noqa: BLE001 - every failure becomes a recorded row
        out = _failure(err)
        out["solve_seconds"] = time.perf_counter() - start
        return out
    if not isinstance(result, Result):
        return {"status": "error", "error_type": "TypeError",
                "error": f"method returned {type(result).__name__}, not a Result"}
    return _outcome_from_result(result)


def _closed_form_batch(problems: Mapping[int, Any], options: Mapping[str, Any]) -> dict[int, dict[str, Any]] | None:
    """Vectorized closed form: the points that share everything but ``risk_aversion`` are
    solved by one :func:`efficient_frontier` call (``E`` and ``V`` through ``costs.py``,
    ``objective = E + lambda V`` as ``ScheduleCost.objective``). Points the frontier cannot
    stand for (caps, no-reversal, a spread with trades both ways, baskets, or any error in the
    batch call) are left out, and the caller solves them one by one, so they get exactly the
    answer or error of :func:`solvers.closed_form.solve`."""
    from .closed_form import efficient_frontier

    if dict(options) not in ({}, {"time_model": "discrete"}):
        return None
    groups: dict[Any, list[int]] = {}
    for pid, p in problems.items():
        if p.is_basket or p.has_caps or p.no_reversal or not p.all_linear or p.has_drift \
                or not p.has_constant_volatility:
            continue
        key = (p.horizon, p.slices, p.assets, p.correlation, p.volatility_model, p.temporary_impact_matrix,
               p.permanent_impact_matrix)  # every field but risk_aversion (and free text)
        groups.setdefault(key, []).append(pid)
    out: dict[int, dict[str, Any]] = {}
    for pids in groups.values():
        if len(pids) < 2:
            continue
        group = problems[pids[0]]  # efficient_frontier reads everything but its lambda
        lams = np.array([problems[pid].risk_aversion for pid in pids])
        start = time.perf_counter()
        try:
            frontier = efficient_frontier(group, lams)
        except Exception:  # noqa: BLE001 - the one-by-one path reports the exact error
            continue
        elapsed = time.perf_counter() - start
        x = frontier.holdings
        trades = x[:, :-1] - x[:, 1:]
        big_x = group.asset.holdings
        reverses = np.any(trades * np.sign(big_x) < -1e-12 * abs(big_x), axis=1) & (group.asset.spread > 0)
        for i, pid in enumerate(pids):
            if reverses[i]:
                continue
            e, v = float(frontier.expected_cost[i]), float(frontier.variance[i])
            out[pid] = {"status": "optimal", "objective": e + float(lams[i]) * v, "expected_cost": e, "variance": v,
                        "std": math.sqrt(max(v, 0.0)), "solve_seconds": elapsed / len(pids), "message": "",
                        "diagnostics": json.dumps({"vectorized_batch": len(pids)}), "batched": len(pids),
                        "time_model": "discrete"}
    return out


#: method name -> vectorized solver ``(problems {point_id: problem}, options) -> {point_id: row
#: fields}`` for the points it could solve (None: none); the rest are solved one by one.
BATCH_SOLVERS: dict[str, Callable[[Mapping[int, Any], Mapping[str, Any]], dict[int, dict[str, Any]] | None]] = {
    "closed-form": _closed_form_batch,
}


def solve_batch(base: Mapping[str, Any], points: Sequence[tuple[int, Mapping[str, Any]]],
                methods: Sequence[Mapping[str, Any]], vectorize: bool = True, task: int = -1,
                run_id: str = "") -> list[dict[str, Any]]:
    """Solve every point of one task with every method; one row dict per point and method.

    This runs on a dask worker (or in process). It never raises for a point: a point the spec
    rejects, a method that does not apply, or a solver failure becomes a row with its status
    and error text.
    """
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
        batch = BATCH_SOLVERS.get(name) if vectorize else None
        if batch is not None and len(problems) > 1:
            try:
                outcomes.update(batch(problems, options) or {})
            except Exception:  # noqa: BLE001 - fall back to one by one, which reports the error
                outcomes = {}
        try:
            solve = _resolve_method(name)
        except Exception as err:  # noqa: BLE001
            solve, resolve_error = None, _failure(err)
        for pid, params in points:
            if pid in build_errors:
                outcome = build_errors[pid]
            elif pid in outcomes:
                outcome = outcomes[pid]
            elif solve is None:
                outcome = resolve_error
            else:
                outcome = _solve_one(solve, problems[pid], options)
            row = empty_row()
            row.update(outcome)
            row.update(point_id=int(pid), method=label, worker=worker, task=task, run_id=run_id)
            row.update({k: _cell(v) for k, v in params.items()})
            rows.append(row)
    return rows


def empty_row() -> dict[str, Any]:
    nan = float("nan")
    return {"point_id": -1, "method": "", "status": "", "objective": nan, "expected_cost": nan, "variance": nan,
            "std": nan, "solve_seconds": nan, "batched": 0, "error_type": "", "error": "", "message": "",
            "diagnostics": "", "worker": "", "task": -1, "run_id": "", "time_model": ""}
