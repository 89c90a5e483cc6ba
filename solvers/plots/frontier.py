"""The efficient frontier ``E`` against ``sqrt(V)`` and the cost-versus-horizon curve (PNG)."""

from __future__ import annotations

from pathlib import Path

from ..frontier import Frontier, HorizonCurve
from ..result import Result
from .figure import save, subplots

__all__ = ["plot_frontier"]


def plot_frontier(frontier: Frontier, path: str | Path, curve: HorizonCurve | None = None,
                  marked: Result | None = None, title: str = "") -> Path:
    """Efficient frontier ``E`` against ``sqrt(V)`` and, if given, the cost-vs-horizon curve."""
    path = Path(path)
    ncols = 2 if curve is not None else 1
    fig, axes = subplots(1, ncols, figsize=(6 * ncols, 4.5), constrained_layout=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot(frontier.std, frontier.expected_cost, "-", lw=2, label="efficient frontier")
    if marked is not None:
        ax.plot([marked.std], [marked.expected_cost], "o", color="C3",
                label=f"lambda = {marked.problem.risk_aversion:g}")
    ax.set_xlabel("std of cost sqrt(V)")
    ax.set_ylabel("expected cost E")
    ax.set_title(title or "efficient frontier")
    ax.legend(fontsize=8)
    if curve is not None:
        ax2 = axes[0, 1]
        ax2.plot(curve.horizons, curve.twap_objective, "o-", ms=3, label="TWAP")
        ax2.plot(curve.horizons, curve.optimal_objective, "s-", ms=3, label="optimal")
        ax2.axvline(curve.best_horizon, color="C3", ls="--", lw=1,
                    label=f"TWAP minimum at T = {curve.best_horizon:g}")
        ax2.set_xlabel("horizon T (slice length fixed)")
        ax2.set_ylabel("E + lambda V")
        ax2.set_title("cost against horizon")
        ax2.legend(fontsize=8)
    return save(fig, path)
