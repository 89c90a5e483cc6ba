"""Run the benchmark suites, write one JSON per suite plus a markdown summary.

Quick mode (small sizes, CI) writes under ``benchmarks/results/quick/`` unless ``--out`` is
given; the full run writes under ``benchmarks/results/``, where its files are committed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from . import SUITES
from .common import RESULTS_DIR, machine_info, write_json

__all__ = ["run_suites", "main", "add_arguments", "run_and_print", "run_from_args", "summary_markdown"]


def run_suites(quick: bool, out_dir: Path, only: Sequence[str] | None = None) -> list[dict]:
    """Run the selected suites; return their reports (also written to ``out_dir``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    reports = []
    for module_name in SUITES:
        short = module_name.rsplit(".", 1)[-1].removeprefix("bench_")
        if only and short not in only:
            continue
        module = importlib.import_module(module_name)
        start = time.perf_counter()
        print(f"[bench] {short} ({'quick' if quick else 'full'}) ...", flush=True)
        report = module.run(quick=quick, out_dir=out_dir)
        report.setdefault("suite", short)
        report["mode"] = "quick" if quick else "full"
        report["seconds"] = time.perf_counter() - start
        report["machine"] = machine
        write_json(out_dir / f"{short}.json", report)
        print(f"[bench] {short} done in {report['seconds']:.1f} s", flush=True)
        reports.append(report)
    (out_dir / "SUMMARY.md").write_text(summary_markdown(_all_reports(out_dir)), encoding="utf-8")
    return reports


def _all_reports(out_dir: Path) -> list[dict]:
    """Every suite's latest report in ``out_dir`` (so ``--only`` refreshes one suite and the
    summary still covers all), in SUITES order."""
    reports = []
    for module_name in SUITES:
        path = out_dir / f"{module_name.rsplit('.', 1)[-1].removeprefix('bench_')}.json"
        if path.exists():
            reports.append(json.loads(path.read_text(encoding="utf-8")))
    return reports


def summary_markdown(reports: list[dict]) -> str:
    """A markdown table per suite, generated from the reports' records."""
    lines = ["# Benchmark summary", ""]
    if reports:
        m = reports[0]["machine"]
        lines += [f"Machine: {m['processor']}, {m['cores']} cores, Python {m['python']}, "
                  f"numpy {m['numpy']}, jax {m['jax']}, cvxpy {m['cvxpy']}; {m['date']}.", ""]
    for rep in reports:
        lines += [f"## {rep['suite']} ({rep['mode']}, {rep['seconds']:.1f} s)", ""]
        for note in rep.get("notes", []):
            lines.append(f"- {note}")
        for group in _groups(rep.get("records", [])):
            keys = list(dict.fromkeys(k for r in group for k in r))
            lines += ["", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            for r in group:
                lines.append("| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |")
        for plot in rep.get("plots", []):
            lines += ["", f"![{Path(plot).stem}]({Path(plot).name})"]
        lines.append("")
    return "\n".join(lines)


def _groups(records: list[dict]) -> list[list[dict]]:
    """Consecutive records with the same keys form one table."""
    groups: list[list[dict]] = []
    for r in records:
        if groups and set(groups[-1][0]) == set(r):
            groups[-1].append(r)
        else:
            groups.append([r])
    return groups


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m benchmarks`` and ``optexec bench``."""
    names = [m.rsplit(".", 1)[-1].removeprefix("bench_") for m in SUITES]
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run, under two minutes)")
    parser.add_argument("--only", "--suite", nargs="*", metavar="SUITE", choices=names,
                        help=f"suite names to run (default: all of {', '.join(names)})")
    parser.add_argument("--out", type=Path, help="output folder (default benchmarks/results, or benchmarks/results/quick "
                                                 "with --quick)")
    parser.add_argument("--json", metavar="PATH", help="write the suites' reports as JSON ('-' for stdout: JSON only)")


def run_and_print(args: argparse.Namespace) -> list[dict]:
    """Run the suites named by ``args``, print their tables and where the files are; return the reports."""
    out = args.out or (RESULTS_DIR / "quick" if args.quick else RESULTS_DIR)
    reports = run_suites(args.quick, out, args.only)
    print(summary_markdown(reports))
    print(f"[bench] results in {out} (the summary of every suite there: {out / 'SUMMARY.md'})")
    return reports


def run_from_args(args: argparse.Namespace) -> int:
    """``python -m benchmarks``: :func:`run_and_print`, then the reports as JSON to ``--json``."""
    reports = run_and_print(args)
    if getattr(args, "json", None):
        text = json.dumps(reports, indent=2, allow_nan=True, default=str) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            Path(args.json).write_text(text, encoding="utf-8")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))

