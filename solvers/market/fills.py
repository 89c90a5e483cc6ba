"""The fill model: how much of a slice's order the market lets through.

A slice with order ``n_k`` executes ``sign(n_k) min(F_k |n_k|, p V_k)`` shares: ``F_k ~ Beta(f c,
(1 - f) c)`` (mean ``f`` = ``fill_rate``, ``F = 1`` when ``f = 1``) and a cap ``p`` =
``fill_participation`` on the realized volume ``V_k`` (:mod:`solvers.market.volume`). The
unfilled part stays in holdings; what is left at ``t_N`` is sold in one final block at its
temporary-impact cost (the conventions page). Entry point :func:`market_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpecError
from .volume import VolumeModel

__all__ = ["FillModel", "MarketDraws", "MarketModel", "market_model"]


@dataclass(frozen=True)
class FillModel:
    """Random fill fraction and participation cap (see the module docstring)."""

    participation: float | None = None
    rate: float = 1.0
    concentration: float = 20.0

    @property
    def random_fraction(self) -> bool:
        return self.rate < 1.0

    @property
    def partial(self) -> bool:
        """True when a slice may fill less than its order."""
        return self.participation is not None or self.random_fraction

    def beta_parameters(self) -> tuple[float, float]:
        return self.rate * self.concentration, (1.0 - self.rate) * self.concentration

    def fraction_quadrature(self, points: int) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Jacobi nodes and weights (summing to 1) of ``F`` (one node ``F = 1`` for full fills)."""
        if not self.random_fraction:
            return np.ones(1), np.ones(1)
        from scipy.special import roots_jacobi

        a, b = self.beta_parameters()
        t, w = roots_jacobi(int(points), b - 1.0, a - 1.0)
        return 0.5 * (1.0 + t), w / w.sum()


@dataclass
class MarketDraws:
    """One block's market randomness: volume log deviations ``z`` and fill fractions ``F``,
    each ``(paths, N)`` (None when deterministic)."""

    z: np.ndarray | None
    fraction: np.ndarray | None

    def take(self, rows: slice | np.ndarray) -> "MarketDraws":
        return MarketDraws(None if self.z is None else self.z[rows],
                           None if self.fraction is None else self.fraction[rows])

    def repeat(self, times: int) -> "MarketDraws":
        """Each path ``times`` times in a row (antithetic pairs share the market)."""
        return MarketDraws(None if self.z is None else np.repeat(self.z, times, axis=0),
                           None if self.fraction is None else np.repeat(self.fraction, times, axis=0))


@dataclass(frozen=True)
class MarketModel:
    """Volume and fills of one asset over ``N`` slices."""

    volume: VolumeModel
    fills: FillModel
    slices: int

    @property
    def active(self) -> bool:
        """False for the defaults (full fills, deterministic volume): the simulator then runs
        exactly as without a market model."""
        return self.fills.partial or self.volume.stochastic

    def draw(self, rng: np.random.Generator, paths: int) -> MarketDraws:
        """The block's draws, after the price and volatility draws of the same stream."""
        n = self.slices
        z = self.volume.log_deviations(rng.standard_normal((paths, n))) if self.volume.stochastic else None
        frac = None
        if self.fills.random_fraction:
            a, b = self.fills.beta_parameters()
            frac = rng.beta(a, b, (paths, n))
        return MarketDraws(z, frac)

    def cap(self, k: int, z: np.ndarray | float) -> np.ndarray | float:
        """``p V_k`` (shares), inf without a participation cap."""
        if self.fills.participation is None:
            return np.inf
        return self.fills.participation * self.volume.volume(k, z)

    def execute(self, k: int, ordered: np.ndarray, draws: MarketDraws) -> np.ndarray:
        """Executed shares of slice ``k`` for the orders ``ordered`` (signed, shape (paths,))."""
        ordered = np.asarray(ordered, dtype=np.float64)
        if not self.fills.partial:
            return ordered
        amount = np.abs(ordered)
        if draws.fraction is not None:
            amount = amount * draws.fraction[:, k - 1]
        if self.fills.participation is not None:
            z = 0.0 if draws.z is None else draws.z[:, k - 1]
            amount = np.minimum(amount, self.cap(k, z))
        return np.sign(ordered) * amount

    def volume_state(self, k: int, draws: MarketDraws, paths: int) -> np.ndarray:
        """``z_{k-1}`` seen before slice ``k`` (zeros at ``k = 1`` or without random volume)."""
        if draws.z is None or k == 1:
            return np.zeros(paths)
        return draws.z[:, k - 2]


def market_model(problem: Any) -> MarketModel:
    """The market model of a spec (its first asset's keys; a basket must keep the defaults)."""
    for i, a in enumerate(problem.assets[1:], start=1):
        if a.fill_participation is not None or a.fill_rate < 1 or a.volume_volatility > 0:
            raise SpecError(f"assets[{i}].fill_participation", a.fill_participation,
                            "volume and fill models are for a single asset")
    a = problem.assets[0]
    if problem.is_basket and (a.fill_participation is not None or a.fill_rate < 1 or a.volume_volatility > 0):
        raise SpecError("assets[0].fill_participation", a.fill_participation, "volume and fill models are for a single asset")
    profile = None if a.market_volume is None else np.asarray(a.market_volume, dtype=np.float64)
    return MarketModel(VolumeModel(profile, a.volume_volatility, a.volume_autocorrelation),
                       FillModel(a.fill_participation, a.fill_rate, a.fill_concentration), problem.slices)
