"""Helpers shared by the ``optexec`` commands: the spec arguments, ``KEY=VALUE`` settings,
and where the outputs go (a summary, JSON to a path or stdout, a plot)."""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable, TextIO

from ..errors import SpecError
from ..spec import ExecutionProblem, load_example, load_problem

__all__ = ["add_spec_arguments", "problem_from_args", "write_json", "emit_outputs", "parse_setting"]


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """``SPEC`` (a TOML path) or ``--example NAME``."""
    parser.add_argument("spec", nargs="?", help="problem spec (TOML file)")
    parser.add_argument("--example", metavar="NAME", help="a bundled example (see 'optexec examples')")


def problem_from_args(args: argparse.Namespace) -> ExecutionProblem:
    """The spec named by ``SPEC`` or ``--example`` (exactly one of them)."""
    if bool(args.spec) == bool(args.example):
        raise SpecError("spec", args.spec or args.example, "give exactly one of SPEC or --example NAME")
    return load_example(args.example) if args.example else load_problem(args.spec)


def write_json(data: Any, target: str) -> None:
    """Write JSON to a path, or to stdout for ``-``."""
    text = json.dumps(data, indent=2, allow_nan=True)
    if target == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(target).write_text(text + "\n", encoding="utf-8")


def emit_outputs(args: argparse.Namespace, summary: str | None, data: Any,
                 plot: Callable[[str], Any] | None = None) -> TextIO:
    """Print ``summary``, write ``data`` as JSON to ``args.json`` and draw ``plot(args.plot)``.

    With ``--json -`` stdout carries the JSON alone, so the summary and notes go to stderr.
    Returns the stream used for human-readable lines.
    """
    out = sys.stderr if getattr(args, "json", None) == "-" else sys.stdout
    if summary is not None:
        print(summary, file=out)
    if getattr(args, "json", None):
        write_json(data, args.json)
    if plot is not None and getattr(args, "plot", None):
        print(f"plot written to {plot(args.plot)}", file=out)
    return out


def parse_setting(text: str, flag: str = "--set") -> tuple[str, Any]:
    """``KEY=VALUE`` -> ``(key, value)``: the value read as a Python literal (``400``,
    ``(0.5, 2.0)``, ``'CLARABEL'``), else a TOML value (``true``), else the text itself;
    dashes in the key become underscores."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise SpecError(flag, text, "must look like KEY=VALUE")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        try:
            value = tomllib.loads(f"value = {raw}")["value"]
        except tomllib.TOMLDecodeError:
            value = raw
    return key.strip().replace("-", "_"), value
