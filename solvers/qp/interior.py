"""The O(N) interior path of ``qp``: a primal log-barrier Newton method on the scaled problem.

Unknowns are the interior scaled holdings ``v`` (time-major); every constraint (caps,
no-reversal, holdings bounds, the dollar-imbalance band) is a sparse row of ``G v <= h``, and
each Newton step solves ``(grad^2 f + mu G' S^-2 G) dv = -(grad f + mu G' S^-1 1)``, banded with
bandwidth ``2m - 1``: ``O(N m^3)`` time and ``O(N m)`` memory, never an ``N x N`` array. Kinks
at zero (``|d|^(1+beta)``, ``e |d|``) are smoothed by ``delta`` shrinking with ``mu``; the concave
permanent part is linearized (convex-concave iteration). :func:`solve_interior` returns the
scaled holdings for the Newton polish, or a reason to fall back to CVXPY.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
from scipy.optimize import linprog

from .banded import difference_operator
from .scaling import ScaledProblem

__all__ = ["InteriorResult", "constraint_rows", "solve_interior"]


@dataclass
class InteriorResult:
    """Outcome of :func:`solve_interior`: ``y`` (N+1, m) scaled holdings or None with ``message``."""

    y: np.ndarray | None
    newton_iterations: int = 0
    convex_concave_iterations: int = 0
    message: str = ""
    history: list[float] = field(default_factory=list)


@dataclass
class _Rows:
    """The constraints ``G v <= h`` by kind, as index arrays: trade rows ``sign d[k, i] <= bound``,
    holdings rows ``sign v[j, i] <= bound`` and band rows ``sign w . d_k <= bound``."""

    tk: np.ndarray
    ti: np.ndarray
    ts: np.ndarray
    tb: np.ndarray
    hj: np.ndarray
    hi: np.ndarray
    hs: np.ndarray
    hb: np.ndarray
    bk: np.ndarray
    bs: np.ndarray
    bb: np.ndarray
    w: np.ndarray | None

    @property
    def count(self) -> int:
        return self.tk.size + self.hj.size + self.bk.size

    def slack(self, d: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``h - G v`` for trades ``d`` (N, m) and interior holdings ``v`` (N-1, m)."""
        m = d.shape[1]
        parts = [self.tb - self.ts * d.ravel()[self.tk * m + self.ti], self.hb - self.hs * v.ravel()[self.hj * m + self.hi]]
        if self.bk.size:
            parts.append(self.bb - self.bs * (d[self.bk] @ self.w))
        return np.concatenate(parts)

    def split(self, vec: np.ndarray):
        a, b = self.tk.size, self.tk.size + self.hj.size
        return vec[:a], vec[a:b], vec[b:]


def constraint_rows(sp: ScaledProblem) -> _Rows:
    """Every constraint of ``sp`` as a row of ``G v <= h`` (see :class:`_Rows`)."""
    n, m = sp.N, sp.m
    kk, ii = np.nonzero(np.isfinite(sp.cap))
    tk, ti, ts, tb = [kk], [ii], [np.ones(kk.size)], [sp.cap[kk, ii]]
    if sp.no_reversal:
        ak, ai = np.nonzero(np.ones((n, m), dtype=bool))
        tk.append(ak); ti.append(ai); ts.append(-np.ones(ak.size)); tb.append(np.zeros(ak.size))
    else:
        tk.append(kk); ti.append(ii); ts.append(-np.ones(kk.size)); tb.append(sp.cap[kk, ii])
    hj, hi, hs, hb = [], [], [], []
    for bound, sign in ((sp.yhi, 1.0), (sp.ylo, -1.0)):
        for i in np.flatnonzero(np.isfinite(bound)):
            hj.append(np.arange(n - 1)); hi.append(np.full(n - 1, i)); hs.append(np.full(n - 1, sign))
            hb.append(np.full(n - 1, sign * bound[i]))
    if sp.band is not None:
        bk = np.concatenate([np.arange(n), np.arange(n)])
        bs = np.concatenate([np.ones(n), -np.ones(n)])
        bb = np.concatenate([sp.band, sp.band])
    else:
        bk, bs, bb = np.zeros(0, dtype=int), np.zeros(0), np.zeros(0)

    def cat(parts, dtype=float):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return _Rows(cat(tk, int), cat(ti, int), cat(ts), cat(tb), cat(hj, int), cat(hi, int), cat(hs), cat(hb),
                 bk, bs, bb, sp.band_w)


class _Objective:
    """The scaled objective ``f`` of :mod:`.scaling` with kinks smoothed by ``delta`` and the concave
    part replaced by the linear term ``lin . d``; value, gradient and the Hessian's blocks in ``v``."""

    def __init__(self, sp: ScaledProblem):
        self.sp = sp
        n, m = sp.N, sp.m
        self.lin = np.zeros((n, m))
        self.delta = 0.0
        self.kinked = not sp.no_reversal  # trades may cross zero: smooth |d|
        self.risk = (np.einsum("ki,ij->kij", sp.W[: n - 1], np.eye(m)) * 2.0 if sp.W is not None
                     else np.broadcast_to(2.0 * sp.M, (n - 1, m, m)))
        self.eye = np.eye(m)

    def d(self, v: np.ndarray) -> np.ndarray:
        m = self.sp.m
        y = np.vstack([np.ones((1, m)), v, np.zeros((1, m))])
        return y[:-1] - y[1:]

    def _abs(self, d: np.ndarray):
        """Smoothed ``|d|`` as ``r = sqrt(d^2 + delta^2)``, its slope and curvature."""
        if not self.kinked or self.delta == 0.0:
            return np.abs(d), np.sign(d), np.zeros_like(d)
        r = np.sqrt(d * d + self.delta**2)
        return r, d / r, self.delta**2 / r**3

    def value(self, v: np.ndarray) -> float:
        sp = self.sp
        d = self.d(v)
        r, _, _ = self._abs(d)
        if sp.linear:
            val = float(np.einsum("ki,ij,kj->", d, sp.Q, d))
        else:
            val = float(np.sum(sp.temporary(np, r)))
        val += float(np.sum(sp.e * r)) + float(np.sum(self.lin * d))
        return val + 0.5 * float(np.einsum("ki,kij,kj->", v, self.risk, v)) + float(np.sum(v @ sp.g))

    def grad_hess(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``grad f`` in ``d`` (N, m), its Hessian blocks in ``d`` (N, m, m) and in ``v`` (N-1, m, m):
        ``grad_v = E' grad_d + (risk and drift)``."""
        sp = self.sp
        d = self.d(v)
        r, s1, s2 = self._abs(d)
        gd = sp.e * s1 + self.lin
        if sp.linear:
            gd = gd + 2.0 * d @ sp.Q
            hd = np.broadcast_to(2.0 * sp.Q, d.shape + (sp.m,)) + (sp.e * s2)[:, :, None] * self.eye
        else:
            slope = sp.temporary_slope(np, r)  # d/dr of c r^p, r >= 0
            curv = sp.temporary_curvature(np, r)
            curv = np.where(np.isfinite(curv), curv, 0.0)
            gd = gd + slope * s1
            hd = (curv * s1 * s1 + slope * s2 + sp.e * s2)[:, :, None] * self.eye
        gv = np.einsum("kij,kj->ki", self.risk, v) + sp.g
        return gd, np.array(hd), gv


def _assemble(gd: np.ndarray, hd: np.ndarray, gv: np.ndarray, hv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient in ``v`` and the upper band storage (bandwidth ``2m - 1``) of
    ``H = E' blockdiag(hd) E + blockdiag(hv)``: block ``(j, j)`` is ``hd_j + hd_(j+1) + hv_j``,
    block ``(j, j+1)`` is ``-hd_(j+1)``."""
    n1, m, _ = hv.shape
    grad = (gd[1:] - gd[:-1] + gv).ravel()
    u = 2 * m - 1 if m > 1 else 1
    nv = n1 * m
    ab = np.zeros((u + 1, nv))
    diag = hd[:-1] + hd[1:] + hv                      # (n1, m, m)
    a, b = np.triu_indices(m)
    j = np.arange(n1)[:, None]
    rows, cols = j * m + a[None, :], j * m + b[None, :]
    ab[u + rows - cols, cols] = diag[:, a, b]
    if n1 > 1:
        off = -hd[1:-1]                               # (n1 - 1, m, m): rows of block j, columns of block j+1
        a2, b2 = np.meshgrid(np.arange(m), np.arange(m), indexing="ij")
        a2, b2 = a2.ravel(), b2.ravel()
        j2 = np.arange(n1 - 1)[:, None]
        rows, cols = j2 * m + a2[None, :], (j2 + 1) * m + b2[None, :]
        ab[u + rows - cols, cols] = off[:, a2, b2]
    return grad, ab


def _strict_start(sp: ScaledProblem, rows: _Rows, obj: _Objective) -> np.ndarray | None:
    """Interior holdings (N-1, m) with every slack positive: TWAP, the caps' shape, or a phase-one LP."""
    n, m = sp.N, sp.m
    twap = np.linspace(1.0, 0.0, n + 1)[1:-1]
    candidates = [np.repeat(twap[:, None], m, axis=1)]
    fin = np.isfinite(sp.cap)
    if np.any(fin):
        top = np.max(np.where(fin, sp.cap, 0.0), axis=0)
        share = np.where(fin, sp.cap, top)
        with np.errstate(all="ignore"):
            share = share / np.sum(share, axis=0)
        y = 1.0 - np.cumsum(share, axis=0)
        if np.all(np.isfinite(y)):
            candidates.append(y[:-1])
    for v in candidates:
        if rows.count == 0 or np.min(rows.slack(obj.d(v), v)) > 0:
            return v
    e_mat, b0 = difference_operator(n, m)
    nv = (n - 1) * m
    blocks, rhs = [], []
    if rows.tk.size:
        idx = rows.tk * m + rows.ti
        blocks.append(sps.diags(rows.ts) @ e_mat[idx])
        rhs.append(rows.tb - rows.ts * b0[idx])
    if rows.hj.size:
        blocks.append(sps.csr_matrix((rows.hs, (np.arange(rows.hj.size), rows.hj * m + rows.hi)), shape=(rows.hj.size, nv)))
        rhs.append(rows.hb)
    if rows.bk.size:
        wsum = sps.kron(sps.identity(n), sps.csr_matrix(rows.w[None, :])).tocsr()
        blocks.append(sps.diags(rows.bs) @ (wsum @ e_mat)[rows.bk])
        rhs.append(rows.bb - rows.bs * (wsum @ b0)[rows.bk])
    g_mat = sps.vstack(blocks).tocsr()
    a_ub = sps.hstack([g_mat, sps.csr_matrix(np.ones((g_mat.shape[0], 1)))]).tocsr()
    cost = np.zeros(nv + 1)
    cost[-1] = -1.0
    out = linprog(cost, A_ub=a_ub, b_ub=np.concatenate(rhs), bounds=[(None, None)] * nv + [(None, 1.0 / n)],
                  method="highs")
    if out.status != 0 or not out.x[-1] > 0:
        return None
    return out.x[:-1].reshape(n - 1, m)


def _barrier(obj: _Objective, rows: _Rows, v: np.ndarray, *, max_newton: int, warm: bool = False) -> tuple[np.ndarray | None, int, str]:
    """Minimize ``f + mu B`` for ``mu`` (and ``delta``) falling towards rounding; returns ``v``,
    Newton steps and a message (``v`` None on failure)."""
    sp = obj.sp
    n, m = sp.N, sp.m
    count = rows.count
    scale = max(abs(obj.value(v)), 1.0)
    mu = 0.1 * scale / max(count, 1) if count else 0.0
    smooth = obj.kinked and (not sp.linear or bool(np.any(sp.e > 0)))
    obj.delta = 1e-2 / n if smooth else 0.0
    if warm:  # a convex-concave re-solve from the last answer: start near the end of the path
        mu, obj.delta = mu * 1e-6, obj.delta * 1e-6
    steps = 0
    w = rows.w
    tflat, hflat, diag_m = rows.tk * m + rows.ti, rows.hj * m + rows.hi, np.arange(m)

    def phi(x: np.ndarray) -> float:
        if count:
            s = rows.slack(obj.d(x), x)
            if not np.min(s) > 0:
                return np.inf
            return obj.value(x) - mu * float(np.sum(np.log(s)))
        return obj.value(x)

    while True:
        tol = (1e-13 if mu * count <= 1e-11 * scale else 1e-9) * scale
        for _ in range(100):
            steps += 1
            if steps > max_newton:
                return None, steps, f"barrier Newton did not converge in {max_newton} steps"
            gd, hd, gv = obj.grad_hess(v)
            hv = np.array(obj.risk)
            if count:
                s = rows.slack(obj.d(v), v)
                st, sh, sb = rows.split(s)
                if st.size:
                    gd += np.bincount(tflat, mu * rows.ts / st, minlength=n * m).reshape(n, m)
                    hd[:, diag_m, diag_m] += np.bincount(tflat, mu / st**2, minlength=n * m).reshape(n, m)
                if sh.size:
                    gv += np.bincount(hflat, mu * rows.hs / sh, minlength=(n - 1) * m).reshape(n - 1, m)
                    hv[:, diag_m, diag_m] += np.bincount(hflat, mu / sh**2, minlength=(n - 1) * m).reshape(n - 1, m)
                if sb.size:
                    np.add.at(gd, rows.bk, (mu * rows.bs / sb)[:, None] * w[None, :])
                    np.add.at(hd, rows.bk, (mu / sb**2)[:, None, None] * np.outer(w, w)[None])
            grad, ab = _assemble(gd, hd, gv, hv)
            ab[-1] += 1e-14 * max(float(np.max(np.abs(ab[-1]))), 1e-300)
            try:
                dv = sla.solveh_banded(ab, -grad, lower=False, check_finite=True).reshape(n - 1, m)
            except (np.linalg.LinAlgError, ValueError) as err:
                return None, steps, f"barrier Newton system could not be solved ({err})"
            dec = -float(grad @ dv.ravel())
            if not np.isfinite(dec):
                return None, steps, "barrier Newton step is not finite"
            if dec <= tol:
                break
            step = 1.0
            if count:
                dd = obj.d(v + dv) - obj.d(v)
                gdv = -rows.slack(dd, dv) + rows.slack(np.zeros_like(dd), np.zeros_like(dv))  # G dv
                pos = gdv > 0
                if np.any(pos):
                    step = min(1.0, 0.99 * float(np.min(s[pos] / gdv[pos])))
            f0 = phi(v)
            while step > 1e-12:
                if phi(v + step * dv) <= f0 - 1e-4 * step * dec:
                    break
                step *= 0.5
            if step <= 1e-12:
                break  # no progress left at this mu: rounding
            v = v + step * dv
        if (count == 0 or mu * count <= 1e-11 * scale) and obj.delta <= 1e-11 / n:
            return v, steps, "converged"
        mu *= 0.1
        obj.delta *= 0.1


def solve_interior(sp: ScaledProblem, *, tol: float = 1e-7, max_convex_concave: int = 200,
                   max_newton: int = 20000) -> InteriorResult:
    """Scaled holdings (N+1, m) of the barrier path, or ``y = None`` and the reason (no strictly
    feasible point, a Newton failure); the convex-concave loop stops when the trades move by at
    most ``tol``."""
    n, m = sp.N, sp.m
    if n == 1:
        return InteriorResult(np.vstack([np.ones((1, m)), np.zeros((1, m))]), message="N = 1: the only schedule")
    rows = constraint_rows(sp)
    obj = _Objective(sp)
    v = _strict_start(sp, rows, obj)
    if v is None:
        return InteriorResult(None, message="no strictly feasible schedule (phase one)")
    concave = sp.has_concave_part
    d = obj.d(v)
    total = 0
    history: list[float] = []
    for it in range(1, max_convex_concave + 1):
        if concave:
            obj.lin = -(d @ sp.P)
        out, steps, msg = _barrier(obj, rows, v, max_newton=max_newton - total, warm=it > 1)
        total += steps
        if out is None:
            return InteriorResult(None, total, it, msg, history)
        v = out
        y = np.vstack([np.ones((1, m)), v, np.zeros((1, m))])
        history.append(sp.objective(y))
        d_new = obj.d(v)
        moved = float(np.max(np.abs(d_new - d)))
        d = d_new
        if not concave or moved <= tol:
            return InteriorResult(y, total, it if concave else 0, "converged", history)
    return InteriorResult(y, total, max_convex_concave, f"stopped at max_convex_concave = {max_convex_concave}", history)
