"""qp's model of a time-varying market (per-slice ``eta_k`` / ``epsilon_k``, closures, a soft finish),
with transient impact on the trade times ``s_k``. Entry point :func:`solve_time_varying`.

Free scaled holdings ``z`` (``y = x / X``, time-major), trades ``d = E z + b0``, cost unit ``K``:
``E + lambda V = 1/2 X' Gamma X + K f``,

    f(z) = z' A z + c' z + sum_k e_k' |d_k| + const,    A = R' R (Cholesky),

and CVXPY minimizes ``sum_squares(R z) + c'z + ...`` with ``R`` (banded; dense with a kernel) as DPP
parameters, so every spec that passes the Hessian rule is accepted (``solvers/docs/theory-qp.md``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps

from ..costs import cost_unit
from ..errors import MethodNotApplicable, SolverError
from ..spec import ExecutionProblem
from ..transient import transient_model
from .banded import difference_operator, upper_banded
from .kernel_terms import scaled_transient
from .sizing import DENSE_KERNEL_SLICES, dense_kernel_bytes
from .transient import require_convex_kernels

__all__ = ["TimeVaryingModel", "Quadratic", "applicable", "model_numbers", "quadratic", "solve_time_varying",
           "newton_polish"]

METHOD = "qp"
_CACHE: dict[tuple, "TimeVaryingModel"] = {}


@dataclass
class TimeVaryingModel:
    """A compiled CVXPY problem and its parameters."""

    problem: cp.Problem
    Y: cp.Variable
    params: dict[str, cp.Parameter]
    build_seconds: float


@dataclass(frozen=True)
class Quadratic:
    """``f``'s smooth part ``z'Az + c'z`` in the free scaled holdings (time-major, ``L = free m``)
    and its Cholesky factor. ``blocks``: index arrays into ``z`` that ``A`` does not couple;
    ``factors``: per block the upper factor, in LAPACK band storage (``bandwidth`` >= 0) or dense
    (``bandwidth`` = -1, with a kernel)."""

    diff: sps.csr_matrix                       # E, vec(d) = E z + b0
    base: np.ndarray                           # b0
    linear: np.ndarray                         # c
    matrix: sps.csr_matrix | np.ndarray        # A (sparse banded, or dense with a kernel)
    blocks: tuple[np.ndarray, ...]
    factors: tuple[np.ndarray, ...]
    bandwidth: int
    coupled: bool                              # the risk couples the assets (a correlated basket)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``A^-1 rhs`` by the factor."""
        out = np.empty_like(rhs)
        for idx, fac in zip(self.blocks, self.factors):
            if self.bandwidth >= 0:
                out[idx] = sla.cho_solve_banded((fac, False), rhs[idx], check_finite=False)
            else:
                out[idx] = sla.cho_solve((fac, False), rhs[idx], check_finite=False)
        return out

    def value(self, z: np.ndarray) -> float:
        """``z'Az + c'z``."""
        return float(z @ (self.matrix @ z) + self.linear @ z)


def applicable(problem: ExecutionProblem) -> None:
    """Raise :class:`MethodNotApplicable`, naming the key, for what this model does not cover
    (before any kernel matrix is allocated)."""
    keys = problem.time_varying_keys()
    if not problem.all_linear:
        raise MethodNotApplicable(METHOD, f"{keys[0]} is solved for linear impact only (impact_exponent = 1)")
    for key in ("temporary_impact_matrix", "permanent_impact_matrix", "factor_loadings", "imbalance_band"):
        if getattr(problem, key) is not None:
            raise MethodNotApplicable(METHOD, f"{keys[0]} together with {key} is not modelled")
    if any(a.has_holdings_bounds for a in problem.assets):
        raise MethodNotApplicable(METHOD, f"{keys[0]} together with min_holdings / max_holdings is not modelled")
    if problem.risk_aversion < 0:
        raise MethodNotApplicable(METHOD, f"risk_aversion = {problem.risk_aversion:g} < 0 is not convex")
    if problem.has_transient:
        require_convex_kernels(_kernel_terms(problem, 1.0))
        if problem.slices > DENSE_KERNEL_SLICES:
            raise MethodNotApplicable(METHOD, f"transient_kernel with {keys[0]}: the time-varying model forms a dense "
                                      f"N x N kernel, and at N = {problem.slices} > {DENSE_KERNEL_SLICES} that needs "
                                      f"about {dense_kernel_bytes(problem) / 2**30:.1f} GiB, refused before "
                                      "allocating it")


def _kernel_terms(problem: ExecutionProblem, unit: float):
    return scaled_transient(problem, unit, [transient_model(a) for a in problem.assets])


def model_numbers(problem: ExecutionProblem) -> dict:
    """The numbers of ``f`` per slice and asset: ``q, e, w, g`` (N, m) (module docstring), or for a
    correlated basket ``s`` (N,) and ``M`` (m, m) (risk ``s_k y_k' M y_k``); ``t`` (m,) on ``y_N``;
    ``cap`` (N, m); ``K``; ``transient`` (the scaled kernel terms)."""
    n, m, tau = problem.slices, problem.n_assets, problem.tau
    big_x = problem.initial_holdings
    k_unit = cost_unit(problem)
    gam = np.array([a.permanent_impact for a in problem.assets])
    eta = np.stack([a.eta_slices(n) for a in problem.assets], axis=1)
    eps = np.stack([a.spread_slices(n) for a in problem.assets], axis=1)
    mu = np.array([a.drift for a in problem.assets])
    hold = problem.exposure_times()
    out = {
        "K": np.array(k_unit),
        "q": big_x**2 * (eta / tau - 0.5 * gam) / k_unit,
        "e": eps * np.abs(big_x) / k_unit,
        "g": -hold[:, None] * mu[None, :] * big_x[None, :] / k_unit,
        "t": (big_x**2 * (problem.terminal_penalties() - 0.5 * gam) / k_unit
              if problem.has_terminal_penalty else np.zeros(m)),
        "transient": _kernel_terms(problem, k_unit) if problem.has_transient else (),
    }
    risk = problem.risk_aversion * problem.holding_risk()                  # (N, m, m)
    if m == 1 or np.count_nonzero(problem.covariance - np.diag(np.diag(problem.covariance))) == 0:
        out["w"] = np.einsum("kii->ki", risk) * big_x**2 / k_unit
    else:
        out["s"] = problem.risk_aversion * hold / k_unit                      # V weight h_k (x' C x)
        out["M"] = big_x[:, None] * problem.covariance * big_x[None, :]
    caps = np.full((n, m), np.inf)
    for i, a in enumerate(problem.assets):
        sc = a.slice_caps(n)
        if sc is not None:
            caps[:, i] = sc / abs(big_x[i])
    out["cap"] = caps
    return out


def quadratic(problem: ExecutionProblem, nums: dict) -> Quadratic:
    """Assemble ``A`` and ``c`` of ``f`` (module docstring) and factor ``A = R'R``: banded
    (bandwidth ``m``, O(N m^2)) without a kernel; with one, dense per asset (the whole basket when
    the risk is correlated). Raises :class:`MethodNotApplicable` if ``A`` is not positive definite
    in floating point."""
    n, m = problem.slices, problem.n_assets
    free = n if problem.has_terminal_penalty else n - 1
    size = free * m
    diff, base = difference_operator(n, m, free)
    q = nums["q"].ravel()
    mat = (diff.T @ sps.diags(q) @ diff).tocsr()
    lin = 2.0 * (diff.T @ (q * base)) + nums["g"][:free].ravel()
    if "w" in nums:
        mat = mat + sps.diags(nums["w"][:free].ravel())
    else:
        mat = mat + sps.kron(sps.diags(nums["s"][:free]), nums["M"])
    if problem.has_terminal_penalty:
        last = np.zeros(size)
        last[size - m:] = nums["t"]
        mat = mat + sps.diags(last)
    mat = sps.csr_matrix(mat)
    terms = nums["transient"]
    if not terms:
        blocks = (np.arange(size),)
        try:
            factors = (sla.cholesky_banded(upper_banded(mat, m), lower=False, check_finite=False),)
        except np.linalg.LinAlgError as err:
            raise _not_convex(problem, err) from None
        return Quadratic(diff, base, lin, mat, blocks, factors, m, "w" not in nums)
    dense = mat.toarray()
    for term in terms:  # 1/2 kappa_s d'Gd + l'd with d_i = E_i z_i + b0_i
        rows = np.arange(n) * m + term.asset
        cols = np.arange(free) * m + term.asset
        e_i = diff[rows][:, cols].toarray()
        g_e = term.normalized_matrix() @ e_i
        dense[np.ix_(cols, cols)] += 0.5 * term.kappa * (e_i.T @ g_e)
        lin[cols] += term.kappa * g_e[0] + e_i.T @ term.linear       # G b0 = G e_1: row 0 of G E by symmetry
    blocks = (tuple(np.arange(free) * m + i for i in range(m)) if "w" in nums else (np.arange(size),))
    try:
        factors = tuple(sla.cholesky(dense[np.ix_(b, b)], lower=False, check_finite=False) for b in blocks)
    except np.linalg.LinAlgError as err:
        raise _not_convex(problem, err) from None
    return Quadratic(diff, base, lin, dense, blocks, factors, -1, "w" not in nums)


def _not_convex(problem: ExecutionProblem, err: Exception) -> MethodNotApplicable:
    return MethodNotApplicable(METHOD, f"{problem.time_varying_keys()[0]}: the quadratic form of E + lambda V in the "
                               f"free holdings is not positive definite in floating point ({err}); the spec is at "
                               "the edge of the Hessian rule")


def _build(problem: ExecutionProblem, nums: dict, quad: Quadratic) -> TimeVaryingModel:
    start = time.perf_counter()
    n, m = problem.slices, problem.n_assets
    soft = problem.has_terminal_penalty
    free = n if soft else n - 1
    size = free * m
    Y = cp.Variable((n + 1, m), name="y")
    D = Y[:-1] - Y[1:]
    pr: dict[str, cp.Parameter] = {}
    terms = []
    if size:
        z = cp.reshape(Y[1:free + 1], (size,), order="C")                 # time-major
        if quad.bandwidth >= 0:                                          # R z = sum_j R[p, p + j] z[p + j]
            rows = 0
            for j in _offsets(quad):
                pr[f"R{j}"] = cp.Parameter(size - j, name=f"R{j}")
                part = cp.multiply(pr[f"R{j}"], z[j:])
                rows = rows + (cp.hstack([part, np.zeros(j)]) if j else part)
            terms.append(cp.sum_squares(rows))
        else:
            for b, idx in enumerate(quad.blocks):
                pr[f"R{b}"] = cp.Parameter((idx.size, idx.size), name=f"R{b}")
                zb = z[idx[0]:idx[-1] + 1:m] if len(quad.blocks) > 1 else z
                terms.append(cp.sum_squares(pr[f"R{b}"] @ zb))
        pr["c"] = cp.Parameter(size, name="c")
        terms.append(pr["c"] @ z)
    if np.any(nums["e"] > 0):
        pr["e"] = cp.Parameter((n, m), nonneg=True, name="e")
        terms.append(cp.sum(cp.multiply(pr["e"], cp.abs(D))))
    cons = [Y[0] == 1.0]
    if not soft:
        cons.append(Y[n] == 0.0)
    capped = [i for i in range(m) if np.any(np.isfinite(nums["cap"][:, i]))]
    if capped:
        pr["cap"] = cp.Parameter((n, len(capped)), nonneg=True, name="cap")
        cons.append(D[:, capped] <= pr["cap"])
        if not problem.no_reversal:
            cons.append(-D[:, capped] <= pr["cap"])
    if problem.no_reversal:
        cons.append(D >= 0)
    objective = cp.sum(cp.hstack(terms)) if len(terms) > 1 else (terms[0] if terms else cp.Constant(0.0))
    prob = cp.Problem(cp.Minimize(objective), cons)
    if not prob.is_dcp(dpp=True):  # pragma: no cover - a formulation bug
        raise AssertionError("time-varying qp formulation is not DPP")
    return TimeVaryingModel(prob, Y, pr, time.perf_counter() - start)


def _offsets(quad: Quadratic) -> tuple[int, ...]:
    """The band offsets of ``R`` that can be non-zero: ``0`` and ``m`` when no entry of ``A``
    couples two assets (diagonal risk: no fill-in between them), ``0..m`` for a correlated basket."""
    m = quad.bandwidth
    return tuple(range(m + 1)) if quad.coupled else (0, m)


def _set(model: TimeVaryingModel, nums: dict, quad: Quadratic) -> None:
    pr = model.params
    if quad.bandwidth >= 0 and "c" in pr:
        band = quad.factors[0]
        u = quad.bandwidth
        for j in _offsets(quad):
            pr[f"R{j}"].value = band[u - j, j:]                          # R[p, p + j]
    elif "c" in pr:
        for b, fac in enumerate(quad.factors):
            pr[f"R{b}"].value = fac
    if "c" in pr:
        pr["c"].value = quad.linear
    if "e" in pr:
        pr["e"].value = nums["e"]
    if "cap" in pr:
        cols = [i for i in range(nums["cap"].shape[1]) if np.any(np.isfinite(nums["cap"][:, i]))]
        pr["cap"].value = nums["cap"][:, cols]


def solve_time_varying(problem: ExecutionProblem, solver: str, options: dict) -> tuple[np.ndarray, dict]:
    """Holdings (shares) of the compiled time-varying model and its diagnostics. A new profile of
    the same shape re-uses the compiled problem (``cache_hit``)."""
    applicable(problem)
    nums = model_numbers(problem)
    quad = quadratic(problem, nums)
    n, m = problem.slices, problem.n_assets
    key = (n, m, problem.has_terminal_penalty, bool(np.any(nums["e"] > 0)), quad.bandwidth,
           _offsets(quad) if quad.bandwidth >= 0 else len(quad.blocks),
           tuple(np.flatnonzero(np.any(np.isfinite(nums["cap"]), axis=0))), problem.no_reversal)
    hit = key in _CACHE
    if not hit:
        _CACHE.clear()
        _CACHE[key] = _build(problem, nums, quad)
    model = _CACHE[key]
    _set(model, nums, quad)
    model.problem.solve(solver=solver, **options)
    if model.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or model.Y.value is None:
        raise SolverError(METHOD, str(model.problem.status), f"{solver} returned {model.problem.status!r}")
    y = np.asarray(model.Y.value, dtype=np.float64)
    y, polished = newton_polish(problem, nums, quad, y)
    x = y * problem.initial_holdings[None, :]
    x[0] = problem.initial_holdings
    if not problem.has_terminal_penalty:
        x[-1] = 0.0
    stats = model.problem.solver_stats
    diag = {"path": "cvxpy-time-varying", "solver": solver, "solver_status": model.problem.status, "cache_hit": hit,
            "build_seconds": 0.0 if hit else model.build_seconds, "factor": "banded" if quad.bandwidth >= 0 else "dense",
            "iterations": int(stats.num_iters or 0) if stats is not None else 0, "polish": polished}
    if nums["transient"]:
        diag["transient"] = {"assets": [t.asset for t in nums["transient"]],
                             "kernels": [t.kernel.kind for t in nums["transient"]]}
    return (x[:, 0] if m == 1 else x), diag


def _objective(quad: Quadratic, nums: dict, y: np.ndarray, free: int) -> float:
    d = y[:-1] - y[1:]
    return quad.value(y[1:free + 1].ravel()) + float(np.sum(nums["e"] * np.abs(d)))


def newton_polish(problem: ExecutionProblem, nums: dict, quad: Quadratic, y: np.ndarray,
                  active_tol: float = 1e-6, rounds: int = 20) -> tuple[np.ndarray, str]:
    """Newton on the active set: with the trades at a kink (zero where ``e > 0`` or no-reversal) or at
    a cap fixed, ``f`` is quadratic and its minimizer solves ``2 A z + c + E'(e sign d) + E_R' mu = 0``,
    ``E_R z + b0_R = t`` (Schur complement on the factor of ``A``). Rows whose multiplier leaves its
    range are dropped, kinked trades that change sign and broken caps are added, until consistent.
    Kept only if ``f`` does not rise. Returns ``(y, what happened)``."""
    n, m = y.shape[0] - 1, y.shape[1]
    free = n if problem.has_terminal_penalty else n - 1
    if free == 0:
        return y, "skipped: nothing free"
    e, cap = nums["e"].ravel(), nums["cap"].ravel()
    d0 = (y[:-1] - y[1:]).ravel()
    kinked = (e > 0) | problem.no_reversal
    sign = np.sign(d0)
    rows = {int(r): 0.0 for r in np.flatnonzero(kinked & (np.abs(d0) <= active_tol))}
    for r in np.flatnonzero((np.abs(d0) >= cap - active_tol) & ~(kinked & (np.abs(d0) <= active_tol))):
        rows[int(r)] = float(sign[r] * cap[r])
    base = quad.base
    for _ in range(rounds):
        active = np.array(sorted(rows), dtype=np.int64)
        smooth = e * sign                                                 # d(e|d|)/dd off the kinks
        smooth[[r for r, t in rows.items() if t == 0.0]] = 0.0
        grad0 = quad.linear + quad.diff.T @ smooth
        z = quad.solve(-0.5 * grad0)
        mu = np.zeros(0)
        if active.size:
            e_r = quad.diff[active]
            a_inv = quad.solve(np.asarray(e_r.T.todense()))              # A^-1 E_R'
            schur = e_r @ a_inv
            target = np.array([rows[r] for r in active]) - base[active]
            try:
                mu = np.linalg.solve(0.5 * (schur + schur.T), -2.0 * (target - e_r @ z))
            except np.linalg.LinAlgError:
                return y, f"skipped: the {active.size} active trades are not independent"
            z = z - 0.5 * a_inv @ mu
        d = quad.diff @ z + base
        # multipliers: a zero trade needs |mu| <= e (mu <= e with no-reversal); an upper cap mu >= 0, a lower mu <= 0
        bad = []
        for j, r in enumerate(active):
            t = rows[r]
            if t == 0.0:
                excess = mu[j] - e[r] if problem.no_reversal else abs(mu[j]) - e[r]
            else:
                excess = -np.sign(t) * mu[j]
            if excess > 1e-12 * max(1.0, e[r]):
                bad.append((excess, int(r)))
        if bad:
            _, r = max(bad)
            if rows.pop(r) == 0.0:  # the trade leaves zero in the direction its multiplier pushes
                sign[r] = np.sign(mu[int(np.searchsorted(active, r))])
            continue
        loose = np.ones(d0.size, dtype=bool)
        loose[active] = False
        flipped = np.flatnonzero(loose & kinked & (np.sign(d) != sign))
        broken = np.flatnonzero(loose & (np.abs(d) > cap))
        if not flipped.size and not broken.size:
            break
        for r in flipped:
            rows[int(r)] = 0.0
        for r in broken:
            rows[int(r)] = float(np.sign(d[r]) * cap[r])
            sign[r] = np.sign(d[r])
    else:
        return y, f"rejected: no consistent active set in {rounds} rounds"
    out = y.copy()
    out[1:free + 1] = z.reshape(free, m)
    for r, t in sorted(rows.items()):  # the active trades exactly at their targets, in time order
        k, i = divmod(r, m)
        if k + 1 <= free:
            out[k + 1, i] = out[k, i] - t
    before, after = _objective(quad, nums, y, free), _objective(quad, nums, out, free)
    if after > before + 1e-14 * abs(before):
        return y, "rejected: the objective rose"
    return out, f"applied ({len(rows)} active trades)"
