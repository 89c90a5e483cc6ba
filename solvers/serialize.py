"""Plain Python values for JSON and Parquet: :func:`plain` (nested numpy -> lists and floats)
and :func:`cell` (a sweep parameter value as one table cell: lists become JSON text)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["plain", "cell"]


def plain(value: Any) -> Any:
    """Convert numpy arrays and scalars (nested in dicts, lists, tuples) to JSON-ready objects."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def cell(value: Any) -> Any:
    """A parameter value as a Parquet-friendly cell: lists and tuples become JSON text."""
    return json.dumps(value) if isinstance(value, (list, tuple)) else value
