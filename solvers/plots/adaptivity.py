"""The value of adaptivity in three panels: cost histograms, holdings fans, differences (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..adaptivity import AdaptivityReport, ExecutionReport
from .figure import save, subplots

__all__ = ["plot_adaptivity", "plot_execution"]


def plot_adaptivity(report: AdaptivityReport, path: str | Path) -> Path:
    """Three panels: cost histograms of both strategies, holdings fans (static: its schedule;
    feedback: 5-95% band and mean), and the three differences with 95% intervals."""
    path = Path(path)
    s, d = report.static_sim, report.dynamic_sim
    fig, axes = subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    ax = axes[0]
    lo = min(np.quantile(s.cost, 0.001), np.quantile(d.cost, 0.001))
    hi = max(np.quantile(s.cost, 0.999), np.quantile(d.cost, 0.999))
    bins = np.linspace(lo, hi, 80)
    for i, sim in enumerate((s, d)):
        ax.hist(sim.cost, bins=bins, density=True, histtype="step", lw=1.5, color=f"C{i}", label=sim.strategy)
        ax.axvline(sim.mean.value, color=f"C{i}", lw=1)
    ax.set_xlabel("cost C (currency)")
    ax.set_ylabel("density")
    ax.set_title("cost distribution")
    ax.legend(fontsize=8)
    ax = axes[1]
    t = report.problem.times
    for i, sim in enumerate((s, d)):
        q = sim.fan_quantiles((0.05, 0.5, 0.95))
        ax.fill_between(t, q[0], q[2], color=f"C{i}", alpha=0.2)
        ax.plot(t, sim.mean_holdings, color=f"C{i}", lw=1.5, label=f"{sim.strategy} (mean, 5-95%)")
    ax.set_xlabel("time")
    ax.set_ylabel("holdings (shares)")
    ax.set_title("holdings")
    ax.legend(fontsize=8)
    ax = axes[2]
    keys = ("cost", "risk_term", "objective")
    vals = [report.differences[k].estimate for k in keys]
    err = [v.ci()[1] - v.value for v in vals]
    ax.bar(range(3), [v.value for v in vals], yerr=err, capsize=6, color=["C2", "C4", "C3"])
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(range(3), ["E[C]", "E[R]", "E[C + R]"])
    ax.set_ylabel("static - feedback (currency), 95% CI")
    ax.set_title(f"value of adaptivity = {report.value.value:.4g} +/- {err[2]:.2g}")
    return save(fig, path)


def plot_execution(report: ExecutionReport, path: str | Path) -> Path:
    """Two panels: each policy's objective with its 95% interval (the benchmark's value as a
    line), and its mean holdings path (fraction of the order)."""
    path = Path(path)
    fig, axes = subplots(1, 2, figsize=(13, 4.5), constrained_layout=True)
    ax = axes[0]
    names = [r.name for r in report.rows]
    values = [r.simulation.objective.value for r in report.rows]
    err = [r.simulation.objective.ci()[1] - r.simulation.objective.value for r in report.rows]
    ax.bar(range(len(names)), values, yerr=err, capsize=6, color=[f"C{i}" for i in range(len(names))])
    if report.benchmark_objective is not None:
        ax.axhline(report.benchmark_objective, color="k", lw=0.8, ls="--", label="dp under fills (value)")
        ax.legend(fontsize=8)
    lo = min(v - e for v, e in zip(values, err))
    ax.set_ylim(lo - 0.1 * (max(values) - lo + 1e-12), None)
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_ylabel("objective E[C + R] (currency), 95% CI")
    ax.set_title("execution policies on common random numbers")
    ax = axes[1]
    x0 = report.problem.asset.holdings
    for i, r in enumerate(report.rows):
        ax.plot(report.problem.times, r.simulation.mean_holdings / x0, color=f"C{i}", lw=1.5, label=r.name)
    ax.set_xlabel("time")
    ax.set_ylabel("mean holdings (fraction of the order)")
    ax.set_title("holdings after fills")
    ax.legend(fontsize=8)
    return save(fig, path)
