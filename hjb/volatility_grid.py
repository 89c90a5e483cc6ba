"""The one volatility grid of the dynamic layer: uniform nodes covering ``E[sigma(t)] +- k sd(sigma(t))``.

Both the HJB's ``s`` grid (settings ``vol_points``, ``coverage_sds``, ``vol_bounds``) and the
backward induction's Markov chain (settings ``vol_states``, ``vol_width``) are built here: the
band of the model's exact first two moments over ``t in [0, T]``, widened to contain
``sigma_0``, clipped at 0 when the model keeps ``sigma >= 0`` (elasticity ``p > 0``), with
``sigma_0`` exactly on a node. Units: volatility (currency / share / sqrt(time unit)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.volatility import MeanRevertingVolatility

__all__ = ["MomentBand", "VolatilityNodes", "moment_band", "uniform_nodes", "covering_grid"]

#: times sampled over ``[0, T]`` for the band (plus any the caller adds)
BAND_SAMPLES = 65


@dataclass(frozen=True)
class MomentBand:
    """``E[sigma(t)]`` and ``sd(sigma(t))`` at ``times`` (sorted, from 0 to ``T``)."""

    times: np.ndarray
    mean: np.ndarray
    sd: np.ndarray

    def bounds(self, width: float, sigma0: float) -> tuple[float, float]:
        """``(min_t E - width sd, max_t E + width sd)``, widened to contain ``sigma0``."""
        lo = float(np.min(self.mean - width * self.sd))
        hi = float(np.max(self.mean + width * self.sd))
        return min(lo, sigma0), max(hi, sigma0)

    def coverage(self, nodes: np.ndarray, nonnegative: bool) -> tuple[float, int]:
        """How many sd the nodes cover at the worst sampled time, and that time's index. When
        ``sigma >= 0`` (``nonnegative``) a grid reaching within one spacing of 0 covers the lower tail."""
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(self.sd > 0, (nodes[-1] - self.mean) / self.sd, np.inf)
            down = np.where(self.sd > 0, (self.mean - nodes[0]) / self.sd, np.inf)
        if nonnegative and nodes[0] <= nodes[1] - nodes[0]:
            down = np.full_like(down, np.inf)
        worst = np.minimum(up, down)
        return float(worst.min()), int(np.argmin(worst))


@dataclass(frozen=True)
class VolatilityNodes:
    """Uniform nodes (``sigma_0`` exactly at ``start_index``) and the band they were built from."""

    nodes: np.ndarray
    start_index: int
    band: MomentBand

    @property
    def spacing(self) -> float:
        return float(self.nodes[1] - self.nodes[0])


def moment_band(model: MeanRevertingVolatility, sigma0: float, horizon: float,
                extra_times: np.ndarray | None = None) -> MomentBand:
    """The model's exact ``E[sigma(t)]`` and ``sd(sigma(t))`` on ``BAND_SAMPLES`` times over
    ``[0, horizon]`` (and ``extra_times``, e.g. the slice starts)."""
    times = np.linspace(0.0, horizon, BAND_SAMPLES)
    if extra_times is not None:
        times = np.union1d(np.asarray(extra_times, dtype=np.float64), times)
    m1, m2 = model.moments(sigma0, times)
    return MomentBand(times=times, mean=m1, sd=np.sqrt(np.maximum(m2 - m1**2, 0.0)))


def uniform_nodes(lo: float, hi: float, sigma0: float, points: int) -> tuple[np.ndarray, int]:
    """``points`` nodes of spacing ``(hi - lo) / (points - 1)``, shifted by less than half a
    spacing so that ``sigma0`` is a node: ``(nodes, index of sigma0)``."""
    ds = (hi - lo) / (points - 1)
    j0 = min(max(int(round((sigma0 - lo) / ds)), 0), points - 1)
    nodes = sigma0 + ds * (np.arange(points) - j0)
    nodes[j0] = sigma0
    return nodes, j0


def covering_grid(model: MeanRevertingVolatility, sigma0: float, horizon: float, *, points: int, width: float,
                  margin: float = 0.0, bounds: tuple[float, float] | None = None,
                  extra_times: np.ndarray | None = None, drop_nonpositive: bool = False) -> VolatilityNodes:
    """Uniform volatility nodes covering ``E[sigma(t)] +- width sd(sigma(t))`` on ``[0, horizon]``.

    Args:
        points: number of nodes (before ``drop_nonpositive``).
        width: the band's half-width in standard deviations (``coverage_sds`` / ``vol_width``).
        margin: extra room on both sides, as a fraction of the band plus 1e-3 of the volatility
            scale (0: none).
        bounds: ``(lo, hi)`` given by the user instead of the band (then ``width`` is unused).
        extra_times: more times for the band (the chain adds the slice starts).
        drop_nonpositive: remove nodes ``<= 0`` when the model keeps ``sigma > 0`` (the chain).
    """
    band = moment_band(model, sigma0, horizon, extra_times)
    positive = model.elasticity > 0
    if bounds is None:
        lo, hi = band.bounds(width, sigma0)
        if margin > 0:
            pad = margin * (hi - lo) + 1e-3 * max(abs(sigma0), abs(model.mean), 1e-12)
            lo, hi = lo - pad, hi + pad
        if positive:
            lo = max(lo, 0.0)
    else:
        lo, hi = bounds
    nodes, j0 = uniform_nodes(lo, hi, sigma0, points)
    if drop_nonpositive and positive:
        keep = nodes > 0
        j0 -= int(np.sum(~keep[:j0]))
        nodes = nodes[keep]
    return VolatilityNodes(nodes=nodes, start_index=j0, band=band)
