"""``optexec sweep``: the command line, Ctrl-C and resume in a real process, error exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import pytest

from solvers.cli import main
from solvers.methods import registered

ROOT = Path(__file__).resolve().parents[1]
COUNTING = "counting"
#: ``optexec`` in a fresh process with the test method registered first (one call)
OPTEXEC_WITH_COUNTING = ("import sys; from solvers.methods import register_method; "
                         "register_method('counting', 'tests.helpers.counting_method'); "
                         "from solvers.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture(autouse=True)
def counting_method():
    with registered(COUNTING, "tests.helpers.counting_method"):
        yield


def _write_sweep(path: Path, marker: Path | None = None, delay: float = 0.0, lams: int = 10) -> Path:
    method = "'closed-form'" if marker is None else (
        f"{{name = '{COUNTING}', options = {{marker = '{marker}', delay = {delay}}}}}")
    path.write_text(f"""
name = "cli-sweep"
base_example = "almgren-chriss-2001"
methods = [{method}]
batch_size = 2
[[axes]]
parameter = "risk_aversion"
kind = "grid"
start = 1e-8
stop = 1e-4
num = {lams}
scale = "log"
[[axes]]
parameter = "assets[0].volatility"
values = [0.5, 1.5]
""")
    return path


def test_cli_runs_a_sweep_and_prints_the_summary(tmp_path, capsys):
    sweep = _write_sweep(tmp_path / "s.toml", lams=4)
    rc = main(["sweep", str(sweep), "--scheduler", "synchronous", "--no-progress", "--no-plots",
               "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "8 points x 1 method(s); 8 computed, 0 already done" in out and "optimal 8" in out
    table = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(table) == 8 and (table["status"] == "optimal").all()
    rc = main(["sweep", str(sweep), "--scheduler", "synchronous", "--no-progress", "--no-plots",
               "--out", str(tmp_path / "out")])
    assert rc == 0 and "0 computed, 8 already done" in capsys.readouterr().out


def test_cli_bad_sweep_file_exits_2_with_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("base_example = 'almgren-chriss-2001'\n[[axes]]\nparameter = 'assets[2].volatility'\nvalues = [1.0]\n")
    assert main(["sweep", str(bad), "--scheduler", "synchronous"]) == 2
    err = capsys.readouterr().err
    assert "optexec: invalid spec: axes[0].parameter = 'assets[2].volatility': assets[2] does not exist" in err


def test_ctrl_c_then_resume_recomputes_nothing(tmp_path):
    """SIGINT to a running ``optexec sweep`` (in-process scheduler, a slow counting method),
    then the same command again: it solves exactly the points that were not recorded."""
    marker = tmp_path / "solves.txt"
    sweep = _write_sweep(tmp_path / "s.toml", marker=marker, delay=0.05)
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", OPTEXEC_WITH_COUNTING, "sweep", str(sweep), "--scheduler", "synchronous", "--no-progress",
           "--no-plots", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list((out / "parts").glob("part-*.parquet"))) < 3 and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    first = pd.read_parquet(out / "results.parquet")
    recorded = {(r["risk_aversion"], r["assets[0].volatility"]) for r in first.to_dict("records")}
    assert 6 <= len(recorded) < 20 and len(first) == len(recorded)
    marker.rename(tmp_path / "solves-first.txt")

    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{20 - len(recorded)} computed, {len(recorded)} already done" in done.stdout
    second = [tuple(json.loads(line)) for line in marker.read_text().splitlines()]
    lams = np.geomspace(1e-8, 1e-4, 10)
    every = {(float(lam), vol) for lam in lams for vol in (0.5, 1.5)}
    assert len(second) == len(set(second)) and set(second) == every - recorded
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 20 and table["point_id"].is_unique and (table["status"] == "optimal").all()


def test_cli_default_output_is_the_user_cache_not_the_current_directory(tmp_path, monkeypatch, capsys):
    from solvers.sweep import default_out_dir, load_sweep

    sweep = _write_sweep(tmp_path / "s.toml", lams=2)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["sweep", str(sweep), "--scheduler", "synchronous", "--no-progress", "--no-plots"]) == 0
    s = load_sweep(sweep)
    out = default_out_dir(s.name, s.fingerprint())
    assert out.is_relative_to(tmp_path / "cache" / "optexec" / "sweeps") and (out / "results.parquet").exists()
    assert not any(work.iterdir())  # nothing in the current directory
    assert str(out) in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "XDG_CACHE_HOME/optexec/sweeps" in capsys.readouterr().out
