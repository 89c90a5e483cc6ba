"""Newton polish of the scaled problem on its active set (sparse, O(N) for one asset).

Given the constraints binding at the back end's answer, :func:`polish` solves the
equality-constrained KKT system ``[H A'; A 0] [dv; mu] = [-grad f(v); t - A v]`` by Newton's
method (one step for a quadratic objective) and an active-set loop that drops rows whose
multiplier ``mu`` has the wrong sign and adds violated ones. A transient kernel adds its dense
``kappa_s G`` block to ``H`` (then the KKT system is solved densely, ``N m <= MAX_KERNEL_POLISH``). Convention ``grad f + A' mu = 0``;
a cap row's ``mu`` is ``-d f* / d cap`` in scaled units. Details: ``solvers/docs/theory-qp.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from .banded import difference_operator, mode_solver, upper_banded
from .least_squares import bounded_least_squares
from .scaling import ScaledProblem

__all__ = ["PolishResult", "polish", "MAX_KERNEL_POLISH"]

#: with a transient kernel the polish solves a dense KKT system: up to this many trades (N m)
MAX_KERNEL_POLISH = 1500


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
        self.solve_h = None
        self.kernel_h = None  # the transient terms' kappa_s G on the trades (dense blocks)
        if sp.transient:
            rows, cols, vals = [], [], []
            for term in sp.transient:
                idx = np.arange(n) * m + term.asset
                block = term.kappa * term.normalized_matrix()
                rows.append(np.repeat(idx, n))
                cols.append(np.tile(idx, n))
                vals.append(block.ravel())
            self.kernel_h = sps.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                           shape=(n * m, n * m))
        if sp.linear:
            self.quad_h = sps.kron(sps.identity(n), sps.csr_matrix(2.0 * sp.Q))
            if not sp.transient:
                self.solve_h = mode_solver(sp)  # O(N m^2) solves with the (constant) Hessian

    def d(self, v: np.ndarray) -> np.ndarray:
        return (self.E @ v + self.b0).reshape(self.sp.N, self.sp.m)

    def grad(self, v: np.ndarray, zero_mask: np.ndarray) -> np.ndarray:
        sp = self.sp
        d = self.d(v)
        if sp.linear:
            gd = 2.0 * d @ sp.Q
        else:
            gd = sp.temporary_slope(np, d) - d @ sp.P
        gd = gd + np.where(zero_mask, 0.0, sp.e * np.sign(d))
        for term in sp.transient:  # d/dd of 1/2 kappa_s d'Gd + l'd
            gd[:, term.asset] += term.apply(d[:, term.asset]) + term.linear
        return self.E.T @ gd.ravel() + self.risk_h @ v + self.g_vec

    def hess(self, v: np.ndarray, zero_mask: np.ndarray) -> sps.csr_matrix:
        sp = self.sp
        if sp.linear:
            hd = self.quad_h
        else:
            d = self.d(v)
            diag = sp.temporary_curvature(np, d)
            diag = np.where(zero_mask | ~np.isfinite(diag), 1.0, diag)
            hd = sps.diags(diag.ravel())
            if np.any(sp.P != 0):
                hd = hd - sps.kron(sps.identity(sp.N), sps.csr_matrix(sp.P))
        if self.kernel_h is not None:
            hd = hd + self.kernel_h
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


def _rows(model: _Model, active: list[tuple[str, int, int]]):
    """Stack the active rows: ``A`` (sparse), targets and multiplier intervals."""
    sp = model.sp
    nv = (sp.N - 1) * sp.m
    if not active:
        return sps.csr_matrix((0, nv)), np.zeros(0), np.zeros(0), np.zeros(0)
    trade = [j for j, r in enumerate(active) if r[0] in ("cap_up", "cap_down", "zero")]
    other = [j for j, r in enumerate(active) if r[0] not in ("cap_up", "cap_down", "zero")]
    target = np.zeros(len(active))
    lo = np.zeros(len(active))
    hi = np.zeros(len(active))
    blocks = []
    if trade:
        idx = np.array([active[j][1] * sp.m + active[j][2] for j in trade])
        blocks.append(model.E[idx])
        for j, r in zip(trade, idx):
            kind, k, i = active[j]
            base = model.b0[r]
            if kind == "cap_up":
                target[j], lo[j], hi[j] = sp.cap[k, i] - base, 0.0, np.inf
            elif kind == "cap_down":
                target[j], lo[j], hi[j] = -sp.cap[k, i] - base, -np.inf, 0.0
            else:
                target[j], lo[j], hi[j] = -base, (-np.inf if sp.no_reversal else -sp.e[i]), sp.e[i]
    for j in other:
        a, target[j], lo[j], hi[j] = _row(model, *active[j])
        blocks.append(a)
    a_mat = sps.vstack(blocks).tocsr()
    order = np.argsort(np.array(trade + other))  # back to the order of ``active``
    return a_mat[order], target, lo, hi


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


def _independent(model: _Model, active: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The active rows without those implied by others (bound rows first): a trade held at zero
    between two holdings on the same bound is one such row; dependent rows make the KKT matrix
    singular. Greedy by a QR of the rows in that order (``|R_jj|`` at rounding: dependent)."""
    if len(active) < 2:
        return active
    order = sorted(active, key=lambda r: r[0] not in ("lb", "ub"))
    a_mat = _rows(model, order)[0]
    if a_mat.shape[0] * a_mat.shape[1] > 2e7:
        return active
    r = sla.qr(a_mat.toarray().T, mode="r", check_finite=False)[0]
    diag = np.abs(np.diag(r))
    keep = diag > 1e-10 * max(float(np.max(diag, initial=0.0)), 1e-300)
    return [row for row, k in zip(order, keep) if k]


def _kkt_solve(hess: sps.csr_matrix, a_mat: sps.csr_matrix, rhs_v: np.ndarray, rhs_a: np.ndarray,
               m: int, solve_h=None, dense: bool = False) -> np.ndarray:
    """Solve ``[H A'; A 0] [dv; mu] = [rhs_v; rhs_a]``.

    ``H`` positive definite (every convex case): ``H^-1`` by eigen modes (linear basket, few
    active rows) or a banded Cholesky of ``H`` (bandwidth ``2m - 1``, time-major order), and
    the Schur complement ``S = A H^-1 A'`` for the ``r`` active rows, ``O(N m^3 + N m r + r^3)``.
    Otherwise (an indefinite ``H`` of the convex-concave case), or when ``H^-1 A'`` would be
    large, a sparse LU of the whole KKT matrix; ``dense`` (a transient kernel): one dense solve.
    """
    r = a_mat.shape[0]
    if dense:  # a transient kernel makes H dense: one dense KKT solve (the caller bounds its size)
        kkt = np.block([[hess.toarray(), a_mat.T.toarray()], [a_mat.toarray(), np.zeros((r, r))]])
        return np.linalg.solve(kkt, np.concatenate([rhs_v, rhs_a]))
    u = min(2 * m - 1 if m > 1 else 1, max(hess.shape[0] - 1, 0))
    if r * hess.shape[0] <= 4e6 and hess.shape[0] > 0:  # H^-1 A' fits in ~32 MB
        if solve_h is not None and r <= m:  # the mode transform costs O(N m^2) per column
            return _schur(solve_h, a_mat, rhs_v, rhs_a)
        ab = upper_banded(hess, u)
        try:
            factor = sla.cholesky_banded(ab, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            factor = None
        if factor is not None:
            return _schur(lambda b: sla.cho_solve_banded((factor, False), b, check_finite=False), a_mat, rhs_v, rhs_a)
    kkt = sps.bmat([[hess, a_mat.T], [a_mat, None]], format="csr") if r else hess.tocsr()
    rhs = np.concatenate([rhs_v, rhs_a]) if r else rhs_v
    sol = _banded_kkt(kkt, hess.shape[0], a_mat, m, rhs)
    if sol is not None:
        return sol
    return spla.spsolve(kkt.tocsc(), rhs, permc_spec="MMD_AT_PLUS_A")


def _banded_kkt(kkt: sps.csr_matrix, nv: int, a_mat: sps.csr_matrix, m: int, rhs: np.ndarray) -> np.ndarray | None:
    """Solve the KKT system by a banded LU (partial pivoting) after interleaving each active row
    right behind the last time block of holdings it touches: bandwidth ``O(m + rows per slice)``,
    ``O(N)`` memory. None when the interleaved matrix is not narrow (the caller uses sparse LU)."""
    r = a_mat.shape[0]
    key = np.concatenate([2 * (np.arange(nv) // m), np.zeros(r, dtype=np.int64)])
    if r:
        a = a_mat.tocsr()
        if np.any(np.diff(a.indptr) == 0):
            return None
        last = np.maximum.reduceat(a.indices, a.indptr[:-1])
        key[nv:] = 2 * (last // m) + 1
    order = np.argsort(key, kind="stable")
    where = np.empty_like(order)
    where[order] = np.arange(order.size)
    coo = kkt.tocoo()
    rows, cols = where[coo.row], where[coo.col]
    lower, upper = int(np.max(rows - cols, initial=0)), int(np.max(cols - rows, initial=0))
    size = order.size
    if (2 * lower + upper + 1) * size > 5e7:
        return None
    ab = np.zeros((lower + upper + 1, size))
    np.add.at(ab, (upper + rows - cols, cols), coo.data)
    try:
        z = sla.solve_banded((lower, upper), ab, rhs[order], check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return None
    return z[where]


def _schur(solve_h, a_mat: sps.csr_matrix, rhs_v: np.ndarray, rhs_a: np.ndarray) -> np.ndarray:
    """KKT solve through ``H^-1``: ``mu = (A H^-1 A')^-1 (A H^-1 rhs_v - rhs_a)``."""
    hg = solve_h(rhs_v)
    if a_mat.shape[0] == 0:
        return hg
    ha = solve_h(a_mat.T.toarray())
    mu = np.linalg.solve(a_mat @ ha, a_mat @ hg - rhs_a)
    return np.concatenate([hg - ha @ mu, mu])


def polish(sp: ScaledProblem, y0: np.ndarray, *, max_rounds: int = 12, max_newton: int = 60) -> PolishResult:
    """Polish the scaled holdings ``y0`` (N+1, m) by Newton's method on the active set.

    Returns ``success = False`` (and ``y0`` untouched) when the KKT system is singular, Newton
    does not converge, or the active set does not settle; the caller then reports the solver's
    own answer with its (independently computed) KKT residual.
    """
    n, m = sp.N, sp.m
    y0 = np.asarray(y0, dtype=np.float64).reshape(n + 1, m).copy()
    y0[0], y0[-1] = 1.0, 0.0
    if sp.transient and n * m > MAX_KERNEL_POLISH:
        return PolishResult(False, y0, message=f"a transient kernel makes the Newton system dense: N m = {n * m} > "
                                               f"{MAX_KERNEL_POLISH} is left unpolished")
    if n == 1:
        return PolishResult(True, y0, message="N = 1: the only schedule")
    try:
        model = _Model(sp)
    except np.linalg.LinAlgError as err:  # the mode transform needs Q positive definite in floating point
        return PolishResult(False, y0, message=f"Hessian factorization failed ({err})")
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
        full = active
        active = _independent(model, full)
        a_mat, target, lo, hi = _rows(model, active)
        signs = np.sign(model.d(v))
        converged = False
        for it in range(max_newton):
            total_newton += 1
            grad = model.grad(v, zero_mask)
            hess = model.hess(v, zero_mask)
            try:
                with np.errstate(all="ignore"):
                    sol = _kkt_solve(hess, a_mat, -grad, target - a_mat @ v, m, model.solve_h,
                                     dense=model.kernel_h is not None)
            except (RuntimeError, ValueError, np.linalg.LinAlgError) as err:
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
            if sp.linear or np.max(np.abs(step * dv), initial=0.0) <= 1e-14 * max(1.0, np.max(np.abs(v), initial=0.0)):
                # a quadratic objective: one Newton step solves the KKT system exactly
                converged = True
                break
        if not converged:
            return PolishResult(False, y0, newton_iterations=total_newton, active_set_rounds=rnd,
                                message=f"Newton did not converge in {max_newton} iterations")
        y = np.vstack([np.ones((1, m)), v.reshape(n - 1, m), np.zeros((1, m))])
        if len(full) > len(active) and len(full) * v.size <= 4e6 and not _violations(sp, y, set(full), 1e-13):
            # dependent rows were left out of the Newton system: their multipliers are not unique,
            # so the signs are judged on the bounded least-squares multipliers of all of them
            grad = model.grad(v, zero_mask)
            a_full, _, lo_f, hi_f = _rows(model, full)
            mu_f = bounded_least_squares(a_full, grad, lo_f, hi_f)
            if np.linalg.norm(grad + a_full.T @ mu_f) <= 1e-10 * (np.linalg.norm(grad) + np.linalg.norm(a_full.T @ np.abs(mu_f))):
                return PolishResult(True, y, rows=list(full), multipliers=mu_f, newton_iterations=total_newton,
                                    active_set_rounds=rnd, message="converged (dependent active rows)")
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
