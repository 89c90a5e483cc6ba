"""Holdings and trades of one or more results (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..result import Result
from .figure import save, subplots

__all__ = ["plot_results"]


def plot_results(results: Sequence[Result], path: str | Path, title: str | None = None) -> Path:
    """Holdings (top) and trades (bottom) of one or more results on shared axes."""
    path = Path(path)
    fig, (ax_x, ax_n) = subplots(2, 1, figsize=(8, 6.5), sharex=True, constrained_layout=True)
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
    return save(fig, path)
