"""The ``optexec`` command line: one module per command, listed in :data:`COMMANDS`.

    optexec examples | solve | frontier | validate | adaptivity | calibrate | sweep | bench

Each command module has ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. :func:`main` is the one error boundary: every failure is one line
``optexec: ...`` on stderr and an exit status, 1 a solver failure, a disagreement or an
internal error, 2 a bad input, spec or option (named, with its value and the rule), 3 a
method that does not apply; ``OPTEXEC_DEBUG=1`` re-raises unexpected errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn, Sequence

from ..errors import MethodNotApplicable, OptexecError, SolverError, SpecError
from .common import (
    add_spec_arguments,
    check_output_paths,
    emit_outputs,
    json_stdout,
    parse_setting,
    problem_from_args,
    write_json,
)

__all__ = ["main", "build_parser", "COMMANDS", "add_spec_arguments", "problem_from_args", "write_json",
           "emit_outputs", "parse_setting", "EXIT_FAILURE", "EXIT_BAD_INPUT", "EXIT_NOT_APPLICABLE"]

#: exit status of a solver failure, a disagreement or an internal error
EXIT_FAILURE = 1
#: exit status of a bad input, spec or option
EXIT_BAD_INPUT = 2
#: exit status of a method that does not apply to the spec
EXIT_NOT_APPLICABLE = 3

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
    "sensitivities": "solvers.cli.sensitivities",
    "export": "solvers.cli.export",
}


class OptexecParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line ``optexec: ...`` and exit 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("optexec").strip()
        print(f"optexec: {command + ': ' if command else ''}{message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The ``optexec`` parser with every command of :data:`COMMANDS`."""
    parser = OptexecParser(
        prog="optexec", description="Optimal trade execution, four ways, cross-checked.",
        epilog="JAX programs (methods hjb and dp) are compiled once and kept in $XDG_CACHE_HOME/optexec/jax "
               "(default ~/.cache/optexec/jax); OPTEXEC_NO_JAX_CACHE=1 turns that cache off.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=OptexecParser)
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``optexec`` with ``argv`` (default: the process arguments); returns the exit status."""
    os.environ.setdefault("OPTEXEC_JAX_CACHE", "1")  # read by hjb.jax_runtime when JAX first loads
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_output_paths(args)
        if getattr(args, "json", None) == "-":
            with json_stdout():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except SpecError as err:
        print(f"optexec: invalid spec: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MethodNotApplicable as err:
        print(f"optexec: {err}", file=sys.stderr)
        return EXIT_NOT_APPLICABLE
    except (SolverError, OptexecError) as err:
        print(f"optexec: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"optexec: {args.command} interrupted", file=sys.stderr)
        return 130
    except OSError as err:  # a file named on the command line that cannot be read or written
        if os.environ.get("OPTEXEC_DEBUG") == "1":
            raise
        where = f" {err.filename!r}" if err.filename else ""
        print(f"optexec: {args.command}: cannot use the file{where}: {err.strerror or err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # noqa: BLE001 - the one boundary: a line, never a traceback
        if os.environ.get("OPTEXEC_DEBUG") == "1":
            raise
        text = " ".join(str(err).split()) or "(no message)"
        print(f"optexec: internal error in {args.command}: {type(err).__name__}: {text} "
              "(set OPTEXEC_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_FAILURE
