"""Newton polish of the scaled problem on its active set (sparse, O(N) for one asset).

An interior-point answer is accurate to the solver's tolerance (1e-8 to 1e-10), not to the
last digit. Given the constraints that bind at that answer, the optimum solves the
equality-constrained KKT system

    [ H  A' ] [ dv ]   [ -grad f(v)  ]
    [ A  0  ] [ mu ] = [ t - A v      ]

with ``v`` the interior scaled holdings ``y_1..y_(N-1)`` (time-major, so ``H`` is banded:
tridiagonal for one asset, block-tridiagonal with ``m x m`` blocks for a basket), ``A`` the
active rows (a cap ``d_ki = +-cap``, a zero trade ``d_ki = 0`` where the spread or
no-reversal makes ``|d|`` non-smooth, a holdings bound, a dollar-imbalance band) and ``t``
their targets. Newton's method on this system converges quadratically (one step for a
quadratic objective); a primal-dual active-set loop then drops rows whose multiplier has the
wrong sign and adds constraints the step violated, until both hold.

Multiplier convention: ``grad f + A' mu = 0``; ``mu >= 0`` for an upper cap, an upper bound
or the upper band, ``mu <= 0`` for the lower ones, and ``-e_i <= mu <= e_i`` for a zero trade
(``mu <= e_i`` with no-reversal). ``mu`` of a cap row is ``-d f* / d cap`` in scaled units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from .scaling import ScaledProblem

__all__ = ["PolishResult", "polish", "difference_operator"]


@dataclass
class PolishResult:
    """Outcome of :func:`polish`. ``y`` is (N+1, m) scaled holdings."""

    success: bool
    y: np.ndarray
    rows: list[tuple[str, int, int]] = field(default_factory=list)
    multipliers: np.ndarray = field(default_factory=lambda: np.zeros(0))
    newton_iterations: int = 0
    active_set_rounds: int = 0
    message: str = ""


def difference_operator(n: int, m: int) -> tuple[sps.csr_matrix, np.ndarray]:
    """``E`` and ``b0`` with ``vec(d) = E v + b0`` (time-major vec, ``v`` = interior ``y``)."""
    rows, cols, vals = [], [], []
    for k in range(1, n + 1):
        for i in range(m):
            r = (k - 1) * m + i
            if k - 1 >= 1:
                rows.append(r); cols.append((k - 2) * m + i); vals.append(1.0)
            if k <= n - 1:
                rows.append(r); cols.append((k - 1) * m + i); vals.append(-1.0)
    e = sps.csr_matrix((vals, (rows, cols)), shape=(n * m, max(n - 1, 0) * m))
    b0 = np.zeros(n * m)
    b0[:m] = 1.0
    return e, b0


class _Model:
    """Gradient and Hessian of the scaled objective in ``v``."""

    def __init__(self, sp: ScaledProblem):
        self.sp = sp
        self.E, self.b0 = difference_operator(sp.N, sp.m)
        n, m = sp.N, sp.m
        nint = (n - 1) * m
        if sp.W is not None:
            self.risk_h = sps.diags(2.0 * sp.W[: n - 1].ravel()) if nint else sps.csr_matrix((0, 0))
        else:
            self.risk_h = sps.kron(sps.identity(n - 1), sps.csr_matrix(2.0 * sp.M)) if nint else sps.csr_matrix((0, 0))
        self.g_vec = np.tile(sp.g, n - 1)
        if sp.linear:
            self.quad_h = sps.kron(sps.identity(n), sps.csr_matrix(2.0 * sp.Q))

    def d(self, v: np.ndarray) -> np.ndarray:
        return (self.E @ v + self.b0).reshape(self.sp.N, self.sp.m)

    def grad(self, v: np.ndarray, zero_mask: np.ndarray) -> np.ndarray:
        sp = self.sp
        d = self.d(v)
        if sp.linear:
            gd = 2.0 * d @ sp.Q
        else:
            gd = sp.c * sp.p * np.abs(d) ** (sp.p - 1.0) * np.sign(d) - d @ sp.P
        gd = gd + np.where(zero_mask, 0.0, sp.e * np.sign(d))
        return self.E.T @ gd.ravel() + self.risk_h @ v + self.g_vec

    def hess(self, v: np.ndarray, zero_mask: np.ndarray) -> sps.csr_matrix:
        sp = self.sp
        if sp.linear:
            hd = self.quad_h
        else:
            d = self.d(v)
            with np.errstate(divide="ignore"):
                diag = sp.c * sp.p * (sp.p - 1.0) * np.abs(d) ** (sp.p - 2.0)
            diag = np.where(zero_mask | ~np.isfinite(diag), 1.0, diag)
            hd = sps.diags(diag.ravel())
            if np.any(sp.P != 0):
                hd = hd - sps.kron(sps.identity(sp.N), sps.csr_matrix(sp.P))
        return (self.E.T @ hd @ self.E + self.risk_h).tocsr()


def _row(model: _Model, kind: str, k: int, i: int) -> tuple[sps.csr_matrix, float, float, float]:
    """Sparse row on ``v``, target, multiplier interval for an active constraint."""
    sp = model.sp
    m = sp.m
    if kind in ("cap_up", "cap_down", "zero"):
        r = k * m + i  # trade d_(k+1), 0-based slice k
        a = model.E[r]
        base = model.b0[r]
        if kind == "cap_up":
            return a, sp.cap[k, i] - base, 0.0, np.inf
        if kind == "cap_down":
            return a, -sp.cap[k, i] - base, -np.inf, 0.0
        lo = -np.inf if sp.no_reversal else -sp.e[i]
        return a, -base, lo, sp.e[i]
    if kind in ("ub", "lb"):
        a = sps.csr_matrix(([1.0], ([0], [k * m + i])), shape=(1, (sp.N - 1) * m))  # y_(k+1)
        if kind == "ub":
            return a, sp.yhi[i], 0.0, np.inf
        return a, sp.ylo[i], -np.inf, 0.0
    # band rows: i = +1 upper, -1 lower
    rows = slice(k * m, (k + 1) * m)
    a = sps.csr_matrix(sp.band_w[None, :]) @ model.E[rows]
    base = float(sp.band_w @ model.b0[rows])
    if kind == "band_up":
        return sps.csr_matrix(a), sp.band[k] - base, 0.0, np.inf
    return sps.csr_matrix(a), -sp.band[k] - base, -np.inf, 0.0


def _violations(sp: ScaledProblem, y: np.ndarray, active: set, tol: float) -> list[tuple[str, int, int]]:
    d = y[:-1] - y[1:]
    add = []
    over = d - sp.cap
    for k, i in zip(*np.nonzero(over > tol)):
        add.append(("cap_up", int(k), int(i)))
    if not sp.no_reversal:
        for k, i in zip(*np.nonzero(-d - sp.cap > tol)):
            add.append(("cap_down", int(k), int(i)))
    else:
        for k, i in zip(*np.nonzero(d < -tol)):
            add.append(("zero", int(k), int(i)))
    inner = y[1:-1]
    for k, i in zip(*np.nonzero(inner - sp.yhi > tol)):
        add.append(("ub", int(k), int(i)))
    for k, i in zip(*np.nonzero(sp.ylo - inner > tol)):
        add.append(("lb", int(k), int(i)))
    if sp.band is not None:
        imb = d @ sp.band_w
        for k in np.flatnonzero(imb - sp.band > tol):
            add.append(("band_up", int(k), 0))
        for k in np.flatnonzero(-imb - sp.band > tol):
            add.append(("band_down", int(k), 0))
    return [r for r in add if r not in active]


def _initial_active(sp: ScaledProblem, y: np.ndarray, tol: float) -> list[tuple[str, int, int]]:
    d = y[:-1] - y[1:]
    rows = []
    fin = np.isfinite(sp.cap)
    for k, i in zip(*np.nonzero(fin & (d >= sp.cap - tol))):
        rows.append(("cap_up", int(k), int(i)))
    for k, i in zip(*np.nonzero(fin & (d <= -sp.cap + tol))):
        if not sp.no_reversal:
            rows.append(("cap_down", int(k), int(i)))
    kink = (sp.e > 0) | sp.no_reversal
    for k, i in zip(*np.nonzero((np.abs(d) <= tol) & kink[None, :])):
        if ("cap_up", int(k), int(i)) not in rows:
            rows.append(("zero", int(k), int(i)))
    inner = y[1:-1]
    for k, i in zip(*np.nonzero(inner >= sp.yhi - tol)):
        rows.append(("ub", int(k), int(i)))
    for k, i in zip(*np.nonzero(inner <= sp.ylo + tol)):
        rows.append(("lb", int(k), int(i)))
    if sp.band is not None:
        imb = d @ sp.band_w
        for k in np.flatnonzero(imb >= sp.band - tol):
            rows.append(("band_up", int(k), 0))
        for k in np.flatnonzero(imb <= -sp.band + tol):
            rows.append(("band_down", int(k), 0))
    return rows


def polish(sp: ScaledProblem, y0: np.ndarray, *, max_rounds: int = 12, max_newton: int = 60) -> PolishResult:
    """Polish the scaled holdings ``y0`` (N+1, m) by Newton's method on the active set.

    Returns ``success = False`` (and ``y0`` untouched) when the KKT system is singular, Newton
    does not converge, or the active set does not settle; the caller then reports the solver's
    own answer with its (independently computed) KKT residual.
    """
    n, m = sp.N, sp.m
    y0 = np.asarray(y0, dtype=np.float64).reshape(n + 1, m).copy()
    y0[0], y0[-1] = 1.0, 0.0
    if n == 1:
        return PolishResult(True, y0, message="N = 1: the only schedule")
    model = _Model(sp)
    tol = 1e-6 / n
    active = _initial_active(sp, y0, tol)
    v = y0[1:-1].ravel().copy()
    total_newton = 0
    mu = np.zeros(0)
    for rnd in range(1, max_rounds + 1):
        zero_mask = np.zeros((n, m), dtype=bool)
        for kind, k, i in active:
            if kind == "zero":
                zero_mask[k, i] = True
        built = [_row(model, *r) for r in active]
        if built:
            a_mat = sps.vstack([b[0] for b in built]).tocsr()
            target = np.array([b[1] for b in built])
            lo = np.array([b[2] for b in built])
            hi = np.array([b[3] for b in built])
        else:
            a_mat = sps.csr_matrix((0, v.size))
            target = lo = hi = np.zeros(0)
        signs = np.sign(model.d(v))
        converged = False
        for it in range(max_newton):
            total_newton += 1
            grad = model.grad(v, zero_mask)
            hess = model.hess(v, zero_mask)
            kkt = sps.bmat([[hess, a_mat.T], [a_mat, None]], format="csc") if built else hess.tocsc()
            rhs = np.concatenate([-grad, target - a_mat @ v]) if built else -grad
            try:
                with np.errstate(all="ignore"):
                    sol = spla.spsolve(kkt, rhs)
            except (RuntimeError, ValueError) as err:
                return PolishResult(False, y0, newton_iterations=total_newton, active_set_rounds=rnd,
                                    message=f"KKT system could not be solved ({err})")
            if not np.all(np.isfinite(sol)):
                return PolishResult(False, y0, newton_iterations=total_newton, active_set_rounds=rnd,
                                    message="KKT system is singular (dependent active constraints?)")
            dv, mu = sol[: v.size], sol[v.size:]
            step = 1.0
            if not sp.linear:  # stay on the smooth piece: no free trade may cross zero in one step
                for _ in range(60):
                    dn = model.d(v + step * dv)
                    crossed = (signs != 0) & (np.sign(dn) != signs) & ~zero_mask
                    if not np.any(crossed):
                        break
                    step *= 0.5
            v = v + step * dv
            if np.max(np.abs(step * dv), initial=0.0) <= 1e-15 * max(1.0, np.max(np.abs(v), initial=0.0)) * 10 or (
                    sp.linear and it >= 1):
                converged = True
                break
        if not converged:
            return PolishResult(False, y0, newton_iterations=total_newton, active_set_rounds=rnd,
                                message=f"Newton did not converge in {max_newton} iterations")
        y = np.vstack([np.ones((1, m)), v.reshape(n - 1, m), np.zeros((1, m))])
        mtol = 1e-9 * max(1.0, np.max(np.abs(mu), initial=0.0))
        wrong = [j for j in range(len(active)) if mu[j] < lo[j] - mtol or mu[j] > hi[j] + mtol]
        added = _violations(sp, y, set(active), 1e-13)
        if not wrong and not added:
            return PolishResult(True, y, rows=list(active), multipliers=mu, newton_iterations=total_newton,
                                active_set_rounds=rnd, message="converged")
        keep = [r for j, r in enumerate(active) if j not in set(wrong)]
        active = keep + added
    return PolishResult(False, y0, newton_iterations=total_newton, active_set_rounds=max_rounds,
                        message=f"active set did not settle in {max_rounds} rounds")
