"""Certified optima of exported problems: the optimum and its KKT certificate.

:func:`certified_optimum` takes the optimum from the closed form when it applies and its
certificate passes, else from qp's polished answer (``accuracy="high"``), maps it to the
QP's ``z`` and certifies it with :func:`kkt_certificate`, written here on the QP's own
matrices (nothing shared with qp): multipliers of the active rows by least squares
(``(J J' + delta I) mu = -J (Pz + q)``), clipped to their signs, then the relative residuals

    stationarity = |Pz + q + J'mu|_inf / max(1, |Pz|_inf, |q|_inf)
    primal       = max violation of Gz <= h, Az = b, lb <= z <= ub, each over max(1, |rhs_i|)
    gap          = |f(z) - d| / max(1, |f(z)|),  d = -1/2 z'Pz - rhs_a' mu  (active rows a)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sps
import scipy.sparse.linalg as spla
from scipy.optimize import lsq_linear

from ..costs import schedule_cost
from ..errors import MethodNotApplicable, SolverError
from ..methods import solve
from ..spec import ExecutionProblem
from .qp_export import ExportedQP, export_qp

__all__ = ["Certificate", "CertifiedOptimum", "kkt_certificate", "power_law_certificate", "certified_optimum",
           "refine"]


@dataclass(frozen=True)
class Certificate:
    """Relative KKT residuals of a point of an exported QP (module docstring)."""

    stationarity: float
    primal: float
    gap: float
    active: int

    @property
    def residual(self) -> float:
        """The largest of stationarity, primal infeasibility and duality gap."""
        return max(self.stationarity, self.primal, self.gap)

    def as_dict(self) -> dict[str, float]:
        return {"kkt_residual": self.residual, "stationarity": self.stationarity, "primal": self.primal,
                "duality_gap": self.gap, "active_rows": self.active}


@dataclass
class CertifiedOptimum:
    """The optimum of a spec: holdings (shares), objective (currency), its source and certificates."""

    holdings: np.ndarray
    objective: float
    source: str                               # "closed-form" or "qp"
    certificates: dict[str, Certificate] = field(default_factory=dict)   # per unit system

    def as_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "source": self.source,
                "certificates": {u: c.as_dict() for u, c in self.certificates.items()}}


def kkt_certificate(qp: ExportedQP, z: np.ndarray, *, active_tol: float = 1e-9,
                    gradient: np.ndarray | None = None) -> Certificate:
    """KKT residual and duality gap of ``z`` for ``qp`` (module docstring). A row is active
    when its slack is below ``active_tol`` times its scale (``max(1, |h_i|)``). With
    ``gradient`` (a smooth non-quadratic objective's gradient at ``z``), ``gap`` is the
    complementarity ``|mu'(rhs - Jz)|`` over ``max(1, |f|)``."""
    z = np.asarray(z, dtype=np.float64)
    grad = qp.P @ z + qp.q if gradient is None else np.asarray(gradient, dtype=np.float64)
    rows, bounds_rhs, signs_free = [], [], []
    viol = [0.0]
    if qp.G is not None:
        slack = qp.h - qp.G @ z
        sc = np.maximum(1.0, np.abs(qp.h))
        viol.append(float(np.max(np.maximum(-slack, 0.0) / sc, initial=0.0)))
        act = np.flatnonzero(slack <= active_tol * sc)
        rows.append(qp.G[act])
        bounds_rhs.append(qp.h[act])
        signs_free.append(np.zeros(act.size, dtype=bool))
    if qp.A is not None:
        res = qp.A @ z - qp.b
        viol.append(float(np.max(np.abs(res) / np.maximum(1.0, np.abs(qp.b)), initial=0.0)))
        rows.append(qp.A.tocsr())
        bounds_rhs.append(qp.b)
        signs_free.append(np.ones(qp.b.size, dtype=bool))
    eye = sps.identity(qp.n, format="csr")
    for vec, sgn in ((qp.ub, 1.0), (qp.lb, -1.0)):
        if vec is None:
            continue
        fin = np.isfinite(vec)
        slack = sgn * (vec - z)
        sc = np.maximum(1.0, np.abs(np.where(fin, vec, 0.0)))
        viol.append(float(np.max(np.where(fin, np.maximum(-slack, 0.0) / sc, 0.0), initial=0.0)))
        act = np.flatnonzero(fin & (slack <= active_tol * sc))
        rows.append(sgn * eye[act])
        bounds_rhs.append(sgn * vec[act])
        signs_free.append(np.zeros(act.size, dtype=bool))
    jac = sps.vstack(rows).tocsr() if rows else sps.csr_matrix((0, qp.n))
    rhs = np.concatenate(bounds_rhs) if bounds_rhs else np.zeros(0)
    free = np.concatenate(signs_free) if signs_free else np.zeros(0, dtype=bool)
    mu = np.zeros(jac.shape[0])
    if jac.shape[0]:
        normal = (jac @ jac.T).tocsc()
        delta = 1e-14 * max(1.0, float(np.abs(normal.diagonal()).max()))
        mu = spla.spsolve((normal + delta * sps.identity(normal.shape[0])).tocsc(), -(jac @ grad))
        mu = np.where(free, mu, np.maximum(mu, 0.0))
        if np.abs(grad + jac.T @ mu).max() > 1e-12 * max(1.0, float(np.abs(grad).max())):
            mu = _sign_constrained(jac, grad, free, mu)
    pz = qp.P @ z
    stat = grad + jac.T @ mu
    stationarity = float(np.abs(stat).max(initial=0.0)) / max(1.0, float(np.abs(pz).max(initial=0.0)),
                                                              float(np.abs(qp.q).max(initial=0.0)),
                                                              float(np.abs(grad - pz - qp.q).max(initial=0.0)))
    primal_obj = float(0.5 * z @ pz + qp.q @ z)
    dual_obj = float(-0.5 * z @ pz - mu @ rhs)   # Wolfe dual value at (z, mu)
    if gradient is not None:
        dual_obj = primal_obj - abs(float(mu @ (rhs - jac @ z))) if jac.shape[0] else primal_obj
    gap = abs(primal_obj - dual_obj) / max(1.0, abs(primal_obj))
    return Certificate(stationarity=stationarity, primal=max(viol), gap=gap, active=int(jac.shape[0]))


def _sign_constrained(jac: sps.csr_matrix, grad: np.ndarray, free: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Multipliers ``mu >= 0`` (free rows unbounded) minimizing ``|grad + J'mu|``: bounded least
    squares on the rows that touch the largest residuals' variables (degenerate active sets)."""
    lo = np.where(free, -np.inf, 0.0)
    res = lsq_linear(jac.T.tocsc(), -grad, bounds=(lo, np.full(lo.size, np.inf)), method="trf",
                     lsmr_tol="auto", tol=1e-15, max_iter=2000)
    better = np.abs(grad + jac.T @ res.x).max() < np.abs(grad + jac.T @ mu).max()
    return res.x if better else mu


def power_law_certificate(problem: ExecutionProblem, holdings: np.ndarray, units: str = "scaled") -> Certificate:
    """KKT certificate of a schedule for power-law impact: the QP export of the same spec with
    linear impact (``eta_lin``) supplies the constraints and every other term, and its gradient
    is corrected by ``d/dn [eta tau^-beta |n|^(1+beta) - eta_lin n^2 / tau]`` along the trades."""
    m, n, tau = problem.n_assets, problem.slices, problem.tau
    gam = np.diag(problem.permanent_impact_matrix_array)
    assets = tuple(a.replace(impact_exponent=1.0, temporary_impact=max(a.temporary_impact, g * tau))
                   for a, g in zip(problem.assets, gam))
    linear = problem.replace(assets=assets)
    qp = export_qp(linear, units)
    x = np.asarray(holdings, dtype=np.float64).reshape(n + 1, m)
    z = qp.point(x)
    trades = x[:-1] - x[1:]
    eta = np.array([a.temporary_impact for a in problem.assets])
    beta = np.array([a.impact_exponent for a in problem.assets])
    eta_lin = np.array([a.temporary_impact for a in assets])
    d_true = eta * (1.0 + beta) * tau ** (-beta) * np.abs(trades) ** beta * np.sign(trades)
    correction = (d_true - 2.0 * eta_lin * trades / tau).reshape(-1)       # currency / share, (k, i) row-major
    diff = sps.kron(sps.diags([np.ones(n), -np.ones(n)], [0, 1], shape=(n, n + 1)), sps.identity(m))
    grad = qp.P @ z + qp.q + (qp.holdings_map.T @ (diff.T @ correction)) / qp.objective_scale
    return kkt_certificate(qp, z, gradient=grad)


def _rows(qp: ExportedQP) -> tuple[sps.csr_matrix, np.ndarray, np.ndarray]:
    """Every constraint as rows ``J z <= rhs`` (``eq`` marks the equalities)."""
    mats, rhs, eq = [], [], []
    if qp.G is not None:
        mats.append(qp.G.tocsr()), rhs.append(qp.h), eq.append(np.zeros(qp.h.size, dtype=bool))
    if qp.A is not None:
        mats.append(qp.A.tocsr()), rhs.append(qp.b), eq.append(np.ones(qp.b.size, dtype=bool))
    eye = sps.identity(qp.n, format="csr")
    for vec, sgn in ((qp.ub, 1.0), (qp.lb, -1.0)):
        if vec is not None:
            fin = np.flatnonzero(np.isfinite(vec))
            mats.append(sgn * eye[fin]), rhs.append(sgn * vec[fin]), eq.append(np.zeros(fin.size, dtype=bool))
    if not mats:
        return sps.csr_matrix((0, qp.n)), np.zeros(0), np.zeros(0, dtype=bool)
    return sps.vstack(mats).tocsr(), np.concatenate(rhs), np.concatenate(eq)


def refine(qp: ExportedQP, z: np.ndarray, *, rounds: int = 50, active_tol: float = 1e-7) -> np.ndarray:
    """Polish ``z`` by a primal active-set method on the QP's own matrices: solve the KKT system
    of the active rows exactly (sparse LU), drop the row with the most negative multiplier or add
    the violated rows, until the active set settles. Returns the polished ``z``."""
    jac, rhs, eq = _rows(qp)
    z = np.asarray(z, dtype=np.float64).copy()
    scale = np.maximum(1.0, np.abs(rhs))
    active = eq | (rhs - jac @ z <= active_tol * scale)
    for _ in range(rounds):
        j = jac[np.flatnonzero(active)]
        k = j.shape[0]
        delta = 1e-13 * max(1.0, float(np.abs(qp.P).max()))
        kkt = sps.bmat([[qp.P + delta * sps.identity(qp.n), j.T], [j, -delta * sps.identity(k)]], format="csc")
        sol = spla.spsolve(kkt, np.concatenate([-qp.q, rhs[active]]))
        z_new, mu = sol[: qp.n], sol[qp.n:]
        viol = jac @ z_new - rhs
        bad = ~active & (viol > 1e-12 * scale)
        neg = np.flatnonzero(~eq[active] & (mu < -1e-12 * max(1.0, float(np.abs(mu).max(initial=0.0)))))
        z = z_new
        if bad.any():
            active |= bad
        elif neg.size:
            idx = np.flatnonzero(active)
            active[idx[neg[np.argmin(mu[neg])]]] = False
        else:
            break
    return z


def certified_optimum(problem: ExecutionProblem, *, tolerance: float = 1e-9) -> CertifiedOptimum:
    """The optimum of ``problem`` with its certificate in both unit systems.

    Linear impact: the closed form when it applies and its certificate is within
    ``tolerance``, otherwise qp at ``accuracy="high"`` (polished by :func:`refine` on the
    QP's active set when its certificate misses ``tolerance``); power law: qp (a KKT point; qp's
    diagnostics say whether it is proven global). Raises SolverError when neither certifies.
    """
    if not problem.all_linear:
        result = solve(problem, "qp", accuracy="high")
        certs = {u: power_law_certificate(problem, result.holdings, u) for u in ("raw", "scaled")}
        if not certs["scaled"].residual <= tolerance:
            raise SolverError("export", "uncertified", f"qp's answer has KKT residual {certs['scaled'].residual:.3g}")
        return CertifiedOptimum(holdings=np.asarray(result.holdings, dtype=np.float64),
                                objective=float(result.objective), source="qp", certificates=certs)
    candidates = []
    try:
        candidates.append(("closed-form", solve(problem, "closed-form")))
    except (MethodNotApplicable, SolverError):
        pass
    tried = []
    for source, result in candidates + [("qp", None)]:
        if result is None:
            result = solve(problem, "qp", accuracy="high", throw=False)
        holdings = np.asarray(result.holdings, dtype=np.float64)
        scaled = export_qp(problem, "scaled")
        cert = kkt_certificate(scaled, scaled.point(holdings))
        if not cert.residual <= tolerance and source == "qp":   # polish qp's answer on the QP's active set
            holdings = scaled.holdings(refine(scaled, scaled.point(holdings)))
            source = "qp+active-set"
        certs = {}
        for units in ("raw", "scaled"):
            qp = export_qp(problem, units)
            certs[units] = kkt_certificate(qp, qp.point(holdings))
        tried.append(f"{source}: scaled residual {certs['scaled'].residual:.3g}")
        if certs["scaled"].residual <= tolerance:
            return CertifiedOptimum(holdings=holdings, objective=float(schedule_cost(problem, holdings).objective),
                                    source=source, certificates=certs)
    raise SolverError("export", "uncertified", "no candidate optimum passed the KKT certificate (" + "; ".join(tried) + ")")
