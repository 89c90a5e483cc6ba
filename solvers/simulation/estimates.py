"""Monte Carlo statistics: :class:`MonteCarloEstimate` (a value and its standard error),
:func:`sample_statistics` (mean, variance, std, VaR, CVaR of cost samples) and
:class:`Difference` (a paired difference on common random numbers).

Statistics come from independent units (paths, or antithetic pairs); the standard error of a
mean is floored at ``ROUNDING_RTOL`` of its magnitude. VaR's standard error uses Siddiqui's
sparsity estimate at the Hall-Sheather bandwidth; CVaR is ``q + E[(C - q)^+] / (1 - alpha)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.special import ndtri

from ..errors import SpecError

__all__ = [
    "MonteCarloEstimate", "Difference", "sample_statistics", "unit_means", "standard_error", "ROUNDING_RTOL",
]

#: relative floating-point floor on the standard error of a mean: when the statistical error
#: vanishes (antithetic pairs of a static linear cost, identical strategies on common paths) the
#: estimate still carries float64 rounding of sums of O(N) terms
ROUNDING_RTOL = 1e-13


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte Carlo estimate with its standard error (same units as the value)."""

    value: float
    se: float

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Two-sided normal confidence interval ``value -/+ z se``, ``z = Phi^-1(1/2 + level/2)``."""
        z = float(ndtri(0.5 + level / 2))
        return (self.value - z * self.se, self.value + z * self.se)

    def contains(self, truth: float, z: float = 4.0) -> bool:
        """``|value - truth| <= z se``."""
        return abs(self.value - truth) <= z * self.se

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se}

    def __format__(self, spec: str) -> str:
        spec = spec or ".6g"
        return f"{format(self.value, spec)} +/- {format(self.se, '.2g')}"


@dataclass(frozen=True)
class Difference:
    """``a - b`` of a per-path quantity on common random numbers, with its standard error."""

    quantity: str
    a: str
    b: str
    estimate: MonteCarloEstimate

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.estimate.ci()
        return {"quantity": self.quantity, "a": self.a, "b": self.b, **self.estimate.to_dict(), "ci95": [lo, hi]}


def unit_means(values: np.ndarray, unit: int) -> np.ndarray:
    """Per-unit averages (a unit is one path, or one antithetic pair of adjacent paths)."""
    return values.reshape(-1, unit).mean(axis=1)


def standard_error(unit_values: np.ndarray, scale: float | None = None) -> float:
    """Standard error of the mean of independent units, ``std / sqrt(n)``, floored by
    ``ROUNDING_RTOL * scale`` (``scale`` defaults to the mean's magnitude)."""
    n = unit_values.shape[0]
    if n < 2:
        return math.inf
    stat = float(np.std(unit_values, ddof=1) / math.sqrt(n))
    ref = abs(float(unit_values.mean())) if scale is None else scale
    return math.hypot(stat, ROUNDING_RTOL * ref)


def _hall_sheather(n: int, alpha: float) -> float:
    """Hall-Sheather (1988) bandwidth for the sparsity estimate at quantile ``alpha``."""
    z = float(ndtri(alpha))
    zc = float(ndtri(0.975))
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return n ** (-1.0 / 3.0) * zc ** (2.0 / 3.0) * (1.5 * density**2 / (2 * z * z + 1)) ** (1.0 / 3.0)


def sample_statistics(cost: np.ndarray, levels: Sequence[float] = (0.95, 0.99), unit: int = 1) -> dict[str, Any]:
    """Mean, variance, std, VaR and CVaR of cost samples, each a :class:`MonteCarloEstimate`.

    Args:
        cost: samples (currency); with ``unit = 2`` adjacent pairs are antithetic partners.
        levels: VaR / CVaR confidence levels in (0, 1) (cost is a loss: high is bad).
        unit: 1 for independent paths, 2 for antithetic pairs.
    """
    c = np.asarray(cost, dtype=np.float64)
    n = c.shape[0]
    if n < 2 * unit or n % unit:
        raise SpecError("paths", n, f"need at least {2 * unit} samples in whole units of {unit}")
    mean_u = unit_means(c, unit)
    mean = float(mean_u.mean())
    dev2 = unit_means((c - mean) ** 2, unit)
    var = float(dev2.mean()) * n / (n - 1)
    var_se = standard_error(dev2, 0.0)
    std = math.sqrt(var)
    out: dict[str, Any] = {
        "mean": MonteCarloEstimate(mean, standard_error(mean_u)),
        "variance": MonteCarloEstimate(var, var_se),
        "std": MonteCarloEstimate(std, var_se / (2 * std) if std > 0 else 0.0),
        "var": {},
        "cvar": {},
    }
    for alpha in levels:
        alpha = float(alpha)
        if not 0 < alpha < 1:
            raise SpecError("levels", alpha, "VaR levels must be in (0, 1)")
        q = float(np.quantile(c, alpha))
        h = min(_hall_sheather(n, alpha), 0.5 * min(alpha, 1 - alpha))
        lo, hi = np.quantile(c, [alpha - h, alpha + h])
        sparsity = float(hi - lo) / (2 * h)
        below = unit_means((c <= q).astype(np.float64), unit)
        out["var"][alpha] = MonteCarloEstimate(q, standard_error(below, 0.0) * sparsity)
        tail = q + unit_means(np.maximum(c - q, 0.0), unit) / (1 - alpha)
        out["cvar"][alpha] = MonteCarloEstimate(float(tail.mean()), standard_error(tail))
    return out
