"""Multipliers of a KKT point: ``argmin ||g + A' mu||`` over sign intervals ``lo <= mu <= hi``.

Dependent active rows (a trade held at zero between two holdings on the same bound) leave the
free least-squares multipliers undetermined along a null space; the sign-feasible ones are the
bounded least-squares solution (scipy's ``lsq_linear``), not the clipped free one.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sps

__all__ = ["bounded_least_squares"]


def bounded_least_squares(a_mat: sps.csr_matrix, g: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``argmin ||g + A' mu||`` over ``lo <= mu <= hi``: bounded-variable least squares on the dense
    ``A'`` (callers keep it to a few million entries)."""
    from scipy.optimize import lsq_linear  # heavy, lazily: only degenerate active sets need it

    out = lsq_linear(a_mat.T.toarray(), -g, bounds=(lo, hi), method="bvls", tol=1e-14)
    return np.clip(out.x, lo, hi)
