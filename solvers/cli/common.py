"""Helpers shared by the ``optexec`` commands: the spec arguments, ``KEY=VALUE`` settings,
where the outputs go (a summary, JSON to a path or stdout, a plot), and the checks of the
output paths made before any work (:func:`check_output_paths`)."""

from __future__ import annotations

import argparse
import ast
import contextlib
import contextvars
import json
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from ..errors import SpecError
from ..plots import plot_formats
from ..spec import ExecutionProblem, load_example, load_problem

__all__ = ["add_spec_arguments", "problem_from_args", "write_json", "emit_outputs", "parse_setting",
           "check_output_paths", "json_stdout", "OUTPUT_FILE_OPTIONS"]

#: argparse destination -> option name of the files a command writes (checked before it runs)
OUTPUT_FILE_OPTIONS: dict[str, str] = {"json": "--json", "plot": "--plot", "output": "--output"}

# where ``--json -`` writes: the real stdout while everything else printed goes to stderr
_JSON_STREAM: contextvars.ContextVar[TextIO | None] = contextvars.ContextVar("optexec_json_stream", default=None)


@contextlib.contextmanager
def json_stdout() -> Iterator[None]:
    """While active, ``write_json(data, "-")`` writes to the stdout of entry and every other
    ``print`` goes to stderr: ``--json -`` leaves nothing but JSON on stdout."""
    token = _JSON_STREAM.set(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _JSON_STREAM.reset(token)


def check_output_paths(args: argparse.Namespace) -> None:
    """Before any work: every output file named on the command line can be written.

    ``--json PATH``, ``--plot PATH`` and ``-o/--output PATH`` need an existing folder and must not
    be a folder themselves; ``--plot`` needs a format matplotlib writes (its suffix). A bad one
    is a SpecError naming the option (exit 2).
    """
    for dest, option in OUTPUT_FILE_OPTIONS.items():
        value = getattr(args, dest, None)
        if not value or (dest == "json" and value == "-"):
            continue
        path = Path(value)
        if path.is_dir():
            raise SpecError(option, str(value), "is a folder: give a file name")
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise SpecError(option, str(value), f"the folder {str(parent)!r} does not exist (create it first)")
        if dest == "plot":
            formats = plot_formats()
            suffix = path.suffix.lower().lstrip(".")
            if suffix not in formats:
                raise SpecError(option, str(value), f"format {suffix or '(no suffix)'!r} is not one matplotlib "
                                                    f"writes: end the name with one of {', '.join(formats)}")


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
        stream = _JSON_STREAM.get() or sys.stdout
        stream.write(text + "\n")
        stream.flush()
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
