"""Sweeps: points per second of the whole engine (build each point's spec, solve, record,
consolidate) in process, on a local dask cluster of 1 and 2 workers, and batched vectorized
tasks against one solve per task.

Two workloads on the AC 2001 order: the closed form over ``lambda`` (log grid) x ``sigma`` x
``eta`` (microseconds per solve: the engine's own cost shows), and, when the method is
registered, ``qp`` on a smaller grid (milliseconds per solve: the workers' compute shows, so
1 against 2 workers measures scaling; every process solves once with it before the clock
starts, so its first-call cost is not in the rate). Each configuration runs its points into a fresh
output folder; the rate is computed points over the run's compute time (from the end of the
set-up to the consolidated table; each cluster is started once, before its runs, and its
start-up is a record of its own).
Ratios are against the in-process run of the same workload in this process. ``raw`` records
time the closed form alone, without the engine (a loop of ``solve()`` and one
``efficient_frontier`` call), so the engine's overhead can be read off.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster

from solvers import METHODS, efficient_frontier, load_example, run_sweep, solve, sweep_from_dict
from solvers.sweep.runners import warm_worker

from .common import best_time


def _sweep(method: str, n_lam: int, vols: list[float], etas: list[float]):
    return sweep_from_dict({
        "name": f"bench-sweep-{method}", "base_example": "almgren-chriss-2001", "methods": [method],
        "axes": [{"parameter": "assets[0].volatility", "values": vols},
                 {"parameter": "assets[0].temporary_impact", "values": etas},
                 {"parameter": "risk_aversion", "kind": "grid", "start": 1e-8, "stop": 1e-4, "num": n_lam,
                  "scale": "log"}],
    })


def _warm_method(name: str) -> None:
    """One solve, so a method's first-call cost (imports, CVXPY or JAX compiles: 2.5 s for
    qp here) is paid by every worker process before the clock starts."""
    solve(load_example("almgren-chriss-2001"), name)


def _one_run(sweep, scheduler, workdir: Path, **kwargs) -> dict:
    out = Path(tempfile.mkdtemp(dir=workdir))
    report = run_sweep(sweep, out, scheduler=scheduler, progress=False, plots=False, overwrite=True, **kwargs)
    assert report.computed_points == sweep.n_points and report.failed_rows == 0, report.summary()
    shutil.rmtree(out, ignore_errors=True)
    return {"points": report.computed_points, "tasks": report.tasks, "batch_size": report.batch_size,
            "seconds": report.compute_seconds, "points_per_s": report.points_per_second}


def run(quick: bool, out_dir: Path) -> dict:
    vols = list(np.linspace(0.5, 1.5, 4 if quick else 12))
    etas = [1.25e-6, 2.5e-6] if quick else [1.25e-6, 2.5e-6, 5e-6]
    n_lam = 41 if quick else 101
    cf = _sweep("closed-form", n_lam, vols, etas)
    per_task = _sweep("closed-form", 6 if quick else 41, vols[:2], etas[:1])  # one solve per task: fewer points
    qp = _sweep("qp", 12 if quick else 100, vols[:2], etas[:1]) if "qp" in METHODS else None
    notes = [f"closed form: {cf.n_points} points (lambda {n_lam} x sigma {len(vols)} x eta {len(etas)}); "
             f"one-solve-per-task runs: {per_task.n_points} points of the same kind"
             + (f"; qp: {qp.n_points} points" if qp else "; qp not registered: its runs are left out")]
    records: list[dict] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        base = load_example("almgren-chriss-2001")
        lams = np.geomspace(1e-8, 1e-4, n_lam)
        t_loop = best_time(lambda: [solve(base.replace(risk_aversion=float(l))) for l in lams], repeat=3)["best"]
        t_vec = best_time(lambda: efficient_frontier(base, lams), repeat=5)["best"]
        records.append({"workload": "closed-form", "config": "raw solve() loop, no engine", "workers": 0,
                        "points": n_lam, "points_per_s": n_lam / t_loop})
        records.append({"workload": "closed-form", "config": "raw efficient_frontier, no engine", "workers": 0,
                        "points": n_lam, "points_per_s": n_lam / t_vec})

        def series(scheduler, workers):
            out = [
                {"workload": "closed-form", "config": "batched vectorized", "workers": workers,
                 **_one_run(cf, scheduler, workdir)},
                {"workload": "closed-form", "config": "batched, one solve per point", "workers": workers,
                 **_one_run(cf, scheduler, workdir, vectorize=False)},
                {"workload": "closed-form", "config": "one solve per task", "workers": workers,
                 **_one_run(per_task, scheduler, workdir, vectorize=False, batch_size=1)},
            ]
            if qp is not None:
                out.append({"workload": "qp", "config": "batched", "workers": workers, **_one_run(qp, scheduler, workdir)})
            return out

        if qp is not None:
            _warm_method("qp")
        records += series("synchronous", 0)

        def warm(client, workers: int, config: str, start: float) -> None:
            client.run(warm_worker)
            if qp is not None:
                client.run(_warm_method, "qp")
            records.append({"workload": "-", "config": config, "workers": workers,
                            "seconds": time.perf_counter() - start})

        def start_cluster(workers: int):
            start = time.perf_counter()
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            warm(client, workers, "local cluster start-up", start)
            return cluster, client

        if quick:
            # smoke run: one cluster of one worker exercises the distributed path; the
            # 1-against-2-worker comparison is the full run's
            cluster, client = start_cluster(1)
            try:
                records += series(client, 1)
            finally:
                client.close()
                cluster.close()
        else:
            for workers in (1, 2):
                cluster, client = start_cluster(workers)
                try:
                    records += series(client, workers)
                finally:
                    client.close()
                    cluster.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    baseline = {(r["workload"], r["config"]): r["points_per_s"] for r in records if r["workers"] == 0}
    in_process = baseline[("closed-form", "batched vectorized")]
    for r in records:
        if "points_per_s" in r and r["workers"] > 0:
            r["ratio_vs_in_process"] = r["points_per_s"] / baseline[(r["workload"], r["config"])]
        elif "points_per_s" in r:
            r["ratio_vs_in_process"] = r["points_per_s"] / in_process
    rate = {(r["workload"], r["config"], r["workers"]): r.get("points_per_s") for r in records}
    notes.append("in-process rows: ratio against the in-process batched vectorized closed form; cluster rows: "
                 "against the same workload and configuration in process")
    most = 1 if quick else 2
    notes.append(f"{most} worker(s), closed form: batched vectorized tasks run "
                 f"{rate[('closed-form', 'batched vectorized', most)] / rate[('closed-form', 'one solve per task', most)]:.1f}x "
                 "the points/s of one solve per task (each task pays a scheduler round trip and a Parquet part file)")
    if qp is not None and not quick:
        notes.append(f"qp (ms per solve): 2 workers run {rate[('qp', 'batched', 2)] / rate[('qp', 'batched', 1)]:.2f}x "
                     "the points/s of 1 worker")
    return {"suite": "sweep", "records": records, "plots": [], "notes": notes}
