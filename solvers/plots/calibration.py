"""The calibration's picture: fitted impact curve over the data, its residuals, the
permanent-impact regression and the intraday volume profile (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .figure import save, subplots

if TYPE_CHECKING:  # the calibration package reads data with pandas: not loaded to draw
    from ..calibration import Calibration

__all__ = ["plot_calibration"]


def _binned(x: np.ndarray, y: np.ndarray, bins: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    edges = np.geomspace(x.min(), x.max() * (1 + 1e-12), bins + 1)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    cnt = np.bincount(which, minlength=bins)
    ok = cnt > 1
    mean = np.bincount(which, weights=y, minlength=bins)[ok] / cnt[ok]
    sq = np.bincount(which, weights=y**2, minlength=bins)[ok] / cnt[ok]
    se = np.sqrt(np.maximum(sq - mean**2, 0) / (cnt[ok] - 1))
    return np.sqrt(edges[:-1] * edges[1:])[ok], mean, se


def plot_calibration(cal: Calibration, path: str | Path) -> Path:
    """Write a 2 x 2 figure: impact fit, residuals, permanent impact, volume profile."""
    from matplotlib.ticker import NullFormatter

    path = Path(path)
    t = cal.temporary
    fig, axes = subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    ax = axes[0, 0]
    x, y = t.participation, t.normalized_cost
    ax.scatter(x, y, s=4, alpha=0.25, color="0.5", label="child orders")
    bx, by, bse = _binned(x, y)
    ax.errorbar(bx, by, yerr=1.96 * bse, fmt="o", color="k", ms=4, label="binned mean, 95%")
    if t.identified:
        grid = np.geomspace(x.min(), x.max(), 200)
        ax.plot(grid, t.curve(grid), color="C3", lw=2,
                label=f"fit: eps/sigma + eta_A x^beta, beta = {t.impact_exponent.value:.3f}")
        title = (f"temporary impact: eta_A = {t.eta_athl:.3g}, beta = {t.impact_exponent.value:.3f} "
                 f"+/- {t.impact_exponent.std_error:.2g}")
    else:
        title = f"temporary impact NOT identified: {t.reason}"
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("participation x = |v| / V")
    ax.set_ylabel("slippage / sigma (sqrt(time))")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    if t.identified:
        r = y - t.fitted
        ax.scatter(x, r, s=4, alpha=0.3, color="C0")
        rx, ry, rse = _binned(x, r)
        ax.errorbar(rx, ry, yerr=1.96 * rse, fmt="o", color="k", ms=4, label="binned mean, 95%")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(f"residuals (sd {np.std(r):.3g})", fontsize=9)
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no fit: no residuals", ha="center", va="center", transform=ax.transAxes)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("participation x = |v| / V")
    ax.set_ylabel("residual (sigma units)")

    ax = axes[1, 0]
    p = cal.permanent
    ax.scatter(p.size, p.move, s=10, color="C2", label="parent orders")
    g = p.permanent_impact
    if g.identified and len(p.size):
        grid = np.linspace(0, p.size.max(), 50)
        ax.plot(grid, g.value * grid, color="C3", label=f"gamma = {g.value:.3g}")
        ax.fill_between(grid, g.ci_low * grid, g.ci_high * grid, color="C3", alpha=0.2,
                        label=f"{100 * g.confidence:g}% interval")
        ax.set_title("permanent impact: side (S_0 - S_end) against |X|", fontsize=9)
    else:
        ax.set_title(f"permanent impact NOT identified: {g.reason}", fontsize=9)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("parent size |X| (shares)")
    ax.set_ylabel("price move against us (currency/share)")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    prof = cal.profile
    edges = np.linspace(0, prof.period, prof.buckets + 1)
    ax.stairs(prof.rate, edges, color="C1", label="mean volume rate")
    centers = 0.5 * (edges[1:] + edges[:-1])
    ax.errorbar(centers, prof.rate, yerr=1.96 * np.nan_to_num(prof.std_error), fmt="none", color="k", lw=0.8)
    ax.axhline(prof.daily_volume.value, color="k", ls="--", lw=0.8, label="average V")
    ax.set_xlabel("time within the period")
    ax.set_ylabel("market volume (shares / time)")
    ax.set_title(f"intraday volume profile; sigma = {cal.volatility.sigma.value:.4g}", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(f"calibration of {cal.symbol}", fontsize=11)
    return save(fig, path)
