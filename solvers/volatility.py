"""Volatility models of the spec (the conventions page, "Stochastic volatility").

Volatility ``sigma`` is in currency / share / sqrt(time unit). In discrete time the
volatility that drives slice ``k`` (the price move from ``t_{k-1}`` to ``t_k``) is the value
at the start of the slice, ``sigma_k = sigma(t_{k-1})``; it is known when the slice's trade is
chosen. Every method and the simulator use this convention, so a static schedule's risk is

    V = tau * sum_{k=1..N} E[sigma_k^2] x_k^2 .

Models:

* :class:`ConstantVolatility` - ``sigma_k = sigma_0``.
* :class:`VolatilityPath` - a deterministic ``sigma_k`` per slice.
* :class:`MeanRevertingVolatility` - ``d sigma = kappa (theta - sigma) dt + xi sigma^p dW``.
* :class:`RegimeVolatility` - a continuous-time Markov chain of regimes with levels and a
  generator ``Q``; between slices the regime moves with ``P = expm(Q tau)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np
from scipy.linalg import expm

from .checks import finite_number as _finite
from .checks import finite_vector as _finite_vector
from .errors import SpecError

__all__ = [
    "VolatilityModel",
    "ConstantVolatility",
    "VolatilityPath",
    "MeanRevertingVolatility",
    "RegimeVolatility",
    "volatility_model_from_dict",
]

#: the largest ``E[sigma(t)^2]`` a model may reach over the horizon (the spec's magnitude bound)
_MAX_VARIANCE = 1e300


def _square(value: float) -> float:
    """``value^2``, infinite (not OverflowError) past the float range."""
    return float(value) * float(value)


@dataclass(frozen=True)
class VolatilityModel:
    """Base class. ``kind`` is the TOML name of the model."""

    kind: ClassVar[str] = ""
    stochastic: ClassVar[bool] = False

    def check(self, sigma0: float, slices: int, horizon: float | None = None) -> float:
        """Validate against the asset's volatility ``sigma0``, the number of slices and the
        horizon; return the largest ``E[sigma(t)^2]`` over ``[0, T]`` (``sigma0^2`` without a
        horizon), which the spec bounds against overflow."""
        return _square(sigma0)

    def expected_variance(self, sigma0: float, times: np.ndarray) -> np.ndarray:
        """``E[sigma(t)^2]`` at each of ``times`` (time units), for ``sigma(0) = sigma0``."""
        raise NotImplementedError

    @property
    def fastest_rate(self) -> float:
        """The fastest rate at which the model moves (1 / time unit): 0 for deterministic
        volatility, the reversion speed ``kappa`` or the largest regime exit rate ``-Q_ii``.
        A time step ``tau`` resolves the model when ``rate tau`` is small."""
        return 0.0

    def slice_variance(self, sigma0: float, horizon: float, slices: int,
                       times: np.ndarray | None = None) -> np.ndarray:
        """``E[sigma_k^2]`` for slices ``k = 1..N`` (the value at ``t_{k-1}``). ``times``: the
        calendar times at which the slices' volatility is read (N numbers; default ``t_{k-1}``,
        given when closures stretch calendar time)."""
        if times is None:
            times = horizon / slices * np.arange(slices, dtype=np.float64)
        return self.expected_variance(sigma0, np.asarray(times, dtype=np.float64))

    def sample(self, rng: np.random.Generator, paths: int, slices: int, tau: float, sigma0: float,
               substeps: int = 1, steps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Simulated ``sigma_k = sigma(t_{k-1})``, k = 1..N, on ``paths`` paths: ``(sigma, regime)``,
        ``sigma`` of shape ``(paths, N)``, ``regime`` the regime index per slice (regime models)
        or None. ``substeps``: sub-steps per slice where the scheme is not exact. ``steps``: the
        calendar time from slice ``k``'s volatility to slice ``k+1``'s (N-1 numbers; default
        ``tau`` each; a closure lengthens one). The same draws are made whatever ``steps``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class ConstantVolatility(VolatilityModel):
    """``sigma_t = sigma_0`` for all t."""

    kind: ClassVar[str] = "constant"

    def expected_variance(self, sigma0: float, times: np.ndarray) -> np.ndarray:
        return np.full(np.shape(times), sigma0**2, dtype=np.float64)

    def sample(self, rng: np.random.Generator, paths: int, slices: int, tau: float, sigma0: float,
               substeps: int = 1, steps: np.ndarray | None = None) -> tuple[np.ndarray, None]:
        return np.full((paths, slices), sigma0), None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}


@dataclass(frozen=True)
class VolatilityPath(VolatilityModel):
    """Deterministic volatility: ``path[k-1]`` drives slice ``k`` (N numbers, >= 0)."""

    kind: ClassVar[str] = "path"
    path: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        values = _finite_vector("volatility_model.path", self.path)
        for i, v in enumerate(values):
            if v < 0:
                raise SpecError(f"volatility_model.path[{i}]", v, "volatility must be >= 0")
        object.__setattr__(self, "path", values)

    def check(self, sigma0: float, slices: int, horizon: float | None = None) -> float:
        if len(self.path) != slices:
            raise SpecError(
                "volatility_model.path", f"{len(self.path)} numbers",
                f"must give one volatility per slice (slices = {slices})",
            )
        if not math.isclose(self.path[0], sigma0, rel_tol=1e-12, abs_tol=0.0):
            raise SpecError(
                "assets[0].volatility", sigma0,
                f"must equal the volatility at t_0, volatility_model.path[0] = {self.path[0]}",
            )
        return _square(max(self.path))

    def expected_variance(self, sigma0: float, times: np.ndarray) -> np.ndarray:
        raise NotImplementedError("a path is defined per slice: use slice_variance")

    def slice_variance(self, sigma0: float, horizon: float, slices: int,
                       times: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.path, dtype=np.float64) ** 2

    def sample(self, rng: np.random.Generator, paths: int, slices: int, tau: float, sigma0: float,
               substeps: int = 1, steps: np.ndarray | None = None) -> tuple[np.ndarray, None]:
        return np.broadcast_to(np.asarray(self.path, dtype=np.float64), (paths, slices)).copy(), None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": list(self.path)}


@dataclass(frozen=True)
class MeanRevertingVolatility(VolatilityModel):
    """``d sigma = kappa (theta - sigma) dt + xi sigma^p dW``, ``p`` in {0, 1/2, 1}.

    Attributes (TOML keys): ``reversion`` kappa (1 / time unit, > 0), ``mean`` theta
    (volatility units, >= 0), ``vol_of_vol`` xi (>= 0; units make ``xi sigma^p`` a volatility
    per sqrt(time unit)), ``elasticity`` p. ``p = 0`` is Ornstein-Uhlenbeck (sigma can become
    negative; only ``sigma^2`` enters the price risk), ``p = 1/2`` is CIR-type (stays positive
    when the Feller condition ``2 kappa theta >= xi^2`` holds; a warning says when it does not),
    ``p = 1`` is geometric mean reversion (stays positive).

    The first two moments solve a linear ODE exactly:
    ``m1' = kappa (theta - m1)``, ``m2' = 2 kappa theta m1 - 2 kappa m2 + xi^2 E[sigma^(2p)]``,
    with ``E[sigma^(2p)]`` = 1, ``m1`` or ``m2`` for p = 0, 1/2, 1.
    """

    kind: ClassVar[str] = "mean_reverting"
    stochastic: ClassVar[bool] = True
    reversion: float = 1.0
    mean: float = 1.0
    vol_of_vol: float = 0.0
    elasticity: float = 1.0

    @property
    def fastest_rate(self) -> float:
        return float(self.reversion)

    def __post_init__(self) -> None:
        kappa = _finite("volatility_model.reversion", self.reversion)
        theta = _finite("volatility_model.mean", self.mean)
        xi = _finite("volatility_model.vol_of_vol", self.vol_of_vol)
        p = _finite("volatility_model.elasticity", self.elasticity)
        if kappa <= 0:
            raise SpecError("volatility_model.reversion", kappa, "must be > 0")
        if theta < 0:
            raise SpecError("volatility_model.mean", theta, "must be >= 0")
        if xi < 0:
            raise SpecError("volatility_model.vol_of_vol", xi, "must be >= 0")
        if p not in (0.0, 0.5, 1.0):
            raise SpecError("volatility_model.elasticity", p, "must be 0, 0.5 or 1")
        for name, value in (("reversion", kappa), ("mean", theta), ("vol_of_vol", xi), ("elasticity", p)):
            object.__setattr__(self, name, value)
        if p == 0.5 and 2 * kappa * theta < xi * xi:
            warnings.warn(
                f"volatility_model: Feller condition 2*reversion*mean = {2 * kappa * theta:g} "
                f"< vol_of_vol^2 = {xi * xi:g}; sigma can reach 0",
                stacklevel=3,
            )

    def check(self, sigma0: float, slices: int, horizon: float | None = None) -> float:
        if self.elasticity > 0 and sigma0 <= 0:
            raise SpecError(
                "assets[0].volatility", sigma0,
                "must be > 0 for a mean-reverting model with elasticity > 0",
            )
        if horizon is None:
            return _square(sigma0)
        # E[sigma^2] solves a linear ODE whose fastest mode grows like exp((xi^2 - 2 kappa) t) for
        # p = 1: bound it from logarithms first, so that expm itself cannot overflow
        kappa, xi, p = self.reversion, self.vol_of_vol, self.elasticity
        logs = [2 * math.log(v) for v in (abs(sigma0), self.mean, xi) if v > 0]
        if xi > 0:
            logs.append(2 * math.log(xi) + math.log(horizon))  # the diffusion's own contribution, xi^2 T
        rates = [0.0, -kappa] + ([xi * xi - 2 * kappa] if p == 1.0 else [])
        log_peak = max(logs + [0.0]) + max(rates) * horizon + math.log(4.0)
        limit = math.log(_MAX_VARIANCE)
        if log_peak > limit:
            raise SpecError(
                "volatility_model.vol_of_vol", xi,
                f"E[sigma(t)^2] over [0, T = {horizon:g}] grows like exp((vol_of_vol^2 - 2 reversion) t) = "
                f"exp({(max(rates)) * horizon:.4g}) (elasticity = {p:g}, reversion = {kappa:g}) and overflows: "
                f"it must stay below {_MAX_VARIANCE:g}; lower vol_of_vol or the horizon",
            )
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m2 = self.expected_variance(sigma0, np.linspace(0.0, horizon, 17))
        peak = float(np.max(m2)) if np.all(np.isfinite(m2)) else math.inf
        if not peak <= _MAX_VARIANCE:
            raise SpecError(
                "volatility_model.vol_of_vol", xi,
                f"E[sigma(t)^2] over [0, T = {horizon:g}] reaches {peak:.4g}: it must be finite and below "
                f"{_MAX_VARIANCE:g}",
            )
        return max(peak, _square(sigma0))

    def generator_matrix(self) -> np.ndarray:
        """Matrix ``M`` of ``d/dt (1, m1, m2) = M (1, m1, m2)``."""
        k, th, xi2, p = self.reversion, self.mean, self.vol_of_vol**2, self.elasticity
        m = np.zeros((3, 3))
        m[1, 0], m[1, 1] = k * th, -k
        m[2, 1], m[2, 2] = 2 * k * th, -2 * k
        if p == 0.0:
            m[2, 0] += xi2
        elif p == 0.5:
            m[2, 1] += xi2
        else:
            m[2, 2] += xi2
        return m

    def propagator(self, dt: float) -> np.ndarray:
        """``expm(M dt)``: maps ``(1, sigma, sigma^2)`` at ``t`` to ``(1, E[sigma(t+dt)], E[sigma(t+dt)^2])``
        given ``sigma(t)`` (the moments are affine in the start)."""
        return expm(self.generator_matrix() * dt)

    def moments(self, sigma0: float | np.ndarray, times: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """``(E[sigma(t)], E[sigma(t)^2])`` at ``times`` from ``sigma(0) = sigma0`` (broadcast), exact.

        Closed form of the moment ODE: ``m1 = theta + (s0 - theta) e^(-kappa t)``,
        ``m2 = s0^2 e^(a t) + (a0 + a1 theta) phi(a, t) + a1 (s0 - theta) e^(-kappa t) phi(a + kappa, t)``,
        ``m2' = a0 + a1 m1 + a m2`` (the last row of :meth:`generator_matrix`),
        ``phi(a, t) = (e^(a t) - 1) / a``.
        """
        t = np.asarray(times, dtype=np.float64)
        s0 = np.asarray(sigma0, dtype=np.float64)
        gen = self.generator_matrix()
        a0, a1, a = gen[2, 0], gen[2, 1], gen[2, 2]
        k, th = self.reversion, self.mean
        decay = np.exp(-k * t)
        m1 = th + (s0 - th) * decay
        m2 = s0**2 * np.exp(a * t) + (a0 + a1 * th) * _phi(a, t) + a1 * (s0 - th) * decay * _phi(a + k, t)
        return m1 + 0.0 * m2, m2 + 0.0 * m1

    def sample(self, rng: np.random.Generator, paths: int, slices: int, tau: float, sigma0: float,
               substeps: int = 1, steps: np.ndarray | None = None) -> tuple[np.ndarray, None]:
        """Per slice: exact Gaussian for ``p = 0``, exact noncentral chi-square (Poisson mixture of
        gammas) for ``p = 1/2``, moment-matched lognormal sub-steps for ``p = 1``."""
        kappa, theta, xi, p = self.reversion, self.mean, self.vol_of_vol, self.elasticity
        n = slices
        out = np.empty((paths, n))
        out[:, 0] = sigma0
        exact_cir = p == 0.5 and xi > 0
        nsub = 1 if (p == 0.0 or exact_cir or xi == 0) else int(substeps)
        spans = np.full(max(n - 1, 0), tau) if steps is None else np.asarray(steps, dtype=np.float64)
        propagators: dict[float, np.ndarray] = {}
        s = out[:, 0].copy()
        for k in range(1, n):
            # the sub-steps of the approximate scheme keep their length over a longer (closure) step
            count = nsub if nsub == 1 or spans[k - 1] <= tau else int(math.ceil(nsub * spans[k - 1] / tau - 1e-9))
            dt = float(spans[k - 1]) / count
            if dt not in propagators:
                propagators[dt] = self.propagator(dt)
            phi = propagators[dt]  # (1, m1, m2) -> conditional moments after dt
            for _ in range(count):
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
                    v = np.maximum(np.log(safe2) - 2.0 * np.log(safe1), 0.0)  # log(m2 / m1^2): no underflow
                    s = np.where(pos, safe1 * np.exp(-0.5 * v + np.sqrt(v) * rng.standard_normal(paths)), 0.0)
            out[:, k] = s
        return out, None

    def expected_variance(self, sigma0: float, times: np.ndarray) -> np.ndarray:
        return self.moments(sigma0, times)[1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "reversion": self.reversion, "mean": self.mean,
            "vol_of_vol": self.vol_of_vol, "elasticity": self.elasticity,
        }


@dataclass(frozen=True)
class RegimeVolatility(VolatilityModel):
    """A finite Markov chain of volatility regimes.

    ``levels[i]`` is sigma in regime ``i``; ``generator`` is the chain's rate matrix ``Q``
    (per time unit, off-diagonal >= 0, rows sum to zero); the chain starts in
    ``initial_regime``. Over a slice the regime moves with ``P = expm(Q tau)``.
    """

    kind: ClassVar[str] = "regimes"
    stochastic: ClassVar[bool] = True
    levels: tuple[float, ...] = ()
    generator: tuple[tuple[float, ...], ...] = ()
    initial_regime: int = 0
    _q: np.ndarray = field(init=False, repr=False, compare=False)

    @property
    def fastest_rate(self) -> float:
        return float(max(-self.generator[i][i] for i in range(len(self.generator))))

    def __post_init__(self) -> None:
        levels = _finite_vector("volatility_model.levels", self.levels)
        if not levels:
            raise SpecError("volatility_model.levels", list(levels), "needs at least one regime")
        for i, v in enumerate(levels):
            if v < 0:
                raise SpecError(f"volatility_model.levels[{i}]", v, "volatility must be >= 0")
        m = len(levels)
        if isinstance(self.generator, (str, bytes)) or len(self.generator) != m:
            raise SpecError(
                "volatility_model.generator", self.generator,
                f"must be a {m} x {m} matrix (one row per level)",
            )
        rows = []
        for i, row in enumerate(self.generator):
            r = _finite_vector(f"volatility_model.generator[{i}]", row)
            if len(r) != m:
                raise SpecError(f"volatility_model.generator[{i}]", list(r), f"must have {m} entries")
            rows.append(r)
        q = np.array(rows, dtype=np.float64)
        off = q - np.diag(np.diag(q))
        if np.any(off < 0):
            i, j = np.argwhere(off < 0)[0]
            raise SpecError(f"volatility_model.generator[{i}][{j}]", q[i, j], "off-diagonal rates must be >= 0")
        sums = q.sum(axis=1)
        scale = np.maximum(np.abs(q).max(axis=1), 1.0)
        bad = np.abs(sums) > 1e-12 * scale
        if np.any(bad):
            i = int(np.argmax(bad))
            raise SpecError(f"volatility_model.generator[{i}]", list(rows[i]), f"row must sum to zero (sums to {sums[i]:.3g})")
        init = self.initial_regime
        if isinstance(init, bool) or not isinstance(init, (int, np.integer)) or not 0 <= init < m:
            raise SpecError("volatility_model.initial_regime", init, f"must be an integer in 0..{m - 1}")
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "generator", tuple(rows))
        object.__setattr__(self, "initial_regime", int(init))
        object.__setattr__(self, "_q", q)

    @property
    def n_regimes(self) -> int:
        return len(self.levels)

    @property
    def generator_array(self) -> np.ndarray:
        """The generator ``Q`` as a float64 array (per time unit)."""
        return self._q.copy()

    def transition_matrix(self, dt: float) -> np.ndarray:
        """``P = expm(Q dt)``: row ``i`` is the distribution after ``dt`` from regime ``i``."""
        p = expm(self._q * dt)
        p = np.clip(p, 0.0, None)
        return p / p.sum(axis=1, keepdims=True)

    def check(self, sigma0: float, slices: int, horizon: float | None = None) -> float:
        level = self.levels[self.initial_regime]
        if not math.isclose(level, sigma0, rel_tol=1e-12, abs_tol=0.0):
            raise SpecError(
                "assets[0].volatility", sigma0,
                f"must equal the initial regime's level, volatility_model.levels[{self.initial_regime}] = {level}",
            )
        return _square(max(self.levels))

    def distribution(self, times: np.ndarray) -> np.ndarray:
        """Probability of each regime at ``times``: shape ``times.shape + (n_regimes,)``."""
        times = np.asarray(times, dtype=np.float64)
        start = np.zeros(self.n_regimes)
        start[self.initial_regime] = 1.0
        flat = times.ravel()
        if flat.size > 2 and np.allclose(np.diff(flat), flat[1] - flat[0], rtol=1e-12, atol=0.0) and flat[1] > flat[0]:
            state = start @ expm(self._q * flat[0])  # uniform times: one step matrix, applied repeatedly
            hop = expm(self._q * (flat[1] - flat[0]))
            out = np.empty((flat.size, self.n_regimes))
            for i in range(flat.size):
                out[i] = state
                state = state @ hop
        else:
            out = start @ expm(self._q[None] * flat[:, None, None]) if flat.size else np.zeros((0, self.n_regimes))
        return out.reshape(times.shape + (self.n_regimes,))

    def sample(self, rng: np.random.Generator, paths: int, slices: int, tau: float, sigma0: float,
               substeps: int = 1, steps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The regime chain on ``P = expm(Q tau)`` (``expm(Q dt)`` over a step ``dt`` of ``steps``)
        by inverse-CDF draws; returns ``(levels[regime], regime)``, both ``(paths, N)`` (views of
        time-major arrays)."""
        n = slices
        spans = np.full(max(n - 1, 0), tau) if steps is None else np.asarray(steps, dtype=np.float64)
        tables: dict[float, list[np.ndarray]] = {}
        levels = np.asarray(self.levels, dtype=np.float64)
        regime_t = np.empty((n, paths), dtype=np.int64)  # time-major while stepping
        regime_t[0] = self.initial_regime
        u = rng.random((n - 1, paths)) if n > 1 else np.empty((0, paths))
        for k in range(1, n):
            dt = float(spans[k - 1])
            if dt not in tables:
                cum = np.cumsum(self.transition_matrix(dt), axis=1)
                cum[:, -1] = 1.0
                tables[dt] = [np.ascontiguousarray(cum[:, j]) for j in range(self.n_regimes - 1)]
            prev = regime_t[k - 1]
            nxt = regime_t[k]
            nxt[:] = 0
            for col in tables[dt]:  # next regime = number of cumulative probabilities below u
                nxt += u[k - 1] > col[prev]
        return levels[regime_t].T, regime_t.T

    def expected_variance(self, sigma0: float, times: np.ndarray) -> np.ndarray:
        return self.distribution(times) @ (np.asarray(self.levels) ** 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "levels": list(self.levels),
            "generator": [list(r) for r in self.generator], "initial_regime": self.initial_regime,
        }


def _phi(a: float, t: np.ndarray) -> np.ndarray:
    """``(e^(a t) - 1) / a`` (``t`` at ``a = 0``), without cancellation."""
    return t + 0.0 * a if a == 0 else np.expm1(a * t) / a


_MODELS: dict[str, type[VolatilityModel]] = {
    cls.kind: cls for cls in (ConstantVolatility, VolatilityPath, MeanRevertingVolatility, RegimeVolatility)
}
_KEYS = {
    "constant": set(),
    "path": {"path"},
    "mean_reverting": {"reversion", "mean", "vol_of_vol", "elasticity"},
    "regimes": {"levels", "generator", "initial_regime"},
}


def volatility_model_from_dict(data: Mapping[str, Any]) -> VolatilityModel:
    """Build a model from the ``[volatility_model]`` table; unknown keys are an error."""
    if not isinstance(data, Mapping):
        raise SpecError("volatility_model", data, "must be a table with a 'kind' key")
    kind = data.get("kind", "constant")
    if kind not in _MODELS:
        raise SpecError("volatility_model.kind", kind, f"must be one of {sorted(_MODELS)}")
    unknown = set(data) - _KEYS[kind] - {"kind"}
    if unknown:
        key = sorted(unknown)[0]
        raise SpecError(
            f"volatility_model.{key}", data[key],
            f"unknown key for kind {kind!r} (allowed: {sorted(_KEYS[kind]) or 'none'})",
        )
    kwargs = {k: v for k, v in data.items() if k != "kind"}
    if kind == "path" and "path" not in kwargs:
        raise SpecError("volatility_model.path", None, "is required for kind 'path'")
    if kind == "regimes":
        for key in ("levels", "generator"):
            if key not in kwargs:
                raise SpecError(f"volatility_model.{key}", None, "is required for kind 'regimes'")
        kwargs["levels"] = tuple(kwargs["levels"]) if not isinstance(kwargs["levels"], (str, bytes)) else kwargs["levels"]
    if kind == "path":
        kwargs["path"] = tuple(kwargs["path"]) if not isinstance(kwargs["path"], (str, bytes)) else kwargs["path"]
    return _MODELS[kind](**kwargs)
