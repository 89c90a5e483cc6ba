"""Figures without pyplot: :func:`subplots` makes a :class:`matplotlib.figure.Figure` drawn by
``FigureCanvasAgg`` (no backend switch, no global state); :func:`save` writes it as a PNG.
matplotlib is imported on first use only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["subplots", "save"]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (8, 4.5),
             constrained_layout: bool = True, **kwargs: Any) -> tuple[Any, Any]:
    """``(figure, axes)`` like ``pyplot.subplots``, on an Agg canvas of its own."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained" if constrained_layout else None)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (PNG) and return the path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
