"""Intraday profiles: the shapes a trading day gives volume, volatility, spread and impact.

Entry points: :func:`u_shaped_volume`, :func:`intraday_volatility`, :func:`intraday_spread`,
:func:`volume_scaled_impact` and :func:`intraday_profile` (all four on one grid of ``N`` slices
of a session, slice ``k`` centred at ``u_k = (k - 1/2) / N``). Shapes are normalised so that
their mean over the session is the level passed in; the impact scaling is
``eta_k = eta (mean volume / volume_k)^c``. Sources: the U-shaped volume and volatility of a
session (Jain & Joh 1988; Wood, McInish & Ord 1985; Andersen & Bollerslev 1997), the wider spread
at the open (McInish & Wood 1992), impact falling with traded volume (Almgren, Thum, Hauptmann &
Li 2005). The parameters are illustrative defaults, not estimates for any market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpecError

__all__ = ["u_shaped_volume", "intraday_volatility", "intraday_spread", "volume_scaled_impact",
           "IntradayProfile", "intraday_profile", "session_points"]


def session_points(slices: int) -> np.ndarray:
    """``u_k = (k - 1/2) / N``, k = 1..N: the middle of each slice as a fraction of the session."""
    if isinstance(slices, bool) or not isinstance(slices, (int, np.integer)) or slices < 1:
        raise SpecError("slices", slices, "must be an integer >= 1")
    return (np.arange(int(slices)) + 0.5) / int(slices)


def _u_shape(u: np.ndarray, open_excess: float, close_excess: float, width: float) -> np.ndarray:
    """``1 + a exp(-u / w) + b exp(-(1 - u) / w)``, scaled to mean 1 (dimensionless)."""
    for name, v in (("open_excess", open_excess), ("close_excess", close_excess)):
        if not np.isfinite(v) or v < 0:
            raise SpecError(name, v, "must be >= 0 (how far the open or close rises above midday)")
    if not np.isfinite(width) or width <= 0:
        raise SpecError("width", width, "must be > 0 (a fraction of the session)")
    shape = 1.0 + open_excess * np.exp(-u / width) + close_excess * np.exp(-(1.0 - u) / width)
    return shape / shape.mean()


def u_shaped_volume(slices: int, daily_volume: float, *, open_excess: float = 2.0, close_excess: float = 3.0,
                    width: float = 0.08) -> np.ndarray:
    """Market volume per slice (shares; sums to ``daily_volume``): heavy at the open and heavier
    into the close, ``m_k ~ 1 + a exp(-u_k / w) + b exp(-(1 - u_k) / w)``."""
    if not np.isfinite(daily_volume) or daily_volume <= 0:
        raise SpecError("daily_volume", daily_volume, "must be > 0 (shares)")
    shape = _u_shape(session_points(slices), open_excess, close_excess, width)
    return daily_volume * shape / shape.sum()


def intraday_volatility(slices: int, level: float, *, open_excess: float = 1.0, close_excess: float = 0.3,
                        width: float = 0.1) -> np.ndarray:
    """``sigma_k`` (currency / share / sqrt(time)) with mean ``level``: high after the open,
    lowest at midday, rising a little into the close."""
    if not np.isfinite(level) or level < 0:
        raise SpecError("level", level, "must be >= 0")
    return level * _u_shape(session_points(slices), open_excess, close_excess, width)


def intraday_spread(slices: int, level: float, *, open_excess: float = 2.0, width: float = 0.1) -> np.ndarray:
    """Half spread ``epsilon_k`` (currency / share) with mean ``level``: wide at the open,
    narrowing through the day (a reverse J)."""
    if not np.isfinite(level) or level < 0:
        raise SpecError("level", level, "must be >= 0")
    return level * _u_shape(session_points(slices), open_excess, 0.0, width)


def volume_scaled_impact(eta: float, volume: np.ndarray, exponent: float = 0.6) -> np.ndarray:
    """``eta_k = eta (mean(volume) / volume_k)^c``: cheaper to trade when the market trades more
    (``c = exponent``; same units as ``eta``)."""
    vol = np.asarray(volume, dtype=np.float64)
    if vol.ndim != 1 or vol.size == 0 or not np.all(np.isfinite(vol)) or np.any(vol <= 0):
        raise SpecError("volume", "profile", "must be a list of positive numbers (shares per slice)")
    if not np.isfinite(exponent) or exponent < 0:
        raise SpecError("exponent", exponent, "must be >= 0")
    return eta * (vol.mean() / vol) ** exponent


@dataclass(frozen=True)
class IntradayProfile:
    """One session on ``N`` slices: ``volume`` (shares per slice), ``volatility`` ``sigma_k``,
    ``spread`` ``epsilon_k`` and ``temporary_impact`` ``eta_k`` (numpy arrays of length N)."""

    volume: np.ndarray
    volatility: np.ndarray
    spread: np.ndarray
    temporary_impact: np.ndarray


def intraday_profile(slices: int, *, daily_volume: float, volatility: float, spread: float, eta: float,
                     impact_exponent: float = 0.6) -> IntradayProfile:
    """The default shapes above on one grid: the profile of the bundled ``intraday-u-shape`` spec."""
    volume = u_shaped_volume(slices, daily_volume)
    return IntradayProfile(volume=volume, volatility=intraday_volatility(slices, volatility),
                           spread=intraday_spread(slices, spread),
                           temporary_impact=volume_scaled_impact(eta, volume, impact_exponent))
