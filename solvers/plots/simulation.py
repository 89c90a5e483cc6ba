"""Monte Carlo pictures: cost histograms with mean and VaR, holdings fan charts (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..simulation import SimulationResult, sample_statistics
from .figure import save, subplots

__all__ = ["plot_cost_histogram", "plot_fan_chart"]


def plot_cost_histogram(results: Sequence[SimulationResult], path: str | Path, bins: int = 80,
                        level: float | None = None) -> Path:
    """Histogram of the cost of one or more strategies, with mean and VaR marked."""
    path = Path(path)
    fig, ax = subplots(figsize=(8, 4.5), constrained_layout=True)
    for i, r in enumerate(results):
        color = f"C{i}"
        ax.hist(r.cost, bins=bins, density=True, histtype="step", lw=1.5, color=color, label=r.strategy)
        ax.axvline(r.mean.value, color=color, ls="-", lw=1)
        lv = level if level is not None else (max(r.stats["var"]) if r.stats["var"] else None)
        if lv is not None:
            if lv not in r.stats["var"]:
                r.stats["var"][lv] = sample_statistics(r.cost, (lv,), r.unit)["var"][lv]
            ax.axvline(r.stats["var"][lv].value, color=color, ls="--", lw=1, label=f"VaR {lv:g} {r.strategy}")
    ax.set_xlabel("implementation shortfall C (currency)")
    ax.set_ylabel("density")
    ax.set_title(f"{results[0].problem.name or 'problem'}: cost distribution ({results[0].paths} paths)")
    ax.legend(fontsize=8)
    return save(fig, path)


def plot_fan_chart(result: SimulationResult, path: str | Path, asset: int = 0) -> Path:
    """Holdings fan chart: 5-95% and 25-75% bands and the median over the fan paths, and the
    mean over all paths."""
    path = Path(path)
    t = result.problem.times
    q = result.fan_quantiles()
    mean = result.mean_holdings
    if result.problem.is_basket:
        q, mean = q[..., asset], mean[:, asset]
    fig, ax = subplots(figsize=(8, 4.5), constrained_layout=True)
    ax.fill_between(t, q[0], q[4], alpha=0.2, color="C0", label="5-95%")
    ax.fill_between(t, q[1], q[3], alpha=0.35, color="C0", label="25-75%")
    ax.plot(t, q[2], color="C0", lw=1.5, label="median")
    ax.plot(t, mean, color="C3", ls="--", lw=1.2, label="mean")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("time")
    ax.set_ylabel(f"holdings x_k ({result.problem.assets[asset].name}, shares)")
    ax.set_title(f"{result.strategy}: holdings over {result.fan_holdings.shape[0]} paths")
    ax.legend(fontsize=8)
    return save(fig, path)
