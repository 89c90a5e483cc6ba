"""Methods for the sweep tests, importable on dask workers as ``tests.test_sweep_helpers:NAME``.

Kept apart from the test modules so that a worker imports only the solvers stack (not
pandas or pytest). No tests here.
"""

from __future__ import annotations

import json
import os
import time

from solvers.methods import solve


def counting_solve(problem, *, marker: str, delay: float = 0.0):
    """The closed form, with one marker line ``[lambda, sigma]`` per call (appends of one short
    line are atomic on a local file system, so two workers may share the file)."""
    line = json.dumps([problem.risk_aversion, problem.asset.volatility]) + "\n"
    with open(marker, "a", encoding="utf-8") as fh:
        fh.write(line)
    if delay:
        time.sleep(delay)
    return solve(problem, "closed-form")


def warm() -> int:
    """Import the sweep engine (and the solvers stack) on a worker; return its pid."""
    import solvers.sweep  # noqa: F401

    return os.getpid()


def flaky_solve(problem, *, flag: str):
    """Fails (SolverError) until the file ``flag`` exists, then solves by the closed form."""
    from solvers.errors import SolverError

    if not os.path.exists(flag):
        raise SolverError("flaky", "failed", f"{flag} does not exist yet")
    return solve(problem, "closed-form")
