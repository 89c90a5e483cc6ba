"""Exact derivatives of a static optimum: the KKT system of the conventions page, differentiated.

The static problem in trades ``n`` (N x m): minimize ``F(n; theta) = E + lambda V`` subject to
``c(n; theta) = 0`` (``sum_k n_k = X`` and the active caps, zero trades and bounds). At the
optimum ``[H J'; J 0] [dn; dnu] = -[d_theta grad_n L; d_theta c]`` with ``L = F + nu'c``; the
objective's gradient is ``d_theta L`` (envelope theorem); parameter partials by the complex
step (exact to rounding). Entry points: :func:`implicit`
(qp and baskets of the closed form) and :func:`closed_form_jacobian` (JAX AD of the AC formula;
JAX loads on first use, in float64 for the call only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..closed_form import a_parameter, discrete_angle, discrete_profile
from ..errors import MethodNotApplicable
from ..spec import ExecutionProblem
from .params import parameter_value

__all__ = ["StaticModel", "ActiveSet", "active_set", "implicit", "closed_form_jacobian", "half_life_gradient",
           "Implicit", "AC_INPUTS"]

#: a trade within this fraction of |X| (or of its cap) counts as at zero (or at the cap)
ACTIVE_RTOL = 1e-7


@dataclass(frozen=True)
class ActiveSet:
    """Which inequalities bind at a schedule: ``(k, i, value_kind)`` fixed trades with kind
    ``zero``, ``cap+`` or ``cap-``; ``(j, i, bound)`` holdings at ``min``/``max``; ``(k, sign)``
    imbalance bands."""

    fixed: tuple[tuple[int, int, str], ...]
    bounds: tuple[tuple[int, int, str], ...]
    bands: tuple[tuple[int, float], ...]


class StaticModel:
    """``E(n; theta)``, ``V(n; theta)``, their gradients in the trades ``n`` (N x m) and the
    constraints of the static problem, in numpy, with ``theta`` the values of the named spec
    parameters (the others fixed at the spec's). Every operation is analytic in ``theta``, so
    :meth:`partials` takes exact parameter derivatives by the complex step."""

    def __init__(self, problem: ExecutionProblem, names: list[str]):
        p = problem
        if not p.has_constant_volatility and p.volatility_model.stochastic:
            raise MethodNotApplicable("sensitivities", "a static derivative needs a deterministic volatility")
        self.problem, self.names = p, list(names)
        self.index = {name: j for j, name in enumerate(names)}
        self.theta0 = np.array([parameter_value(p, name) for name in names], dtype=np.float64)
        self.N, self.m = p.slices, p.n_assets
        self.path = None if p.has_constant_volatility else np.asarray(p.volatility_path(), dtype=np.float64)
        self.corr = p.correlation_matrix if p.factor_loadings is None else None
        self.cov_fixed = p.covariance if p.factor_loadings is not None else None
        self.lower = np.kron(np.tril(np.ones((self.N, self.N))), np.eye(self.m))  # x_1..x_N = X - lower @ z

    def get(self, theta, name: str, base: float):
        j = self.index.get(name)
        return base if j is None else theta[j]

    def asset(self, theta, i: int, key: str):
        return self.get(theta, f"assets[{i}].{key}", float(getattr(self.problem.assets[i], key) or 0.0))

    def vec(self, theta, key: str) -> np.ndarray:
        return np.array([self.asset(theta, i, key) for i in range(self.m)])

    def scalars(self, theta):
        p = self.problem
        tau = self.get(theta, "horizon", p.horizon) / self.N
        return tau, self.get(theta, "risk_aversion", p.risk_aversion)

    def holdings0(self, theta):
        return self.vec(theta, "holdings")

    def covariances(self, theta) -> np.ndarray:
        """``C_k`` for slices k = 1..N, shape (N, m, m)."""
        m = self.m
        if self.cov_fixed is not None:
            return np.broadcast_to(self.cov_fixed, (self.N, m, m))
        sig = self.vec(theta, "volatility")
        corr = np.array([[self.get(theta, f"correlation[{min(i, j)}][{max(i, j)}]", float(self.corr[i, j]))
                          if i != j else 1.0 for j in range(m)] for i in range(m)])
        cov = sig[:, None] * corr * sig[None, :]
        if self.path is None:
            return np.broadcast_to(cov, (self.N, m, m))
        path = np.array([sig[0]] + [self.get(theta, f"volatility_model.path[{k}]", float(self.path[k]))
                                    for k in range(1, self.N)])
        return (path**2)[:, None, None] * np.ones((1, 1, 1))

    def _parts(self, theta):
        p = self.problem
        gam = (np.asarray(p.permanent_impact_matrix_array) if p.permanent_impact_matrix is not None
               else np.diag(self.vec(theta, "permanent_impact")))
        hmat = np.asarray(p.temporary_impact_matrix_array) if p.temporary_impact_matrix is not None else None
        return gam, hmat

    def moments(self, n, theta):
        """``(E, V)`` of trades ``n`` (N, m) under parameters ``theta`` (currency)."""
        tau, _ = self.scalars(theta)
        X = self.holdings0(theta)
        x = X[None, :] - np.cumsum(n, axis=0)  # x_1..x_N
        gam, hmat = self._parts(theta)
        perm = 0.5 * X @ gam @ X - 0.5 * np.einsum("ki,ij,kj->", n, gam, n)
        if hmat is not None:
            temp = np.einsum("ki,ij,kj->", n, hmat, n) / tau
        else:
            eta, beta = self.vec(theta, "temporary_impact"), self.vec(theta, "impact_exponent")
            temp = tau * np.sum(eta * _abs_power(n / tau, 1.0 + beta))
        spread = np.sum(self.vec(theta, "spread") * np.abs(n))
        drift = -tau * np.sum(x @ self.vec(theta, "drift"))
        var = tau * np.einsum("ki,kij,kj->", x, self.covariances(theta), x)
        return perm + temp + spread + drift, var

    def gradients(self, n, theta):
        """``(grad_z E, grad_z V)`` in the flattened trades ``z = n.ravel()`` (N*m,)."""
        tau, _ = self.scalars(theta)
        X = self.holdings0(theta)
        x = X[None, :] - np.cumsum(n, axis=0)
        gam, hmat = self._parts(theta)
        ge = -n @ gam.T
        if hmat is not None:
            ge = ge + 2.0 * n @ hmat.T / tau
        else:
            eta, beta = self.vec(theta, "temporary_impact"), self.vec(theta, "impact_exponent")
            ge = ge + eta * (1.0 + beta) * _abs_power(n / tau, beta) * np.sign(n.real)
        ge = ge + self.vec(theta, "spread") * np.sign(n.real)
        count = (self.N - np.arange(self.N))[:, None]  # slices k >= j
        ge = ge + tau * count * self.vec(theta, "drift")[None, :]
        cx = np.einsum("kij,kj->ki", self.covariances(theta), x)
        gv = -2.0 * tau * np.cumsum(cx[::-1], axis=0)[::-1]  # -2 tau sum_{k >= j} C_k x_k
        return ge.ravel(), gv.ravel()

    def hessian(self, n, theta) -> np.ndarray:
        """``d^2 (E + lambda V) / dz^2`` (N*m, N*m); a zero trade of a power law gets curvature 1
        (such trades are fixed by the active set)."""
        tau, lam = self.scalars(theta)
        gam, hmat = self._parts(theta)
        eye = np.eye(self.N)
        h = np.kron(eye, -gam)
        if hmat is not None:
            h = h + np.kron(eye, 2.0 * hmat / tau)
        else:
            eta, beta = self.vec(theta, "temporary_impact"), self.vec(theta, "impact_exponent")
            curv = eta * (1.0 + beta) * beta * _abs_power(n / tau, beta - 1.0) / tau
            curv = np.where(n == 0, 1.0, curv)
            h = h + np.diag(curv.ravel())
        cb = np.zeros((self.N * self.m, self.N * self.m), dtype=np.result_type(h, self.covariances(theta)))
        cov = self.covariances(theta)
        for k in range(self.N):
            cb[k * self.m:(k + 1) * self.m, k * self.m:(k + 1) * self.m] = cov[k]
        return h + lam * 2.0 * tau * self.lower.T @ cb @ self.lower

    def caps(self, theta, i: int):
        """``|n_k| <= cap_k`` of asset ``i`` (inf: none), the smaller cap chosen by real part."""
        a = self.problem.assets[i]
        cap = np.full(self.N, np.inf, dtype=np.result_type(theta))
        if a.max_slice_trade is not None:
            base = a.max_slice_trade
            other = (self.asset(theta, i, "max_slice_trade") * np.ones(self.N) if np.isscalar(base)
                     else np.asarray(base, dtype=np.float64))
            cap = np.where(other.real < cap.real, other, cap)
        if a.participation is not None and a.market_volume is not None:
            other = self.asset(theta, i, "participation") * np.asarray(a.market_volume, dtype=np.float64)
            cap = np.where(other.real < cap.real, other, cap)
        return cap

    def constraints(self, n, theta, active: "ActiveSet"):
        """``c(n; theta)`` (the equalities that hold at the optimum) and its Jacobian in ``z``."""
        N, m = self.N, self.m
        X = self.holdings0(theta)
        rows, vals = [], []
        for i in range(m):
            r = np.zeros((N, m))
            r[:, i] = 1.0
            rows.append(r.ravel())
            vals.append(np.sum(n[:, i]) - X[i])
        caps = [self.caps(theta, i) for i in range(m)]
        for k, i, kind in active.fixed:
            r = np.zeros((N, m))
            r[k, i] = 1.0
            rows.append(r.ravel())
            vals.append(n[k, i] - (0.0 if kind == "zero" else (caps[i][k] if kind == "cap+" else -caps[i][k])))
        x = X[None, :] - np.cumsum(n, axis=0)
        for j, i, bound in active.bounds:
            a = self.problem.assets[i]
            r = np.zeros((N, m))
            r[:j, i] = -1.0
            rows.append(r.ravel())
            vals.append(x[j - 1, i] - (a.min_holdings if bound == "min" else a.max_holdings))
        if active.bands:
            prices = self.vec(theta, "price")
            bands = np.asarray(self.problem.imbalance_bands())
            for k, sign in active.bands:
                r = np.zeros((N, m), dtype=np.result_type(prices))
                r[k] = prices
                rows.append(r.ravel())
                vals.append(n[k] @ prices - sign * bands[k])
        return np.array(vals), np.array(rows)

    def partials(self, fn, theta=None, step: float = 1e-20) -> np.ndarray:
        """``d fn(theta) / d theta`` (shape of fn's value + (P,)) by the complex step
        ``Im fn(theta + i h e_j) / h``: exact to rounding for the analytic ``fn`` of this class."""
        theta = self.theta0 if theta is None else theta
        cols = []
        for j in range(len(theta)):
            t = theta.astype(np.complex128)
            h = step * max(abs(theta[j]), 1e-300)
            t[j] += 1j * h
            cols.append(np.imag(np.asarray(fn(t))) / h)
        return np.stack(cols, axis=-1) if cols else np.zeros(np.shape(fn(theta)) + (0,))


def _abs_power(v, p):
    """``|v|^p`` (``p`` may be complex), 0 at ``v = 0``."""
    a = v * np.sign(np.real(v))  # |v| for real v, analytic in a complex step
    nz = np.real(a) != 0
    safe = np.where(nz, a, 1.0)
    return np.where(nz, safe**p, 0.0)


def active_set(problem: ExecutionProblem, holdings: np.ndarray) -> ActiveSet:
    """The inequalities that bind at ``holdings`` (N+1 rows), to relative :data:`ACTIVE_RTOL`."""
    x = np.asarray(holdings, dtype=np.float64).reshape(problem.slices + 1, problem.n_assets)
    n = x[:-1] - x[1:]
    fixed, bounds, bands = [], [], []
    for i, a in enumerate(problem.assets):
        scale = abs(a.holdings)
        caps = a.slice_caps(problem.slices)
        kinks = problem.no_reversal or a.spread > 0 or not a.is_linear
        for k in range(problem.slices):
            if caps is not None and abs(n[k, i]) >= caps[k] * (1 - ACTIVE_RTOL):
                fixed.append((k, i, "cap+" if n[k, i] > 0 else "cap-"))
            elif kinks and abs(n[k, i]) <= ACTIVE_RTOL * scale:
                fixed.append((k, i, "zero"))
        for j in range(1, problem.slices):
            if a.min_holdings is not None and x[j, i] <= a.min_holdings + ACTIVE_RTOL * scale:
                bounds.append((j, i, "min"))
            elif a.max_holdings is not None and x[j, i] >= a.max_holdings - ACTIVE_RTOL * scale:
                bounds.append((j, i, "max"))
    band = problem.imbalance_bands()
    if band is not None:
        prices = np.array([a.price for a in problem.assets])
        imb = n @ prices
        for k in range(problem.slices):
            if abs(imb[k]) >= band[k] * (1 - ACTIVE_RTOL):
                bands.append((k, float(np.sign(imb[k]))))
    return ActiveSet(tuple(fixed), tuple(bounds), tuple(bands))


@dataclass(frozen=True)
class Implicit:
    """Derivatives at a static optimum, one row per parameter (in ``names`` order).

    ``holdings``: (P, N+1, m) ``d x_k / d theta``; ``objective``, ``expected_cost``, ``variance``:
    (P,) total derivatives; ``envelope``: (P,) ``d_theta L`` (the objective's gradient by the
    envelope theorem); ``kkt_residual``: ``|grad L|`` relative to ``|grad F|`` at the schedule."""

    holdings: np.ndarray
    objective: np.ndarray
    expected_cost: np.ndarray
    variance: np.ndarray
    envelope: np.ndarray
    kkt_residual: float
    active: ActiveSet


def implicit(problem: ExecutionProblem, names: list[str], holdings: np.ndarray,
             hold_jacobian: np.ndarray | None = None) -> Implicit:
    """Differentiate the optimum ``holdings`` (N+1 rows) in the parameters ``names``: one linear
    solve with the KKT matrix (or, with ``hold_jacobian`` (P, N+1, m) given, that schedule
    derivative), then ``E``, ``V`` and the objective by the chain rule."""
    model = StaticModel(problem, names)
    N, m = model.N, model.m
    x = np.asarray(holdings, dtype=np.float64).reshape(N + 1, m)
    n0 = x[:-1] - x[1:]
    th = model.theta0
    act = active_set(problem, x)
    size, P = N * m, len(names)
    lam = problem.risk_aversion

    def grad_f(t):
        ge, gv = model.gradients(n0, t)
        return ge + model.scalars(t)[1] * gv

    ge0, gv0 = model.gradients(n0, th)
    g0 = ge0 + lam * gv0
    c0, jac_c = model.constraints(n0, th, act)
    nu, *_ = np.linalg.lstsq(jac_c.T, -g0, rcond=None)
    resid = float(np.linalg.norm(g0 + jac_c.T @ nu) / max(np.linalg.norm(g0), 1e-300))
    e0, v0 = model.moments(n0, th)
    d_ev_t = model.partials(lambda t: np.array(model.moments(n0, t)))  # (2, P)
    dc = model.partials(lambda t: model.constraints(n0, t, act)[0])  # (ncon, P)
    d_jac = model.partials(lambda t: model.constraints(n0, t, act)[1].T @ nu)  # (size, P)
    envelope = d_ev_t[0] + lam * d_ev_t[1] + nu @ dc
    if "risk_aversion" in model.index:
        envelope[model.index["risk_aversion"]] += v0
    if hold_jacobian is None:
        hess = model.hessian(n0, th)
        mixed = model.partials(grad_f) + d_jac
        ncon = jac_c.shape[0]
        kkt = np.block([[hess, jac_c.T], [jac_c, np.zeros((ncon, ncon))]])
        rhs = -np.vstack([mixed, dc])
        scale = np.maximum(np.abs(kkt).max(axis=1), 1e-300)  # row equilibration
        sol, *_ = np.linalg.lstsq(kkt / scale[:, None], rhs / scale[:, None], rcond=None)
        dn = sol[:size].T.reshape(P, N, m)
        dx0 = model.partials(model.holdings0).T  # (P, m)
        dhold = np.concatenate([dx0[:, None, :], dx0[:, None, :] - np.cumsum(dn, axis=1)], axis=1)
    else:
        dhold = np.asarray(hold_jacobian, dtype=np.float64).reshape(P, N + 1, m)
        dn = dhold[:, :-1] - dhold[:, 1:]
    total = d_ev_t + np.stack([ge0, gv0]) @ dn.reshape(P, size).T  # (2, P)
    d_obj = total[0] + lam * total[1]
    if "risk_aversion" in model.index:
        d_obj[model.index["risk_aversion"]] += v0
    return Implicit(dhold, d_obj, total[0], total[1], envelope, resid, act)


#: the AC formula's inputs, in the order of :func:`ac_inputs`
AC_INPUTS = ("horizon", "risk_aversion", "assets[0].holdings", "assets[0].volatility", "assets[0].temporary_impact",
             "assets[0].permanent_impact")


def _ac_holdings(v, slices):
    import jax.numpy as jnp

    tau = v[0] / slices
    return v[2] * discrete_profile(jnp, a_parameter(tau, v[1], v[3], v[4], v[5]), slices)


def _ac_half_life(v, slices):
    import jax.numpy as jnp

    tau = v[0] / slices
    y, _ = discrete_angle(jnp, a_parameter(tau, v[1], v[3], v[4], v[5]))
    return tau / y


_COMPILED: dict[str, object] = {}  # the AD programs, built on first use (JAX loads lazily)


def _ac_gradient(problem: ExecutionProblem, names: list[str], which: str) -> np.ndarray:
    import jax

    with jax.enable_x64(True):
        if which not in _COMPILED:
            fn = jax.jacfwd(_ac_holdings) if which == "holdings" else jax.grad(_ac_half_life)
            _COMPILED[which] = jax.jit(fn, static_argnums=1)
        v = np.array([parameter_value(problem, n) for n in AC_INPUTS], dtype=np.float64)
        jac = np.asarray(_COMPILED[which](v, problem.slices))  # (..., 6)
    out = np.zeros((len(names),) + jac.shape[:-1])
    for j, name in enumerate(names):
        if name in AC_INPUTS:
            out[j] = jac[..., AC_INPUTS.index(name)]
    return out


def closed_form_jacobian(problem: ExecutionProblem, names: list[str]) -> np.ndarray:
    """``d x_j / d theta`` (P, N+1) of the single-asset discrete AC optimum by forward-mode AD of
    :func:`solvers.closed_form.discrete_profile` (the closed form's own formula); zero for a
    parameter the formula does not contain."""
    return _ac_gradient(problem, names, "holdings")


def half_life_gradient(problem: ExecutionProblem, names: list[str]) -> np.ndarray:
    """``d (1 / kappa) / d theta`` of the discrete AC rate ``cosh(kappa tau) = 1 + a / 2`` (AD;
    time units per unit of the parameter)."""
    return _ac_gradient(problem, names, "half_life")
