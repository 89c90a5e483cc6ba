"""Field checks shared by the spec and the volatility models: each failure is a
:class:`SpecError` naming the field, its value and the rule."""

from __future__ import annotations

import math
from typing import Any, Mapping

from .errors import SpecError

__all__ = ["finite_number", "finite_vector"]


def finite_number(name: str, value: Any) -> float:
    """``value`` as a finite float (booleans, strings, NaN and infinities are rejected)."""
    if isinstance(value, bool):
        raise SpecError(name, value, "must be a number, not a boolean")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SpecError(name, value, "must be a number") from None
    if not math.isfinite(out):
        raise SpecError(name, value, "must be finite (not NaN or infinite)")
    return out


def finite_vector(name: str, value: Any, length: int | None = None) -> tuple[float, ...]:
    """``value`` as a tuple of finite floats, optionally of a given length (one per slice)."""
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
        raise SpecError(name, value, "must be a list of numbers")
    out = tuple(finite_number(f"{name}[{i}]", v) for i, v in enumerate(value))
    if length is not None and len(out) != length:
        raise SpecError(name, f"{len(out)} numbers", f"must have {length} numbers (one per slice)")
    return out
