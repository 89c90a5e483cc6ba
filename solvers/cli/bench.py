"""``optexec bench [--quick] [--only SUITE ...]``: the benchmark suites (as ``python -m benchmarks``)."""

from __future__ import annotations

from benchmarks.runner import add_arguments, run_from_args

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="run the benchmark suites (see benchmarks/)")
    add_arguments(p)
    p.set_defaults(func=run_from_args)
