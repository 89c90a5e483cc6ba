"""The scaled problem as one parametrized (DPP) CVXPY problem, compiled once per structure.

Variable ``Y`` (N+1, m) of scaled holdings, trades ``D = Y[:-1] - Y[1:]``; quadratic terms as
``sum_squares`` of parameter-scaled affine expressions, the power law as
:meth:`solvers.impact.PowerLawImpact.cvxpy_temporary`; caps, no-reversal, holdings bounds and the
dollar-imbalance band as constraints. Every number is a ``cp.Parameter``, so a new ``lambda`` or
cap re-uses the compiled canonicalization; :func:`compiled_problem` caches compiled problems by
:func:`structure_key` (shapes and which terms exist, never numbers). Derivation and the
choices behind the form: ``solvers/docs/theory-qp.md``.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import cvxpy as cp
import numpy as np

from ..impact import PowerLawImpact
from .kernel_terms import kernel_factor
from .scaling import ScaledProblem

__all__ = ["CompiledProblem", "structure_key", "compiled_problem", "clear_cache", "cache_info"]

_CACHE: "OrderedDict[tuple, CompiledProblem]" = OrderedDict()
_CACHE_SIZE = 16


def _rational(p: float) -> float:
    """The exponent CVXPY will represent (it approximates ``p`` by a rational, denominator <= 1024)."""
    return float(Fraction(p).limit_denominator(1024))


def _uniform(sp: ScaledProblem) -> bool:
    """Risk weights equal in every slice (constant volatility): one parameter per asset."""
    return sp.W is not None and bool(np.all(sp.W[: max(sp.N - 1, 1)] == sp.W[0]))


def structure_key(sp: ScaledProblem) -> tuple:
    """What decides the compiled problem's shape (and nothing that is only a number)."""
    quad = None
    if sp.linear:
        quad = "diag" if sp.diagonal_quadratic else "dense"
    return (
        sp.N, sp.m, sp.linear, quad, tuple(np.round(sp.p, 12)) if not sp.linear else None,
        sp.has_concave_part, bool(np.any(sp.e > 0)),
        ("uniform" if _uniform(sp) else "path") if sp.W is not None else (
            ("factor", sp.factor.shape[1]) if sp.factor is not None else "dense"),
        bool(np.any(sp.g != 0)), sp.capped_assets, sp.no_reversal,
        tuple(np.flatnonzero(np.isfinite(sp.ylo))), tuple(np.flatnonzero(np.isfinite(sp.yhi))),
        sp.band is not None, tuple(_kernel_fingerprint(sp, t) for t in sp.transient),
    )


def _kernel_own(sp: ScaledProblem, t) -> float:
    """The asset's own diagonal quadratic, carried by its transient block."""
    return float(sp.Q[t.asset, t.asset]) if (sp.linear and sp.diagonal_quadratic) else 0.0


def _kernel_fingerprint(sp: ScaledProblem, t) -> tuple:
    """What fixes a transient block's factor: it is a constant of the compiled problem (an N x N
    parameter makes CVXPY's parameter tensor N x N^2: 64 GB at N = 2000)."""
    times = hashlib.sha1(np.ascontiguousarray(t.times).tobytes()).hexdigest()
    return (t.asset, repr(t.kernel), float(t.kappa), times, _kernel_own(sp, t))


@dataclass
class CompiledProblem:
    """A CVXPY problem with its parameters (set them, then :meth:`solve`)."""

    key: tuple
    problem: cp.Problem
    Y: cp.Variable
    params: dict[str, cp.Parameter]
    cap_up: cp.Constraint | None
    cap_down: cp.Constraint | None
    build_seconds: float
    solves: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def set_values(self, sp: ScaledProblem, linearization: np.ndarray | None = None) -> None:
        """Load the numbers of ``sp`` (and the linearization ``L`` of the concave part)."""
        pr = self.params
        if "q" in pr:
            q = np.diag(sp.Q).copy()
            for t in sp.transient:  # the transient block carries the asset's own quadratic (may be < 0)
                q[t.asset] = 0.0
            pr["q"].value = np.sqrt(q)
        for t in sp.transient:  # the factor itself is a constant of the compiled problem
            pr[f"kernel_linear{t.asset}"].value = t.linear.copy()
        if "R" in pr:
            pr["R"].value = _psd_factor(sp.Q)
        if "c" in pr:
            pr["c"].value = sp.c.copy()
        if "L" in pr:
            pr["L"].value = np.zeros((sp.N, sp.m)) if linearization is None else linearization
        if "e" in pr:
            pr["e"].value = sp.e.copy()
        if "w" in pr:
            pr["w"].value = np.sqrt(sp.W[0])
        if "w_path" in pr:
            pr["w_path"].value = np.sqrt(sp.W[: sp.N - 1])
        if "FB" in pr:
            pr["FB"].value = sp.factor.copy()
            pr["fd"].value = np.sqrt(sp.factor_diag)
        if "F" in pr:
            pr["F"].value = _psd_factor(sp.M)
        if "g" in pr:
            pr["g"].value = sp.g.copy()
        if "cap" in pr:
            cols = list(sp.capped_assets)
            pr["cap"].value = sp.cap[:, cols].copy()
        if "ylo" in pr:
            pr["ylo"].value = sp.ylo[np.isfinite(sp.ylo)].copy()
        if "yhi" in pr:
            pr["yhi"].value = sp.yhi[np.isfinite(sp.yhi)].copy()
        if "band" in pr:
            pr["band"].value = sp.band.copy()
            pr["band_w"].value = sp.band_w.copy()


def _psd_factor(mat: np.ndarray) -> np.ndarray:
    """``F`` with ``F F' = mat`` for a symmetric PSD matrix (eigen form: exact for singular ones)."""
    w, v = np.linalg.eigh(0.5 * (mat + mat.T))
    return v * np.sqrt(np.maximum(w, 0.0))


def _build(sp: ScaledProblem, key: tuple) -> CompiledProblem:
    start = time.perf_counter()
    n, m = sp.N, sp.m
    Y = cp.Variable((n + 1, m), name="y")
    D = Y[:-1] - Y[1:]
    params: dict[str, cp.Parameter] = {}
    terms = []
    if sp.linear:
        if sp.diagonal_quadratic:
            params["q"] = cp.Parameter(m, nonneg=True, name="sqrt_q")  # square roots of diag(Q)
            terms.append(cp.sum_squares(D @ cp.diag(params["q"])))
        else:
            params["R"] = cp.Parameter((m, m), name="R")
            terms.append(cp.sum_squares(D @ params["R"]))
    else:
        params["c"] = cp.Parameter(m, nonneg=True, name="c")
        for i in range(m):
            law = PowerLawImpact(eta=1.0, beta=_rational(float(sp.p[i])) - 1.0)  # the exponent CVXPY represents
            terms.append(law.cvxpy_temporary(D[:, i], params["c"][i]))
        if sp.has_concave_part:
            params["L"] = cp.Parameter((n, m), name="L")
            terms.append(cp.sum(cp.multiply(params["L"], D)))
    for t in sp.transient:  # 1/2 kappa_s d'Gd (+ the diagonal quadratic) as sum_squares(F'd), plus l'd
        factor = kernel_factor(t, _kernel_own(sp, t))  # a constant (see _kernel_fingerprint)
        params[f"kernel_linear{t.asset}"] = cp.Parameter(n, name=f"kernel_linear{t.asset}")
        terms.append(cp.sum_squares(factor.T @ D[:, t.asset]))
        terms.append(params[f"kernel_linear{t.asset}"] @ D[:, t.asset])
    if np.any(sp.e > 0):
        params["e"] = cp.Parameter(m, nonneg=True, name="e")
        terms.append(cp.sum(cp.abs(D) @ params["e"]))
    inner = Y[1:n]  # y_1..y_{N-1}; y_N = 0 carries no risk or drift
    if n > 1:
        if sp.W is not None and _uniform(sp):
            params["w"] = cp.Parameter(m, nonneg=True, name="sqrt_w")  # square roots of W_k (same every k)
            terms.append(cp.sum_squares(inner @ cp.diag(params["w"])))
        elif sp.factor is not None:
            params["FB"] = cp.Parameter(sp.factor.shape, name="factor")
            params["fd"] = cp.Parameter(m, nonneg=True, name="sqrt_specific")
            terms.append(cp.sum_squares(inner @ params["FB"]))
            terms.append(cp.sum_squares(inner @ cp.diag(params["fd"])))
        elif sp.W is not None:
            params["w_path"] = cp.Parameter((n - 1, m), nonneg=True, name="sqrt_w_path")  # per slice
            terms.append(cp.sum_squares(cp.multiply(params["w_path"], inner)))
        else:
            params["F"] = cp.Parameter((m, m), name="F")
            terms.append(cp.sum_squares(inner @ params["F"]))
        if np.any(sp.g != 0):
            params["g"] = cp.Parameter(m, name="g")
            terms.append(cp.sum(inner @ params["g"]))
    cons = [Y[0] == 1.0, Y[n] == 0.0]
    cap_up = cap_down = None
    capped = list(sp.capped_assets)
    if capped:
        params["cap"] = cp.Parameter((n, len(capped)), nonneg=True, name="cap")
        dc = D[:, capped]
        cap_up = dc <= params["cap"]
        cons.append(cap_up)
        if not sp.no_reversal:
            cap_down = -dc <= params["cap"]
            cons.append(cap_down)
    if sp.no_reversal:
        cons.append(D >= 0)
    if n > 1:
        lo = np.flatnonzero(np.isfinite(sp.ylo))
        hi = np.flatnonzero(np.isfinite(sp.yhi))
        if lo.size:
            params["ylo"] = cp.Parameter(lo.size, name="ylo")
            cons.append(inner[:, list(lo)] >= np.ones((n - 1, 1)) @ cp.reshape(params["ylo"], (1, lo.size), order="C"))
        if hi.size:
            params["yhi"] = cp.Parameter(hi.size, name="yhi")
            cons.append(inner[:, list(hi)] <= np.ones((n - 1, 1)) @ cp.reshape(params["yhi"], (1, hi.size), order="C"))
    if sp.band is not None:
        params["band"] = cp.Parameter(n, nonneg=True, name="band")
        params["band_w"] = cp.Parameter(m, name="band_w")
        imbalance = D @ params["band_w"]
        cons += [imbalance <= params["band"], -imbalance <= params["band"]]
    problem = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms)) if len(terms) > 1 else terms[0]), cons)
    if not problem.is_dcp(dpp=True):  # pragma: no cover - a formulation bug, not a user error
        raise AssertionError("qp formulation is not DPP; re-solves would recompile")
    info = {"exponents_used": [_rational(float(p)) for p in sp.p] if not sp.linear else None}
    return CompiledProblem(key, problem, Y, params, cap_up, cap_down, time.perf_counter() - start, info=info)


def compiled_problem(sp: ScaledProblem) -> tuple[CompiledProblem, bool]:
    """The compiled problem for ``sp``'s structure and whether it came from the cache."""
    key = structure_key(sp)
    hit = key in _CACHE
    if hit:
        _CACHE.move_to_end(key)
        return _CACHE[key], True
    compiled = _build(sp, key)
    _CACHE[key] = compiled
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return compiled, False


def clear_cache() -> None:
    """Forget every compiled problem (the next solve of each structure compiles again)."""
    _CACHE.clear()


def cache_info() -> dict[str, int]:
    return {"size": len(_CACHE), "max_size": _CACHE_SIZE}
