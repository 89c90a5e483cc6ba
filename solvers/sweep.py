"""Parameter sweeps on dask.distributed: many solves, nothing lost (``optexec sweep``).

A :class:`~solvers.sweep_axes.Sweep` (a base spec, parameter axes, methods) becomes a
table with one row per point and method: the parameters, ``status``, ``objective``
(``E + lambda V``, currency), ``expected_cost`` ``E`` (currency), ``variance`` ``V``
(currency^2), ``std``, ``solve_seconds``, ``time_model`` (``discrete``: the spec's N slices,
``continuous``: the tau -> 0 limit, as the HJB reports), the error of a failed point, and the
agreement with the other methods at the same point (see :mod:`solvers.sweep_store`).

Engine. Points are cut into tasks of ``batch_size`` points (all methods of a point in the
same task). Each task is a call of :func:`solvers.sweep_task.solve_batch` on a dask worker; methods that
vectorize solve the whole batch in one call (:data:`BATCH_SOLVERS`: the closed form groups
the batch's points that differ only in ``risk_aversion`` and prices them with one
:func:`~solvers.closed_form.efficient_frontier` call); the others solve point by point
through :func:`solvers.methods.solve`. The scheduler is

* ``None``: an embedded ``LocalCluster`` sized to the machine (one single-threaded worker
  process per core available to this process);
* ``"synchronous"``: no cluster, tasks run one after the other in this process (debugging);
* an address (``tcp://host:8786``): an existing cluster (its workers need optexec installed);
* a ``distributed.Client``: that client's cluster (tests, notebooks).

Nothing lost. The driver alone writes results: each finished task's rows become a part
file at once. A point whose solve fails records the error and its status (``invalid`` for a
value the spec rejects, ``not-applicable``, ``solver-error``, ``error``) and the sweep goes
on. A worker that dies has its tasks rerun by dask; a task whose workers die
``allowed-failures`` times (dask's KilledWorker) is resubmitted by the driver up to
``max_task_retries`` times, then its rows are recorded as ``lost`` (and computed again on
resume). Rows are keyed by ``(point_id, method)`` and a pair is written once per run, so
every point appears exactly once. An interrupted sweep (Ctrl-C) cancels the running tasks,
consolidates what is done, and resumes on the next run with the same output folder.

Per-point ``solve_seconds`` of a vectorized batch is the batch's solve time divided by its
points (``batched`` gives the batch size, 0 for a single solve).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import SpecError
from .result import OK_STATUSES
from .sweep_axes import Sweep, load_sweep
from .sweep_store import LOST_STATUS, SweepStore, _cell
from .sweep_task import BATCH_SOLVERS, empty_row, point_problem, solve_batch

__all__ = ["run_sweep", "SweepReport", "solve_batch", "BATCH_SOLVERS", "point_problem", "available_cores"]


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

    @property
    def points_per_second(self) -> float:
        """Points computed per second of ``compute_seconds``."""
        busy = self.compute_seconds
        return self.computed_points / busy if busy > 0 else math.nan

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
            lines.append(f"  {self.lost_rows} row(s) lost to dying workers: run the sweep again to retry them")
        for key, path in self.files.items():
            lines.append(f"  {key}: {path}")
        return "\n".join(lines)


@dataclass
class _Task:
    id: int
    points: list[tuple[int, dict[str, Any]]]
    labels: list[str]  # the methods to run at these points
    attempt: int = 0


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _SyncRunner:
    """Runs tasks in this process, one at a time (``--scheduler synchronous``)."""

    description = "synchronous (in-process)"
    workers = 1
    threads = 1

    def __init__(self, call: Callable[[_Task], list[dict[str, Any]]]) -> None:
        self._call = call
        self._queue: deque[_Task] = deque()
        self.capacity = 1

    def submit(self, task: _Task) -> None:
        self._queue.append(task)

    def __len__(self) -> int:
        return len(self._queue)

    def next_done(self) -> tuple[_Task, list[dict[str, Any]] | None, BaseException | None]:
        task = self._queue.popleft()
        try:
            return task, self._call(task), None
        except Exception as err:  # noqa: BLE001 - reported like a lost task
            return task, None, err

    def cancel_all(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        pass


class _DaskRunner:
    """Submits tasks to a dask.distributed client and hands them back as they finish."""

    def __init__(self, client, args: Callable[[_Task], tuple], owned: list, run_id: str) -> None:
        from distributed import as_completed

        self.client = client
        self._args = args
        self._owned = owned  # objects to close (embedded cluster and its client)
        self._run_id = run_id
        self._inflight: dict[str, tuple[Any, _Task]] = {}
        self._done = as_completed()
        self.threads = sum(client.nthreads().values()) or 1
        self.workers = len(client.nthreads())
        self.capacity = max(4, 3 * self.threads)
        self.description = f"dask {client.scheduler.address}"

    def submit(self, task: _Task) -> None:
        key = f"optexec-sweep-{self._run_id[:8]}-{task.id}-{task.attempt}"
        future = self.client.submit(solve_batch, *self._args(task), key=key, pure=False)
        self._inflight[future.key] = (future, task)
        self._done.add(future)

    def __len__(self) -> int:
        return len(self._inflight)

    def next_done(self) -> tuple[_Task, list[dict[str, Any]] | None, BaseException | None]:
        future = next(self._done)
        _, task = self._inflight.pop(future.key)
        try:
            return task, future.result(), None
        except Exception as err:  # noqa: BLE001 - KilledWorker, lost connection, a bug in a task
            return task, None, err
        finally:
            future.release()

    def cancel_all(self) -> None:
        futures = [f for f, _ in self._inflight.values()]
        self._inflight.clear()
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - the cluster may be gone already
                pass

    def close(self) -> None:
        for obj in reversed(self._owned):
            try:
                obj.close()
            except Exception:  # noqa: BLE001
                pass


def _make_runner(scheduler: Any, n_workers: int | None, call: Callable, args: Callable, run_id: str):
    if scheduler == "synchronous":
        return _SyncRunner(call)
    from distributed import Client, LocalCluster

    owned: list = []
    if scheduler is None or scheduler == "local":
        workers = n_workers or available_cores()
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        owned.append(cluster)
        client = Client(cluster)
        owned.append(client)
    elif isinstance(scheduler, str):
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as err:
            raise SpecError("scheduler", scheduler, f"no dask scheduler answers at this address ({err})") from None
        owned.append(client)
    elif isinstance(scheduler, Client):
        client = scheduler
    else:
        raise SpecError("scheduler", scheduler, "must be None, 'synchronous', an address or a distributed.Client")
    try:
        if not client.nthreads():
            client.wait_for_workers(1, timeout=60)
        client.run(_warm_worker)
    except Exception as err:
        for obj in reversed(owned):
            obj.close()
        if isinstance(err, (ImportError, TimeoutError)):
            raise SpecError("scheduler", str(scheduler), f"its workers cannot run optexec ({err})") from err
        raise
    return _DaskRunner(client, args, owned, run_id)


def _warm_worker() -> None:
    """Import the solvers stack on a worker before the clock starts (and check it is there)."""
    import solvers.sweep  # noqa: F401


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
    progress: bool = True,
    plots: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> SweepReport:
    """Run (or resume) a sweep; results go to ``out_dir`` as each task finishes.

    Args:
        sweep: a :class:`Sweep` or the path of a sweep file.
        out_dir: output folder (see :mod:`solvers.sweep_store`); rerunning with the same folder
            resumes: points already recorded are not computed again.
        scheduler: ``None`` (embedded local cluster), ``"synchronous"``, an address, or a
            ``distributed.Client``.
        n_workers: workers of the embedded cluster (default: the cores available).
        batch_size: points per task (default: the sweep's, else automatic).
        vectorize: use :data:`BATCH_SOLVERS` where a method has one (off: one solve per point).
        resume, overwrite: see :class:`SweepStore`.
        retry_failed: also recompute points whose rows failed (not only ``lost`` ones).
        max_task_retries: resubmissions of a task whose workers died before it is ``lost``.
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
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise SpecError("batch_size", batch_size, "must be an integer >= 1")
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise SpecError("n_workers", n_workers, "must be an integer >= 1")
    start = time.perf_counter()
    run_id = uuid.uuid4().hex
    labels = [m.label for m in sweep.methods]
    manifest = {
        "name": sweep.name, "description": sweep.description, "fingerprint": sweep.fingerprint(),
        "source": sweep.source, "parameters": list(sweep.parameters), "methods": [m.to_dict() for m in sweep.methods],
        "n_points": sweep.n_points, "seed": sweep.seed, "base": sweep.base,
    }
    store = SweepStore(out_dir, manifest, resume=resume, overwrite=overwrite)
    all_points = list(sweep.points())
    if not (store.out_dir / "points.parquet").exists():
        store.write_points(all_points, sweep.parameters)
    retry = (LOST_STATUS,) if not retry_failed else tuple({LOST_STATUS} | _non_ok_statuses(store))
    done = store.done_keys(retry)
    # per point, the methods (labels) it still lacks; points lacking the same ones share tasks
    missing: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
    for pid, params in all_points:
        need = tuple(lab for lab in labels if (pid, lab) not in done)
        if need:
            missing.setdefault(need, []).append((pid, params))
    todo = [pt for pts in missing.values() for pt in pts]
    by_label = {m.label: m.to_dict() for m in sweep.methods}
    base = dict(sweep.base)

    def args(task: _Task) -> tuple:
        return base, task.points, [by_label[lab] for lab in task.labels], vectorize, task.id, run_id

    runner = _make_runner(scheduler, n_workers, lambda t: solve_batch(*args(t)), args, run_id) if todo else None
    startup = time.perf_counter() - start
    size = batch_size or sweep.batch_size or _auto_batch_size(len(todo), runner.threads if runner is not None else 1)
    tasks: deque[_Task] = deque()
    for need, pts in missing.items():
        pts.sort(key=lambda item: _group_order(item[1]))
        for j in range(0, len(pts), size):
            tasks.append(_Task(len(tasks), pts[j:j + size], list(need)))
    n_tasks = len(tasks)
    written: set[tuple[int, str]] = set()
    failed_points = retries = lost = 0
    interrupted = False
    bar = _progress_bar(len(todo), progress, sweep.name)
    try:
        while runner is not None and (tasks or len(runner)):
            while tasks and len(runner) < runner.capacity:
                runner.submit(tasks.popleft())
            task, rows, err = runner.next_done()
            if err is not None:
                if task.attempt < max_task_retries:
                    task.attempt += 1
                    retries += 1
                    runner.submit(task)
                    continue
                rows = _lost_rows(task, err, run_id)
            fresh = [r for r in rows if (r["point_id"], r["method"]) not in written
                     and (r["point_id"], r["method"]) not in done]
            if fresh:
                store.write_part(fresh)
            written.update((r["point_id"], r["method"]) for r in fresh)
            lost += sum(r["status"] == LOST_STATUS for r in fresh)
            bad = {r["point_id"] for r in fresh if r["status"] not in OK_STATUSES}
            failed_points += len(bad)
            bar.update(len(task.points))
            bar.set_postfix(failed=failed_points, refresh=False)
            if callback is not None:
                callback({"task": task.id, "done_points": bar.n, "todo_points": len(todo),
                          "failed_points": failed_points, "rows": fresh, "client": getattr(runner, "client", None)})
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
        files = {"results (parquet)": store.out_dir / "results.parquet", "results (csv)": store.out_dir / "results.csv"}
        if plots and not interrupted and len(table):
            from .sweep_plots import plot_sweep

            for i, path in enumerate(plot_sweep(table, sweep, store.out_dir / "plots")):
                files[f"plot {i + 1}"] = path
        counts = table["status"].value_counts().to_dict() if len(table) else {}
        report = SweepReport(
            out_dir=store.out_dir, n_points=sweep.n_points, n_methods=len(store.labels),
            computed_points=len({p for p, _ in written}), skipped_points=len(all_points) - len(todo),
            failed_rows=int(sum(v for k, v in counts.items() if k not in OK_STATUSES)), lost_rows=lost,
            tasks=n_tasks, task_retries=retries, batch_size=size, seconds=time.perf_counter() - start,
            startup_seconds=startup, compute_seconds=computed_at - start - startup,
            scheduler=runner.description if runner is not None else "none (nothing to compute)",
            workers=runner.workers if runner is not None else 0, run_id=run_id, interrupted=interrupted, table=table,
            files=files, status_counts={str(k): int(v) for k, v in counts.items()},
        )
        if interrupted:
            print(f"optexec sweep: interrupted; {len(written)} row(s) recorded this run in {store.out_dir}; "
                  "run the same command again to resume", file=sys.stderr)
    return report


def _non_ok_statuses(store: SweepStore) -> set[str]:
    rows = store.read_rows(["status"])
    return {s for s in rows["status"].unique() if s not in OK_STATUSES}


def _lost_rows(task: _Task, err: BaseException, run_id: str) -> list[dict[str, Any]]:
    rows = []
    for pid, params in task.points:
        for label in task.labels:
            row = empty_row()
            row.update(point_id=int(pid), method=label, status=LOST_STATUS, error_type=type(err).__name__,
                       error=f"task {task.id} failed {task.attempt + 1} time(s): {err}", task=task.id, run_id=run_id)
            row.update({k: _cell(v) for k, v in params.items()})
            rows.append(row)
    return rows


def _progress_bar(total: int, enabled: bool, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="pt", desc=f"sweep {name}", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1)
