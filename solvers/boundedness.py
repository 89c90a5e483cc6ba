"""When the static cost has no minimum: the quadratic part of ``E + lambda V`` along trades that
alternate in sign (conventions page, "Convexity and unbounded specs").

With ``beta < 1`` the temporary cost of holdings of amplitude ``L`` grows like ``L^(1+beta)``,
so the objective is bounded below only if ``x' (R - 1/2 Lap (x) Gamma) x >= 0`` on the free
holdings ``x_1..x_{N-1}``: ``R`` the per-slice risk ``lambda tau C_k``, ``Gamma`` the permanent
impact, ``Lap = tridiag(-1, 2, -1)`` the path Laplacian. For constant ``sigma`` and one asset that
is ``gamma (1 + cos(pi / N)) <= lambda tau sigma^2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import eig_banded

__all__ = ["alternation_eigenvalue"]


def alternation_eigenvalue(risks: Sequence[np.ndarray], permanent: np.ndarray) -> float:
    """Smallest eigenvalue of the block-tridiagonal ``R_k - Gamma`` (diagonal), ``Gamma / 2`` (beside
    it): ``risks`` holds ``R_k`` (``f x f``) for ``k = 1..N-1``, ``permanent`` is ``Gamma`` (``f x f``),
    in any common unit. Negative: trades alternating in sign lower the cost without bound."""
    perm = np.atleast_2d(np.asarray(permanent, dtype=np.float64))
    f, slices = perm.shape[0], len(risks)
    if slices == 0:
        return np.inf
    bands = np.zeros((2 * f, slices * f))  # lower banded form
    for k in range(slices):
        block = np.atleast_2d(np.asarray(risks[k], dtype=np.float64)) - perm
        for i in range(f):
            for j in range(i + 1):
                bands[i - j, k * f + j] = block[i, j]
            if k + 1 < slices:
                for j in range(f):
                    bands[f + i - j, k * f + j] = 0.5 * perm[i, j]
    scale = max(1e-300, float(np.abs(bands).max()))
    smallest = eig_banded(bands / scale, lower=True, eigvals_only=True, select="i", select_range=(0, 0))[0]
    return float(smallest) * scale
