"""Method ``dp`` with transient impact on a grid over ``(x, E)``: exponential kernel, any
``transient_exponent`` ``delta`` in (0, 1], caps, ``no_reversal``, holdings bounds; deterministic volatility.

Scaled state ``q = x / X`` in ``[0, U_k]`` and ``e = E / X`` (displaced volume) in
``[L_k, L_k + 1 - q]``, ``L_k = e_1 exp(-rho (s_k - s_1))``; nodes ``e = L_k + (1 - q) v^r``.
Stage of slice ``k``, trade ``n = q - y >= 0`` (cost unit ``c0``): ``A n^(1+beta) - G n^2 +
K (|e+n|^(1+delta) - |e|^(1+delta)) / (1+delta) + w_k y^2 + D y``, next ``(y, a_k (e + n))``.
Entry points: :func:`require_grid_transient`, :func:`transient_grid_backward`,
:class:`TransientGridPolicy` (reads ``D_k``, converts it with ``F^-1``). Theory page: ``theory-dp.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from solvers.costs import cost_unit
from solvers.errors import MethodNotApplicable, SpecError
from solvers.impact import PowerLawImpact
from solvers.spec import ExecutionProblem
from solvers.transient import transient_model

from .stage import stage_coefficients
from .transient import DeviationPolicy, require_exact_transient

__all__ = ["TransientStages", "TransientGrid", "require_grid_transient", "uses_transient_grid", "transient_stages",
           "transient_grid_backward", "TransientGridPolicy", "SCAN_POINTS", "GOLDEN_STEPS"]

#: trades tried per node before the golden-section refinement (the stage need not be convex)
SCAN_POINTS = 17
#: golden-section steps after the scan when ``iterations`` is not set (bracket shrinks 0.618^20 ~ 7e-5)
GOLDEN_STEPS = 20
_GOLDEN = 0.5 * (math.sqrt(5.0) - 1.0)
_STENCIL = np.arange(4)[:, None]  # row offsets of the 4 x 4 stencil (its transpose: column offsets)


@dataclass(frozen=True)
class TransientStages:
    """Scaled per-slice data of the ``(x, E)`` recursion (see the module docstring).

    ``w``, ``caps``: slice ``k = 1..N``; ``decay``: ``a_k``, k = 1..N-1; ``low``: ``L_k`` and
    ``extents``: ``U_{k-1}`` (largest feasible holdings before slice ``k``), k = 1..N.
    """

    A: float
    G: float
    K: float
    D: float
    beta: float
    delta: float
    c0: float
    e1: float
    w: np.ndarray
    decay: np.ndarray
    low: np.ndarray
    caps: np.ndarray
    extents: np.ndarray

    def stage(self, k: int, q, e, y):
        """Cost of slice ``k`` (cost units) from ``(q, e)`` to holdings ``y`` (spread excluded:
        a one-way constant). ``n < 0`` (a purchase) is priced symmetrically."""
        n = q - y
        temp = self.A * PowerLawImpact(eta=1.0, beta=self.beta).power(np, np.abs(n)) if self.A else 0.0
        if self.delta == 1.0:
            trans = self.K * n * (e + 0.5 * n)
        else:
            p = 1.0 + self.delta
            trans = self.K / p * (np.abs(e + n) ** p - np.abs(e) ** p)
        return temp - self.G * n * n + trans + self.w[k - 1] * y * y + self.D * y


@dataclass
class TransientGrid:
    """Value tables ``W_k(q, e)``, k = 1..N-1 (``tables[k-1]``, shape ``(Mq, Me)``, cost units) on
    nodes ``q = U_k u^p``, ``e = L_{k+1} + (1 - q) v^r``, ``u, v`` uniform; ``value0``: ``W_0`` at
    ``(1, e_1)``."""

    stages: TransientStages
    tables: list
    q_power: int
    e_power: int
    value0: float
    iterations: int

    def interpolate(self, k: int, y, e):
        """``W_k(y, e)`` by tensor cubic Lagrange interpolation in ``(u, v)`` (4 x 4 stencil, one-sided
        at the edges; exact for cubics in ``u, v``). ``k = N``: 0."""
        st = self.stages
        if k >= st.w.size:
            return np.zeros(np.broadcast(y, e).shape)
        y, e = np.broadcast_arrays(np.asarray(y, dtype=np.float64), np.asarray(e, dtype=np.float64))
        table = self.tables[k - 1]
        mq, me = table.shape
        ext, low = st.extents[k], st.low[k]
        ratio_q = np.minimum(np.maximum(y / ext, 0.0), 1.0) if ext > 0 else np.zeros_like(y)
        room = 1.0 - y
        inside = room > 0
        ratio_e = np.where(inside, np.minimum(np.maximum((e - low) / np.where(inside, room, 1.0), 0.0), 1.0), 0.0)
        u = (ratio_q if self.q_power == 1 else np.sqrt(ratio_q)) * (mq - 1)
        v = (ratio_e if self.e_power == 1 else np.sqrt(ratio_e)) * (me - 1)
        iu, wu = _lagrange(u, mq)
        iv, wv = _lagrange(v, me)
        idx = (iu * me + iv)[..., None, None] + _STENCIL * me + _STENCIL.T
        return np.einsum("...a,...b,...ab->...", wu, wv, table.ravel()[idx])

    def objective(self, k: int, q, e, y):
        """``stage_k + W_k(y, a_k (e + q - y))`` (cost units)."""
        st = self.stages
        nxt = st.decay[k - 1] * (e + q - y) if k < st.w.size else 0.0 * y
        return st.stage(k, q, e, y) + self.interpolate(k, y, nxt)

    def bounds(self, k: int, q):
        """Feasible holdings after slice ``k``: ``[max(0, q - cap_k), min(q, U_k)]``."""
        st = self.stages
        lo = np.maximum(0.0, q - st.caps[k - 1])
        hi = np.maximum(np.minimum(q, st.extents[k] if k < st.w.size else 0.0), lo)
        return lo, hi

    def argmin(self, k: int, q, e):
        """The best holdings after slice ``k`` from ``(q, e)`` and its value: a scan of
        :data:`SCAN_POINTS` trades, then golden-section search around the best one (ends kept)."""
        q = np.asarray(q, dtype=np.float64)
        e = np.broadcast_to(np.asarray(e, dtype=np.float64), q.shape)
        if k >= self.stages.w.size:  # the last slice sells what is left
            return np.zeros_like(q), self.stages.stage(k, q, e, 0.0)
        lo, hi = self.bounds(k, q)
        grid = np.linspace(0.0, 1.0, SCAN_POINTS)
        ys = lo[..., None] + (hi - lo)[..., None] * grid
        vals = self.objective(k, q[..., None], e[..., None], ys)
        best = np.argmin(vals, axis=-1)
        pick = np.take_along_axis(ys, best[..., None], -1)[..., 0]
        pick_val = np.take_along_axis(vals, best[..., None], -1)[..., 0]
        a = np.take_along_axis(ys, np.maximum(best - 1, 0)[..., None], -1)[..., 0]
        b = np.take_along_axis(ys, np.minimum(best + 1, SCAN_POINTS - 1)[..., None], -1)[..., 0]
        c = b - _GOLDEN * (b - a)
        d = a + _GOLDEN * (b - a)
        fc, fd = self.objective(k, q, e, c), self.objective(k, q, e, d)
        for _ in range(self.iterations):
            left = fc < fd
            b = np.where(left, d, b)
            a = np.where(left, a, c)
            c_new = b - _GOLDEN * (b - a)
            d_new = a + _GOLDEN * (b - a)
            fresh = self.objective(k, q, e, np.where(left, c_new, d_new))
            c, d, fc, fd = (np.where(left, c_new, d), np.where(left, c, d_new),
                            np.where(left, fresh, fd), np.where(left, fc, fresh))
        mid = 0.5 * (a + b)
        fmid = self.objective(k, q, e, mid)
        better = fmid < pick_val
        return np.where(better, mid, pick), np.where(better, fmid, pick_val)

    def slope(self, k: int, q, e, y, step: float = 1e-7):
        """One-sided derivative ``dg/dy`` at ``y`` from the left (right when ``y - step < 0``)."""
        left = y - step >= 0
        other = np.where(left, y - step, y + step)
        diff = self.objective(k, q, e, y) - self.objective(k, q, e, other)
        return np.where(left, diff, -diff) / step

    def path(self) -> tuple[np.ndarray, np.ndarray]:
        """Holdings fractions ``q_0..q_N`` and scaled displacements ``e_1..e_N`` of the policy."""
        st = self.stages
        n = st.w.size
        q = np.empty(n + 1)
        e = np.empty(n)
        q[0], ek = 1.0, st.e1
        for k in range(1, n + 1):
            e[k - 1] = ek
            y = float(self.argmin(k, np.array(q[k - 1]), np.array(ek))[0]) if k < n else 0.0
            q[k] = y
            if k < n:
                ek = st.decay[k - 1] * (ek + q[k - 1] - y)
        return q, e


def _lagrange(u, m: int):
    """Stencil start ``i`` (4 nodes ``i..i+3`` of ``m``) and cubic Lagrange weights at ``u`` (index units)."""
    i = np.minimum(np.maximum(u.astype(np.int64) - 1, 0), m - 4)  # u >= 0: truncation is floor
    t = u - i
    t1, t2, t3 = t - 1.0, t - 2.0, t - 3.0
    w = np.empty(u.shape + (4,))
    t12 = t1 * t2
    t03 = t * t3
    w[..., 0] = -t12 * t3 / 6.0
    w[..., 1] = t03 * t2 / 2.0
    w[..., 2] = -t03 * t1 / 2.0
    w[..., 3] = t * t12 / 6.0
    return i, w


def require_grid_transient(problem: ExecutionProblem) -> None:
    """Raise :class:`MethodNotApplicable` unless the ``(x, E)`` grid applies (the reasons named)."""
    a = problem.asset
    reasons = []
    if a.transient_kernel != "exponential":
        reasons.append(f"transient_kernel = {a.transient_kernel!r} (E is a Markov state only for 'exponential')")
    if problem.volatility_model.stochastic:
        reasons.append(f"volatility_model.kind = {problem.volatility_model.kind!r} (the (x, E) grid needs a "
                       "deterministic volatility)")
    if not a.is_linear and not problem.no_reversal:
        reasons.append(f"impact_exponent = {a.impact_exponent:g} without no_reversal (round trips are not checked)")
    if (problem.risk_aversion < 0 or a.drift != 0) and not problem.no_reversal:
        reasons.append("drift or risk_aversion < 0 without no_reversal (the optimum may leave [0, X])")
    if reasons:
        raise MethodNotApplicable("dp", "transient_impact: the (x, E) grid needs " + "; ".join(reasons))


def uses_transient_grid(problem: ExecutionProblem, recursion: str) -> bool:
    """Whether method ``dp`` solves ``problem`` on the ``(x, E)`` grid: a single-asset transient spec
    outside the time-varying recursion, under ``recursion='grid'`` or when the exact one does not apply."""
    if problem.is_basket or not problem.has_transient or problem.time_varying_keys():
        return False
    if recursion == "grid":
        return True
    try:
        require_exact_transient(problem)
    except MethodNotApplicable:
        return recursion != "exact"
    return False


def transient_stages(problem: ExecutionProblem) -> TransientStages:
    """The scaled data of :class:`TransientStages` for a single-asset spec with an exponential kernel."""
    a = problem.asset
    kernel = transient_model(a)
    n, big_x = problem.slices, abs(a.holdings)
    c0 = cost_unit(problem)
    coeff, rho_unit = stage_coefficients(problem)
    r = coeff.c0 / c0  # stage_coefficients' unit -> cost_unit's
    times = problem.trade_times
    e1 = float(kernel.volume(kernel.initial_deviation)) / a.holdings
    caps = a.slice_caps(n)
    caps = np.full(n, np.inf) if caps is None else caps / big_x
    remaining = np.cumsum(caps[::-1])[::-1]
    extents = np.minimum(1.0, remaining)
    extents[0] = 1.0
    return TransientStages(
        A=coeff.A * r, G=coeff.G * r, K=kernel.kappa * big_x ** (1.0 + kernel.delta) / c0, D=coeff.D * r,
        beta=float(a.impact_exponent), delta=float(kernel.delta), c0=c0, e1=e1,
        w=problem.risk_aversion * rho_unit * r * problem.slice_variance(),
        decay=kernel.factors(times), low=e1 * kernel.initial_factors(times), caps=caps, extents=extents)


def transient_grid_backward(problem: ExecutionProblem, *, x_points: int, e_points: int, iterations: int | None = None,
                            q_power: int = 1) -> TransientGrid:
    """Backward induction on the ``(q, e)`` grid (module docstring); ``x_points`` by ``e_points``
    nodes per slice, graded in ``e`` (``v^2``) when ``delta < 1`` (``Phi`` is ``|e|^(1+delta)``)."""
    if x_points < 4 or e_points < 4:
        key, val = ("x_points", x_points) if x_points < 4 else ("e_points", e_points)
        raise SpecError(f"settings.{key}", val, "the (x, E) grid interpolates with cubic stencils: needs >= 4")
    st = transient_stages(problem)
    n = st.w.size
    e_power = 1 if st.delta == 1.0 else 2
    grid = TransientGrid(st, [np.zeros((x_points, e_points))] * max(n - 1, 0), q_power, e_power, 0.0,
                         GOLDEN_STEPS if iterations is None else iterations)
    u = np.linspace(0.0, 1.0, x_points)
    v = np.linspace(0.0, 1.0, e_points)
    for k in range(n - 1, 0, -1):  # W_k: the value before slice k + 1 (time t_k)
        q = (st.extents[k] * u**q_power)[:, None] * np.ones(e_points)
        e = st.low[k] + (1.0 - q) * (v**e_power)[None, :]
        grid.tables[k - 1] = grid.argmin(k + 1, q, e)[1]
    grid.value0 = float(grid.argmin(1, np.array(1.0), np.array(st.e1))[1])
    return grid


class TransientGridPolicy(DeviationPolicy):
    """``dp``'s feedback on holdings and the deviation ``D_k`` met by the trade: ``E = F^-1(D)``,
    then the slice's minimization on the stored tables at the actual ``(x, E)`` (caps hold exactly)."""

    def __init__(self, problem: ExecutionProblem, grid: TransientGrid) -> None:
        self.problem = problem
        self.grid = grid
        self._kernel = transient_model(problem.asset)

    def slice_trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None,
                    deviation: np.ndarray) -> np.ndarray:
        big_x = self.problem.asset.holdings
        e = np.broadcast_to(self._kernel.volume(deviation) / big_x, holdings.shape)
        q = holdings / big_x
        y, _ = self.grid.argmin(k, q, e)
        return big_x * (q - y)

    def deviations(self, e: np.ndarray) -> np.ndarray:
        """``D = F(X e)`` (currency / share) of scaled displacements ``e``."""
        return self._kernel.book(np, self.problem.asset.holdings * np.asarray(e, dtype=np.float64))

    def path(self) -> tuple[np.ndarray, np.ndarray]:
        """Holdings ``x_0..x_N`` (shares) and deviations ``D_1..D_N`` (currency / share) of the policy."""
        q, e = self.grid.path()
        return self.problem.asset.holdings * q, self.deviations(e)
