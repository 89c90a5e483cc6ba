"""The sweep engine: :func:`run_sweep` in four steps, plan (what is left), submit (tasks of
``batch_size`` points to a runner), record (each finished task's rows become a part file at
once) and consolidate (one table with agreement columns, plots, a :class:`SweepReport`).

Nothing is lost: a failed point is a row with its status; a task whose workers keep dying is
split into one task per point and resubmitted, ``max_task_retries`` (default 3) times in all,
then its rows are recorded as ``lost`` (a failed status; the sweep goes on); a cluster left
without workers for ``no_worker_timeout`` seconds has what is left recorded as ``lost`` too.
An interrupted sweep keeps what finished and resumes on the next run with the same folder. Rows: ``objective``
``E + lambda V``, ``expected_cost`` (currency), ``variance`` (currency^2), ``solve_seconds``.
"""

from __future__ import annotations

import json
import math
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import SpecError
from ..methods import METHODS
from ..plots import plot_sweep
from ..result import OK_STATUSES
from ..serialize import cell
from .axes import Sweep, load_sweep
from .runners import NO_WORKER_TIMEOUT, DaskRunner, NoWorkersLeft, SyncRunner, Task, make_runner
from .store import LOST_STATUS, SweepStore
from .task import empty_row, solve_batch

__all__ = ["run_sweep", "SweepReport"]


# ---------------------------------------------------------------------------- engine
@dataclass
class SweepReport:
    """What a run did. ``table`` is the consolidated results (pandas DataFrame); ``seconds``
    is the whole run; ``startup_seconds`` the set-up (opening the store, starting or reaching
    the cluster, importing optexec on its workers); ``compute_seconds`` from then until the
    table is consolidated (plots and closing the cluster left out)."""

    out_dir: Path
    n_points: int
    n_methods: int
    computed_points: int
    skipped_points: int
    failed_rows: int
    lost_rows: int
    tasks: int
    task_retries: int
    batch_size: int
    seconds: float
    startup_seconds: float
    compute_seconds: float
    scheduler: str
    workers: int
    run_id: str
    interrupted: bool = False
    table: Any = None
    files: dict[str, Path] = field(default_factory=dict)
    status_counts: dict[str, int] = field(default_factory=dict)
    corrupt_files: list[Path] = field(default_factory=list)
    max_task_retries: int = 3
    no_workers: str = ""

    @property
    def points_per_second(self) -> float:
        """Points computed per second of ``compute_seconds``."""
        busy = self.compute_seconds
        return self.computed_points / busy if busy > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        """The counts and files of the run (JSON-ready; the table itself is in the files)."""
        return {
            "out_dir": str(self.out_dir), "n_points": self.n_points, "n_methods": self.n_methods,
            "computed_points": self.computed_points, "skipped_points": self.skipped_points,
            "failed_rows": self.failed_rows, "lost_rows": self.lost_rows, "tasks": self.tasks,
            "task_retries": self.task_retries, "max_task_retries": self.max_task_retries,
            "batch_size": self.batch_size, "seconds": self.seconds, "startup_seconds": self.startup_seconds,
            "compute_seconds": self.compute_seconds, "scheduler": self.scheduler, "workers": self.workers,
            "run_id": self.run_id, "interrupted": self.interrupted, "status_counts": dict(self.status_counts),
            "files": {k: str(v) for k, v in self.files.items()}, "corrupt_files": [str(p) for p in self.corrupt_files],
            "no_workers": self.no_workers,
        }

    def summary(self) -> str:
        lines = [
            f"sweep {self.out_dir}: {self.n_points} points x {self.n_methods} method(s); "
            f"{self.computed_points} computed, {self.skipped_points} already done"
            + (" (INTERRUPTED)" if self.interrupted else ""),
            f"  {self.tasks} task(s) of up to {self.batch_size} points on {self.scheduler} ({self.workers} worker(s)), "
            f"{self.seconds:.2f} s ({self.startup_seconds:.2f} s set-up, {self.compute_seconds:.2f} s computing), "
            f"{self.points_per_second:.1f} points/s, {self.task_retries} task retries",
            "  rows by status: " + ", ".join(f"{k} {v}" for k, v in sorted(self.status_counts.items())),
        ]
        if self.failed_rows:
            lines.append(f"  {self.failed_rows} row(s) failed: see the 'status' and 'error' columns")
        if self.lost_rows:
            lines.append(f"  {self.lost_rows} row(s) lost: their task killed its worker or failed "
                         f"{self.max_task_retries + 1} time(s) ({self.max_task_retries} retries), or no worker was "
                         "left: see the 'error' column; run the sweep again to retry them")
        if self.no_workers:
            lines.append(f"  stopped early: {self.no_workers}")
        for path in self.corrupt_files:
            lines.append(f"  unreadable file set aside (its points computed again): {path}")
        for key, path in self.files.items():
            lines.append(f"  {key}: {path}")
        return "\n".join(lines)


def _auto_batch_size(n_todo: int, threads: int) -> int:
    """About 4 tasks per worker thread (enough to balance the load, few enough that a
    vectorized method sees long batches), at most 256 points per task."""
    return max(1, min(256, math.ceil(n_todo / max(1, 4 * threads))))


def _group_order(params: Mapping[str, Any]) -> str:
    """Sort key putting points that differ only in ``risk_aversion`` next to each other, so a
    vectorized method sees them in one task."""
    return json.dumps({k: v for k, v in params.items() if k != "risk_aversion"}, sort_keys=True, default=repr)


def run_sweep(
    sweep: Sweep | str | Path,
    out_dir: str | Path,
    *,
    scheduler: Any = None,
    n_workers: int | None = None,
    batch_size: int | None = None,
    vectorize: bool = True,
    resume: bool = True,
    overwrite: bool = False,
    retry_failed: bool = False,
    max_task_retries: int = 3,
    no_worker_timeout: float = NO_WORKER_TIMEOUT,
    progress: bool = True,
    plots: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> SweepReport:
    """Run (or resume) a sweep; results go to ``out_dir`` as each task finishes.

    Args:
        sweep: a :class:`Sweep` or the path of a sweep file.
        out_dir: output folder (see :mod:`solvers.sweep.store`); rerunning with the same folder
            resumes: points already recorded are not computed again.
        scheduler: ``None`` (embedded local cluster), ``"synchronous"``, an address, or a
            ``distributed.Client``.
        n_workers: workers of the embedded cluster (default: the cores available).
        batch_size: points per task (default: the sweep's, else automatic).
        vectorize: use a method's ``MethodInfo.batch_solve`` where it has one (off: one solve per point).
        resume, overwrite: see :class:`SweepStore`.
        retry_failed: also recompute points whose rows failed (not only ``lost`` ones).
        max_task_retries: resubmissions of a task whose workers died before it is ``lost``
            (a task of several points is split into one task per point at its first retry).
        no_worker_timeout: seconds without any worker before what is left is recorded ``lost``.
        progress: show a tqdm bar (points done, failed, rate) on stderr.
        plots: draw the sweep's ``[plot]`` metrics into ``out_dir/plots`` at the end.
        callback: called after each finished task with a dict (``task``, ``done_points``,
            ``todo_points``, ``failed_points``, ``rows`` just recorded, ``client``: the dask
            client or None); an exception it raises stops the sweep like Ctrl-C (the finished
            tasks are kept).
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    if isinstance(max_task_retries, bool) or not isinstance(max_task_retries, int) or max_task_retries < 0:
        raise SpecError("max_task_retries", max_task_retries, "must be an integer >= 0")
    if isinstance(no_worker_timeout, bool) or not isinstance(no_worker_timeout, (int, float)) or not (
            0 < no_worker_timeout < math.inf):
        raise SpecError("no_worker_timeout", no_worker_timeout, "must be a number of seconds > 0")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise SpecError("batch_size", batch_size, "must be an integer >= 1")
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise SpecError("n_workers", n_workers, "must be an integer >= 1")
    start = time.perf_counter()
    run_id = uuid.uuid4().hex
    store = SweepStore(out_dir, _manifest(sweep), resume=resume, overwrite=overwrite)
    plan = _plan(sweep, store, retry_failed)
    by_label = {m.label: m.to_dict() for m in sweep.methods}
    registry = {m.name: METHODS[m.name] for m in sweep.methods}  # the workers resolve the same modules
    base = dict(sweep.base)

    def args(task: Task) -> tuple:
        return base, task.points, [by_label[lab] for lab in task.labels], vectorize, task.id, run_id, registry

    runner = (make_runner(scheduler, n_workers, lambda t: solve_batch(*args(t)), args, run_id, no_worker_timeout)
              if plan.todo else None)
    startup = time.perf_counter() - start
    size = batch_size or sweep.batch_size or _auto_batch_size(len(plan.todo), runner.threads if runner else 1)
    tasks = _tasks(plan, size)
    n_tasks = len(tasks)
    record = _Record(store, plan.done, next_task_id=n_tasks)
    interrupted = False
    bar = _progress_bar(len(plan.todo), progress, sweep.name)
    try:
        if runner is not None:
            _submit_and_record(runner, tasks, record, max_task_retries, run_id, bar, len(plan.todo), callback)
    except BaseException:
        interrupted = True
        if runner is not None:
            runner.cancel_all()
        raise
    finally:
        bar.close()
        table = store.consolidate(store.labels)
        computed_at = time.perf_counter()
        if runner is not None:
            runner.close()
        report = _report(sweep, store, plan, record, table, plots=plots and not interrupted, runner=runner,
                         tasks=n_tasks, batch_size=size, start=start, startup=startup, computed_at=computed_at,
                         run_id=run_id, interrupted=interrupted, max_task_retries=max_task_retries)
        if interrupted:
            print(f"optexec sweep: interrupted; {len(record.written)} row(s) recorded this run in {store.out_dir}; "
                  "run the same command again to resume", file=sys.stderr)
    return report


# ---------------------------------------------------------------------------- the steps
def _manifest(sweep: Sweep) -> dict[str, Any]:
    return {
        "name": sweep.name, "description": sweep.description, "fingerprint": sweep.fingerprint(),
        "source": sweep.source, "parameters": list(sweep.parameters), "methods": [m.to_dict() for m in sweep.methods],
        "n_points": sweep.n_points, "seed": sweep.seed, "base": sweep.base,
    }


@dataclass
class _Plan:
    """Every point, the pairs already recorded, and per set of missing method labels its points."""

    all_points: list[tuple[int, dict[str, Any]]]
    done: set[tuple[int, str]]
    missing: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]]

    @property
    def todo(self) -> list[tuple[int, dict[str, Any]]]:
        return [pt for pts in self.missing.values() for pt in pts]


def _plan(sweep: Sweep, store: SweepStore, retry_failed: bool) -> _Plan:
    """Plan: what is left to compute (points lacking the same methods share tasks)."""
    labels = [m.label for m in sweep.methods]
    all_points = list(sweep.points())
    if not (store.out_dir / "points.parquet").exists():
        store.write_points(all_points, sweep.parameters)
    retry = (LOST_STATUS,) if not retry_failed else tuple({LOST_STATUS} | _non_ok_statuses(store))
    done = store.done_keys(retry)
    missing: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
    for pid, params in all_points:
        need = tuple(lab for lab in labels if (pid, lab) not in done)
        if need:
            missing.setdefault(need, []).append((pid, params))
    return _Plan(all_points, done, missing)


def _tasks(plan: _Plan, size: int) -> deque[Task]:
    """Cut the plan into tasks of ``size`` points, points differing only in lambda together."""
    tasks: deque[Task] = deque()
    for need, pts in plan.missing.items():
        pts.sort(key=lambda item: _group_order(item[1]))
        for j in range(0, len(pts), size):
            tasks.append(Task(len(tasks), pts[j:j + size], list(need)))
    return tasks


@dataclass
class _Record:
    """Record: the rows this run wrote (each pair once), failed and lost counts."""

    store: SweepStore
    done: set[tuple[int, str]]
    written: set[tuple[int, str]] = field(default_factory=set)
    failed_points: int = 0
    lost: int = 0
    retries: int = 0
    next_task_id: int = 0
    no_workers: str = ""

    def add(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = [r for r in rows if (r["point_id"], r["method"]) not in self.written
                 and (r["point_id"], r["method"]) not in self.done]
        if fresh:
            self.store.write_part(fresh)
        self.written.update((r["point_id"], r["method"]) for r in fresh)
        self.lost += sum(r["status"] == LOST_STATUS for r in fresh)
        self.failed_points += len({r["point_id"] for r in fresh if r["status"] not in OK_STATUSES})
        return fresh


def _submit_and_record(runner: SyncRunner | DaskRunner, tasks: deque[Task], record: _Record, max_task_retries: int,
                       run_id: str, bar: Any, todo: int, callback: Callable[[dict[str, Any]], None] | None) -> None:
    """Submit: keep the runner full, resubmit a task whose workers died (split into one task per
    point), record what finishes. Bounded: every pass hands back a task, and a task is handed
    back at most ``max_task_retries + 1`` times."""
    while tasks or len(runner):
        while tasks and len(runner) < runner.capacity:
            runner.submit(tasks.popleft())
        try:
            task, rows, err = runner.next_done()
        except NoWorkersLeft as gone:
            record.no_workers = f"{gone}; the rows of {len(runner.pending()) + len(tasks)} task(s) are recorded as lost"
            for left in [*runner.pending(), *tasks]:
                _finish(left, record.add(_lost_rows(left, gone, run_id, max_task_retries)), record, bar, todo,
                        callback, runner)
            runner.cancel_all()
            tasks.clear()
            return
        if err is not None:
            if task.attempt < max_task_retries:
                pieces = ([Task(record.next_task_id + i, [pt], task.labels, task.attempt + 1)
                           for i, pt in enumerate(task.points)] if len(task.points) > 1 else
                          [Task(task.id, task.points, task.labels, task.attempt + 1)])
                record.next_task_id += len(pieces) if len(task.points) > 1 else 0
                record.retries += len(pieces)
                for piece in pieces:
                    runner.submit(piece)
                continue
            rows = _lost_rows(task, err, run_id, max_task_retries)
        _finish(task, record.add(rows), record, bar, todo, callback, runner)


def _finish(task: Task, fresh: list[dict[str, Any]], record: _Record, bar: Any, todo: int,
            callback: Callable[[dict[str, Any]], None] | None, runner: Any) -> None:
    bar.update(len(task.points))
    bar.set_postfix(failed=record.failed_points, refresh=False)
    if callback is not None:
        callback({"task": task.id, "done_points": bar.n, "todo_points": todo,
                  "failed_points": record.failed_points, "rows": fresh, "client": getattr(runner, "client", None)})


def _report(sweep: Sweep, store: SweepStore, plan: _Plan, record: _Record, table: Any, *, plots: bool, runner: Any,
            tasks: int, batch_size: int, start: float, startup: float, computed_at: float, run_id: str,
            interrupted: bool, max_task_retries: int) -> SweepReport:
    """Consolidate: the files, the plots and the counts of the run."""
    files = {"results (parquet)": store.out_dir / "results.parquet", "results (csv)": store.out_dir / "results.csv"}
    if plots and len(table):
        for i, path in enumerate(plot_sweep(table, sweep, store.out_dir / "plots")):
            files[f"plot {i + 1}"] = path
    counts = table["status"].value_counts().to_dict() if len(table) else {}
    return SweepReport(
        out_dir=store.out_dir, n_points=sweep.n_points, n_methods=len(store.labels),
        computed_points=len({p for p, _ in record.written}), skipped_points=len(plan.all_points) - len(plan.todo),
        failed_rows=int(sum(v for k, v in counts.items() if k not in OK_STATUSES)), lost_rows=record.lost,
        tasks=tasks, task_retries=record.retries, batch_size=batch_size, seconds=time.perf_counter() - start,
        startup_seconds=startup, compute_seconds=computed_at - start - startup,
        scheduler=runner.description if runner is not None else "none (nothing to compute)",
        workers=runner.workers if runner is not None else 0, run_id=run_id, interrupted=interrupted, table=table,
        files=files, status_counts={str(k): int(v) for k, v in counts.items()},
        corrupt_files=list(store.corrupt), max_task_retries=max_task_retries, no_workers=record.no_workers,
    )


def _non_ok_statuses(store: SweepStore) -> set[str]:
    rows = store.read_rows(["status"])
    return {s for s in rows["status"].unique() if s not in OK_STATUSES}


def _lost_rows(task: Task, err: BaseException, run_id: str, max_task_retries: int) -> list[dict[str, Any]]:
    rows = []
    text = " ".join(str(err).split())[:300] or type(err).__name__
    for pid, params in task.points:
        for label in task.labels:
            row = empty_row()
            row.update(point_id=int(pid), method=label, status=LOST_STATUS, error_type=type(err).__name__,
                       error=f"task {task.id} failed {task.attempt + 1} time(s): {text} (max_task_retries = "
                             f"{max_task_retries})", task=task.id, run_id=run_id)
            row.update({k: cell(v) for k, v in params.items()})
            rows.append(row)
    return rows


def _progress_bar(total: int, enabled: bool, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="pt", desc=f"sweep {name}", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)
