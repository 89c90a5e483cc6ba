"""The Monte Carlo engine: execute a static schedule or any feedback policy on simulated
price and volatility paths, on common random numbers (:func:`simulate`, :func:`compare`).

Per slice ``k = 1..N`` (``tau = T / N``; the conventions page, "Prices and costs")::

    D_k = D_{k-1} + mu tau + sigma_k sqrt(tau) xi_k - Gamma n_k       (D_k = S_k - S_0)
    C   = -sum_k n_k (D_{k-1} - h(n_k / tau)),   R = lambda tau sum_k sigma_k^2 x_k^2

Transient impact adds ``Phi(E_k + n_k) - Phi(E_k)`` per slice with the displacement ``E`` carried
along each path (:mod:`solvers.transient`; a policy with ``uses_deviation`` reads ``D_k``).
``h`` is :meth:`solvers.impact.PowerLawImpact.price_concession` (a basket's matrix ``H``:
``epsilon sign(v) + H v``). Block ``b`` of paths draws from ``PCG64(SeedSequence(seed,
spawn_key=(b,)))``, so a ``(seed, problem)`` gives every strategy the same paths, and a run of
``n`` paths is the prefix of any longer one. Amounts are in currency. A spec's volume and fill
model (:mod:`solvers.market`) makes slice ``k`` execute only its fill of the order; the rest
stays in holdings and ``x_N`` is sold at ``t_N`` in one block at ``h(x_N / tau)`` plus its transient
cost against the displacement left at ``t_N``. Per-slice
``eta_k`` / ``epsilon_k`` enter ``h`` of slice ``k``; a closure after slice ``k`` moves the price by
``mu d + sigma_c sqrt(d) xi`` with ``x_k`` held (``sigma_c`` defaults to the path's ``sigma_{k+1}``,
stochastic volatility running on calendar time); under a terminal penalty ``x_N`` is liquidated at
``S_N`` for ``alpha x_N^2`` (conventions page, "Time-varying markets").
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import SpecError
from ..impact import impact_model
from ..market import MarketModel, SliceState, market_model
from ..policy import FeedbackPolicy, SchedulePolicy
from ..spec import ExecutionProblem
from ..transient import transient_model
from .estimates import Difference, MonteCarloEstimate, sample_statistics, standard_error, unit_means

__all__ = [
    "SimulationResult", "simulate", "simulate_volatility", "compare", "block_generator",
    "strategies_on_common_paths",
]

_BLOCK_ELEMENTS = 2**21  # normals per block (16 MB of float64)
#: most paths of one run (its cost and risk arrays alone take 16 bytes a path)
MAX_PATHS = 10**9
#: most volatility substeps per slice
MAX_VOL_SUBSTEPS = 10_000
_FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# ---------------------------------------------------------------------------- volatility
def block_generator(seed: int, block: int) -> np.random.Generator:
    """The random stream of block ``block`` of a run with ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(block,))))


def simulate_volatility(problem: ExecutionProblem, paths: int, rng: np.random.Generator,
                        vol_substeps: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """``sigma_k = sigma(t_{k-1})`` for k = 1..N on ``paths`` paths, drawn by the spec's volatility
    model (:meth:`solvers.volatility.VolatilityModel.sample`: exact transitions where they exist,
    moment-matched sub-steps otherwise), on the calendar times ``problem.volatility_times`` when
    the spec has closures. Returns ``(sigma, regime)``: ``sigma`` of shape ``(paths, N)`` (a
    basket is constant and gets ones, scaled per asset by the caller), and the regime index per
    slice for a regime model, else None."""
    if problem.is_basket:
        return np.ones((paths, problem.slices)), None
    steps = problem.volatility_steps if problem.closures else None
    return problem.volatility_model.sample(rng, paths, problem.slices, problem.tau,
                                           float(problem.assets[0].volatility), vol_substeps, steps)


@dataclass
class SimulationResult:
    """Cost distribution of one strategy on simulated paths.

    Attributes:
        strategy: a label (method name or "schedule").
        paths, seed, antithetic: the run's settings (``unit`` = 2 for antithetic pairs).
        cost: implementation shortfall per path (currency).
        risk: realized risk term ``lambda tau sum sigma_k^2 x_k^2`` per path (currency).
        stats: :func:`sample_statistics` of ``cost``.
        objective: mean of ``cost + risk`` (the dynamic objective).
        risk_term: mean of ``risk``.
        mean_holdings: ``E[x_k]`` over all paths, shape (N+1,) or (N+1, m).
        fan_holdings: holdings of the first ``fan_paths`` paths, shape (fan, N+1[, m]).
        seconds: wall time; ``paths_per_second``.
    """

    problem: ExecutionProblem
    strategy: str
    paths: int
    seed: int
    antithetic: bool
    cost: np.ndarray
    risk: np.ndarray
    stats: dict[str, Any]
    objective: MonteCarloEstimate
    risk_term: MonteCarloEstimate
    mean_holdings: np.ndarray
    fan_holdings: np.ndarray
    seconds: float
    time_model: str = "discrete"
    diagnostics: dict[str, Any] = field(default_factory=dict)
    remainder: np.ndarray | None = None  # x_N per path before the final block (fill models), shares

    @property
    def unit(self) -> int:
        return 2 if self.antithetic else 1

    @property
    def mean(self) -> MonteCarloEstimate:
        return self.stats["mean"]

    @property
    def variance(self) -> MonteCarloEstimate:
        return self.stats["variance"]

    @property
    def std(self) -> MonteCarloEstimate:
        return self.stats["std"]

    @property
    def paths_per_second(self) -> float:
        return self.paths / self.seconds if self.seconds > 0 else math.inf

    def fan_quantiles(self, quantiles: Sequence[float] = _FAN_QUANTILES) -> np.ndarray:
        """Quantiles of holdings at each ``t_k`` over the fan paths: shape (len(q), N+1[, m])."""
        return np.quantile(self.fan_holdings, quantiles, axis=0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-path arrays)."""
        st = self.stats
        return {
            "strategy": self.strategy, "paths": self.paths, "seed": self.seed, "antithetic": self.antithetic,
            "time_model": self.time_model,
            "mean_cost": st["mean"].to_dict(), "variance": st["variance"].to_dict(), "std": st["std"].to_dict(),
            "var": {str(a): e.to_dict() for a, e in st["var"].items()},
            "cvar": {str(a): e.to_dict() for a, e in st["cvar"].items()},
            "risk_term": self.risk_term.to_dict(), "objective": self.objective.to_dict(),
            "mean_holdings": self.mean_holdings.tolist(), "seconds": self.seconds,
            "paths_per_second": self.paths_per_second, "diagnostics": dict(self.diagnostics),
        }

    def summary(self) -> str:
        st = self.stats
        lines = [
            f"Monte Carlo of {self.strategy} ({self.time_model} policy): {self.paths} paths, seed {self.seed}"
            + (", antithetic" if self.antithetic else "") + f", {self.seconds:.3g} s",
            f"  mean cost            {st['mean']:.10g}",
            f"  std of cost          {st['std']:.10g}",
            f"  risk term (mean)     {self.risk_term:.10g}",
            f"  objective E[C + R]   {self.objective:.10g}",
        ]
        for a in st["var"]:
            lines.append(f"  VaR {a:<6g}           {st['var'][a]:.10g}   CVaR {st['cvar'][a]:.10g}")
        return "\n".join(lines)


def _check_count(name: str, value: Any, low: int, high: int) -> None:
    """A SpecError naming ``name`` unless ``value`` is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise SpecError(name, value, f"must be an integer >= {low} (and at most {high:,})")


def _as_strategy(problem: ExecutionProblem, strategy: Any) -> tuple[np.ndarray | None, Any, str]:
    """(static holdings or None, policy or None, time model)."""
    if isinstance(strategy, SchedulePolicy):
        return np.asarray(strategy.holdings, dtype=np.float64), None, "discrete"
    if isinstance(strategy, np.ndarray) or isinstance(strategy, (list, tuple)):
        h = np.asarray(strategy, dtype=np.float64)
        want = (problem.slices + 1,) if not problem.is_basket else (problem.slices + 1, problem.n_assets)
        if h.shape != want:
            raise SpecError("strategy", f"holdings of shape {h.shape}", f"must have shape {want} (x_0..x_N)")
        return h, None, "discrete"
    if hasattr(strategy, "policy") and hasattr(strategy, "holdings") and hasattr(strategy, "method"):
        if strategy.policy is not None:
            return None, strategy.policy, getattr(strategy.policy, "time_model", "discrete")
        return np.asarray(strategy.holdings, dtype=np.float64), None, "discrete"
    if isinstance(strategy, FeedbackPolicy) or hasattr(strategy, "trade"):
        return None, strategy, getattr(strategy, "time_model", "discrete")
    raise SpecError("strategy", type(strategy).__name__,
                    "must be holdings (N+1 numbers), a SchedulePolicy, a FeedbackPolicy or a Result")


def _impact(problem: ExecutionProblem):
    """``h(n, k)``: temporary impact per share plus spread of the trades ``n`` of slice ``k``
    (shape (..., m)); ``k = None``: ``n`` holds all N slices on its second-to-last axis
    (per-slice ``eta_k`` and ``epsilon_k`` apply to their own slice)."""
    tau, n_slices = problem.tau, problem.slices
    if problem.temporary_impact_matrix is not None:
        eps = np.array([a.spread for a in problem.assets])
        hmat = problem.temporary_impact_matrix_array

        def h(n, k=None):
            return eps * np.sign(n) + (n / tau) @ hmat.T
        return h
    laws = []
    for a in problem.assets:
        base = impact_model(a)
        eta, eps = a.eta_slices(n_slices), a.spread_slices(n_slices)
        if not a.varying_keys:
            laws.append(lambda k, base=base: base)
        else:  # the law of slice k (1..N), or of all slices at once (k = None)
            laws.append(lambda k, base=base, eta=eta, eps=eps: dataclasses.replace(
                base, eta=eta if k is None else float(eta[k - 1]), epsilon=eps if k is None else float(eps[k - 1])))

    def h(n, k=None):
        return np.stack([law(k).price_concession(np, n[..., j], tau) for j, law in enumerate(laws)], axis=-1)
    return h


def _closure_moves(problem: ExecutionProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per closure: ``after_slice`` (ints), duration ``d``, ``sigma_c`` (single asset; a basket
    keeps its volatilities: 1) and whether ``sigma_c`` is each path's own ``sigma_{k+1}`` (a
    stochastic model without the closure's ``volatility``): the price moves ``mu d + sigma_c
    sqrt(d) xi`` while ``x_k`` is held."""
    cl = problem.closures
    after = np.array([c.after_slice for c in cl], dtype=np.int64)
    dur = np.array([c.duration for c in cl], dtype=np.float64)
    follows = np.zeros(len(cl), dtype=bool)
    if problem.is_basket:
        vol = np.ones(len(cl))
    else:
        vol = np.sqrt(np.array([problem.closure_variance(c) for c in cl], dtype=np.float64))
        if problem.volatility_model.stochastic:
            follows = np.array([c.volatility is None for c in cl], dtype=bool)
    return after, dur, vol, follows


def simulate(
    problem: ExecutionProblem,
    strategy: Any,
    *,
    paths: int = 100_000,
    seed: int = 0,
    antithetic: bool = False,
    levels: Sequence[float] = (0.95, 0.99),
    fan_paths: int = 1000,
    vol_substeps: int = 4,
    block_paths: int | None = None,
    progress: bool | None = None,
    label: str | None = None,
) -> SimulationResult:
    """Execute a strategy on simulated paths and return its cost distribution.

    Args:
        problem: the spec (its dynamics, impact, drift, correlation and volatility model).
        strategy: static holdings ``x_0..x_N`` (array), a :class:`SchedulePolicy`, any
            :class:`FeedbackPolicy` (``trade(k, x_{k-1}, sigma_k, regime) -> n_k``), or a
            :class:`~solvers.result.Result` (its ``policy`` if it has one, else its holdings).
            The last slice executes ``n_N = x_{N-1}`` (``x_N = 0``) unless the spec has a
            terminal penalty (then ``x_N`` is liquidated at ``S_N`` for ``alpha x_N^2``).
        paths: number of paths (even when antithetic).
        seed: the random seed; the same seed gives the same paths to every strategy.
        antithetic: pair each path with its mirror ``-xi`` (same volatility path).
        levels: VaR / CVaR levels.
        fan_paths: how many paths keep their holdings for the fan chart.
        vol_substeps: substeps per slice of the moment-matched volatility scheme (``p = 1``).
        block_paths: paths per block (default: about 2**21 normals per block). Changing it
            changes the random stream (not the statistics).
        progress: tqdm progress bar on stderr; default: on for runs of 5e7 path-slices or more.
        label: name of the strategy in outputs.
    """
    _check_count("paths", paths, 2, MAX_PATHS)
    if antithetic and paths % 2:
        raise SpecError("paths", paths, "must be even with antithetic=True (paths come in pairs)")
    _check_count("vol_substeps", vol_substeps, 1, MAX_VOL_SUBSTEPS)
    _check_count("seed", seed, 0, 2**63 - 1)
    _check_count("fan_paths", fan_paths, 0, MAX_PATHS)
    if block_paths is not None:
        _check_count("block_paths", block_paths, 2, MAX_PATHS)
    static, policy, time_model = _as_strategy(problem, strategy)
    market = market_model(problem)
    default_label = "schedule" if static is not None else type(policy).__name__
    if market.active and static is not None:  # followed blindly: the shortfall is carried to the end
        policy, static = SchedulePolicy(problem, static), None
    n, m = problem.slices, problem.n_assets
    big_x = problem.initial_holdings
    if static is not None:
        hs = static.reshape(n + 1, m)
        soft = problem.has_terminal_penalty
        if np.any(np.abs(hs[0] - big_x) > 1e-9 * np.abs(big_x)) or (
                not soft and np.any(np.abs(hs[-1]) > 1e-9 * np.abs(big_x))):
            raise SpecError("strategy", "holdings", "must start at X and end at 0 (x_0 = X, x_N = 0)")
    if block_paths is None:
        block_paths = int(min(65536, max(256, _BLOCK_ELEMENTS // (n * m))))
    block_paths = int(block_paths) + (int(block_paths) % 2)
    unit = 2 if antithetic else 1
    show = progress if progress is not None else paths * n * m >= 5e7
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=paths, unit="path", file=sys.stderr, desc=f"simulate {label or ''}".strip())

    cost = np.empty(paths)
    risk = np.empty(paths)
    remainder = np.zeros(paths) if market.active else None
    fan_n = min(int(fan_paths), paths)
    fan = np.empty((fan_n, n + 1, m))
    sum_x = np.zeros((n + 1, m))
    start = time.perf_counter()
    done = 0
    n_blocks = -(-paths // block_paths)  # ceil: the loop is bounded by the block count
    for block in range(n_blocks):
        size = min(block_paths, paths - done)
        rng = block_generator(int(seed), block)
        c, r, x = _run_block(problem, static, policy, block_paths, size, rng, antithetic, vol_substeps, market)
        if remainder is not None:
            remainder[done:done + size] = x[:, -1, 0]
        cost[done:done + size] = c
        risk[done:done + size] = r
        sum_x += x.sum(axis=0) if x.ndim == 3 else x * size
        if done < fan_n:
            take = min(fan_n - done, size)
            fan[done:done + take] = x[:take] if x.ndim == 3 else x[None]
        done += size
        if bar is not None:
            bar.update(size)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    stats = sample_statistics(cost, levels, unit)
    total_u = unit_means(cost + risk, unit)
    risk_u = unit_means(risk, unit)
    squeeze = (lambda a: a[..., 0]) if not problem.is_basket else (lambda a: a)
    return SimulationResult(
        problem=problem, strategy=label or default_label,
        paths=int(paths), seed=int(seed), antithetic=bool(antithetic), cost=cost, risk=risk, stats=stats,
        objective=MonteCarloEstimate(float(total_u.mean()), standard_error(total_u)), risk_term=MonteCarloEstimate(float(risk_u.mean()), standard_error(risk_u)),
        mean_holdings=squeeze(sum_x / paths), fan_holdings=squeeze(fan), seconds=seconds, time_model=time_model,
        diagnostics={"blocks": n_blocks, "block_paths": block_paths, "vol_substeps": int(vol_substeps),
                     "engine": "static (vectorized over slices)" if static is not None else "feedback (loop over slices)",
                     **({"market": "volume and fill model"} if market.active else {})},
        remainder=remainder,
    )


def _run_block(problem: ExecutionProblem, static, policy, block: int, size: int, rng: np.random.Generator,
               antithetic: bool, vol_substeps: int, market: MarketModel | None = None):
    """One block: the draws of ``block`` paths (so that a run is a prefix of any longer run),
    executed on its first ``size`` paths. Returns (cost (size,), risk (size,), holdings
    (size, N+1, m), or (N+1, m) for a static schedule)."""
    n, m, tau = problem.slices, problem.n_assets, problem.tau
    half = size // 2 if antithetic else size
    drawn = block // 2 if antithetic else block
    stochastic = problem.volatility_model.stochastic
    if stochastic:
        sigma, regime = simulate_volatility(problem, drawn, rng, vol_substeps)
        sigma = sigma[:half]
        regime = None if regime is None else regime[:half]
    else:  # one row for every path: sigma_k (single asset) or 1 (basket, scaled per asset below)
        sigma, regime = None, None
        sigma_row = np.ones(n) if problem.is_basket else np.sqrt(problem.slice_variance())
    z = rng.standard_normal((drawn, n, m))[:half]
    if antithetic:  # pairs are adjacent: path 2i and 2i+1 share the volatility path, +/- xi
        if stochastic:
            sigma = np.repeat(sigma, 2, axis=0)
            regime = None if regime is None else np.repeat(regime, 2, axis=0)
        z = np.stack([z, -z], axis=1).reshape(size, n, m)
    active = market is not None and market.active
    if active:  # drawn after the prices, so that the price paths stay those of a run without it
        draws = market.draw(rng, drawn).take(slice(0, half))
        draws = draws.repeat(2) if antithetic else draws
    after, dur, vol_c, follows = _closure_moves(problem)
    # sigma_c per path and closure: the path's sigma_{k+1} where it follows the volatility model
    vol_cp = np.broadcast_to(vol_c, (size, len(after)))
    if np.any(follows):
        vol_cp = np.where(follows, sigma[:, np.minimum(after, n - 1)], vol_c)
    zc = rng.standard_normal((drawn, len(after), m))[:half] if len(after) else np.zeros((size, 0, m))
    if antithetic and len(after):  # drawn last, so that a spec without closures keeps its paths
        zc = np.stack([zc, -zc], axis=1).reshape(size, len(after), m)
    corr = problem.correlation_matrix
    if m > 1 and not np.allclose(corr, np.eye(m)):
        w, u = np.linalg.eigh(corr)
        factor = u * np.sqrt(np.maximum(w, 0.0))
        z = z @ factor.T
        zc = zc @ factor.T
    alpha = problem.terminal_penalties() if problem.has_terminal_penalty else None
    vols = problem.volatilities if problem.is_basket else np.ones(1)
    root_tau = math.sqrt(tau)
    mu_tau = np.array([a.drift for a in problem.assets]) * tau
    gamma = problem.permanent_impact_matrix_array
    lam = problem.risk_aversion
    h = _impact(problem)
    cov = problem.covariance
    kernels = [transient_model(a) for a in problem.assets]
    times = problem.trade_times
    if static is not None:
        # Summation by parts: -sum_k n_k' D_{k-1} = -sum_k x_k' (D_k - D_{k-1}), so a static
        # schedule's shortfall is linear in the price moves,
        #   C = sum_k n_k' h(v_k) + sum_k x_k' Gamma n_k - sum_k x_k' (mu tau + sigma_k sqrt(tau) xi_k),
        # one matrix-vector product per block instead of a cumulative sum of prices (the
        # feedback engine below carries D_k itself; tests check that both agree path by path).
        # A closure after slice k adds its move to x_k's; the remainder x_N pays alpha x_N^2.
        x = static.reshape(n + 1, m)
        trades = x[:-1] - x[1:]
        held = x[1:]  # x_1..x_N
        hold_time = problem.exposure_times()
        fixed = float(np.sum(trades * h(trades)) + np.einsum("km,mj,kj->", held, gamma, trades)
                      - np.sum(held * mu_tau / tau * hold_time[:, None]))
        if alpha is not None:
            fixed += float(np.sum(alpha * x[-1] ** 2))
        for i, kernel in enumerate(kernels):  # the transient cost of a static schedule is deterministic
            if kernel is not None:
                fixed += float(kernel.cost(trades[:, i], times))
        weights = held * vols * root_tau  # (N, m)
        closure_noise = 0.0
        if len(after):
            cw = held[after - 1] * vols * np.sqrt(dur)[:, None]  # (closures, m), times sigma_c per path
            closure_noise = np.einsum("pcm,pc,cm->p", zc, vol_cp, cw)
        if stochastic:
            noise = (sigma * z[..., 0]) @ weights[:, 0]
            risk = lam * tau * (sigma**2 @ (held[:, 0] ** 2))
            if len(after):  # each closure's d sigma_c^2 x_k^2, sigma_c per path
                risk = risk + lam * (vol_cp**2 @ (dur * held[after - 1, 0] ** 2))
        else:
            weights = weights * sigma_row[:, None]
            noise = z[..., 0] @ weights[:, 0] if m == 1 else np.einsum("pkm,km->p", z, weights)
            if problem.is_basket:
                value = lam * float(np.einsum("k,km,mj,kj->", hold_time, held, cov, held))
            else:
                value = lam * float(problem.holding_risk()[:, 0, 0] @ held[:, 0] ** 2)
            risk = np.full(size, value)
        return fixed - noise - closure_noise, risk, x
    # time-major copies: each slice reads contiguous rows
    z_t = np.ascontiguousarray(np.moveaxis(z, 1, 0))  # (N, size, m)
    sig_t = np.ascontiguousarray(sigma.T) if stochastic else None
    reg_t = np.ascontiguousarray(regime.T) if regime is not None else None
    holdings_t = np.empty((n + 1, size, m))
    holdings_t[0] = problem.initial_holdings
    d = np.zeros((size, m))
    cost = np.zeros(size)
    risk = np.zeros(size)
    xk = holdings_t[0].copy()
    closure_at = {int(k): j for j, k in enumerate(after)}
    # transient impact: the volume displacement E (shares) per path and asset; D = F(E)
    volume = np.array([[0.0 if kr is None else float(kr.volume(kr.initial_deviation)) for kr in kernels]] * size)
    history = np.zeros((n, size, m)) if any(kr is not None and not kr.exponential for kr in kernels) else None
    sees_deviation = bool(getattr(policy, "uses_deviation", False))
    for k in range(1, n + 1):
        if history is not None:
            for i, kr in enumerate(kernels):
                if kr is not None and not kr.exponential:
                    lag = kr.decay(np, times[k - 1] - times[: k - 1])
                    volume[:, i] = (float(kr.volume(kr.initial_deviation)) * kr.decay(np, times[k - 1] - times[0])
                                    + np.tensordot(lag, history[: k - 1, :, i], axes=(0, 0)))
        s_k = sig_t[k - 1] if stochastic else np.full(size, sigma_row[k - 1])
        if k == n and alpha is None:
            trade = xk.copy()
        else:
            r_k = None if reg_t is None else reg_t[k - 1]
            extra = {}
            if sees_deviation:
                dev = np.stack([np.zeros(size) if kr is None else kr.book(np, volume[:, i])
                                for i, kr in enumerate(kernels)], axis=1)
                extra = {"deviation": dev if problem.is_basket else dev[:, 0]}
            if hasattr(policy, "order") and not problem.is_basket:  # an execution policy: the realized state
                state = SliceState(k, xk[:, 0].copy(), s_k, r_k,
                                   market.volume_state(k, draws, size) if active else np.zeros(size), np.zeros(size))
                raw = policy.order(state)
            elif problem.is_basket:
                raw = policy.trade(k, xk, s_k[:, None] * problem.volatilities, r_k, **extra)
            else:
                raw = policy.trade(k, xk[:, 0], s_k, r_k, **extra)
            trade = np.asarray(raw, dtype=np.float64).reshape(size, m)
            if not np.all(np.isfinite(trade)):
                raise SpecError("policy", type(policy).__name__, f"returned a non-finite trade in slice k = {k}")
        if active:
            trade = market.execute(k, trade[:, 0], draws)[:, None]
        cost -= np.sum(trade * (d - h(trade, k)), axis=1)
        for i, kr in enumerate(kernels):
            if kr is not None:
                cost += kr.step_cost(np, volume[:, i], trade[:, i])
                if history is not None:
                    history[k - 1, :, i] = trade[:, i]
                if kr.exponential:  # on to the next trade (after slice N: to t_N, the final block's time)
                    gap = (times[k] if k < n else times[n - 1] + tau) - times[k - 1]
                    volume[:, i] = math.exp(-kr.rho * gap) * (volume[:, i] + trade[:, i])
        d += (s_k[:, None] * (vols * root_tau)) * z_t[k - 1] + mu_tau - trade @ gamma.T
        xk = xk - trade
        if k == n and not active and alpha is None:
            xk[:] = 0.0
        holdings_t[k] = xk
        weight = tau * s_k**2  # the variance rate times time while x_k is held (single asset)
        hold = tau
        if k in closure_at:  # the market is closed after slice k: x_k is held through the move
            j = closure_at[k]
            sc = vol_cp[:, j]  # (size,)
            d += (sc[:, None] * (math.sqrt(dur[j]) * vols)) * zc[:, j] + mu_tau / tau * dur[j]
            hold, weight = tau + dur[j], weight + dur[j] * sc**2
        if problem.is_basket:
            risk += lam * hold * np.einsum("pm,mj,pj->p", xk, cov, xk)
        else:
            risk += lam * weight * xk[:, 0] ** 2
    if alpha is not None:  # the remainder x_N: liquidated at S_N for alpha x_N^2
        cost += np.sum(alpha * xk * xk - xk * d, axis=1)
    elif active:  # the unfilled remainder x_N: one block at S_N at its temporary and transient cost
        cost -= np.sum(xk * (d - h(xk, n)), axis=1)
        end = times[n - 1] + tau  # t_N in calendar time
        for i, kr in enumerate(kernels):
            if kr is None:
                continue
            if not kr.exponential:  # the displacement at t_N from the whole history
                volume[:, i] = (float(kr.volume(kr.initial_deviation)) * kr.decay(np, end - times[0])
                                + np.tensordot(kr.decay(np, end - times), history[:, :, i], axes=(0, 0)))
            cost += kr.step_cost(np, volume[:, i], xk[:, i])
    return cost, risk, np.moveaxis(holdings_t, 0, 1)


# ---------------------------------------------------------------------------- comparisons
def compare(a: SimulationResult, b: SimulationResult) -> dict[str, Difference]:
    """Paired differences ``a - b`` of mean cost, risk term and objective (``C + R``).

    Both runs must share the problem's slices, the seed, the number of paths and the
    antithetic setting (common random numbers), else the pairing is meaningless.
    """
    for key in ("paths", "seed", "antithetic"):
        if getattr(a, key) != getattr(b, key):
            raise SpecError(key, (getattr(a, key), getattr(b, key)), "must be equal in both runs (common random numbers)")
    if a.diagnostics.get("block_paths") != b.diagnostics.get("block_paths"):
        raise SpecError("block_paths", (a.diagnostics.get("block_paths"), b.diagnostics.get("block_paths")),
                        "must be equal in both runs (common random numbers)")
    unit = a.unit
    scale = float(np.mean(np.abs(a.cost + a.risk)))  # rounding floor relative to the objective's size
    out = {}
    for name, da in (("cost", a.cost - b.cost), ("risk_term", a.risk - b.risk),
                     ("objective", (a.cost + a.risk) - (b.cost + b.risk))):
        u = unit_means(da, unit)
        out[name] = Difference(name, a.strategy, b.strategy, MonteCarloEstimate(float(u.mean()), standard_error(u, scale)))
    return out


def strategies_on_common_paths(problem: ExecutionProblem, strategies: Mapping[str, Any], **options: Any
                               ) -> dict[str, SimulationResult]:
    """Simulate several strategies with the same settings (hence the same paths)."""
    return {name: simulate(problem, s, label=name, **options) for name, s in strategies.items()}
