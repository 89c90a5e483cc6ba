"""What an execution policy sees before slice ``k``: :class:`SliceState` (arrays over paths)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SliceState"]


@dataclass
class SliceState:
    """The realized state at ``t_{k-1}`` on every path.

    Attributes:
        k: the slice about to trade (1..N).
        holdings: ``x_{k-1}`` (shares, after the fills so far), shape ``(paths,)``.
        sigma: ``sigma_k``, the volatility of slice ``k`` (known at ``t_{k-1}``).
        regime: the regime index of slice ``k`` (regime models), else None.
        volume_state: ``z_{k-1}``, the log deviation of the last slice's volume (0 at ``k = 1``).
        deviation: the transient price deviation ``D_k`` (currency/share): zeros (no spec has
            transient impact in the simulator yet; the slot is kept for it).
    """

    k: int
    holdings: np.ndarray
    sigma: np.ndarray
    regime: np.ndarray | None
    volume_state: np.ndarray
    deviation: np.ndarray
