"""Numpy oracles of the HJB schemes: the same arithmetic as the JAX kernels, in plain numpy/scipy.

Public for the benchmarks (the speed baseline) and the tests (the JAX code against them):
:func:`reduced_pde_numpy` (the volatility-grid scheme of the reduced HJB, a LAPACK banded solve
per step) and :func:`full_hjb_numpy` (the semi-Lagrangian full HJB, vectorised over the grid).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.linalg import solve_banded

from .full import power_functions, semi_lagrangian_step
from .s_step import implicit_s_matrix

__all__ = ["reduced_pde_numpy", "full_hjb_numpy", "numpy_interpolator"]


def numpy_interpolator(w: np.ndarray) -> Callable:
    """Linear interpolation along rows by one fancy-index read per point from the (ns * ny, 2)
    table of ``(W_j, W_{j+1} - W_j)`` (the fastest numpy form measured here)."""
    ns, ny = w.shape
    slope = np.concatenate([w[:, 1:] - w[:, :-1], np.zeros((ns, 1))], axis=1)
    table = np.stack([w, slope], axis=-1).reshape(ns * ny, 2)
    offsets = (np.arange(ns) * ny)[:, None]

    def interp(idx, frac):
        pair = table[(offsets + idx).reshape(-1)].reshape(ns, ny, 2)
        return pair[..., 0] + frac * pair[..., 1]

    return interp


def reduced_pde_numpy(c, lower, diagonal, upper, h, n_steps: int, explicit: bool = False) -> np.ndarray:
    """The volatility-grid scheme of :func:`hjb.pde.reduced.reduced_kernel` in plain numpy/scipy (LAPACK banded
    solve per step); returns ``d`` at ``theta = n_steps h``. Benchmark baseline and test oracle."""
    c, lower, diagonal, upper = (np.asarray(v, dtype=np.float64) for v in (c, lower, diagonal, upper))
    ns = c.size
    d = np.zeros(ns)
    ab = np.zeros((3, ns))
    ab[0, 1:] = -h * upper[:-1]
    ab[2, :-1] = -h * lower[1:]
    for n in range(n_steps):
        reaction = 1.0 + h * (2.0 / ((n + 1) * h) + d)
        if explicit:
            ld = diagonal * d
            ld[1:] += lower[1:] * d[:-1]
            ld[:-1] += upper[:-1] * d[1:]
            d = (d + h * (c + ld)) / reaction
        else:
            ab[1] = reaction - h * diagonal
            d = solve_banded((1, 1), ab, d + h * c, overwrite_ab=False, check_finite=False)
    return d


def full_hjb_numpy(c, lower, diagonal, upper, h, *, beta, ny, n_steps, safeguard=False,
                   s_solve: str = "inverse") -> np.ndarray:
    """The same scheme in numpy (vectorised over the grid); the implicit s-step either by the
    same precomputed inverse as the JAX kernel (``s_solve="inverse"``, one BLAS product per
    step) or by a banded LAPACK solve with ``ny`` right-hand sides (``"banded"``, an
    independent check of the linear algebra). Returns ``W`` at ``theta = n_steps h``, (ns, ny)."""
    c, lower, diagonal, upper = (np.asarray(v, dtype=np.float64) for v in (c, lower, diagonal, upper))
    ns = c.size
    y = np.linspace(0.0, 1.0, ny)
    pow_1pb, _ = power_functions(beta, np)
    y_1pb = pow_1pb(y)
    y_b = y**beta
    ab = np.zeros((3, ns))
    ab[0, 1:] = -h * upper[:-1]
    ab[1] = 1.0 - h * diagonal
    ab[2, :-1] = -h * lower[1:]
    s_inverse = implicit_s_matrix(lower, diagonal, upper, h) if ns > 1 else None

    def s_step(w):
        if ns == 1:
            return w
        return s_inverse @ w if s_solve == "inverse" else solve_banded((1, 1), ab, w, check_finite=False)

    w = np.zeros((ns, ny))
    for n in range(n_steps):
        w = s_step(semi_lagrangian_step(w, n * h, (n + 1) * h, y, y_1pb, y_b, c, h, beta, np, numpy_interpolator,
                            first=(n == 0), safeguard=safeguard))
    return w
