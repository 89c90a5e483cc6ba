"""``optexec validate SPEC | --example NAME``: every method on one spec, one table of
agreement; exit 1 when any pair disagrees beyond its tolerance or a method fails."""

from __future__ import annotations

import argparse
import sys

from ..validation import GAP_FRACTION, MAX_KAPPA_TAU, validate
from .common import add_spec_arguments, emit_outputs, problem_from_args

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate", help="run every method on a spec and cross-check them (exit 1 on disagreement)",
        description="Run every registered method (in each of its variants) on one spec, price every answer by Monte "
                    "Carlo on common random numbers, and check every pair against a tolerance built from the "
                    "methods' declared accuracies. A discrete-time answer and a continuous-time one differ by a "
                    "predicted O(tau) gap, held to at most "
                    f"{GAP_FRACTION:.0%} of it; where kappa tau > {MAX_KAPPA_TAU:g} that prediction is not trusted "
                    "and the pair is reported NOT COMPARABLE with the N that would make it comparable "
                    f"(N >= kappa T / {MAX_KAPPA_TAU:g}). Exit status: 0 when every comparable check passes (the "
                    "number of pairs not comparable is printed), 1 on a disagreement or a failed method, 2 on a bad "
                    "spec or option.")
    add_spec_arguments(p)
    p.add_argument("--methods", nargs="*", metavar="METHOD", help="methods to run (default: every registered method)")
    p.add_argument("--paths", type=int, default=20_000, help="Monte Carlo paths (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="Monte Carlo seed")
    p.add_argument("--no-antithetic", action="store_true", help="plain Monte Carlo (default: antithetic pairs)")
    p.add_argument("--no-mc", action="store_true", help="skip the Monte Carlo pricing")
    p.add_argument("--verbose", action="store_true", help="list every check with its tolerance and reason")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON ('-' for stdout: JSON only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    problem = problem_from_args(args)
    report = validate(problem, methods=args.methods or None, paths=args.paths, seed=args.seed,
                      antithetic=not args.no_antithetic, monte_carlo=not args.no_mc)
    emit_outputs(args, report.table(verbose=args.verbose), report.to_dict())
    if not report.passed:
        for msg in report.failures:
            print(f"optexec validate: {msg}", file=sys.stderr)
        return 1
    return 0
