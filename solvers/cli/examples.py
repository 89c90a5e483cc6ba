"""``optexec examples``: the bundled example specs, name first."""

from __future__ import annotations

import argparse

from ..spec import example_names, load_example

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser("examples", help="list the bundled example specs (name first)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name in example_names():
        print(f"{name}\t{load_example(name).description}")
    return 0
