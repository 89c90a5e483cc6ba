"""Plot of the schedule's derivative paths: ``p d x_k / d p`` (shares per unit log change of
each parameter) against ``t_k``, one line per parameter (first asset of a basket)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plots.figure import save, subplots
from .core import Sensitivities

__all__ = ["plot_sensitivities"]


def plot_sensitivities(sens: Sensitivities, times: np.ndarray, path: str | Path) -> Path:
    """Draw ``p dx_k/dp`` per parameter (left) and the elasticities of the objective (right)."""
    fig, (left, right) = subplots(1, 2, figsize=(11, 4.5))
    for name, value, d in zip(sens.parameters, sens.values, sens.holdings):
        d = np.asarray(d)
        path_ = d if d.ndim == 1 else d[:, 0]
        if np.any(path_ != 0):
            left.plot(times, value * path_, marker="o", ms=3, label=name)
    left.set_xlabel("time")
    left.set_ylabel("p dx_k/dp (shares)")
    left.set_title(f"holdings sensitivities ({sens.method})")
    left.legend(fontsize=7)
    el = sens.elasticities()
    names = [n for n in sens.parameters if np.isfinite(el[n]) and el[n] != 0]
    right.barh(range(len(names)), [el[n] for n in names])
    right.set_yticks(range(len(names)), names, fontsize=7)
    right.set_xlabel("d log objective / d log p")
    right.set_title("elasticities of the optimal objective")
    return save(fig, path)
