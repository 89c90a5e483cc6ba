"""How sweep tasks run: :class:`SyncRunner` (in this process, one at a time) and
:class:`DaskRunner` (a dask.distributed client: an embedded ``LocalCluster``, an address, or a
given client). Both take tasks with ``submit`` and hand them back finished with ``next_done``.
A cluster without workers for ``no_worker_timeout`` seconds raises :class:`NoWorkersLeft`.
The embedded cluster lets dask retry nothing itself (``allowed-failures = 0``): a task whose
worker dies comes back at once, and the engine counts and makes its retries.
dask and distributed are imported when a cluster is first asked for.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import SpecError
from .task import solve_batch

__all__ = ["Task", "SyncRunner", "DaskRunner", "make_runner", "available_cores", "warm_worker", "NoWorkersLeft",
           "NO_WORKER_TIMEOUT"]

#: seconds a cluster may have no worker at all before the sweep records what is left as lost
NO_WORKER_TIMEOUT = 60.0


class NoWorkersLeft(RuntimeError):
    """The cluster had no worker for ``NO_WORKER_TIMEOUT`` seconds (all died, none restarted)."""


@dataclass
class Task:
    """Points of one task and the method labels to run on them; ``attempt`` counts resubmissions."""

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


class SyncRunner:
    """Runs tasks in this process, one at a time (``--scheduler synchronous``)."""

    description = "synchronous (in-process)"
    workers = 1
    threads = 1

    def __init__(self, call: Callable[[Task], list[dict[str, Any]]]) -> None:
        self._call = call
        self._queue: deque[Task] = deque()
        self.capacity = 1

    def submit(self, task: Task) -> None:
        self._queue.append(task)

    def __len__(self) -> int:
        return len(self._queue)

    def next_done(self) -> tuple[Task, list[dict[str, Any]] | None, BaseException | None]:
        task = self._queue.popleft()
        try:
            return task, self._call(task), None
        except Exception as err:  # noqa: BLE001 - reported like a lost task
            return task, None, err

    def pending(self) -> list[Task]:
        """The tasks submitted and not handed back."""
        return list(self._queue)

    def cancel_all(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        pass


class DaskRunner:
    """Submits tasks to a dask.distributed client and hands them back as they finish."""

    def __init__(self, client, args: Callable[[Task], tuple], owned: list, run_id: str,
                 no_worker_timeout: float = NO_WORKER_TIMEOUT) -> None:
        self.client = client
        self._args = args
        self._owned = owned  # objects to close (embedded cluster and its client)
        self._run_id = run_id
        self._inflight: dict[str, tuple[Any, Task]] = {}
        self.no_worker_timeout = float(no_worker_timeout)
        self._alone_since: float | None = None
        self.threads = sum(client.nthreads().values()) or 1
        self.workers = len(client.nthreads())
        self.capacity = max(4, 3 * self.threads)
        self.description = f"dask {client.scheduler.address}"

    def submit(self, task: Task) -> None:
        key = f"optexec-sweep-{self._run_id[:8]}-{task.id}-{task.attempt}"
        future = self.client.submit(solve_batch, *self._args(task), key=key, pure=False)
        self._inflight[future.key] = (future, task)

    def __len__(self) -> int:
        return len(self._inflight)

    def _first_done(self) -> Any:
        """The first finished future; waits at most ``no_worker_timeout`` seconds while the
        cluster has no worker (then :class:`NoWorkersLeft`)."""
        from distributed import wait

        while True:
            for future, _ in self._inflight.values():
                if future.done():
                    return future
            self._check_workers()
            try:
                wait([f for f, _ in self._inflight.values()], timeout=0.5, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass

    def _check_workers(self) -> None:
        if self.client.nthreads():
            self._alone_since = None
            return
        if self._alone_since is None:
            self._alone_since = time.monotonic()
        if time.monotonic() - self._alone_since > self.no_worker_timeout:
            raise NoWorkersLeft(f"the cluster at {self.client.scheduler.address} has had no worker for "
                                f"{self.no_worker_timeout:g} s")

    def next_done(self) -> tuple[Task, list[dict[str, Any]] | None, BaseException | None]:
        while True:
            future = self._first_done()
            try:
                rows = future.result(timeout=1.0)
            except TimeoutError:  # its result was on a worker that died: it is computed again
                self._check_workers()
                continue
            except Exception as err:  # noqa: BLE001 - KilledWorker, lost connection, a bug in a task
                _, task = self._inflight.pop(future.key)
                future.release()
                return task, None, err
            _, task = self._inflight.pop(future.key)
            future.release()
            return task, rows, None

    def pending(self) -> list[Task]:
        """The tasks submitted and not handed back."""
        return [task for _, task in self._inflight.values()]

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


def make_runner(scheduler: Any, n_workers: int | None, call: Callable, args: Callable, run_id: str,
                no_worker_timeout: float = NO_WORKER_TIMEOUT) -> SyncRunner | DaskRunner:
    """The runner for ``scheduler``: ``"synchronous"``, None/``"local"`` (an embedded cluster of
    ``n_workers`` single-threaded processes, ``allowed-failures = 0``), an address, or a
    ``distributed.Client``."""
    if scheduler == "synchronous":
        return SyncRunner(call)
    import dask
    from distributed import Client, LocalCluster

    owned: list = []
    if scheduler is None or scheduler == "local":
        workers = n_workers or available_cores()
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
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
        client.run(warm_worker)
    except Exception as err:
        for obj in reversed(owned):
            obj.close()
        if isinstance(err, (ImportError, TimeoutError)):
            raise SpecError("scheduler", str(scheduler), f"its workers cannot run optexec ({err})") from err
        raise
    return DaskRunner(client, args, owned, run_id, no_worker_timeout)


def warm_worker() -> None:
    """Run on each worker before the clock starts: importing this module there has loaded the
    solvers stack (and checked it is installed)."""
