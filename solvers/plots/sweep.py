"""Plots of a sweep's metrics over its axes (PNG files).

``lines``: one figure per metric, the ``x`` axis horizontally, one line per method and
combination of the other axes (at most :data:`MAX_LINES`; the rest are left out and the
title says so). ``heatmap``: one figure per metric, ``x`` against ``y``, one panel per
method; other axes are fixed at their first value. Only rows with status ``optimal`` are
drawn, so a failed point is a gap, never a made-up number.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..result import OK_STATUSES
from .figure import save, subplots

if TYPE_CHECKING:
    import pandas as pd

    from ..sweep import Sweep

__all__ = ["plot_sweep", "MAX_LINES"]

MAX_LINES = 12

_LABELS = {"objective": "E + lambda V (currency)", "expected_cost": "expected cost E (currency)",
           "variance": "variance V (currency^2)", "std": "std sqrt(V) (currency)",
           "solve_seconds": "solve time per point (s)", "agreement": "max relative difference to other methods"}


def _x_axis(sweep: Sweep) -> str:
    if sweep.plot.x:
        return sweep.plot.x
    for axis in sweep.axes:
        if len(set(map(repr, axis.values))) > 1:
            return axis.parameter
    return sweep.axes[0].parameter


def plot_sweep(table: pd.DataFrame, sweep: Sweep, out_dir: str | Path) -> list[Path]:
    """Draw the sweep's ``[plot]`` metrics; return the PNG paths (none if nothing to draw)."""
    import pandas as pd

    out_dir = Path(out_dir)
    ok = table[table["status"].isin(list(OK_STATUSES))]
    if not len(ok):
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    x = _x_axis(sweep)
    paths = []
    for metric in sweep.plot.metrics:
        if metric not in ok or not np.isfinite(pd.to_numeric(ok[metric], errors="coerce")).any():
            continue
        if sweep.plot.kind == "heatmap":
            y = sweep.plot.y or next(a.parameter for a in sweep.axes if a.parameter != x)
            paths.append(_heatmap(ok, sweep, metric, x, y, out_dir))
        else:
            paths.append(_lines(ok, sweep, metric, x, out_dir))
    return paths


def _log_x(sweep: Sweep, x: str, values: np.ndarray) -> bool:
    if sweep.plot.log_x is not None:
        return sweep.plot.log_x
    axis = next(a for a in sweep.axes if a.parameter == x)
    return axis.scale == "log" and bool(np.all(values > 0))


def _lines(ok: pd.DataFrame, sweep: Sweep, metric: str, x: str, out_dir: Path) -> Path:
    others = [a.parameter for a in sweep.axes if a.parameter != x]
    fig, ax = subplots(figsize=(7.5, 4.8), constrained_layout=True)
    keys = ["method"] + others
    groups = list(ok.groupby(keys, sort=False, dropna=False)) if others else list(ok.groupby("method", sort=False))
    shown = groups[:MAX_LINES]
    styles = ("-", "--", ":", "-.")
    methods = list(dict.fromkeys(ok["method"]))
    combos: dict[tuple, int] = {}
    for key, rows in shown:
        key = key if isinstance(key, tuple) else (key,)
        rows = rows.sort_values(x)
        label = ", ".join([str(key[0])] + [f"{p} = {_fmt(v)}" for p, v in zip(others, key[1:])])
        color = f"C{combos.setdefault(tuple(map(repr, key[1:])), len(combos)) % 10}"  # colour: other axes
        style = styles[methods.index(key[0]) % len(styles)]  # line style: method
        ax.plot(rows[x].to_numpy(), rows[metric].to_numpy(dtype=float), style, color=color, marker="o", ms=2.5,
                lw=1.2, label=label)
    xs = ok[x].to_numpy()
    if np.issubdtype(xs.dtype, np.number) and _log_x(sweep, x, xs):
        ax.set_xscale("log")
    if sweep.plot.log_y:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(_LABELS.get(metric, metric))
    title = f"{sweep.name}: {metric} over {x}"
    if len(groups) > MAX_LINES:
        title += f" ({MAX_LINES} of {len(groups)} lines shown)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    path = out_dir / f"{metric}-over-{_safe(x)}.png"
    return save(fig, path)


def _heatmap(ok: pd.DataFrame, sweep: Sweep, metric: str, x: str, y: str, out_dir: Path) -> Path:
    fixed = {a.parameter: a.values[0] for a in sweep.axes if a.parameter not in (x, y)}
    sel = ok
    for p, v in fixed.items():
        sel = sel[sel[p] == v]
    methods = list(dict.fromkeys(sel["method"]))
    fig, axes = subplots(1, max(1, len(methods)), figsize=(5.5 * max(1, len(methods)), 4.5),
                             constrained_layout=True, squeeze=False)
    for ax, method in zip(axes[0], methods):
        grid = sel[sel["method"] == method].pivot_table(index=y, columns=x, values=metric, aggfunc="first")
        mesh = ax.pcolormesh(np.arange(grid.shape[1] + 1), np.arange(grid.shape[0] + 1), grid.to_numpy(dtype=float),
                             shading="flat")
        ax.set_xticks(np.arange(grid.shape[1]) + 0.5, [_fmt(v) for v in grid.columns], rotation=60, fontsize=7)
        ax.set_yticks(np.arange(grid.shape[0]) + 0.5, [_fmt(v) for v in grid.index], fontsize=7)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(method, fontsize=10)
        fig.colorbar(mesh, ax=ax, label=_LABELS.get(metric, metric))
    note = ", ".join(f"{p} = {_fmt(v)}" for p, v in fixed.items())
    fig.suptitle(f"{sweep.name}: {metric}" + (f" at {note}" if note else ""), fontsize=10)
    path = out_dir / f"{metric}-{_safe(x)}-{_safe(y)}.png"
    return save(fig, path)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")
