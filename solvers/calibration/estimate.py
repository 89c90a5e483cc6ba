"""One estimated parameter with its uncertainty and its identification verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Estimate", "NotIdentifiedError"]

from ..errors import OptexecError


class NotIdentifiedError(OptexecError):
    """The data cannot pin down a parameter (too few points, no spread, no signal)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"not identified: {name} ({reason})")


@dataclass(frozen=True)
class Estimate:
    """A parameter estimate in the spec's units.

    Attributes:
        name: the spec's key (``volatility``, ``temporary_impact``, ...).
        value: the point estimate (NaN when not identified).
        std_error: its standard error (same units; NaN when not available).
        ci_low, ci_high: the two-sided confidence interval at ``confidence``.
        confidence: nominal coverage of the interval (e.g. 0.95).
        units: text, e.g. ``currency/share/sqrt(time)``.
        method: how it was estimated (estimator and interval), in a few words.
        identified: False when the data cannot determine it; ``reason`` says why.
    """

    name: str
    value: float
    std_error: float
    ci_low: float
    ci_high: float
    confidence: float
    units: str
    method: str
    identified: bool = True
    reason: str = ""

    @classmethod
    def not_identified(cls, name: str, reason: str, units: str, method: str, confidence: float) -> "Estimate":
        nan = float("nan")
        return cls(name, nan, nan, nan, nan, confidence, units, method, False, reason)

    def covers(self, truth: float) -> bool:
        """True when ``ci_low <= truth <= ci_high`` (False when not identified)."""
        return self.identified and self.ci_low <= truth <= self.ci_high

    def require(self) -> float:
        """The value, or :class:`NotIdentifiedError` when it is not identified."""
        if not self.identified:
            raise NotIdentifiedError(self.name, self.reason)
        return self.value

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("value", "std_error", "ci_low", "ci_high"):
            if isinstance(out[key], float) and not math.isfinite(out[key]):
                out[key] = None
        return out

    def __str__(self) -> str:
        if not self.identified:
            return f"{self.name}: not identified ({self.reason})"
        return (f"{self.name} = {self.value:.6g} +/- {self.std_error:.3g} "
                f"[{100 * self.confidence:g}% CI {self.ci_low:.6g} .. {self.ci_high:.6g}] {self.units}")
