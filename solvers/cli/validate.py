"""``optexec validate SPEC | --example NAME``: every method on one spec, one table of
agreement; exit 1 when any pair disagrees beyond its tolerance or a method fails."""

from __future__ import annotations

import argparse
import sys

from ..validation import validate
from .common import add_spec_arguments, problem_from_args, write_json

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("validate", help="run every method on a spec and cross-check them (exit 1 on disagreement)")
    add_spec_arguments(p)
    p.add_argument("--methods", nargs="*", metavar="METHOD", help="methods to run (default: every registered method)")
    p.add_argument("--paths", type=int, default=20_000, help="Monte Carlo paths (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="Monte Carlo seed")
    p.add_argument("--no-antithetic", action="store_true", help="plain Monte Carlo (default: antithetic pairs)")
    p.add_argument("--no-mc", action="store_true", help="skip the Monte Carlo pricing")
    p.add_argument("--verbose", action="store_true", help="list every check with its tolerance and reason")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON ('-' for stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problem = problem_from_args(args)
    report = validate(problem, methods=args.methods or None, paths=args.paths, seed=args.seed,
                      antithetic=not args.no_antithetic, monte_carlo=not args.no_mc)
    out = sys.stderr if args.json == "-" else sys.stdout
    print(report.table(verbose=args.verbose), file=out)
    if args.json:
        write_json(report.to_dict(), args.json)
    if not report.passed:
        for msg in report.failures:
            print(f"optexec validate: {msg}", file=sys.stderr)
        return 1
    return 0
