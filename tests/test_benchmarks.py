"""The benchmarks' smoke mode runs in CI so that they never rot (speed is not asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks import SUITES


def test_quick_benchmarks_write_json_and_summary(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for module in SUITES:
        name = module.rsplit(".", 1)[-1].removeprefix("bench_")
        report = json.loads((tmp_path / f"{name}.json").read_text())
        assert report["mode"] == "quick" and report["records"], name
        assert report["machine"]["cores"] >= 1
        for plot in report.get("plots", []):
            assert (tmp_path / plot).exists() or (tmp_path / str(plot).rsplit("/", 1)[-1]).exists(), plot
    summary = (tmp_path / "SUMMARY.md").read_text()
    assert summary.startswith("# Benchmark summary")


def test_optexec_bench_is_registered():
    from solvers.cli import build_parser

    args = build_parser().parse_args(["bench", "--quick", "--only", "closed_form"])
    assert args.quick and args.only == ["closed_form"]
