"""Figures without pyplot: :func:`subplots` makes a :class:`matplotlib.figure.Figure` drawn by
``FigureCanvasAgg`` (no backend switch, no global state); :func:`save` writes it in the
format of the file's suffix (PNG, SVG, PDF, ...: :func:`plot_formats`). matplotlib is
imported on first use only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["subplots", "save", "plot_formats"]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (8, 4.5),
             constrained_layout: bool = True, **kwargs: Any) -> tuple[Any, Any]:
    """``(figure, axes)`` like ``pyplot.subplots``, on an Agg canvas of its own."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained" if constrained_layout else None)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def plot_formats() -> list[str]:
    """File suffixes (without the dot) the Agg canvas writes: png, svg, pdf, ..."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return sorted(FigureCanvasAgg.get_supported_filetypes())


def save(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (format from its suffix, see :func:`plot_formats`) and return the path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    return path
