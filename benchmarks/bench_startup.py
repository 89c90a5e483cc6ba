"""Start-up: what a fresh process pays before it does any work, and what JAX's persistent
compilation cache saves a second ``optexec`` run.

Records: the best wall time of ``python -c "import solvers"`` and of ``optexec solve --example
almgren-chriss-2001 --quiet`` (run as ``python -m solvers``) as ratios against ``python -c pass``;
then ``optexec validate --example almgren-chriss-2001 --no-mc`` twice in fresh processes with
the compilation cache on (an empty cache folder of its own) and off, with the compile seconds
the methods report and the files the cache gained. Every run is a subprocess of this one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "almgren-chriss-2001"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPTEXEC_JAX_CACHE", "OPTEXEC_NO_JAX_CACHE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one fresh process ``python ARGS`` (which must succeed)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return seconds


def _best(args: list[str], repeat: int) -> float:
    env = _env(OPTEXEC_NO_JAX_CACHE="1")
    return min(_run(args, env) for _ in range(repeat))


def _compile_seconds(report: Path) -> float:
    """Sum of the ``compile_seconds`` the methods of a validate report give."""
    total = 0.0

    def walk(node) -> None:
        nonlocal total
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "compile_seconds" and isinstance(value, (int, float)):
                    total += float(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(report.read_text(encoding="utf-8")))
    return total


def _validate_runs(cache_on: bool, runs: int, workdir: Path, methods: list[str]) -> dict:
    """``runs`` validate processes in a row sharing one fresh cache folder (or none)."""
    xdg = Path(tempfile.mkdtemp(dir=workdir))
    folder = xdg / "optexec" / "jax"
    env = _env(XDG_CACHE_HOME=str(xdg), **({} if cache_on else {"OPTEXEC_NO_JAX_CACHE": "1"}))
    args = ["validate", "--example", EXAMPLE, "--no-mc"] + (["--methods", *methods] if methods else [])
    record: dict = {"case": f"{' '.join(args)}, cache {'on' if cache_on else 'off'}"}
    files_before = 0
    for i in range(runs):
        report = workdir / f"validate-{'on' if cache_on else 'off'}-{i}.json"
        wall = _run(["-m", "solvers", *args, "--json", str(report)], env)
        files = len(list(folder.iterdir())) if folder.is_dir() else 0
        label = ("first", "second", "third")[i]
        record[f"{label}_s"] = wall
        record[f"{label}_compile_s"] = _compile_seconds(report)
        record[f"{label}_cache_files_added"] = files - files_before
        files_before = files
    if runs > 1:
        record["second_over_first"] = record["second_s"] / record["first_s"]
    return record


def run(quick: bool, out_dir: Path) -> dict:
    repeat = 1 if quick else 5
    base = _best(["-c", "pass"], repeat)
    records = [{"case": "python -c pass", "seconds": base, "ratio_vs_python": 1.0}]
    for label, args in (("import solvers", ["-c", "import solvers"]),
                        (f"optexec solve --example {EXAMPLE} --quiet",
                         ["-m", "solvers", "solve", "--example", EXAMPLE, "--quiet"])):
        t = _best(args, repeat)
        records.append({"case": label, "seconds": t, "ratio_vs_python": t / base})
    if not quick:  # the smoke run times the start-up only; the compilation cache is the full run's
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
            work = Path(tmp)
            records.append(_validate_runs(True, 2, work, []))
            records.append(_validate_runs(False, 2, work, []))
    notes = [f"best of {repeat} fresh process(es) each; ratio_vs_python: against `python -c pass` in this run",
             "validate runs: one fresh process each, the cache folder a new temporary one; *_compile_s sums the "
             "compile_seconds the methods report; *_cache_files_added counts programs the run wrote to the cache "
             "(0 on the second run: nothing compiled again)"]
    return {"suite": "startup", "records": records, "plots": [], "notes": notes}
