"""``optexec examples``: the bundled example specs, name first."""

from __future__ import annotations

import argparse

from ..spec import example_names, load_example
from .common import emit_outputs

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("examples", help="list the bundled example specs (name first)",
                              description="List the bundled example specs, one a line: name, a tab, what it is. "
                                          "Use a name with --example NAME.")
    p.add_argument("--json", metavar="PATH", help="write the list as JSON ('-' for stdout: JSON only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = [(name, load_example(name).description) for name in example_names()]
    emit_outputs(args, "\n".join(f"{name}\t{text}" for name, text in rows),
                 [{"name": name, "description": text} for name, text in rows])
    return 0
