"""A static execution problem with linear impact as a standard QP (qpsolvers' convention).

``export_qp(problem, units)`` returns :class:`ExportedQP`: minimize ``1/2 z'Pz + q'z`` subject
to ``Gz <= h``, ``Az = b``, ``lb <= z <= ub``, with ``E + lambda V = objective_scale *
(1/2 z'Pz + q'z + objective_offset)`` (currency) and the holdings, ``N+1`` rows by ``m``
assets flattened row-major, ``= holdings_map @ z + holdings_offset`` (shares). Variables: the
inner holdings ``x_1..x_{N-1}``, then a spread slack ``t_ki >= |n_ki|`` per slice and asset
with ``epsilon_i > 0`` (unless no-reversal makes the spread the constant ``epsilon |X|``),
then factor exposures ``f_k = B' x_k`` (factor-model baskets). ``units="raw"``: shares and
currency; ``"scaled"``: holdings as fractions of the order, cost in ``cost_unit(problem)``.
The mapping back is written out on the test-set page (solvers/docs/testset.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sps

from ..costs import cost_unit
from ..errors import MethodNotApplicable, SpecError
from ..spec import ExecutionProblem

__all__ = ["ExportedQP", "export_qp", "UNITS", "representable"]

#: the unit systems of an export
UNITS = ("raw", "scaled")
_WHO = "export"


@dataclass
class ExportedQP:
    """A QP in qpsolvers' convention plus the maps back to the execution problem.

    Matrices are ``scipy.sparse.csc_matrix``; absent constraint blocks are None.
    ``variables`` names the blocks of ``z`` as ``(name, start, stop)``.
    """

    name: str
    units: str
    P: sps.csc_matrix
    q: np.ndarray
    G: sps.csc_matrix | None
    h: np.ndarray | None
    A: sps.csc_matrix | None
    b: np.ndarray | None
    lb: np.ndarray | None
    ub: np.ndarray | None
    holdings_map: sps.csc_matrix
    holdings_offset: np.ndarray
    objective_scale: float
    objective_offset: float
    shape: tuple[int, int]                     # (N+1, m) of the holdings
    variables: list[tuple[str, int, int]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of variables."""
        return int(self.q.size)

    def qp_objective(self, z: np.ndarray) -> float:
        """``1/2 z'Pz + q'z`` (units of ``objective_scale``)."""
        z = np.asarray(z, dtype=np.float64)
        return float(0.5 * z @ (self.P @ z) + self.q @ z)

    def objective(self, z: np.ndarray) -> float:
        """``E + lambda V`` in currency: ``objective_scale * (1/2 z'Pz + q'z + objective_offset)``."""
        return self.objective_scale * (self.qp_objective(z) + self.objective_offset)

    def holdings(self, z: np.ndarray) -> np.ndarray:
        """Holdings in shares, ``(N+1,)`` for one asset or ``(N+1, m)``."""
        x = (self.holdings_map @ np.asarray(z, dtype=np.float64) + self.holdings_offset).reshape(self.shape)
        return x[:, 0] if self.shape[1] == 1 else x

    def point(self, holdings: np.ndarray) -> np.ndarray:
        """The ``z`` of a schedule: inner holdings, slacks ``t = |n|``, exposures ``f = B'x``."""
        return self.info["point"](np.asarray(holdings, dtype=np.float64).reshape(self.shape))

    def to_qpsolvers(self):
        """A ``qpsolvers.Problem`` (sparse matrices)."""
        import qpsolvers

        return qpsolvers.Problem(self.P, self.q, self.G, self.h, self.A, self.b, self.lb, self.ub)


def representable(problem: ExecutionProblem) -> str | None:
    """Why ``problem`` has no QP export (None when it has one)."""
    if not problem.all_linear:
        bad = [a.impact_exponent for a in problem.assets if not a.is_linear]
        return (f"impact_exponent = {bad[0]:g} is not 1: power-law impact is a conic problem, not a QP "
                "(export it through CVXPY: solvers.testset.conic_problem)")
    if problem.risk_aversion < 0:
        return f"risk_aversion = {problem.risk_aversion:g} < 0 makes the objective non-convex"
    if problem.slices < 2:
        return "slices = 1: x_0 = X and x_1 = 0 leave no variable to optimize"
    varying = problem.time_varying_keys()
    if varying:
        return (f"{varying[0]}: the export covers constant per-slice coefficients with x_N = 0 "
                "(time-varying markets, closures and a soft finish are solved by qp, not exported yet)")
    if problem.has_transient:
        return "transient_impact: the kernel term is not exported yet (qp solves it)"
    return None


def export_qp(problem: ExecutionProblem, units: str = "scaled", *, name: str | None = None) -> ExportedQP:
    """The static problem of ``problem`` (linear impact) as a QP in ``units`` (module docstring).

    Raises:
        SpecError: ``units`` is not ``raw`` or ``scaled``.
        MethodNotApplicable: the spec is not a QP (power-law impact, ``lambda < 0``, ``N = 1``).
    """
    if units not in UNITS:
        raise SpecError("units", units, f"must be one of {', '.join(UNITS)}")
    why = representable(problem)
    if why:
        raise MethodNotApplicable(_WHO, why)
    n, m, tau, lam = problem.slices, problem.n_assets, problem.tau, problem.risk_aversion
    big_x = problem.initial_holdings
    sign = np.sign(big_x)
    scaled = units == "scaled"
    k_unit = cost_unit(problem) if scaled else 1.0

    # ---- variable blocks: inner holdings, spread slacks, factor exposures
    nx = (n - 1) * m
    eps = np.array([a.spread for a in problem.assets])
    slack_assets = [] if problem.no_reversal else [i for i in range(m) if eps[i] > 0]
    ms = len(slack_assets)
    nt = n * ms
    factor = problem.has_factor_model and lam > 0
    b_load = np.array(problem.factor_loadings) if factor else None
    r = b_load.shape[1] if factor else 0
    nf = (n - 1) * r
    nz = nx + nt + nf
    variables = [("holdings", 0, nx)] + ([("spread_slack", nx, nx + nt)] if nt else []) + (
        [("factor_exposure", nx + nt, nz)] if nf else [])

    # physical value of each variable = unit * z (shares, shares, currency/sqrt(time))
    x_unit = np.tile(big_x if scaled else np.ones(m), n - 1)
    t_unit = np.tile(np.abs(big_x[slack_assets]) if scaled else np.ones(ms), n)
    f_scale = np.sqrt(lam * tau / k_unit) if (factor and scaled) else 1.0   # z_f = f_scale * B'x
    unit = np.concatenate([x_unit, t_unit, np.full(nf, 1.0 / f_scale)])
    dz = sps.diags(unit)

    # ---- full holdings (N+1)m = S x_inner + s0; trades Nm = T x_inner + n0
    sel = sps.vstack([sps.csr_matrix((m, nx)), sps.identity(nx, format="csr"), sps.csr_matrix((m, nx))]).tocsr()
    s0 = np.concatenate([big_x, np.zeros(nx + m)])
    diff = sps.diags([np.ones(n), -np.ones(n)], [0, 1], shape=(n, n + 1))
    dif = sps.kron(diff, sps.identity(m)).tocsr()
    trade = (dif @ sel).tocsr()          # (N m, nx)
    n0 = dif @ s0

    # ---- quadratic form in the full holdings: sum_k n_k'(H/tau - Gamma/2) n_k + risk
    qn = problem.temporary_impact_matrix_array / tau - 0.5 * problem.permanent_impact_matrix_array
    quad = (dif.T @ sps.kron(sps.identity(n), sps.csr_matrix(qn)) @ dif).tocsr()
    if lam != 0:
        if m == 1:
            var = problem.slice_variance()
            risk = sps.diags(np.concatenate([[0.0], lam * tau * var]))
        elif factor:
            spec = np.square(np.asarray(problem.specific_volatility, dtype=np.float64))
            risk = sps.kron(sps.diags(np.r_[0.0, np.ones(n)]), sps.diags(lam * tau * spec))
        else:
            risk = sps.kron(sps.diags(np.r_[0.0, np.ones(n)]), sps.csr_matrix(lam * tau * problem.covariance))
        quad = (quad + risk).tocsr()
    mu = np.array([a.drift for a in problem.assets])
    lin_full = -tau * np.kron(np.r_[0.0, np.ones(n)], mu)
    const = 0.5 * float(big_x @ problem.permanent_impact_matrix_array @ big_x)
    if problem.no_reversal:
        const += float(np.sum(eps * np.abs(big_x)))   # one-way: sum_k |n_ki| = |X_i|
    qs0 = quad @ s0
    p_x = 2.0 * (sel.T @ quad @ sel)
    q_x = sel.T @ (2.0 * qs0 + lin_full)
    const += float(s0 @ qs0 + lin_full @ s0)

    blocks_p = [p_x]
    q_phys = [np.asarray(q_x).ravel()]
    if nt:
        blocks_p.append(sps.csr_matrix((nt, nt)))
        q_phys.append(np.tile(eps[slack_assets], n))
    if nf:
        blocks_p.append(sps.identity(nf) * (2.0 * lam * tau))
        q_phys.append(np.zeros(nf))
    p_phys = sps.block_diag(blocks_p, format="csc")
    p_mat = (dz @ p_phys @ dz / k_unit).tocsc()
    p_mat = (0.5 * (p_mat + p_mat.T)).tocsc()
    q_vec = unit * np.concatenate(q_phys) / k_unit

    # ---- inequalities on trades: caps, no-reversal, spread slacks, dollar-imbalance band
    rows: list[sps.csr_matrix] = []
    rhs: list[np.ndarray] = []
    row_scale: list[np.ndarray] = []
    pad_x = lambda mat: sps.hstack([mat, sps.csr_matrix((mat.shape[0], nt + nf))]).tocsr()  # noqa: E731

    def add(mat: sps.csr_matrix, bound: np.ndarray, scale: np.ndarray) -> None:
        rows.append(mat)
        rhs.append(np.asarray(bound, dtype=np.float64))
        row_scale.append(np.asarray(scale, dtype=np.float64))

    for i, a in enumerate(problem.assets):
        idx = np.arange(n) * m + i                          # trade rows (k, i)
        caps = a.slice_caps(n)
        t_i = trade[idx] * sign[i]                          # sign(X) n_ki as a function of x
        o_i = n0[idx] * sign[i]
        scale_i = np.full(n, abs(big_x[i]))
        if caps is not None:
            keep = np.isfinite(caps)
            add(pad_x(t_i[keep]), caps[keep] - o_i[keep], scale_i[keep])
            if not problem.no_reversal:
                add(pad_x(-t_i[keep]), caps[keep] + o_i[keep], scale_i[keep])
        if problem.no_reversal:
            add(pad_x(-t_i), o_i, scale_i)
    for j, i in enumerate(slack_assets):
        idx = np.arange(n) * m + i
        tcols = sps.csr_matrix((np.ones(n), (np.arange(n), nx + np.arange(n) * ms + j)), shape=(n, nz))
        tx = pad_x(trade[idx])
        scale_i = np.full(n, abs(big_x[i]))
        add((tx - tcols).tocsr(), -n0[idx], scale_i)
        add((-tx - tcols).tocsr(), n0[idx], scale_i)
    bands = problem.imbalance_bands()
    if bands is not None:
        prices = np.array([a.price for a in problem.assets])
        dollar = sps.kron(sps.identity(n), sps.csr_matrix(prices[None, :])).tocsr()   # (N, N m)
        dx = (dollar @ trade).tocsr()
        d0 = dollar @ n0
        b_scale = float(np.sum(np.abs(prices * big_x)))
        add(pad_x(dx), bands - d0, np.full(n, b_scale))
        add(pad_x(-dx), bands + d0, np.full(n, b_scale))
    g_mat = h_vec = None
    if rows:
        g_phys = sps.vstack(rows).tocsr()
        h_phys = np.concatenate(rhs)
        rs = np.concatenate(row_scale) if scaled else np.ones(h_phys.size)
        g_mat = (sps.diags(1.0 / rs) @ g_phys @ dz).tocsc()
        h_vec = h_phys / rs

    # ---- equalities: factor exposures z_f = f_scale B' x_k
    a_mat = b_vec = None
    if nf:
        bx = sps.kron(sps.identity(n - 1), sps.csr_matrix(b_load.T))                 # (nf, nx) physical
        a_phys = sps.hstack([-bx, sps.csr_matrix((nf, nt)), sps.identity(nf)]).tocsr()
        a_mat = (f_scale * a_phys @ dz).tocsc()
        b_vec = np.zeros(nf)

    # ---- bounds on inner holdings
    lb = ub = None
    if any(a.has_holdings_bounds for a in problem.assets):
        lo = np.array([-np.inf if a.min_holdings is None else a.min_holdings for a in problem.assets])
        hi = np.array([np.inf if a.max_holdings is None else a.max_holdings for a in problem.assets])
        if scaled:
            lo, hi = lo / big_x, hi / big_x
            lo, hi = np.where(big_x < 0, hi, lo), np.where(big_x < 0, lo, hi)
        lb = np.concatenate([np.tile(lo, n - 1), np.full(nt + nf, -np.inf)])
        ub = np.concatenate([np.tile(hi, n - 1), np.full(nt + nf, np.inf)])

    hmap = sps.hstack([sel @ sps.diags(x_unit), sps.csr_matrix(((n + 1) * m, nt + nf))]).tocsc()

    def point(x: np.ndarray) -> np.ndarray:
        inner = x[1:n].reshape(-1) / x_unit
        trades = x[:-1] - x[1:]
        t = np.abs(trades[:, slack_assets]).reshape(-1) / t_unit if nt else np.zeros(0)
        f = (x[1:n] @ b_load).reshape(-1) * f_scale if nf else np.zeros(0)
        return np.concatenate([inner, t, f])

    return ExportedQP(
        name=name or problem.name or "problem", units=units, P=p_mat, q=q_vec, G=g_mat, h=h_vec, A=a_mat, b=b_vec,
        lb=lb, ub=ub, holdings_map=hmap, holdings_offset=s0, objective_scale=k_unit, objective_offset=const / k_unit,
        shape=(n + 1, m), variables=variables,
        info={"point": point, "cost_unit": cost_unit(problem), "slack_assets": slack_assets, "factors": r},
    )
