"""A benchmark suite of one record, for the ``optexec bench`` tests (the real suites take minutes)."""

from __future__ import annotations

from pathlib import Path


def run(quick: bool, out_dir: Path) -> dict:
    return {"suite": "tiny", "records": [{"case": "one", "ms": 1.25, "quick": quick}], "notes": ["a test suite"]}
