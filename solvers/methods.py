"""The method registry: MODEL.md's method names mapped to solve functions.

Every entry has the signature ``solve(problem, **options) -> Result``. Entries are import
paths resolved on first use, so that this module (used by the CLI and ``validate``) never
imports a higher layer (``hjb``) before it is asked for. Adding a method is one file plus
one line here; the CLI and ``validate`` pick it up.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .errors import SpecError
from .result import Result
from .spec import ExecutionProblem

__all__ = ["METHODS", "get_method", "solve", "method_names"]

#: name -> "module:function"
METHODS: dict[str, str] = {
    "closed-form": "solvers.closed_form:solve",
    "hjb": "hjb.pde:solve",
    "dp": "hjb.backward_induction:solve",
    "qp": "solvers.qp:solve",
}


def method_names() -> list[str]:
    """The registered method names, in registry order."""
    return list(METHODS)


def get_method(name: str) -> Callable[..., Result]:
    """The solve function registered under ``name``."""
    if name not in METHODS:
        raise SpecError("method", name, f"unknown method (available: {', '.join(METHODS)})")
    module, _, attr = METHODS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def solve(problem: ExecutionProblem, method: str = "closed-form", **options: Any) -> Result:
    """Solve ``problem`` with the named method (see :data:`METHODS`)."""
    return get_method(method)(problem, **options)
