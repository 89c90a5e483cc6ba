"""Market estimates from bars: volatility per time unit and the intraday volume profile.

Volatility (the conventions page's arithmetic model ``S_k = S_{k-1} + sigma sqrt(tau) xi_k - gamma n_k``).
Between consecutive bars ``i-1, i`` of one session the mid moves by
``dS_i = sigma sqrt(dt_i) xi_i - gamma q_i``, where ``q_i`` are our own shares traded in
the bar (sales positive). The estimator is the zero-drift maximum likelihood one,

    sigma^2_hat = (1/n) sum_i (dS_i + gamma_hat q_i)^2 / dt_i ,

in currency^2 / share^2 / time unit, with our own permanent impact taken out
(``gamma_hat = 0`` when no fills are given). Under the model ``n sigma^2_hat / sigma^2`` is
chi-square with ``n`` degrees of freedom, so the confidence interval is the exact one,
``sigma in [sqrt(n s^2 / chi2_{1-a/2}), sqrt(n s^2 / chi2_{a/2})]``; the standard error is the
delta-method ``sigma_hat / sqrt(2 n)``. Increments longer than ``max_gap`` times the median
bar spacing (gaps, halts), and those from one session to the next when the bars carry
sessions (``SessionClock``: the overnight move), are left out and counted in the diagnostics. Bid-ask
bounce in close prices biases this up: give mids.

Volume profile. With the bar spacing ``h`` (median of the time steps) and a period ``P``
(one time unit by default: a trading day when times are in days) each bar's volume is a
rate ``volume / h`` (shares / time unit) in the bucket ``floor(frac((t - h/2) / P) * B)``,
``B = round(P / h)`` buckets. The profile is the mean rate per bucket over periods (with its
standard error across periods); :meth:`VolumeProfile.market_volume` integrates this
piecewise-constant rate over the spec's slices, giving ``market_volume`` (shares per slice)
for VWAP and participation caps. The average rate ``daily_volume`` (shares / time unit) is
the normalization of the impact fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import chdtri, stdtrit

from ..errors import SpecError
from .estimate import Estimate
from .readers import Bars

__all__ = ["VolatilityFit", "VolumeProfile", "bar_spacing", "estimate_volatility", "volume_profile",
           "own_shares_per_bar"]


def bar_spacing(bars: Bars) -> float:
    """Median time between consecutive bars (time units); checks that times increase."""
    if len(bars) < 2:
        raise SpecError("bars", f"{len(bars)} rows", "need at least 2 bars")
    dt = np.diff(bars.time)
    if np.any(dt <= 0):
        i = int(np.argmax(dt <= 0))
        raise SpecError(f"bars time (line {int(bars.line[i + 1])})", float(bars.time[i + 1]),
                        f"must be later than the previous bar's time {float(bars.time[i]):g} "
                        "(bars of one symbol sorted by time, no duplicates)")
    return float(np.median(dt))


def own_shares_per_bar(bars: Bars, start: np.ndarray, duration: np.ndarray, signed_shares: np.ndarray) -> np.ndarray:
    """Our signed shares (sales positive) traded inside each bar interval ``(t_{i-1}, t_i]``.

    A child trading ``n`` shares over ``[t, t + d)`` at a constant rate is split over the bars
    in proportion to time. Returns one number per bar (the first bar gets what precedes it).
    """
    t = bars.time
    if len(start) == 0:
        return np.zeros(len(t))
    rate = signed_shares / duration
    events = np.concatenate([start, start + duration])
    jumps = np.concatenate([rate, -rate])
    order = np.argsort(events, kind="stable")
    events, jumps = events[order], jumps[order]
    level = np.cumsum(jumps)  # rate after each event
    cum = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(events))])  # F at each event
    F = np.interp(t, events, cum, left=0.0, right=cum[-1])
    return np.diff(np.concatenate([[0.0], F]))


@dataclass(frozen=True)
class VolatilityFit:
    """The volatility estimate and how it was obtained."""

    sigma: Estimate
    increments: int
    skipped_gaps: int
    spacing: float
    permanent_correction: float
    diagnostics: dict[str, Any] = field(default_factory=dict)


def estimate_volatility(bars: Bars, *, confidence: float = 0.95, own_shares: np.ndarray | None = None,
                        permanent_impact: float = 0.0, max_gap: float = 1.5, min_increments: int = 10,
                        own_moves: np.ndarray | None = None) -> VolatilityFit:
    """Realized volatility per time unit from bar mids (see the module docstring).

    Args:
        bars: one symbol, sorted by time.
        own_shares: our signed shares per bar (:func:`own_shares_per_bar`), with
            ``permanent_impact`` (gamma_hat) to take our own impact out of the increments.
        own_moves: instead of those, the mid move of each bar from the one before due to our own
            trades (currency / share; e.g. a fitted transient kernel's), taken out of the increments.
        max_gap: increments longer than ``max_gap * median spacing`` are skipped.
        min_increments: fewer usable increments than this is "not identified".
    """
    units = "currency/share/sqrt(time)"
    method = "zero-drift realized variance of bar mids, exact chi-square interval"
    h = bar_spacing(bars)
    dt = np.diff(bars.time)
    dS = np.diff(bars.mid)
    if own_moves is not None:
        dS = dS - np.asarray(own_moves, dtype=np.float64)[1:]
    elif own_shares is not None and permanent_impact:
        dS = dS + permanent_impact * own_shares[1:]
    keep = (dt <= max_gap * h * (1 + 1e-9)) & ~bars.sessions_break()
    n = int(keep.sum())
    skipped = int((~keep).sum())
    if n < min_increments:
        est = Estimate.not_identified("volatility", f"{n} usable bar increments (need >= {min_increments})",
                                      units, method, confidence)
        return VolatilityFit(est, n, skipped, h, permanent_impact)
    z = dS[keep] ** 2 / dt[keep]
    s2 = float(z.mean())
    a = 1 - confidence
    lo = math.sqrt(n * s2 / chdtri(n, a / 2))
    hi = math.sqrt(n * s2 / chdtri(n, 1 - a / 2))
    sigma = math.sqrt(s2)
    est = Estimate("volatility", sigma, sigma / math.sqrt(2 * n), lo, hi, confidence, units, method)
    # a kurtosis check: Gaussian increments have E[z^2] / E[z]^2 = 3
    kurt = float((z**2).mean() / s2**2) if s2 > 0 else float("nan")
    return VolatilityFit(est, n, skipped, h, permanent_impact, {"kurtosis_ratio": kurt, "variance": s2})


@dataclass(frozen=True)
class VolumeProfile:
    """Mean market volume rate (shares / time unit) in ``B`` buckets of one period.

    ``rate[j]`` is the mean over periods of the volume rate in bucket ``j`` (times
    ``[j P / B, (j + 1) P / B)`` from the start of a period); ``std_error[j]`` its standard
    error across periods; ``counts[j]`` how many bars fell in it.
    """

    rate: np.ndarray
    std_error: np.ndarray
    counts: np.ndarray
    period: float
    daily_volume: Estimate

    @property
    def buckets(self) -> int:
        return int(self.rate.shape[0])

    @property
    def identified(self) -> bool:
        return bool(np.all(self.counts > 0))

    @property
    def shape(self) -> np.ndarray:
        """The profile as fractions of a period's volume (sums to 1)."""
        return self.rate / self.rate.sum()

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        """Expected market volume from a period's start to ``t`` (shares), periodic."""
        t = np.asarray(t, dtype=np.float64)
        width = self.period / self.buckets
        edges = np.concatenate([[0.0], np.cumsum(self.rate * width)])
        whole, frac = np.divmod(t, self.period)
        return whole * edges[-1] + np.interp(frac, np.linspace(0.0, self.period, self.buckets + 1), edges)

    def market_volume(self, horizon: float, slices: int, start: float = 0.0) -> np.ndarray:
        """Shares the market trades in each of the spec's ``slices`` slices of ``[start, start + horizon]``."""
        if not self.identified:
            empty = int(np.argmax(self.counts == 0))
            raise SpecError("volume profile", f"bucket {empty}", "has no bars: the profile is not identified")
        t = start + horizon * np.arange(slices + 1) / slices
        return np.diff(self.cumulative(t))


def volume_profile(bars: Bars, *, period: float = 1.0, confidence: float = 0.95) -> VolumeProfile:
    """The intraday volume profile and the average volume rate (see the module docstring)."""
    if not period > 0:
        raise SpecError("period", period, "must be > 0")
    h = bar_spacing(bars)
    B = max(1, int(round(period / h)))
    mid_time = bars.time - h / 2
    bucket = np.floor(np.mod(mid_time / period, 1.0) * B).astype(np.int64) % B
    which = np.floor(mid_time / period).astype(np.int64)
    rate = bars.volume / h
    counts = np.bincount(bucket, minlength=B)
    sums = np.bincount(bucket, weights=rate, minlength=B)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        sq = np.bincount(bucket, weights=(rate - mean[bucket]) ** 2, minlength=B)
        se = np.where(counts > 1, np.sqrt(sq / np.maximum(counts - 1, 1) / np.maximum(counts, 1)), np.nan)
    units = "shares/time"
    method = "mean volume per period, t interval across periods"
    periods, idx = np.unique(which, return_inverse=True)
    per_period = np.bincount(idx, weights=bars.volume) / np.maximum(np.bincount(idx, minlength=len(periods)) * h, 1e-300)
    # per_period: each period's mean volume rate over the bars it has
    p = len(periods)
    mean_rate = float(bars.volume.sum() / (len(bars) * h))
    if p >= 2:
        se_rate = float(per_period.std(ddof=1) / math.sqrt(p))
        t = stdtrit(p - 1, 0.5 + confidence / 2)
        daily = Estimate("daily_volume", mean_rate, se_rate, mean_rate - t * se_rate, mean_rate + t * se_rate,
                         confidence, units, method)
    else:
        daily = Estimate("daily_volume", mean_rate, float("nan"), float("nan"), float("nan"), confidence, units,
                         method + " (one period: no interval)")
    return VolumeProfile(mean, se, counts, period, daily)
