"""Monte Carlo execution simulator: price and volatility paths under MODEL.md's dynamics,
executing a static schedule or any feedback policy on the same (common) random numbers.

Dynamics (MODEL.md, discrete time, ``k = 1..N``, ``tau = T / N``)::

    S_k = S_{k-1} + mu tau + sigma_k sqrt(tau) xi_k - Gamma n_k       (tau g(v_k) = Gamma n_k)
    Stilde_k = S_{k-1} - h(v_k),   h(v) = epsilon sign(v) + eta |v|^beta sign(v)
                                   (basket with a matrix H: epsilon sign(v) + H v)
    C = X S_0 - sum_k n_k Stilde_k                                     (implementation shortfall)
    R = lambda tau sum_k sigma_k^2 x_k^2                               (basket: lambda tau sum x_k' C x_k)

``sigma_k = sigma(t_{k-1})`` drives slice ``k`` and is known when its trade is chosen
(``solvers/volatility.py``). ``xi_k`` is standard normal, correlated across a basket's
assets by the spec's correlation matrix (factor ``L`` with ``L L' = R`` from its eigen
decomposition, so a singular correlation is fine). The simulator carries ``D_k = S_k - S_0``
rather than ``S_k``: ``X S_0`` cancels exactly in ``C`` (``sum_k n_k = X``), so
``C = -sum_k n_k (D_{k-1} - h(v_k))`` with no loss of digits to a large ``X S_0``. All amounts
are in currency. ``C + R`` per path has mean ``E[C] + lambda E[sum tau sigma_k^2 x_k^2]``, the
``objective`` of MODEL.md for static and dynamic methods alike.

Volatility schemes (values at ``t_0 .. t_{N-1}``; ``sigma(t_0)`` is the asset's volatility):

* constant and path: deterministic.
* mean reverting, ``p = 0`` (Ornstein-Uhlenbeck): exact Gaussian transition.
* mean reverting, ``p = 1/2`` (``d sigma = kappa (theta - sigma) dt + xi sqrt(sigma) dW``, a CIR
  process in sigma): exact transition, ``sigma' = c * chi'^2_d(sigma e^{-kappa dt} / c)``,
  ``c = xi^2 (1 - e^{-kappa dt}) / (4 kappa)``, ``d = 4 kappa theta / xi^2``, drawn as
  ``c * Gamma(d/2 + P, 2)`` with ``P ~ Poisson(sigma e^{-kappa dt} / (2c))`` (valid for d = 0 too).
* mean reverting, ``p = 1`` (geometric mean reversion; no closed-form transition):
  a lognormal step whose conditional mean and second moment equal the exact ones
  (``expm`` of the moment ODE's matrix), with ``vol_substeps`` steps per slice. Because the
  conditional second moment is linear in ``(1, sigma, sigma^2)``, the unconditional
  ``E[sigma_k]`` and ``E[sigma_k^2]`` are exact at every slice for any number of substeps;
  higher moments converge as substeps grow.
* regimes: a Markov chain with ``P = expm(Q tau)`` between slices (``transition_matrix(tau)``);
  the regime during slice ``k`` is the state at ``t_{k-1}``.

Random numbers and reproducibility: paths are generated in blocks; block ``b`` draws from
``numpy.random.Generator(PCG64(SeedSequence(seed, spawn_key=(b,))))`` (volatility draws first,
then the price noise), so a given ``(seed, problem)`` yields the same paths whatever the
strategy (common random numbers) and whatever the number of paths asked for (a run of ``n``
paths is the prefix of any longer run with the same seed: the last block draws its whole
block of random numbers and executes only the paths asked for). With ``antithetic=True`` each block's second half
uses ``-xi`` of its first half on the same volatility path, and statistics treat each pair as
one independent unit.

Memory: one block holds ``block_paths * N * m`` normals (about ``2**21`` numbers, 16 MB);
across blocks only per-path scalars are kept (cost and risk term, 16 bytes a path: 16 MB for
a million paths) plus the holdings of the first ``fan_paths`` paths for the fan chart.

Statistics (each with a standard error, from independent units = paths, or antithetic pairs;
the standard error of a mean is floored at ``ROUNDING_RTOL = 1e-13`` of its magnitude, the
float64 rounding that remains when the statistical error vanishes):
mean and variance (unit averages of ``C`` and of ``(C - mean)^2``), standard deviation (delta
method), VaR at level ``alpha`` (the ``alpha`` quantile of the cost; standard error
``sqrt(Var_unit(1{C <= q})) / sqrt(units) * s``, with the sparsity ``s = 1/f(q)`` estimated by
Siddiqui's difference quotient of the empirical quantiles at the Hall-Sheather bandwidth), and
CVaR (expected shortfall, Rockafellar-Uryasev form ``q + E[(C - q)^+] / (1 - alpha)``; the
standard error of that unit average is asymptotically exact because its derivative in ``q``
vanishes at the quantile).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.linalg import expm
from scipy.stats import norm

from .errors import SpecError
from .policy import FeedbackPolicy, SchedulePolicy
from .spec import ExecutionProblem
from .volatility import (
    ConstantVolatility,
    MeanRevertingVolatility,
    RegimeVolatility,
    VolatilityPath,
)

__all__ = [
    "Estimate",
    "SimulationResult",
    "Difference",
    "ProportionalPolicy",
    "simulate",
    "simulate_volatility",
    "compare",
    "sample_statistics",
    "plot_cost_histogram",
    "plot_fan_chart",
    "strategies_on_common_paths",
]

_BLOCK_ELEMENTS = 2**21  # normals per block (16 MB of float64)
_FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# ---------------------------------------------------------------------------- estimates
@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate with its standard error (same units as the value)."""

    value: float
    se: float

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        """Two-sided normal confidence interval ``value -/+ z se``."""
        z = float(norm.ppf(0.5 + level / 2))
        return (self.value - z * self.se, self.value + z * self.se)

    def contains(self, truth: float, z: float = 4.0) -> bool:
        """``|value - truth| <= z se``."""
        return abs(self.value - truth) <= z * self.se

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se}

    def __format__(self, spec: str) -> str:
        spec = spec or ".6g"
        return f"{format(self.value, spec)} +/- {format(self.se, '.2g')}"


def _units(values: np.ndarray, unit: int) -> np.ndarray:
    """Per-unit averages (a unit is one path, or one antithetic pair of adjacent paths)."""
    return values.reshape(-1, unit).mean(axis=1)


#: relative floating-point floor on the standard error of a mean: when the statistical error
#: vanishes (antithetic pairs of a static linear cost, identical strategies on common paths) the
#: estimate still carries float64 rounding of sums of O(N) terms (measured ~2e-16 relative)
ROUNDING_RTOL = 1e-13


def _se(unit_values: np.ndarray, scale: float | None = None) -> float:
    """Standard error of the mean of independent units, floored by ``ROUNDING_RTOL * scale``
    (``scale`` defaults to the mean's magnitude)."""
    n = unit_values.shape[0]
    if n < 2:
        return math.inf
    stat = float(np.std(unit_values, ddof=1) / math.sqrt(n))
    ref = abs(float(unit_values.mean())) if scale is None else scale
    return math.hypot(stat, ROUNDING_RTOL * ref)


def _hall_sheather(n: int, alpha: float) -> float:
    """Hall-Sheather (1988) bandwidth for the sparsity estimate at quantile ``alpha``."""
    z = norm.ppf(alpha)
    zc = norm.ppf(0.975)
    return n ** (-1.0 / 3.0) * zc ** (2.0 / 3.0) * (1.5 * norm.pdf(z) ** 2 / (2 * z * z + 1)) ** (1.0 / 3.0)


def sample_statistics(cost: np.ndarray, levels: Sequence[float] = (0.95, 0.99), unit: int = 1) -> dict[str, Any]:
    """Mean, variance, std, VaR and CVaR of cost samples, each an :class:`Estimate`.

    Args:
        cost: samples (currency); with ``unit = 2`` adjacent pairs are antithetic partners.
        levels: VaR / CVaR confidence levels in (0, 1) (cost is a loss: high is bad).
        unit: 1 for independent paths, 2 for antithetic pairs.
    """
    c = np.asarray(cost, dtype=np.float64)
    n = c.shape[0]
    if n < 2 * unit or n % unit:
        raise SpecError("paths", n, f"need at least {2 * unit} samples in whole units of {unit}")
    mean_u = _units(c, unit)
    mean = float(mean_u.mean())
    dev2 = _units((c - mean) ** 2, unit)
    var = float(dev2.mean()) * n / (n - 1)
    var_se = _se(dev2, 0.0)
    std = math.sqrt(var)
    out: dict[str, Any] = {
        "mean": Estimate(mean, _se(mean_u)),
        "variance": Estimate(var, var_se),
        "std": Estimate(std, var_se / (2 * std) if std > 0 else 0.0),
        "var": {},
        "cvar": {},
    }
    for alpha in levels:
        alpha = float(alpha)
        if not 0 < alpha < 1:
            raise SpecError("levels", alpha, "VaR levels must be in (0, 1)")
        q = float(np.quantile(c, alpha))
        h = min(_hall_sheather(n, alpha), 0.5 * min(alpha, 1 - alpha))
        lo, hi = np.quantile(c, [alpha - h, alpha + h])
        sparsity = float(hi - lo) / (2 * h)
        below = _units((c <= q).astype(np.float64), unit)
        var_est = Estimate(q, _se(below, 0.0) * sparsity)
        tail = q + _units(np.maximum(c - q, 0.0), unit) / (1 - alpha)
        out["var"][alpha] = var_est
        out["cvar"][alpha] = Estimate(float(tail.mean()), _se(tail))
    return out


# ---------------------------------------------------------------------------- policies
class ProportionalPolicy:
    """The closed-loop form of a single-asset schedule: sell the same *fraction* of what is
    left as the schedule does, ``n_k = x_{k-1} * n*_k / x*_{k-1}`` (``x*`` the schedule).

    For the discrete AC optimum under constant volatility this is the optimal feedback policy
    (the problem is time-consistent: from any state the remaining optimum is the same sinh
    profile scaled by the holdings), so it reproduces the schedule on every path; it is a
    genuine state-dependent policy for the simulator's feedback path.
    """

    time_model = "discrete"

    def __init__(self, problem: ExecutionProblem, holdings: np.ndarray) -> None:
        h = np.asarray(holdings, dtype=np.float64)
        if h.shape != (problem.slices + 1,):
            raise SpecError("holdings", f"shape {h.shape}", f"must have shape ({problem.slices + 1},) (single asset)")
        self.problem = problem
        prev = h[:-1]
        safe = np.where(prev != 0, prev, 1.0)
        self.fractions = np.where(prev != 0, (h[:-1] - h[1:]) / safe, 1.0)

    def trade(self, k: int, holdings: np.ndarray, sigma: np.ndarray, regime: np.ndarray | None = None) -> np.ndarray:
        return holdings * self.fractions[k - 1]


# ---------------------------------------------------------------------------- volatility
def _block_generator(seed: int, block: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(block,))))


def simulate_volatility(problem: ExecutionProblem, paths: int, rng: np.random.Generator,
                        vol_substeps: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """``sigma_k = sigma(t_{k-1})`` for k = 1..N on ``paths`` paths (scheme in the module doc).

    Returns ``(sigma, regime)``: ``sigma`` of shape ``(paths, N)`` (single asset; a basket is
    constant and gets ``(paths, N)`` ones, scaled per asset by the caller), and the regime
    index during each slice (``(paths, N)`` integers) for a regime model, else None.
    """
    n = problem.slices
    tau = problem.tau
    model = problem.volatility_model
    sigma0 = float(problem.assets[0].volatility)
    if problem.is_basket:
        return np.ones((paths, n)), None
    if isinstance(model, ConstantVolatility):
        return np.full((paths, n), sigma0), None
    if isinstance(model, VolatilityPath):
        return np.broadcast_to(np.asarray(model.path, dtype=np.float64), (paths, n)).copy(), None
    if isinstance(model, RegimeVolatility):
        p = model.transition_matrix(tau)
        cum = np.cumsum(p, axis=1)
        cum[:, -1] = 1.0
        levels = np.asarray(model.levels, dtype=np.float64)
        regime_t = np.empty((n, paths), dtype=np.int64)  # time-major while stepping
        regime_t[0] = model.initial_regime
        u = rng.random((n - 1, paths)) if n > 1 else np.empty((0, paths))
        columns = [np.ascontiguousarray(cum[:, j]) for j in range(model.n_regimes - 1)]
        for k in range(1, n):
            prev = regime_t[k - 1]
            nxt = regime_t[k]
            nxt[:] = 0
            for col in columns:  # next regime = number of cumulative probabilities below u
                nxt += u[k - 1] > col[prev]
        return levels[regime_t].T, regime_t.T  # (paths, N) views of time-major arrays
    if isinstance(model, MeanRevertingVolatility):
        return _mean_reverting_paths(model, sigma0, n, tau, paths, rng, vol_substeps), None
    raise SpecError("volatility_model.kind", model.kind, "has no simulation scheme")


def _mean_reverting_paths(model: MeanRevertingVolatility, sigma0: float, n: int, tau: float, paths: int,
                          rng: np.random.Generator, substeps: int) -> np.ndarray:
    kappa, theta, xi, p = model.reversion, model.mean, model.vol_of_vol, model.elasticity
    out = np.empty((paths, n))
    out[:, 0] = sigma0
    exact_cir = p == 0.5 and xi > 0
    steps = 1 if (p == 0.0 or exact_cir or xi == 0) else int(substeps)
    dt = tau / steps
    phi = expm(model.generator_matrix() * dt)  # (1, m1, m2) -> conditional moments after dt
    s = out[:, 0].copy()
    for k in range(1, n):
        for _ in range(steps):
            m1 = phi[1, 0] + phi[1, 1] * s + phi[1, 2] * s * s
            if xi == 0:
                s = m1
                continue
            if p == 0.0:
                m2 = phi[2, 0] + phi[2, 1] * s + phi[2, 2] * s * s
                s = m1 + np.sqrt(np.maximum(m2 - m1 * m1, 0.0)) * rng.standard_normal(paths)
            elif exact_cir:  # noncentral chi-square as a Poisson mixture of gammas (df = 0 allowed)
                e = math.exp(-kappa * dt)
                c = xi * xi * (1 - e) / (4 * kappa)
                mix = rng.poisson(0.5 * np.maximum(s, 0.0) * e / c)
                s = c * rng.gamma(0.5 * 4 * kappa * theta / (xi * xi) + mix, 2.0)
            else:
                m2 = phi[2, 0] + phi[2, 1] * s + phi[2, 2] * s * s
                pos = (m1 > 0) & (m2 > 0)  # both vanish only once sigma has reached 0 with theta = 0
                safe1, safe2 = np.where(pos, m1, 1.0), np.where(pos, m2, 1.0)
                v = np.maximum(np.log(safe2) - 2.0 * np.log(safe1), 0.0)  # log(m2 / m1^2), in logs: no underflow
                s = np.where(pos, safe1 * np.exp(-0.5 * v + np.sqrt(v) * rng.standard_normal(paths)), 0.0)
        out[:, k] = s
    return out


# ---------------------------------------------------------------------------- the engine
@dataclass
class SimulationResult:
    """Cost distribution of one strategy on simulated paths.

    Attributes:
        strategy: a label (method name or "schedule").
        paths, seed, antithetic: the run's settings (``unit`` = 2 for antithetic pairs).
        cost: implementation shortfall per path (currency).
        risk: realized risk term ``lambda tau sum sigma_k^2 x_k^2`` per path (currency).
        stats: :func:`sample_statistics` of ``cost``.
        objective: mean of ``cost + risk`` (MODEL.md's dynamic objective).
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
    objective: Estimate
    risk_term: Estimate
    mean_holdings: np.ndarray
    fan_holdings: np.ndarray
    seconds: float
    time_model: str = "discrete"
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> int:
        return 2 if self.antithetic else 1

    @property
    def mean(self) -> Estimate:
        return self.stats["mean"]

    @property
    def variance(self) -> Estimate:
        return self.stats["variance"]

    @property
    def std(self) -> Estimate:
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
    """Return ``h(n)`` (temporary impact per share plus spread, as a function of the trades)."""
    tau = problem.tau
    eps = np.array([a.spread for a in problem.assets])
    if problem.temporary_impact_matrix is not None:
        hmat = problem.temporary_impact_matrix_array

        def h(n):
            return eps * np.sign(n) + (n / tau) @ hmat.T
        return h
    eta = np.array([a.temporary_impact for a in problem.assets])
    beta = np.array([a.impact_exponent for a in problem.assets])
    linear = bool(np.all(beta == 1.0))

    def h(n):
        v = n / tau
        speed = np.abs(v) if linear else np.abs(v) ** beta
        return np.sign(n) * (eps + eta * speed)
    return h


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
            The last slice always executes ``n_N = x_{N-1}`` (``x_N = 0``).
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
    if isinstance(paths, bool) or not isinstance(paths, (int, np.integer)) or paths < 2:
        raise SpecError("paths", paths, "must be an integer >= 2")
    if antithetic and paths % 2:
        raise SpecError("paths", paths, "must be even with antithetic=True (paths come in pairs)")
    if isinstance(vol_substeps, bool) or not isinstance(vol_substeps, (int, np.integer)) or vol_substeps < 1:
        raise SpecError("vol_substeps", vol_substeps, "must be an integer >= 1")
    static, policy, time_model = _as_strategy(problem, strategy)
    n, m = problem.slices, problem.n_assets
    big_x = problem.initial_holdings
    if static is not None:
        hs = static.reshape(n + 1, m)
        if np.any(np.abs(hs[0] - big_x) > 1e-9 * np.abs(big_x)) or np.any(np.abs(hs[-1]) > 1e-9 * np.abs(big_x)):
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
    fan_n = min(int(fan_paths), paths)
    fan = np.empty((fan_n, n + 1, m))
    sum_x = np.zeros((n + 1, m))
    start = time.perf_counter()
    done, block = 0, 0
    while done < paths:
        size = min(block_paths, paths - done)
        rng = _block_generator(int(seed), block)
        c, r, x = _run_block(problem, static, policy, block_paths, size, rng, antithetic, vol_substeps)
        cost[done:done + size] = c
        risk[done:done + size] = r
        sum_x += x.sum(axis=0) if x.ndim == 3 else x * size
        if done < fan_n:
            take = min(fan_n - done, size)
            fan[done:done + take] = x[:take] if x.ndim == 3 else x[None]
        done += size
        block += 1
        if bar is not None:
            bar.update(size)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    stats = sample_statistics(cost, levels, unit)
    total_u = _units(cost + risk, unit)
    risk_u = _units(risk, unit)
    squeeze = (lambda a: a[..., 0]) if not problem.is_basket else (lambda a: a)
    return SimulationResult(
        problem=problem, strategy=label or ("schedule" if static is not None else type(policy).__name__),
        paths=int(paths), seed=int(seed), antithetic=bool(antithetic), cost=cost, risk=risk, stats=stats,
        objective=Estimate(float(total_u.mean()), _se(total_u)), risk_term=Estimate(float(risk_u.mean()), _se(risk_u)),
        mean_holdings=squeeze(sum_x / paths), fan_holdings=squeeze(fan), seconds=seconds, time_model=time_model,
        diagnostics={"blocks": block, "block_paths": block_paths, "vol_substeps": int(vol_substeps),
                     "engine": "static (vectorized over slices)" if static is not None else "feedback (loop over slices)"},
    )


def _run_block(problem: ExecutionProblem, static, policy, block: int, size: int, rng: np.random.Generator,
               antithetic: bool, vol_substeps: int):
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
    corr = problem.correlation_matrix
    if m > 1 and not np.allclose(corr, np.eye(m)):
        w, u = np.linalg.eigh(corr)
        factor = u * np.sqrt(np.maximum(w, 0.0))
        z = z @ factor.T
    vols = problem.volatilities if problem.is_basket else np.ones(1)
    root_tau = math.sqrt(tau)
    mu_tau = np.array([a.drift for a in problem.assets]) * tau
    gamma = problem.permanent_impact_matrix_array
    lam = problem.risk_aversion
    h = _impact(problem)
    cov = problem.covariance
    if static is not None:
        # Summation by parts: -sum_k n_k' D_{k-1} = -sum_k x_k' (D_k - D_{k-1}), so a static
        # schedule's shortfall is linear in the price moves,
        #   C = sum_k n_k' h(v_k) + sum_k x_k' Gamma n_k - sum_k x_k' (mu tau + sigma_k sqrt(tau) xi_k),
        # one matrix-vector product per block instead of a cumulative sum of prices (the
        # feedback engine below carries D_k itself; tests check that both agree path by path).
        x = static.reshape(n + 1, m)
        trades = x[:-1] - x[1:]
        held = x[1:]  # x_1..x_N
        fixed = float(np.sum(trades * h(trades)) + np.einsum("km,mj,kj->", held, gamma, trades)
                      - np.sum(held * mu_tau))
        weights = held * vols * root_tau  # (N, m)
        if stochastic:
            noise = (sigma * z[..., 0]) @ weights[:, 0]
            risk = lam * tau * (sigma**2 @ (held[:, 0] ** 2))
        else:
            weights = weights * sigma_row[:, None]
            noise = z[..., 0] @ weights[:, 0] if m == 1 else np.einsum("pkm,km->p", z, weights)
            if problem.is_basket:
                value = lam * tau * float(np.einsum("km,mj,kj->", held, cov, held))
            else:
                value = lam * tau * float(sigma_row**2 @ held[:, 0] ** 2)
            risk = np.full(size, value)
        return fixed - noise, risk, x
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
    for k in range(1, n + 1):
        s_k = sig_t[k - 1] if stochastic else np.full(size, sigma_row[k - 1])
        if k == n:
            trade = xk.copy()
        else:
            r_k = None if reg_t is None else reg_t[k - 1]
            if problem.is_basket:
                raw = policy.trade(k, xk, s_k[:, None] * problem.volatilities, r_k)
            else:
                raw = policy.trade(k, xk[:, 0], s_k, r_k)
            trade = np.asarray(raw, dtype=np.float64).reshape(size, m)
            if not np.all(np.isfinite(trade)):
                raise SpecError("policy", type(policy).__name__, f"returned a non-finite trade in slice k = {k}")
        cost -= np.sum(trade * (d - h(trade)), axis=1)
        d += (s_k[:, None] * (vols * root_tau)) * z_t[k - 1] + mu_tau - trade @ gamma.T
        xk = xk - trade
        if k == n:
            xk[:] = 0.0
        holdings_t[k] = xk
        if problem.is_basket:
            risk += lam * tau * np.einsum("pm,mj,pj->p", xk, cov, xk)
        else:
            risk += lam * tau * s_k**2 * xk[:, 0] ** 2
    return cost, risk, np.moveaxis(holdings_t, 0, 1)


# ---------------------------------------------------------------------------- comparisons
@dataclass(frozen=True)
class Difference:
    """``a - b`` of a per-path quantity on common random numbers, with its standard error."""

    quantity: str
    a: str
    b: str
    estimate: Estimate

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.estimate.ci()
        return {"quantity": self.quantity, "a": self.a, "b": self.b, **self.estimate.to_dict(), "ci95": [lo, hi]}


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
        u = _units(da, unit)
        out[name] = Difference(name, a.strategy, b.strategy, Estimate(float(u.mean()), _se(u, scale)))
    return out


# ---------------------------------------------------------------------------- plots
def plot_cost_histogram(results: Sequence[SimulationResult], path: str | Path, bins: int = 80,
                        level: float | None = None) -> Path:
    """Histogram of the cost of one or more strategies, with mean and VaR marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    for i, r in enumerate(results):
        color = f"C{i}"
        ax.hist(r.cost, bins=bins, density=True, histtype="step", lw=1.5, color=color, label=r.strategy)
        ax.axvline(r.mean.value, color=color, ls="-", lw=1)
        lv = level if level is not None else (max(r.stats["var"]) if r.stats["var"] else None)
        if lv is not None:
            if lv not in r.stats["var"]:
                r.stats["var"][lv] = sample_statistics(r.cost, (lv,), r.unit)["var"][lv]
            ax.axvline(r.stats["var"][lv].value, color=color, ls="--", lw=1, label=f"VaR {lv:g} {r.strategy}")
    ax.set_xlabel("implementation shortfall C (currency)")
    ax.set_ylabel("density")
    ax.set_title(f"{results[0].problem.name or 'problem'}: cost distribution ({results[0].paths} paths)")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_fan_chart(result: SimulationResult, path: str | Path, asset: int = 0) -> Path:
    """Holdings fan chart: 5-95% and 25-75% bands and the median over the fan paths, and the
    mean over all paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    t = result.problem.times
    q = result.fan_quantiles()
    mean = result.mean_holdings
    if result.problem.is_basket:
        q, mean = q[..., asset], mean[:, asset]
    fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    ax.fill_between(t, q[0], q[4], alpha=0.2, color="C0", label="5-95%")
    ax.fill_between(t, q[1], q[3], alpha=0.35, color="C0", label="25-75%")
    ax.plot(t, q[2], color="C0", lw=1.5, label="median")
    ax.plot(t, mean, color="C3", ls="--", lw=1.2, label="mean")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("time")
    ax.set_ylabel(f"holdings x_k ({result.problem.assets[asset].name}, shares)")
    ax.set_title(f"{result.strategy}: holdings over {result.fan_holdings.shape[0]} paths")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def strategies_on_common_paths(problem: ExecutionProblem, strategies: Mapping[str, Any], **options: Any
                               ) -> dict[str, SimulationResult]:
    """Simulate several strategies with the same settings (hence the same paths)."""
    return {name: simulate(problem, s, label=name, **options) for name, s in strategies.items()}
