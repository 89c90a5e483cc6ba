"""The sweep engine on a local dask cluster of two worker processes: every point once, a
worker killed mid-sweep, interrupt and resume without recomputation, bad points reported,
and the sweep's numbers equal to the same points solved one by one.

The cluster is started once for the module (two single-threaded worker processes with a
small memory limit). Test methods registered in the driver (``tests/helpers/*_method.py``) run
on the workers too: ``counting`` appends one line per solve to a marker file, which counts
the solves independently of the results store.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from solvers import SpecError, load_example, run_sweep, solve, sweep_from_dict
from solvers.methods import registered
from tests.helpers.sweep_worker import warm

EXAMPLE = "almgren-chriss-2001"


# ---------------------------------------------------------------------------- helpers
COUNTING = "counting"
VOL = "assets[0].volatility"


@pytest.fixture(autouse=True)
def test_methods():
    """The test methods, registered in one call each (the sweep carries them to its workers);
    ``killer`` only ever runs on dask workers (it kills the process it runs in)."""
    with registered("counting", "tests.helpers.counting_method"), registered("flaky", "tests.helpers.flaky_method"), \
            registered("killer", "tests.helpers.killer_method"):
        yield


def _marker_lines(path: Path) -> list[tuple[float, float]]:
    if not path.exists():
        return []
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]


def _sweep(lams, vols, methods, batch_size=None, extra_axes=()):
    data = {"base_example": EXAMPLE, "methods": methods,
            "axes": [{"parameter": "risk_aversion", "values": list(lams)},
                     {"parameter": "assets[0].volatility", "values": list(vols)}, *extra_axes]}
    if batch_size:
        data["batch_size"] = batch_size
    return sweep_from_dict(data)


def _by_hand(lam: float, vol: float, **asset):
    return load_example(EXAMPLE).replace(risk_aversion=lam).replace_asset(0, volatility=vol, **asset)


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="768MiB",
                           dashboard_address=None)
    client = Client(cluster)
    client.run(warm)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def cluster_client(client):
    client.wait_for_workers(2, timeout=60)
    client.run(warm)
    return client


# ---------------------------------------------------------------------------- tests
def test_sweep_equals_points_solved_one_by_one(cluster_client, tmp_path):
    """Every point, once per method; the vectorized closed form (one efficient_frontier call
    per batch, MethodInfo.batch_solve) and the same method point by point give the numbers of
    solve()."""
    lams = np.geomspace(1e-8, 1e-4, 9)
    vols = [0.5, 0.95]
    sweep = _sweep(lams, vols, ["closed-form", {"name": "closed-form", "label": "single", "vectorize": False}], batch_size=6)
    report = run_sweep(sweep, tmp_path / "out", scheduler=cluster_client, progress=False, plots=False)
    table = report.table
    assert report.n_points == 18 and report.computed_points == 18 and report.workers == 2
    assert len(table) == 36 and set(table["status"]) == {"optimal"}
    assert table.groupby(["point_id", "method"]).size().eq(1).all()
    assert (table.loc[table["method"] == "closed-form", "batched"] > 1).all()  # the batch path ran
    assert (table.loc[table["method"] == "single", "batched"] == 0).all()
    assert set(table["time_model"]) == {"discrete"}
    for row in table.to_dict("records"):
        ref = solve(_by_hand(row["risk_aversion"], row[VOL]), "closed-form")
        # Same formulas evaluated on a (lambda, N+1) array instead of one row: numpy's sums may
        # round in another order, a few ulps of E, V; 1e-12 leaves three orders of margin.
        np.testing.assert_allclose([row["objective"], row["expected_cost"], row["variance"]],
                                   [ref.objective, ref.expected_cost, ref.variance], rtol=1e-12, atol=0)
    # agreement columns: vectorized against point by point, the same tolerance
    assert table["agreement"].max() < 1e-12
    assert np.isfinite(table["rel_diff_vs_single"][table["method"] == "closed-form"]).all()
    # the CSV and the Parquet file hold the same table
    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    np.testing.assert_array_equal(csv["objective"].to_numpy(), table["objective"].to_numpy())
    # in-process (synchronous) runs give the same numbers, bit for bit
    sync = run_sweep(sweep, tmp_path / "sync", scheduler="synchronous", progress=False, plots=False).table
    np.testing.assert_array_equal(sync["objective"].to_numpy(), table["objective"].to_numpy())


def test_worker_killed_mid_sweep_every_point_exactly_once(cluster_client, tmp_path):
    marker = tmp_path / "solves.txt"
    out = tmp_path / "out"
    lams = np.geomspace(1e-8, 1e-4, 12)
    sweep = _sweep(lams, [0.5, 1.5], [{"name": COUNTING, "options": {"marker": str(marker), "delay": 0.1}}],
                   batch_size=2)
    killed: dict = {}
    stop = threading.Event()

    def kill_a_busy_worker():
        """Once a first task is recorded, SIGKILL a worker that has a task in hand."""
        while not stop.is_set():
            if any((out / "parts").glob("part-*.parquet")):
                for addr, keys in cluster_client.processing().items():
                    if keys:
                        pid = cluster_client.run(os.getpid, workers=[addr])[addr]
                        killed.update(pid=pid, tasks={int(str(k).split("-")[-2]) for k in keys})
                        os.kill(pid, signal.SIGKILL)
                        return
            time.sleep(0.005)

    thread = threading.Thread(target=kill_a_busy_worker, daemon=True)
    thread.start()
    try:
        report = run_sweep(sweep, out, scheduler=cluster_client, progress=False, plots=False)
    finally:
        stop.set()
        thread.join()
    assert killed, "no worker was busy after the first task was recorded"
    raw = pd.concat([pd.read_parquet(p) for p in sorted((out / "parts").glob("part-*.parquet"))], ignore_index=True)
    assert len(raw) == 24 and raw["point_id"].is_unique  # exactly once, before any deduplication
    assert sorted(raw["point_id"]) == list(range(24))
    assert set(raw["status"]) == {"optimal"} and report.lost_rows == 0
    # the tasks that were on the killed worker were rerun elsewhere
    rerun = raw[raw["task"].isin(killed["tasks"])]
    assert len(rerun) and not rerun["worker"].str.endswith(f":{killed['pid']}").any()
    # every point was solved at least once (the killed worker may have solved some twice)
    assert {tuple(p) for p in _marker_lines(marker)} >= {(lam, vol) for lam in lams for vol in (0.5, 1.5)}
    cluster_client.wait_for_workers(2, timeout=60)


class _Stop(Exception):
    pass


def test_interrupted_sweep_resumes_without_recomputing(cluster_client, tmp_path):
    marker = tmp_path / "solves.txt"
    lams = np.geomspace(1e-8, 1e-4, 10)
    vols = [0.5, 0.95, 1.5, 2.0]
    sweep = _sweep(lams, vols, [{"name": COUNTING, "options": {"marker": str(marker)}}],
                   batch_size=4)
    seen = []

    def stop_after_three(info):
        seen.append(info["task"])
        if len(seen) == 3:
            raise _Stop

    with pytest.raises(_Stop):
        run_sweep(sweep, tmp_path / "out", scheduler=cluster_client, progress=False, plots=False,
                  callback=stop_after_three)
    # cancelled tasks may still be running: wait until the workers are idle before counting
    deadline = time.monotonic() + 30
    while any(cluster_client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    first = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(first) == 12  # three tasks of four points were recorded, and consolidated
    first_points = {(r["risk_aversion"], r[VOL]) for r in first.to_dict("records")}
    marker.rename(tmp_path / "solves-first.txt")

    report = run_sweep(sweep, tmp_path / "out", scheduler=cluster_client, progress=False, plots=False)
    second = _marker_lines(marker)
    assert report.skipped_points == 12 and report.computed_points == 28
    # independent count: the second run solved exactly the 28 missing points, each once
    assert len(second) == 28 and len(set(second)) == 28
    assert not set(second) & first_points
    table = report.table
    assert len(table) == 40 and table["point_id"].is_unique
    # the rows of the first run are kept as they were
    kept = table.set_index("point_id").loc[first["point_id"]]
    np.testing.assert_array_equal(kept["objective"].to_numpy(), first["objective"].to_numpy())
    assert set(kept["run_id"]) == set(first["run_id"])


def test_bad_points_are_reported_and_the_rest_complete(client, tmp_path):
    """Through the scheduler's address (the ``--scheduler ADDRESS`` path)."""
    client.wait_for_workers(2, timeout=60)
    lams = [1e-7, 1e-6, 1e-5]
    sweep = _sweep(lams, [0.95, -1.0], ["closed-form"], batch_size=4,
                   extra_axes=[{"parameter": "assets[0].impact_exponent", "values": [1.0, 0.5]}])
    report = run_sweep(sweep, tmp_path / "out", scheduler=client.scheduler.address, progress=False, plots=False)
    table = report.table
    assert len(table) == 12 and table["point_id"].is_unique
    vol, beta = table[VOL], table["assets[0].impact_exponent"]
    invalid = table[vol < 0]
    assert (invalid["status"] == "invalid").all() and len(invalid) == 6
    assert invalid["error"].str.contains(r"assets\[0\]\.volatility = -1\.0: must be >= 0").all()
    assert (invalid["error_type"] == "SpecError").all() and invalid["objective"].isna().all()
    na = table[(vol > 0) & (beta == 0.5)]
    assert (na["status"] == "not-applicable").all() and len(na) == 3
    assert na["error"].str.contains("needs linear temporary impact").all()
    ok = table[(vol > 0) & (beta == 1.0)]
    assert (ok["status"] == "optimal").all() and len(ok) == 3
    for row in ok.to_dict("records"):
        ref = solve(_by_hand(row["risk_aversion"], 0.95), "closed-form")
        np.testing.assert_allclose(row["objective"], ref.objective, rtol=1e-12)  # see the first test
    assert report.failed_rows == 9 and report.status_counts == {"optimal": 3, "invalid": 6, "not-applicable": 3}


def test_lost_task_is_recorded_then_retried_on_resume(tmp_path, monkeypatch):
    """A task that keeps failing (as when its workers keep dying) is resubmitted, then its rows
    are recorded as 'lost'; the next run computes only those points."""
    import solvers.sweep.engine as engine

    sweep = _sweep([1e-7, 1e-6, 1e-5], [0.95], ["closed-form"], batch_size=1)
    real = engine.solve_batch
    calls = []

    def flaky(base, points, *args):
        calls.append(points[0][0])
        if points[0][0] == 1:
            raise RuntimeError("worker died")
        return real(base, points, *args)

    monkeypatch.setattr(engine, "solve_batch", flaky)
    report = run_sweep(sweep, tmp_path / "out", scheduler="synchronous", progress=False, plots=False,
                       max_task_retries=2)
    assert calls.count(1) == 3 and report.task_retries == 2 and report.lost_rows == 1
    lost = report.table.set_index("point_id").loc[1]
    assert lost["status"] == "lost" and "task 1 failed 3 time(s): worker died" in lost["error"]
    monkeypatch.setattr(engine, "solve_batch", real)
    again = run_sweep(sweep, tmp_path / "out", scheduler="synchronous", progress=False, plots=False)
    assert again.computed_points == 1 and again.skipped_points == 2
    assert list(again.table["status"]) == ["optimal"] * 3 and again.table["point_id"].is_unique


def test_resume_with_an_added_method_solves_only_that_method(tmp_path):
    marker = tmp_path / "solves.txt"
    lams, vols = [1e-7, 1e-6, 1e-5], [0.5, 0.95]
    first = run_sweep(_sweep(lams, vols, ["closed-form"]), tmp_path / "out", scheduler="synchronous",
                      progress=False, plots=False).table
    counting = {"name": COUNTING, "label": "counted", "options": {"marker": str(marker)}}
    report = run_sweep(_sweep(lams, vols, ["closed-form", counting]), tmp_path / "out", scheduler="synchronous",
                       progress=False, plots=False)
    table = report.table
    assert report.computed_points == 6 and len(table) == 12
    assert sorted(_marker_lines(marker)) == sorted((lam, vol) for lam in lams for vol in vols)  # each once
    old = table[table["method"] == "closed-form"].reset_index(drop=True)
    assert set(old["run_id"]) == set(first["run_id"])  # closed-form rows were not recomputed
    # the two labels solve the same problems: they agree (same closed form, one vectorized)
    assert table["agreement"].max() < 1e-12
    changed = {**counting, "options": {"marker": str(marker), "delay": 0.1}}
    with pytest.raises(SpecError, match=r"methods\[1\] = 'counted': was run in .* give the changed method a new label"):
        run_sweep(_sweep(lams, vols, ["closed-form", changed]), tmp_path / "out", scheduler="synchronous",
                  progress=False, plots=False)
    # a later run without the added method keeps its rows in the table
    again = run_sweep(_sweep(lams, vols, ["closed-form"]), tmp_path / "out", scheduler="synchronous",
                      progress=False, plots=False)
    assert again.computed_points == 0 and len(again.table) == 12


def test_retry_failed_recomputes_only_the_failed_rows(tmp_path):
    flag = tmp_path / "ready"
    flaky = {"name": "flaky", "options": {"flag": str(flag)}}
    sweep = _sweep([1e-7, 1e-6], [0.95], ["closed-form", flaky])
    first = run_sweep(sweep, tmp_path / "out", scheduler="synchronous", progress=False, plots=False)
    assert first.status_counts == {"optimal": 2, "solver-error": 2}
    failed = first.table[first.table["status"] == "solver-error"]
    assert failed["error"].str.contains("flaky failed with status 'failed'").all()
    flag.touch()
    assert run_sweep(sweep, tmp_path / "out", scheduler="synchronous", progress=False,
                     plots=False).computed_points == 0  # failures are results: not retried by default
    again = run_sweep(sweep, tmp_path / "out", scheduler="synchronous", progress=False, plots=False, retry_failed=True)
    assert again.computed_points == 2 and again.status_counts == {"optimal": 4}
    table = again.table
    assert len(table) == 4 and table.groupby(["point_id", "method"]).size().eq(1).all()
    kept = table[table["method"] == "closed-form"]
    assert set(kept["run_id"]) == {first.run_id}  # the closed-form rows were not solved again


def test_output_folder_of_another_sweep_is_refused(tmp_path):
    a = _sweep([1e-6], [0.95], ["closed-form"])
    b = _sweep([2e-6], [0.95], ["closed-form"])
    run_sweep(a, tmp_path, scheduler="synchronous", progress=False, plots=False)
    with pytest.raises(SpecError, match="holds results of another sweep"):
        run_sweep(b, tmp_path, scheduler="synchronous", progress=False, plots=False)
    with pytest.raises(SpecError, match="already holds results of this sweep"):
        run_sweep(a, tmp_path, scheduler="synchronous", progress=False, plots=False, resume=False)
    report = run_sweep(b, tmp_path, scheduler="synchronous", progress=False, plots=False, overwrite=True)
    assert list(report.table["risk_aversion"]) == [2e-6]
    with pytest.raises(SpecError, match="batch_size = 0: must be an integer >= 1"):
        run_sweep(a, tmp_path / "x", scheduler="synchronous", batch_size=0)
    with pytest.raises(SpecError, match="scheduler"):
        run_sweep(a, tmp_path / "y", scheduler=3.5, progress=False, plots=False)


def test_plots_are_drawn(tmp_path):
    axes = [{"parameter": "risk_aversion", "kind": "grid", "start": 1e-8, "stop": 1e-5, "num": 4, "scale": "log"},
            {"parameter": "assets[0].volatility", "values": [0.5, -1.0]}]  # -1: failed points, a gap
    for kind, name in (("heatmap", "objective-risk_aversion-assets_0__volatility.png"),
                       ("lines", "objective-over-risk_aversion.png")):
        sweep = sweep_from_dict({"base_example": EXAMPLE, "methods": ["closed-form"], "axes": axes,
                                 "plot": {"metrics": ["objective"], "kind": kind}})
        report = run_sweep(sweep, tmp_path / kind, scheduler="synchronous", progress=False)
        pngs = [p for k, p in report.files.items() if k.startswith("plot")]
        assert [p.name for p in pngs] == [name]
        assert pngs[0].stat().st_size > 10_000


def test_progress_bar_shows_done_failed_and_rate(tmp_path, capsys):
    sweep = _sweep([1e-7, 1e-6], [0.95, -1.0], ["closed-form"], batch_size=1)
    run_sweep(sweep, tmp_path, scheduler="synchronous", plots=False, progress=True)
    err = capsys.readouterr().err
    assert "4/4" in err and "failed=2" in err and "pt/s" in err


# ---------------------------------------------------------------------------- dying workers, one folder per sweep
def test_a_point_that_kills_its_worker_every_time_is_a_lost_row_and_the_sweep_finishes(tmp_path):
    """``killer`` SIGKILLs its worker at lambda = 1e-5, every time. On the embedded cluster (dask
    retries nothing itself) its task is split into one task per point, retried 3 times in all,
    then its row is recorded 'lost' with the count; every other point is solved."""
    lams = [1e-7, 1e-6, 1e-5, 1e-4]
    sweep = _sweep(lams, [0.95], [{"name": "killer", "options": {"kill_from": 1e-5}}], batch_size=2)
    sweep_lams = sorted(lams)
    report = run_sweep(sweep, tmp_path / "out", scheduler=None, n_workers=2, progress=False, plots=False)
    table = report.table.set_index("risk_aversion")
    assert report.lost_rows == 2 and report.failed_rows == 2 and report.max_task_retries == 3
    for lam in sweep_lams:
        row = table.loc[lam]
        if lam >= 1e-5:
            assert row["status"] == "lost"
            assert "failed 4 time(s)" in row["error"] and "max_task_retries = 3" in row["error"], row["error"]
        else:
            assert row["status"] == "optimal"
    assert "2 row(s) lost: their task killed its worker or failed 4 time(s) (3 retries)" in report.summary()


def test_a_cluster_left_without_workers_records_the_rest_as_lost(tmp_path):
    """One worker without a nanny (nobody restarts it); ``killer`` kills it at lambda = 1e-5: the
    cluster has no worker left, and after ``no_worker_timeout`` the rest is recorded 'lost' and
    the sweep finishes."""
    import subprocess
    import sys

    from distributed import Client, LocalCluster

    sweep = _sweep([1e-7, 1e-6, 1e-5, 1e-4], [0.95], [{"name": "killer", "options": {"kill_from": 1e-5}}],
                   batch_size=1)
    cluster = LocalCluster(n_workers=0, processes=True, dashboard_address=None)
    client = Client(cluster)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                               "--no-nanny", "--nthreads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client.wait_for_workers(1, timeout=60)
        start = time.monotonic()
        report = run_sweep(sweep, tmp_path / "out", scheduler=client, progress=False, plots=False,
                           no_worker_timeout=2.0)
        assert time.monotonic() - start < 60
    finally:
        worker.kill()
        worker.wait()
        client.close()
        cluster.close()
    table = report.table.set_index("risk_aversion")
    assert sorted(table.index) == [1e-7, 1e-6, 1e-5, 1e-4]  # every point has its row
    for lam in (1e-5, 1e-4):
        assert table.loc[lam, "status"] == "lost" and "has had no worker for 2 s" in table.loc[lam, "error"]
    # a point solved before the kill is optimal, or lost with it when its result was still on
    # the dead worker (the scheduler had not handed it over yet)
    assert set(table.loc[[1e-7, 1e-6], "status"]) <= {"optimal", "lost"}
    assert report.lost_rows == int((table["status"] == "lost").sum()) >= 2
    assert "stopped early: the cluster at" in report.summary()
    with pytest.raises(SpecError, match="no_worker_timeout = 0"):
        run_sweep(sweep, tmp_path / "x", scheduler="synchronous", no_worker_timeout=0)


def test_results_without_their_manifest_are_not_taken_over(tmp_path):
    a = _sweep([1e-6], [0.95], ["closed-form"])
    b = _sweep([2e-6], [0.95], ["closed-form"])
    run_sweep(a, tmp_path, scheduler="synchronous", progress=False, plots=False)
    (tmp_path / "sweep.json").unlink()
    for sweep in (a, b):  # neither can prove the folder is its own
        with pytest.raises(SpecError, match=rf"out_dir = '{tmp_path}': holds sweep results without a manifest "
                                            r"\(sweep.json\), so their sweep is unknown: .*--overwrite"):
            run_sweep(sweep, tmp_path, scheduler="synchronous", progress=False, plots=False)
    report = run_sweep(b, tmp_path, scheduler="synchronous", progress=False, plots=False, overwrite=True)
    assert list(report.table["risk_aversion"]) == [2e-6]
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    assert manifest["fingerprint"] == b.fingerprint() != a.fingerprint()
    assert (tmp_path / "parts" / "FINGERPRINT").read_text().strip() == b.fingerprint()


def test_a_corrupt_manifest_or_part_file_is_named_and_recomputed(tmp_path, capsys):
    sweep = _sweep([1e-7, 1e-6, 1e-5], [0.95], ["closed-form"], batch_size=1)
    first = run_sweep(sweep, tmp_path, scheduler="synchronous", progress=False, plots=False)
    parts = sorted((tmp_path / "parts").glob("part-*.parquet"))
    assert len(parts) == 3
    parts[1].write_bytes(b"PAR1 not really parquet")
    (tmp_path / "sweep.json").write_text("{ broken json")
    capsys.readouterr()
    report = run_sweep(sweep, tmp_path, scheduler="synchronous", progress=False, plots=False)
    err = capsys.readouterr().err
    assert f"{tmp_path / 'sweep.json'} cannot be read (JSONDecodeError" in err and "written again" in err
    assert f"{parts[1]} cannot be read" in err and "its points are computed again" in err
    assert "Traceback" not in err
    assert report.computed_points == 1 and report.skipped_points == 2 and set(report.table["status"]) == {"optimal"}
    np.testing.assert_array_equal(report.table["objective"].to_numpy(), first.table["objective"].to_numpy())
    assert parts[1].with_name(parts[1].name + ".corrupt").exists() and parts[1] in report.corrupt_files
    assert f"unreadable file set aside (its points computed again): {parts[1]}" in report.summary()
    # a manifest that cannot be read and no spare fingerprint of this sweep: refused, named
    (tmp_path / "sweep.json").write_text("[]")
    (tmp_path / "parts" / "FINGERPRINT").unlink()
    with pytest.raises(SpecError, match=r"its manifest .*sweep.json cannot be read \(ValueError: no 'fingerprint'"):
        run_sweep(sweep, tmp_path, scheduler="synchronous", progress=False, plots=False)


def test_default_output_folder_is_the_user_cache_not_the_current_directory(tmp_path, monkeypatch):
    from solvers.sweep import default_out_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_out_dir("s", "0123456789abcdef") == tmp_path / "cache" / "optexec" / "sweeps" / "s-0123456789ab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_out_dir("s", "0123456789abcdef") == tmp_path / "home" / ".cache" / "optexec" / "sweeps" / "s-0123456789ab"
