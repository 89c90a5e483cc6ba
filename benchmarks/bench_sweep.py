"""Sweeps: points per second of the whole engine (solve, record, consolidate) in process,
on a local dask cluster of 1 and 2 workers, and batched vectorized tasks against one solve
per task.

The sweep is the AC 2001 order over ``lambda`` (log grid) x ``sigma`` x ``eta`` with the closed
form. Each configuration runs the same points into a fresh output folder; the rate is
computed points over the run's time without the cluster start-up (each cluster is started
once, before its runs, and its start-up time is a record of its own). Ratios are against the
in-process vectorized run measured in this same process. ``raw`` records time the solver
alone, without the engine: a Python loop of ``solve()`` and one ``efficient_frontier`` call
per group, so the engine's overhead per task (a Parquet part file and CSV lines written as
each task finishes) can be read off.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from solvers import efficient_frontier, load_example, run_sweep, solve, sweep_from_dict

from .common import best_time


def _sweep(n_lam: int, vols: list[float], etas: list[float]):
    return sweep_from_dict({
        "name": "bench-sweep", "base_example": "almgren-chriss-2001", "methods": ["closed-form"],
        "axes": [{"parameter": "assets[0].volatility", "values": vols},
                 {"parameter": "assets[0].temporary_impact", "values": etas},
                 {"parameter": "risk_aversion", "kind": "grid", "start": 1e-8, "stop": 1e-4, "num": n_lam,
                  "scale": "log"}],
    })


def _one_run(sweep, scheduler, workdir: Path, **kwargs) -> dict:
    out = Path(tempfile.mkdtemp(dir=workdir))
    report = run_sweep(sweep, out, scheduler=scheduler, progress=False, plots=False, overwrite=True, **kwargs)
    assert report.computed_points == sweep.n_points and report.failed_rows == 0, report.summary()
    shutil.rmtree(out, ignore_errors=True)
    busy = report.seconds - report.startup_seconds
    return {"points": report.computed_points, "tasks": report.tasks, "batch_size": report.batch_size,
            "seconds": busy, "points_per_s": report.computed_points / busy}


def run(quick: bool, out_dir: Path) -> dict:
    from distributed import Client, LocalCluster

    vols = list(np.linspace(0.5, 1.5, 4 if quick else 12))
    etas = [1.25e-6, 2.5e-6] if quick else [1.25e-6, 2.5e-6, 5e-6]
    n_lam = 41 if quick else 101
    sweep = _sweep(n_lam, vols, etas)
    # one solve per task: a smaller sweep of the same kind (rates are per point)
    small = _sweep(n_lam, vols[:2], etas[:1]) if quick else _sweep(n_lam, vols[:4], etas[:2])
    records: list[dict] = []
    notes = [f"sweep: {sweep.n_points} points (lambda {n_lam} x sigma {len(vols)} x eta {len(etas)}), closed form; "
             f"one-solve-per-task runs use {small.n_points} points of the same grid"]
    workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        # the solver alone
        base = load_example("almgren-chriss-2001")
        lams = np.geomspace(1e-8, 1e-4, n_lam)
        t_loop = best_time(lambda: [solve(base.replace(risk_aversion=float(l))) for l in lams], repeat=3)["best"]
        t_vec = best_time(lambda: efficient_frontier(base, lams), repeat=5)["best"]
        records.append({"config": "raw solve() loop (no engine)", "workers": 0, "vectorized": False,
                        "points": n_lam, "points_per_s": n_lam / t_loop})
        records.append({"config": "raw efficient_frontier (no engine)", "workers": 0, "vectorized": True,
                        "points": n_lam, "points_per_s": n_lam / t_vec})

        rec = {"config": "in-process, batched vectorized", "workers": 0, "vectorized": True,
               **_one_run(sweep, "synchronous", workdir)}
        baseline = rec["points_per_s"]
        records.append(rec)
        records.append({"config": "in-process, batched, one solve per point", "workers": 0, "vectorized": False,
                        **_one_run(sweep, "synchronous", workdir, vectorize=False)})
        for workers in (1, 2):
            start = time.perf_counter()
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            from solvers.sweep import _warm_worker

            client.run(_warm_worker)
            records.append({"config": f"local cluster start-up ({workers} worker(s))", "workers": workers,
                            "seconds": time.perf_counter() - start})
            try:
                records.append({"config": "cluster, batched vectorized", "workers": workers, "vectorized": True,
                                **_one_run(sweep, client, workdir)})
                records.append({"config": "cluster, batched, one solve per point", "workers": workers,
                                "vectorized": False, **_one_run(sweep, client, workdir, vectorize=False)})
                records.append({"config": "cluster, one solve per task", "workers": workers, "vectorized": False,
                                **_one_run(small, client, workdir, vectorize=False, batch_size=1)})
            finally:
                client.close()
                cluster.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for r in records:
        if "points_per_s" in r:
            r["ratio_vs_in_process"] = r["points_per_s"] / baseline
    best_cluster = max((r for r in records if r["config"] == "cluster, batched vectorized"),
                       key=lambda r: r["workers"])
    per_task = next(r for r in records if r["config"] == "cluster, one solve per task" and r["workers"] == 2)
    notes.append(f"2 workers: batched vectorized tasks run {best_cluster['points_per_s'] / per_task['points_per_s']:.1f}x "
                 "the points/s of one solve per task")
    notes.append("the engine writes a Parquet part file and CSV lines per finished task: that fixed cost per task, "
                 "not the solve, bounds the rate of one-solve tasks")
    return {"suite": "sweep", "records": records, "plots": [], "notes": notes}
