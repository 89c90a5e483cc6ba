"""Random market volume per slice: log-normal around the profile with AR(1) log deviations.

``V_k = m_k exp(z_k - s^2 / 2)`` (shares per slice), ``m_k`` the spec's ``market_volume``, so
``E[V_k] = m_k``; ``z_1 = s e_1``, ``z_k = phi z_{k-1} + s sqrt(1 - phi^2) e_k``, ``e ~ N(0, 1)``:
stationary with ``sd(z_k) = s`` and ``corr(z_k, z_{k+1}) = phi``. Keys ``volume_volatility`` (s)
and ``volume_autocorrelation`` (phi).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["VolumeModel"]


@dataclass(frozen=True)
class VolumeModel:
    """Log-normal AR(1) volume around a profile (see the module docstring).

    Attributes:
        profile: ``m_k``, k = 1..N (shares per slice), or None (no volume in the spec).
        volatility: ``s >= 0``; autocorrelation: ``phi`` in (-1, 1).
    """

    profile: np.ndarray | None
    volatility: float = 0.0
    autocorrelation: float = 0.0

    @property
    def stochastic(self) -> bool:
        """True when the volume is random (``s > 0``)."""
        return self.profile is not None and self.volatility > 0

    @property
    def persistent(self) -> bool:
        """True when the last volume informs the next (``s > 0`` and ``phi != 0``)."""
        return self.stochastic and self.autocorrelation != 0

    def innovation_sd(self, k: int) -> float:
        """Standard deviation of ``z_k`` given ``z_{k-1}`` (``s`` for ``k = 1``)."""
        s, phi = self.volatility, self.autocorrelation
        return s if k == 1 else s * math.sqrt(1.0 - phi * phi)

    def conditional_mean(self, k: int, previous: np.ndarray) -> np.ndarray:
        """``E[z_k | z_{k-1}]``: ``phi z_{k-1}`` (0 for ``k = 1``)."""
        previous = np.asarray(previous, dtype=np.float64)
        return np.zeros_like(previous) if k == 1 else self.autocorrelation * previous

    def log_deviations(self, shocks: np.ndarray) -> np.ndarray:
        """``z`` of shape ``(paths, N)`` from standard normal ``shocks`` of the same shape."""
        z = np.empty_like(shocks)
        if not self.stochastic:
            z[:] = 0.0
            return z
        z[:, 0] = self.volatility * shocks[:, 0]
        root = self.innovation_sd(2)
        for k in range(1, shocks.shape[1]):
            z[:, k] = self.autocorrelation * z[:, k - 1] + root * shocks[:, k]
        return z

    def volume(self, k: int, z: np.ndarray) -> np.ndarray:
        """``V_k`` (shares) of slice ``k`` (1..N) at log deviations ``z``."""
        m = float(self.profile[k - 1])
        if not self.stochastic:
            return np.full(np.shape(z), m)
        s = self.volatility
        return m * np.exp(np.asarray(z) - 0.5 * s * s)

    def expected_volume(self, k: int, previous: np.ndarray) -> np.ndarray:
        """``E[V_k | z_{k-1}]`` (shares): ``m_k exp(E[z_k | z_{k-1}] + sd^2/2 - s^2/2)``."""
        mean = self.conditional_mean(k, previous)
        sd, s = self.innovation_sd(k), self.volatility
        return float(self.profile[k - 1]) * np.exp(mean + 0.5 * sd * sd - 0.5 * s * s)
