"""Backward induction under the fill model: the exact benchmark of execution policies.

The order ``n`` of slice ``k`` (fractions of ``|X|``, ``0 <= n <= min(q, cap_k)``) executes
``e = min(F n, p V_k / |X|)``, a random transition (Gauss-Jacobi nodes of ``F``, Gauss-Hermite of
the volume shock given ``z_{k-1}``); ``W_{k-1}(i, z, q) = min_n E[stage(e) + lam rho y^2 + D y +
(P W_k)(z_k, y)]``, ``y = q - e``, and ``W_N(y) = stage(y)`` (the final block). The grid, Hermite
tables and stage costs are :mod:`hjb.dp.stage`'s; the minimum is a search over orders refined by
golden section. With full fills it is today's ``dp``. Entry point :func:`solve_under_fills`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.costs import trajectory_constants
from solvers.errors import MethodNotApplicable
from solvers.market import MarketModel, SliceState, market_model
from solvers.settings import merge_settings
from solvers.spec import ExecutionProblem

from .chain import VolatilityChain, volatility_chain
from .settings import DPSettings
from .stage import (StageCoefficients, grid_nodes, impact, impact_slope, interpolate, prepare_tables,
                    stage_coefficients)

__all__ = ["FillDPSolution", "FillDPPolicy", "solve_under_fills"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass
class FillDPSolution:
    """The value and policy of the backward induction under fills.

    Attributes:
        objective: ``E[C + R]`` of the optimal policy from the start (currency).
        policy: a :class:`FillDPPolicy` (``order(state)``, and ``trade`` for the simulator).
        diagnostics: grid sizes, quadrature sizes and timings.
    """

    problem: ExecutionProblem
    objective: float
    policy: "FillDPPolicy"
    solve_seconds: float
    diagnostics: dict[str, Any] = field(default_factory=dict)
    method: str = "dp-fills"


class FillDPPolicy:
    """Orders of the backward induction under fills at the realized state (re-minimized per path)."""

    time_model = "discrete"

    def __init__(self, model: "_FillModelGrid") -> None:
        self._model = model
        self.problem = model.problem

    def order(self, state: SliceState) -> np.ndarray:
        """The order of slice ``state.k`` (shares, signed like the order)."""
        m = self._model
        x = np.asarray(state.holdings, dtype=np.float64)
        if state.k >= m.n:
            return x.copy()
        q = np.clip(m.sign * x / m.big_x, 0.0, 1.0)
        i = m.chain_state(state.k, state.sigma, state.regime, q.shape)
        z = np.broadcast_to(np.asarray(state.volume_state, dtype=np.float64), q.shape)
        return m.sign * m.big_x * m.order_from_table(state.k, i, z, q)

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        """The :class:`solvers.policy.FeedbackPolicy` form (volume state 0)."""
        holdings = np.asarray(holdings, dtype=np.float64)
        zeros = np.zeros(holdings.shape)
        return self.order(SliceState(k, holdings, np.broadcast_to(sigma, holdings.shape), regime, zeros, zeros))


class _FillModelGrid:
    """Tables and the slice minimization (scaled units: fractions of ``|X|``, cost units ``c0``)."""

    def __init__(self, problem: ExecutionProblem, chain: VolatilityChain, coeff: StageCoefficients, rho: np.ndarray,
                 market: MarketModel, cfg: DPSettings, fill_points: int, volume_points: int, volume_nodes: int,
                 order_points: int, golden_steps: int) -> None:
        a = problem.asset
        self.problem, self.chain, self.c, self.market = problem, chain, coeff, market
        self.n = problem.slices
        self.lam = problem.risk_aversion
        self.rho = rho  # (N, S)
        self.big_x, self.sign = abs(a.holdings), float(np.sign(a.holdings))
        caps = a.slice_caps(self.n)
        self.caps = np.full(self.n, np.inf) if caps is None else caps / self.big_x
        self.points, self.power = cfg.x_points, cfg.grid_power(a.impact_exponent)
        self.nodes = grid_nodes(np, 1.0, self.points, self.power)
        self.order_points, self.golden_steps = order_points, golden_steps
        self.f_nodes, self.f_weights = market.fills.fraction_quadrature(fill_points)
        vol = market.volume
        self.uses_volume = market.fills.participation is not None and vol.stochastic
        if self.uses_volume:
            e, w = np.polynomial.hermite_e.hermegauss(int(volume_points))
            self.e_nodes, self.e_weights = e, w / w.sum()
        else:
            self.e_nodes, self.e_weights = np.zeros(1), np.ones(1)
        self.persistent = self.uses_volume and vol.persistent
        width = 3.5 * vol.volatility
        self.z_nodes = np.linspace(-width, width, volume_nodes) if self.persistent else np.zeros(1)
        self.tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # k -> (values, slopes_u) of P W_k, rows (S*L)
        self.orders: dict[int, np.ndarray] = {}  # k -> optimal orders of slice k on (S, L, M) nodes
        self.regimes = chain.method == "regimes"

    # ------------------------------------------------------------------ state
    def chain_state(self, k: int, sigma, regime, shape) -> np.ndarray:
        if self.chain.n_states == 1:
            return np.zeros(shape, dtype=np.int64)
        if self.regimes:
            return np.broadcast_to(np.asarray(regime, dtype=np.int64), shape)
        j, w = self.chain.locate(np.broadcast_to(np.asarray(sigma, dtype=np.float64), shape))
        return np.where(w > 0.5, j + 1, j)  # nearest node of the chain

    # ------------------------------------------------------------------ stage
    def _continuation(self, k: int, i, z, y):
        """``(P W_k)(i, z, y)`` and its ``y`` slope; ``k = N``: the final block ``stage(y)``."""
        if k >= self.n:
            return impact(np, self.c, y), impact_slope(np, self.c, y)
        values, slopes = self.tables[k]
        nl = self.z_nodes.size
        if nl == 1:
            return interpolate(np, values, slopes, 1.0, self.points, self.power, y, i)
        h = self.z_nodes[1] - self.z_nodes[0]
        u = np.clip((z - self.z_nodes[0]) / h, 0.0, nl - 1.0)
        lo = np.minimum(np.floor(u).astype(np.int64), nl - 2)
        t = u - lo
        v0, d0 = interpolate(np, values, slopes, 1.0, self.points, self.power, y, i * nl + lo)
        v1, d1 = interpolate(np, values, slopes, 1.0, self.points, self.power, y, i * nl + lo + 1)
        return (1 - t) * v0 + t * v1, (1 - t) * d0 + t * d1

    def stage(self, k: int, i, zprev, q, n):
        """``g``, ``dg/dn`` and ``dg/dq`` (q fixed, n fixed) for order ``n`` from ``q``; arrays broadcast."""
        vol = self.market.volume
        q, n = np.asarray(q, dtype=np.float64), np.asarray(n, dtype=np.float64)
        shape = np.broadcast_shapes(np.shape(i), np.shape(zprev), q.shape, n.shape)
        i, zprev, q, n = (np.broadcast_to(a, shape)[..., None] for a in (i, zprev, q, n))
        zk = vol.conditional_mean(k, zprev) + vol.innovation_sd(k) * self.e_nodes if self.uses_volume else zprev
        zk = zk[..., :, None] if self.uses_volume else zk[..., None]  # (..., E, 1)
        f = self.f_nodes  # (F,)
        want = f * n[..., None]  # (..., 1, F)
        cap = self.market.cap(k, zk) / self.big_x if self.uses_volume else (
            self.market.cap(k, 0.0) / self.big_x if self.market.fills.participation is not None else np.inf)
        e = np.minimum(want, cap)
        free = want < cap
        y = q[..., None] - e
        ii = i[..., None]
        risk = self.lam * self.rho[k - 1][ii]
        cont, cont_slope = self._continuation(k, ii, np.broadcast_to(zk, y.shape), y)
        marginal = 2.0 * risk * y + self.c.D + cont_slope  # d/dy of the after-trade terms
        value = impact(np, self.c, e) + risk * y * y + self.c.D * y + cont
        weights = self.e_weights[:, None] * self.f_weights[None, :]
        g = np.sum(value * weights, axis=(-2, -1))
        dn = np.sum((impact_slope(np, self.c, e) - marginal) * np.where(free, f, 0.0) * weights, axis=(-2, -1))
        dq = np.sum(marginal * weights, axis=(-2, -1))
        return g, dn, dq

    def minimize(self, k: int, i, zprev, q):
        """The best order ``n`` in ``[0, min(q, cap_k)]`` at each state: a search over
        ``order_points`` orders, then golden section around the best. Returns ``(n, g, dW/dq)``."""
        q = np.asarray(q, dtype=np.float64)
        hi = np.minimum(q, self.caps[k - 1])
        if k >= self.n:  # the last slice orders what is left
            g, dn, dq = self.stage(k, i, zprev, q, q)
            return q, g, dq + dn
        u = np.linspace(0.0, 1.0, self.order_points)
        cand = hi[..., None] * u
        g, _, _ = self.stage(k, np.asarray(i)[..., None], np.asarray(zprev)[..., None], q[..., None], cand)
        best = np.argmin(g, axis=-1)
        step = hi / (self.order_points - 1)
        a = np.clip((best - 1) * step, 0.0, hi)
        b = np.clip((best + 1) * step, 0.0, hi)
        x1, x2 = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        g1 = self.stage(k, i, zprev, q, x1)[0]
        g2 = self.stage(k, i, zprev, q, x2)[0]
        for _ in range(self.golden_steps):
            left = g1 <= g2  # the minimum lies in [a, x2]
            b = np.where(left, x2, b)
            a = np.where(left, a, x1)
            new1 = np.where(left, b - _GOLDEN * (b - a), x2)
            new2 = np.where(left, x1, a + _GOLDEN * (b - a))
            gn = self.stage(k, i, zprev, q, np.where(left, new1, new2))[0]
            g1, g2 = np.where(left, gn, g2), np.where(left, g1, gn)
            x1, x2 = new1, new2
        n = 0.5 * (a + b)
        gm = self.stage(k, i, zprev, q, n)[0]
        g0 = g[..., 0]
        gh = g[..., -1]
        n = np.where((g0 <= gm) & (g0 <= gh), 0.0, np.where(gh < gm, hi, n))
        g, dn, dq = self.stage(k, i, zprev, q, n)
        moving = (n == hi) & (q <= self.caps[k - 1]) & (hi > 0)
        return n, g, dq + np.where(moving, dn, 0.0)

    def order_from_table(self, k: int, i, z, q) -> np.ndarray:
        """The optimal order of slice ``k`` at ``(i, z, q)``: linear interpolation of the node
        orders in ``u = (q)^(1/p)`` and in ``z`` (it stays within ``[0, min(q, cap_k)]``)."""
        table = self.orders[k]
        m = self.points
        u = (q if self.power == 1 else np.sqrt(q)) * (m - 1)
        cell = np.clip(np.floor(u).astype(np.int64), 0, m - 2)
        t = np.clip(u - cell, 0.0, 1.0)

        def row(l):
            return (1 - t) * table[i, l, cell] + t * table[i, l, cell + 1]

        nl = table.shape[1]
        if nl == 1:
            return row(np.zeros_like(cell))
        h = self.z_nodes[1] - self.z_nodes[0]
        w = np.clip((z - self.z_nodes[0]) / h, 0.0, nl - 1.0)
        lo = np.minimum(np.floor(w).astype(np.int64), nl - 2)
        s = w - lo
        return (1 - s) * row(lo) + s * row(lo + 1)

    # ------------------------------------------------------------------ backward
    def backward(self) -> float:
        s, nl, m = self.chain.n_states, self.z_nodes.size, self.points
        p = self.chain.transition
        for k in range(self.n, 0, -1):  # W_{k-1} from W_k
            rows_z = self.z_nodes if k > 1 else np.zeros(1)
            i = np.arange(s)[:, None, None]
            z = rows_z[None, :, None]
            q = self.nodes[None, None, :]
            shape = (s, rows_z.size, m)
            orders, value, slope = self.minimize(k, np.broadcast_to(i, shape), np.broadcast_to(z, shape),
                                                 np.broadcast_to(q, shape))
            self.orders[k] = orders
            if k == 1:
                self.start_values = value[:, 0, :]
                break
            ev = np.einsum("ij,jlm->ilm", p, value).reshape(s * nl, m)
            es = np.einsum("ij,jlm->ilm", p, slope).reshape(s * nl, m)
            self.tables[k - 1] = (ev, prepare_tables(np, ev, es, 1.0, m, self.power))
        return float(self.start_values[self.chain.initial_state, -1])


def solve_under_fills(problem: ExecutionProblem, settings: DPSettings | None = None, *, fill_points: int = 6,
                      volume_points: int = 6, volume_nodes: int = 7, order_points: int = 25, golden_steps: int = 32,
                      **overrides: Any) -> FillDPSolution:
    """Backward induction under the spec's fill model (see the module docstring).

    Args:
        problem: a single-asset spec, ``risk_aversion >= 0``; orders stay on the order's side.
        settings, overrides: :class:`DPSettings` (``x_points``, ``vol_states``, ``x_grid``).
        fill_points, volume_points: quadrature nodes of the fill fraction and the volume shock.
        volume_nodes: grid of the last volume's log deviation ``z`` (autocorrelated volume only).
        order_points, golden_steps: the search over orders and its golden-section refinement.

    Returns a :class:`FillDPSolution`; ``objective`` in currency (``c0`` times the value plus
    ``1/2 gamma X^2``).
    """
    cfg = merge_settings(DPSettings, settings, overrides)
    if problem.is_basket:
        raise MethodNotApplicable("dp", f"backward induction is for a single asset (this spec has {problem.n_assets})")
    if problem.risk_aversion < 0:
        raise MethodNotApplicable("dp", "under fills the grid keeps orders on the order's side: risk_aversion must be >= 0")
    start = time.perf_counter()
    chain = volatility_chain(problem, vol_states=cfg.vol_states, width=cfg.vol_width)
    coeff, rho_unit = stage_coefficients(problem)
    model = _FillModelGrid(problem, chain, coeff, rho_unit * chain.levels**2, market_model(problem), cfg,
                           fill_points, volume_points, volume_nodes, order_points, golden_steps)
    value = model.backward()
    objective = coeff.c0 * value + trajectory_constants(problem)["permanent"]
    diagnostics = {"x_points": cfg.x_points, "vol_states": chain.n_states, "fill_nodes": int(model.f_nodes.size),
                   "volume_shock_nodes": int(model.e_nodes.size), "volume_state_nodes": int(model.z_nodes.size),
                   "order_points": order_points, "golden_steps": golden_steps, "cost_unit": coeff.c0}
    return FillDPSolution(problem, float(objective), FillDPPolicy(model), time.perf_counter() - start, diagnostics)
