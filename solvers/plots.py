"""Plots with matplotlib's Agg backend (no display needed): trajectories, frontiers, the
cost-versus-horizon curve. Each function writes a PNG and returns its path."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .closed_form import Frontier, HorizonCurve  # noqa: E402
from .result import Result  # noqa: E402

__all__ = ["plot_results", "plot_frontier"]


def plot_results(results: Sequence[Result], path: str | Path, title: str | None = None) -> Path:
    """Holdings (top) and trades (bottom) of one or more results on shared axes."""
    path = Path(path)
    fig, (ax_x, ax_n) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, constrained_layout=True)
    first = results[0]
    names = [a.name for a in first.problem.assets]
    for r in results:
        hold = r.holdings.reshape(len(r.times), -1)
        trd = r.trades.reshape(len(r.times) - 1, -1)
        for i, name in enumerate(names):
            label = r.method if len(names) == 1 else f"{r.method} {name}"
            line, = ax_x.plot(r.times, hold[:, i], marker="o", ms=3, label=label)
            ax_n.stairs(trd[:, i], r.times, color=line.get_color(), label=label)
    ax_x.set_ylabel("holdings x_k (shares)")
    ax_n.set_ylabel("trade n_k (shares)")
    ax_n.set_xlabel("time")
    ax_x.axhline(0, color="k", lw=0.5)
    ax_n.axhline(0, color="k", lw=0.5)
    ax_x.legend(fontsize=8)
    p = first.problem
    ax_x.set_title(title or f"{p.name or 'problem'}: E = {first.expected_cost:.6g}, "
                   f"sqrt(V) = {first.std:.6g}, lambda = {p.risk_aversion:g}")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_frontier(frontier: Frontier, path: str | Path, curve: HorizonCurve | None = None,
                  marked: Result | None = None, title: str = "") -> Path:
    """Efficient frontier ``E`` against ``sqrt(V)`` and, if given, the cost-vs-horizon curve."""
    path = Path(path)
    ncols = 2 if curve is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4.5), constrained_layout=True, squeeze=False)
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
