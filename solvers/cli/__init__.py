"""The ``optexec`` command line: one module per command, listed in :data:`COMMANDS`.

    optexec examples | solve | frontier | validate | adaptivity | calibrate | sweep | bench

Each command module has ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. Exit status: 0 done, 1 a solver failure or a disagreement, 2 an
invalid spec or setting (the message names the field, its value and the rule; no
traceback), 3 a method that does not apply.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ..errors import MethodNotApplicable, OptexecError, SolverError, SpecError
from .common import add_spec_arguments, emit_outputs, parse_setting, problem_from_args, write_json

__all__ = ["main", "build_parser", "COMMANDS", "add_spec_arguments", "problem_from_args", "write_json",
           "emit_outputs", "parse_setting"]

#: sub-command -> module with ``register(subparsers)``, in the order of ``optexec --help``
COMMANDS: dict[str, str] = {
    "examples": "solvers.cli.examples",
    "solve": "solvers.cli.solve",
    "frontier": "solvers.cli.frontier",
    "validate": "solvers.cli.validate",
    "adaptivity": "solvers.cli.adaptivity",
    "calibrate": "solvers.cli.calibrate",
    "sweep": "solvers.cli.sweep",
    "bench": "solvers.cli.bench",
    "export": "solvers.cli.export",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``optexec`` parser with every command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="optexec", description="Optimal trade execution, four ways, cross-checked.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``optexec`` with ``argv`` (default: the process arguments); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SpecError as err:
        print(f"optexec: invalid spec: {err}", file=sys.stderr)
        return 2
    except MethodNotApplicable as err:
        print(f"optexec: {err}", file=sys.stderr)
        return 3
    except (SolverError, OptexecError) as err:
        print(f"optexec: {err}", file=sys.stderr)
        return 1
