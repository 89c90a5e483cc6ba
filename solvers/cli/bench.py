"""``optexec bench [--quick] [--only SUITE ...]``: the benchmark suites (as ``python -m benchmarks``),
their tables printed when they finish."""

from __future__ import annotations

import argparse

from benchmarks.runner import add_arguments, run_and_print

from .common import emit_outputs

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="run the benchmark suites and print their tables (see benchmarks/)",
                              description="Run the benchmark suites (as 'python -m benchmarks'): one JSON file per "
                                          "suite and SUMMARY.md in the output folder; the tables are printed.")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    reports = run_and_print(args)
    if args.json:
        emit_outputs(args, None, reports)
    return 0
