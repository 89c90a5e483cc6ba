"""The problem spec: one immutable object every method solves (the conventions page).

Units. Time is in the unit of the volatility (for the bundled examples: days). Holdings
are in shares (``X > 0`` sells a long position, ``X < 0`` buys). Prices are in currency per
share. Volatility ``sigma`` is currency / share / sqrt(time unit). Permanent impact
``gamma`` is currency / share^2 (price moves ``gamma`` per share traded). Temporary impact
``eta`` is currency / share / (share / time)^beta, so ``h(v) = eta |v|^beta sign(v)`` is
currency / share for a trade rate ``v`` in shares / time unit. The spread ``epsilon`` is
currency / share. Risk aversion ``lambda`` is 1 / currency.

Build a problem in Python::

    problem = ExecutionProblem(horizon=5.0, slices=5, risk_aversion=1e-6,
                               assets=(Asset(name="XYZ", holdings=1e6, price=50.0,
                                             volatility=0.95, permanent_impact=2.5e-7,
                                             temporary_impact=2.5e-6, spread=0.0625),))

or load the TOML format of the conventions page with :func:`load_problem` / :func:`problem_from_toml`.
Every rule is checked at construction (top-level scalars first, then assets, then the rules
that join them, last the magnitude rule of :data:`MAX_AMOUNT`); a broken rule raises
:class:`SpecError` naming the field, its value and the rule.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.linalg as sla

from .checks import finite_number as _number
from .checks import finite_vector as _vector
from .errors import InfeasibleSpecError, SpecError
from .transient import transient_model
from .volatility import ConstantVolatility, VolatilityModel, VolatilityPath, volatility_model_from_dict

__all__ = [
    "Asset",
    "Closure",
    "ExecutionProblem",
    "load_problem",
    "problem_from_toml",
    "problem_from_dict",
    "example_names",
    "load_example",
    "example_path",
    "check_scalars",
    "MAX_SLICES",
    "MAX_AMOUNT",
    "TRANSIENT_KERNELS",
    "transient_hessian_min",
    "soft_finish_transient_min",
]

_BETA_RANGE = (0.0, 2.0)

#: the transient kernels a spec may name (``transient_kernel``)
TRANSIENT_KERNELS = ("exponential", "power_law")
#: the transient keys and their defaults: left out of :meth:`ExecutionProblem.to_dict` at the default
_TRANSIENT_DEFAULTS = {"transient_impact": 0.0, "transient_kernel": "exponential", "resilience": 0.0,
                       "transient_exponent": 1.0, "initial_deviation": 0.0}
#: the largest ``N`` for which the convexity check with a transient kernel forms the dense
#: ``N x N`` Hessian (when no bound in closed form settles it)
CONVEXITY_DENSE_SLICES = 4000

#: the most slices a spec may have: every method allocates at least O(N) per asset, and the
#: dense and grid methods O(N^2) or O(N x grid) (see :mod:`solvers.resources`)
MAX_SLICES = 1_000_000

#: the largest magnitude any quantity a method forms may reach (shares^2, currency, or a
#: ratio of the scaled problem). 1e300 leaves 1e8 of float64 headroom for the sums over up to
#: ``MAX_SLICES`` slices and a few products that a solver forms on top.
MAX_AMOUNT = 1e300

#: the smallest positive normal float64: ``T``, ``tau`` and ``|X|`` must reach it, or ``x / X``
#: and ``t / T`` lose precision (subnormal) or divide by zero
_TINY = sys.float_info.min


def _matrix(name: str, value: Any, size: int) -> tuple[tuple[float, ...], ...]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__") or len(value) != size:
        raise SpecError(name, value, f"must be a {size} x {size} matrix (assets in spec order)")
    rows = tuple(_vector(f"{name}[{i}]", row) for i, row in enumerate(value))
    for i, row in enumerate(rows):
        if len(row) != size:
            raise SpecError(f"{name}[{i}]", list(row), f"must have {size} entries")
    return rows


def _smallest_eigenvalue(mat: np.ndarray) -> float:
    """The smallest eigenvalue of a symmetric matrix, computed on ``mat / max|mat|`` so that
    entries near the float range cannot overflow inside LAPACK."""
    scale = float(np.abs(mat).max(initial=0.0))
    if scale == 0.0:
        return 0.0
    return scale * float(np.linalg.eigvalsh(mat / scale).min())


def _nonnegative(field: str, value: Any, rule: str) -> Any:
    """A number, or a tuple of numbers already checked by ``_vector``, every one ``>= 0``; an
    error names the field (and the entry: ``field[i]``)."""
    if isinstance(value, tuple):
        bad = [i for i, v in enumerate(value) if v < 0]
        if bad:
            raise SpecError(f"{field}[{bad[0]}]", value[bad[0]], "must be >= 0")
        return value
    number = _number(field, value)
    if number < 0:
        raise SpecError(field, number, rule)
    return number


def _check_symmetric(name: str, mat: np.ndarray) -> None:
    scale = max(1.0, float(np.abs(mat).max()))
    asym = np.abs(mat - mat.T)
    if asym.max() > 1e-12 * scale:
        i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        raise SpecError(f"{name}[{i}][{j}]", mat[i, j], f"matrix must be symmetric ({name}[{j}][{i}] = {mat[j, i]})")


def transient_hessian_min(problem: "ExecutionProblem", index: int) -> float:
    """A certified lower bound of the smallest eigenvalue of ``diag(2 eta / tau - gamma) + K`` on
    ``{sum n = 0}`` for asset ``index`` (currency / share per share); positive means convex.

    Both kernel families are positive definite by construction, so no rounding can refuse a
    valid spec: ``2 eta / tau >= gamma`` returns ``min(2 eta/tau - gamma) + bound(K)`` without an
    eigenvalue; the exponential bound is in closed form; only when those do not settle it is the
    dense matrix's smallest eigenvalue on the subspace computed (N up to
    :data:`CONVEXITY_DENSE_SLICES`; beyond, the bound is returned)."""
    a = problem.assets[index]
    kernel = transient_model(a)
    tau = problem.tau
    diag = 2.0 * a.eta_slices(problem.slices) / tau - a.permanent_impact
    times = problem.trade_times
    bound = kernel.min_eigenvalue_bound(times)
    low = float(diag.min())
    if low == 0 and kernel.exponential and kernel.rho == 0:
        return 0.0  # K = kappa 11' without temporary impact: every schedule costs the same
    if low >= 0:  # K is positive definite by construction: strictly convex, whatever rounding says
        return max(low + bound, sys.float_info.min)
    if low + bound > 0 or problem.slices == 1 or problem.slices > CONVEXITY_DENSE_SLICES:
        return low + bound
    mat = kernel.matrix(times) + np.diag(diag)
    n = problem.slices
    # an orthonormal basis of {sum n = 0}: a Householder reflection that maps 1/sqrt(N) to e_1
    v = np.full(n, 1.0 / math.sqrt(n))
    v[0] += 1.0
    v /= np.linalg.norm(v)
    house = np.eye(n) - 2.0 * np.outer(v, v)
    basis = house[:, 1:]
    return _smallest_eigenvalue(basis.T @ mat @ basis)


def soft_finish_transient_min(problem: "ExecutionProblem") -> float:
    """The smallest eigenvalue of the soft finish's Hessian in the trades ``n_1..n_N`` (all free)
    with the transient kernel, single asset: ``diag(2 eta_k / tau) - gamma I + 2 lambda L'WL +
    (2 alpha - gamma) 11' + K`` (``L'WL``: ``sum_{k >= max(i, j)} W_k``, ``W_k`` the weight of
    ``x_k`` in ``V``), currency / share per share; dense, ``N <= CONVEXITY_DENSE_SLICES``."""
    a = problem.asset
    n, tau = problem.slices, problem.tau
    weights = problem.risk_aversion * problem.holding_risk()[:, 0, 0]
    tail = np.cumsum(weights[::-1])[::-1]                       # sum_{k >= i} W_k
    idx = np.arange(n)
    mat = 2.0 * tail[np.maximum(idx[:, None], idx[None, :])]
    mat += np.diag(2.0 * a.eta_slices(n) / tau - a.permanent_impact)
    mat += 2.0 * float(problem.terminal_penalties()[0]) - a.permanent_impact
    mat += transient_model(a).matrix(problem.trade_times)
    return _smallest_eigenvalue(mat)


def check_scalars(horizon: Any, slices: Any, risk_aversion: Any, risk_seeking: Any = False,
                  no_reversal: Any = False) -> tuple[float, int, float]:
    """Check the spec's top-level scalars (before any asset): ``T > 0`` and normal,
    ``1 <= N <= MAX_SLICES`` integer, ``tau = T / N`` a normal float, ``lambda`` finite and
    ``>= 0`` unless ``risk_seeking`` is true. Returns ``(T, N, lambda)``."""
    horizon = _number("horizon", horizon)
    if horizon <= 0:
        raise SpecError("horizon", horizon, "must be > 0")
    if horizon < _TINY:
        raise SpecError("horizon", horizon, f"must be at least {_TINY:.4g} (a normal float: a subnormal horizon "
                                             "has no precision left for t / T)")
    if isinstance(slices, bool) or not isinstance(slices, (int, np.integer)):
        if isinstance(slices, float) and slices.is_integer():
            slices = int(slices)
        else:
            raise SpecError("slices", slices, "must be an integer")
    if slices < 1:
        raise SpecError("slices", slices, "must be >= 1")
    if slices > MAX_SLICES:
        raise SpecError("slices", slices, f"must be <= {MAX_SLICES:,} (every method allocates memory and time "
                                          "in proportion to N or more; a finer grid of a fixed horizon changes "
                                          "the answer by O(1/N))")
    slices = int(slices)
    if horizon / slices < _TINY:
        raise SpecError("slices", slices, f"tau = horizon / slices = {horizon:g} / {slices} = {horizon / slices:.4g} "
                                          f"underflows: it must be at least {_TINY:.4g} (a normal float)")
    if not isinstance(risk_seeking, bool):
        raise SpecError("risk_seeking", risk_seeking, "must be true or false")
    if not isinstance(no_reversal, bool):
        raise SpecError("no_reversal", no_reversal, "must be true or false")
    risk_aversion = _number("risk_aversion", risk_aversion)
    if risk_aversion < 0 and not risk_seeking:
        raise SpecError("risk_aversion", risk_aversion,
                        "must be >= 0 (a negative value prefers risk; set risk_seeking = true to mean it)")
    return horizon, slices, risk_aversion


def _power(parts: list[tuple[str, Any, float]], k: float) -> list[tuple[str, Any, float]]:
    """Log-magnitude parts of a product raised to the power ``k``."""
    return [(name, value, k * c) for name, value, c in parts]


def _fmt(values: Any) -> str:
    """Numbers for a message: one number as ``%g``, several as a list."""
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    return f"{arr[0]:g}" if arr.size == 1 else "[" + ", ".join(f"{v:g}" for v in arr) + "]"


def _log10(value: float) -> float:
    """``log10 |value|`` without overflow; ``-inf`` for zero."""
    value = abs(float(value))
    return math.log10(value) if value > 0 else -math.inf


@dataclass(frozen=True)
class Asset:
    """One asset of the order (a ``[[assets]]`` table of the spec).

    Attributes:
        name: identifier used in outputs.
        holdings: ``X``, shares to sell (negative: to buy).
        price: ``S_0``, currency / share (> 0).
        volatility: ``sigma`` at ``t_0``, currency / share / sqrt(time unit) (>= 0).
        permanent_impact: ``gamma``, currency / share^2 (>= 0).
        temporary_impact: ``eta``, currency / share / (share / time unit)^beta (> 0): one number,
            or N numbers (slice ``k`` uses entry ``k-1``; see :meth:`eta_slices`).
        spread: ``epsilon``, fixed cost per share traded, currency / share (>= 0): one number
            or N numbers (see :meth:`spread_slices`).
        impact_exponent: ``beta`` in (0, 2]; 1 is linear impact, 0.5 the square-root law.
        max_slice_trade: optional cap on ``|n_k|`` in shares: one number or N numbers (> 0).
        participation: optional cap ``|n_k| <= participation * market_volume_k``, in (0, 1].
        market_volume: shares traded by the market in each slice (N numbers, >= 0); needed by
            ``participation`` and by VWAP.
        drift: expected price drift ``mu``, currency / share / time unit (default 0). It adds
            ``-tau * mu * sum_k x_k`` to the expected cost (AC 2001 section 2.2).
        min_holdings, max_holdings: optional bounds on the holdings ``x_k`` (shares, signed,
            k = 1..N-1), e.g. ``min_holdings = 0`` forbids a sale from going short on the way.
            The range must contain both ``x_0 = X`` and ``x_N = 0``.
        transient_impact: ``kappa_T = G(0)``, currency / share per share (>= 0; 0: none). With
            it, ``temporary_impact`` may be 0 (pure Obizhaeva-Wang).
        transient_kernel: ``"exponential"`` (``G(t) = kappa_T exp(-rho t)``) or ``"power_law"``
            (``G(t) = kappa_T (1 + t / t0)^(-nu)``).
        resilience: ``rho`` (1 / time unit, >= 0) of the exponential kernel.
        kernel_exponent, kernel_timescale: ``nu`` and ``t0`` (> 0) of the power-law kernel.
        transient_exponent: ``delta`` in (0, 1] (book shape ``F(y) = kappa_T sign(y) |y|^delta``);
            ``delta < 1`` only with the exponential kernel.
        initial_deviation: ``D_1``, currency / share: impact of earlier trading still decaying.
        volume_volatility, volume_autocorrelation: the simulated market volume of slice ``k``,
            ``V_k = m_k exp(z_k - s^2/2)`` around ``market_volume`` ``m_k``, with ``z`` a
            stationary AR(1) of standard deviation ``s`` and autocorrelation ``phi`` (defaults
            0: the volume is the profile). See :mod:`solvers.market.volume`.
        fill_participation, fill_rate, fill_concentration: the fill model of the simulator
            (:mod:`solvers.market.fills`): a slice executes ``min(F_k |n_k|, p V_k)`` of its
            order, ``F_k ~ Beta`` with mean ``fill_rate`` and concentration ``c``; defaults:
            no cap and ``F = 1`` (full fills).
    """

    name: str = "asset"
    holdings: float = 0.0
    price: float = 1.0
    volatility: float = 0.0
    permanent_impact: float = 0.0
    temporary_impact: float | tuple[float, ...] = 1.0
    spread: float | tuple[float, ...] = 0.0
    impact_exponent: float = 1.0
    max_slice_trade: float | tuple[float, ...] | None = None
    participation: float | None = None
    market_volume: tuple[float, ...] | None = None
    drift: float = 0.0
    min_holdings: float | None = None
    max_holdings: float | None = None
    transient_impact: float = 0.0
    transient_kernel: str = "exponential"
    resilience: float = 0.0
    kernel_exponent: float | None = None
    kernel_timescale: float | None = None
    transient_exponent: float = 1.0
    initial_deviation: float = 0.0
    volume_volatility: float = 0.0
    volume_autocorrelation: float = 0.0
    fill_participation: float | None = None
    fill_rate: float = 1.0
    fill_concentration: float = 20.0

    def __post_init__(self) -> None:
        self._validate("asset")

    def _validate(self, where: str) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"{where}.name", self.name, "must be a non-empty string")
        setter = object.__setattr__
        for key in ("holdings", "price", "volatility", "permanent_impact", "impact_exponent", "drift"):
            setter(self, key, _number(f"{where}.{key}", getattr(self, key)))
        for key, positive in (("temporary_impact", True), ("spread", False)):
            value = getattr(self, key)
            if isinstance(value, (list, tuple, np.ndarray)):
                value = _vector(f"{where}.{key}", value)
                if not value:
                    raise SpecError(f"{where}.{key}", [], "must be one number or one per slice (N numbers)")
                bad = [i for i, v in enumerate(value) if (v <= 0 if positive else v < 0)]
                if bad:
                    raise SpecError(f"{where}.{key}[{bad[0]}]", value[bad[0]], "must be > 0" if positive else "must be >= 0")
            else:
                value = _number(f"{where}.{key}", value)
            setter(self, key, value)
        if self.holdings == 0:
            raise SpecError(f"{where}.holdings", self.holdings, "must be non-zero (positive sells, negative buys)")
        if abs(self.holdings) < _TINY:
            raise SpecError(f"{where}.holdings", self.holdings,
                            f"|holdings| must be at least {_TINY:.4g} (a normal float: a subnormal order has no "
                            "precision left for x / X)")
        if self.price <= 0:
            raise SpecError(f"{where}.price", self.price, "must be > 0")
        if self.volatility < 0:
            raise SpecError(f"{where}.volatility", self.volatility, "must be >= 0")
        if self.permanent_impact < 0:
            raise SpecError(f"{where}.permanent_impact", self.permanent_impact, "must be >= 0")
        self._validate_transient(where)
        if not isinstance(self.temporary_impact, tuple) and (
                self.temporary_impact < 0 or (self.temporary_impact == 0 and self.transient_impact == 0)):
            raise SpecError(f"{where}.temporary_impact", self.temporary_impact,
                            "must be > 0 (or 0 with transient_impact > 0)")
        if not isinstance(self.spread, tuple) and self.spread < 0:
            raise SpecError(f"{where}.spread", self.spread, "must be >= 0")
        lo, hi = _BETA_RANGE
        if not lo < self.impact_exponent <= hi:
            raise SpecError(f"{where}.impact_exponent", self.impact_exponent, "must be in (0, 2]")
        cap = self.max_slice_trade
        if cap is not None:
            if isinstance(cap, (list, tuple, np.ndarray)):
                cap = _vector(f"{where}.max_slice_trade", cap)
                bad = [i for i, c in enumerate(cap) if c < 0]
                if bad:
                    raise SpecError(f"{where}.max_slice_trade[{bad[0]}]", cap[bad[0]], "must be >= 0")
            else:
                cap = _number(f"{where}.max_slice_trade", cap)
                if cap <= 0:
                    raise SpecError(f"{where}.max_slice_trade", cap, "must be > 0")
            setter(self, "max_slice_trade", cap)
        if self.participation is not None:
            rho = _number(f"{where}.participation", self.participation)
            if not 0 < rho <= 1:
                raise SpecError(f"{where}.participation", rho, "must be in (0, 1]")
            setter(self, "participation", rho)
            if self.market_volume is None:
                raise SpecError(f"{where}.market_volume", None, "is required when participation is set")
        if self.market_volume is not None:
            vol = _vector(f"{where}.market_volume", self.market_volume)
            bad = [i for i, v in enumerate(vol) if v < 0]
            if bad:
                raise SpecError(f"{where}.market_volume[{bad[0]}]", vol[bad[0]], "must be >= 0")
            setter(self, "market_volume", vol)
        for key in ("min_holdings", "max_holdings"):
            if getattr(self, key) is not None:
                setter(self, key, _number(f"{where}.{key}", getattr(self, key)))
        if self.min_holdings is not None and self.min_holdings > min(0.0, self.holdings):
            raise InfeasibleSpecError(f"{where}.min_holdings", self.min_holdings,
                                      f"must be <= min(0, holdings) = {min(0.0, self.holdings):g} "
                                      "(x_0 = X and x_N = 0 must lie within the bounds)")
        self._validate_market(where)
        if self.max_holdings is not None and self.max_holdings < max(0.0, self.holdings):
            raise InfeasibleSpecError(f"{where}.max_holdings", self.max_holdings,
                                      f"must be >= max(0, holdings) = {max(0.0, self.holdings):g} "
                                      "(x_0 = X and x_N = 0 must lie within the bounds)")

    def _validate_transient(self, where: str) -> None:
        setter = object.__setattr__
        for key in ("transient_impact", "resilience", "transient_exponent", "initial_deviation"):
            setter(self, key, _number(f"{where}.{key}", getattr(self, key)))
        if self.transient_impact < 0:
            raise SpecError(f"{where}.transient_impact", self.transient_impact, "must be >= 0")
        if self.transient_kernel not in TRANSIENT_KERNELS:
            raise SpecError(f"{where}.transient_kernel", self.transient_kernel,
                            f"must be one of {', '.join(repr(k) for k in TRANSIENT_KERNELS)}")
        if self.resilience < 0:
            raise SpecError(f"{where}.resilience", self.resilience, "must be >= 0 (1 / time unit)")
        for key in ("kernel_exponent", "kernel_timescale"):
            value = getattr(self, key)
            if value is not None:
                value = _number(f"{where}.{key}", value)
                if value <= 0:
                    raise SpecError(f"{where}.{key}", value, "must be > 0")
                setter(self, key, value)
        if not 0 < self.transient_exponent <= 1:
            raise SpecError(f"{where}.transient_exponent", self.transient_exponent, "must be in (0, 1]")
        if self.transient_impact == 0:
            return
        if self.transient_kernel == "power_law":
            for key in ("kernel_exponent", "kernel_timescale"):
                if getattr(self, key) is None:
                    raise SpecError(f"{where}.{key}", None, "is required with transient_kernel = 'power_law'")
            if self.transient_exponent != 1:
                raise SpecError(f"{where}.transient_exponent", self.transient_exponent,
                                "must be 1 with transient_kernel = 'power_law' (delta < 1 needs the exponential "
                                "kernel)")
            if self.resilience != 0:
                raise SpecError(f"{where}.resilience", self.resilience,
                                "belongs to the exponential kernel (the power law uses kernel_exponent and "
                                "kernel_timescale)")
        elif self.kernel_exponent is not None or self.kernel_timescale is not None:
            key = "kernel_exponent" if self.kernel_exponent is not None else "kernel_timescale"
            raise SpecError(f"{where}.{key}", getattr(self, key),
                            "belongs to transient_kernel = 'power_law' (the exponential kernel uses resilience)")

    @property
    def has_transient(self) -> bool:
        """True when the asset has transient impact (``transient_impact > 0``)."""
        return self.transient_impact > 0
    def _validate_market(self, where: str) -> None:
        """The volume and fill model keys (simulator only)."""
        setter = object.__setattr__
        for key in ("volume_volatility", "volume_autocorrelation", "fill_rate", "fill_concentration"):
            setter(self, key, _number(f"{where}.{key}", getattr(self, key)))
        if self.volume_volatility < 0:
            raise SpecError(f"{where}.volume_volatility", self.volume_volatility, "must be >= 0")
        if not -1 < self.volume_autocorrelation < 1:
            raise SpecError(f"{where}.volume_autocorrelation", self.volume_autocorrelation, "must be in (-1, 1)")
        if not 0 < self.fill_rate <= 1:
            raise SpecError(f"{where}.fill_rate", self.fill_rate, "must be in (0, 1]")
        if self.fill_concentration <= 0:
            raise SpecError(f"{where}.fill_concentration", self.fill_concentration, "must be > 0")
        if self.fill_participation is not None:
            p = _number(f"{where}.fill_participation", self.fill_participation)
            if not 0 < p <= 1:
                raise SpecError(f"{where}.fill_participation", p, "must be in (0, 1]")
            setter(self, "fill_participation", p)
        for key in ("fill_participation", "volume_volatility"):
            if getattr(self, key) and self.market_volume is None:
                raise SpecError(f"{where}.market_volume", None, f"is required when {key} is set")

    @property
    def has_holdings_bounds(self) -> bool:
        """True when ``min_holdings`` or ``max_holdings`` is set."""
        return self.min_holdings is not None or self.max_holdings is not None

    @property
    def varying_keys(self) -> tuple[str, ...]:
        """The keys given per slice (``temporary_impact``, ``spread``), in that order."""
        return tuple(k for k in ("temporary_impact", "spread") if isinstance(getattr(self, k), tuple))

    @property
    def impact_level(self) -> float:
        """``eta``, or the mean of the per-slice ``eta_k`` (the level that sets cost units)."""
        eta = self.temporary_impact
        return float(np.mean(eta)) if isinstance(eta, tuple) else eta

    @property
    def spread_level(self) -> float:
        """``epsilon``, or the mean of the per-slice ``epsilon_k`` (currency / share)."""
        eps = self.spread
        return float(np.mean(eps)) if isinstance(eps, tuple) else eps

    def eta_slices(self, slices: int) -> np.ndarray:
        """``eta_k`` for slices k = 1..N (N numbers)."""
        return np.broadcast_to(np.asarray(self.temporary_impact, dtype=np.float64), (slices,)).copy()

    def spread_slices(self, slices: int) -> np.ndarray:
        """``epsilon_k`` for slices k = 1..N (N numbers, currency / share)."""
        return np.broadcast_to(np.asarray(self.spread, dtype=np.float64), (slices,)).copy()

    @property
    def is_linear(self) -> bool:
        """True when the temporary impact is linear (``beta == 1``)."""
        return self.impact_exponent == 1.0

    def eta_tilde(self, tau: float) -> float:
        """``eta - gamma tau / 2`` (currency / share / (share / time)): the temporary impact net of
        the permanent impact's ``-1/2 gamma n^2`` per slice of length ``tau`` (linear impact).
        Per-slice ``eta_k``: the smallest ``eta_k - gamma tau / 2``."""
        return float(np.min(self.temporary_impact)) - 0.5 * self.permanent_impact * tau

    def slice_caps(self, slices: int) -> np.ndarray | None:
        """Upper bound on ``|n_k|`` per slice (shares), combining both caps; None if uncapped."""
        caps = np.full(slices, np.inf)
        if self.max_slice_trade is not None:
            caps = np.minimum(caps, np.broadcast_to(np.asarray(self.max_slice_trade, dtype=np.float64), (slices,)))
        if self.participation is not None:
            caps = np.minimum(caps, self.participation * np.asarray(self.market_volume, dtype=np.float64))
        return None if np.all(np.isinf(caps)) else caps

    def replace(self, **changes: Any) -> "Asset":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


_ASSET_KEYS = {f.name for f in dataclasses.fields(Asset)}
#: the market-model keys left out of ``to_dict`` at their defaults (older readers keep working)
_MARKET_DEFAULTS = {"volume_volatility": 0.0, "volume_autocorrelation": 0.0, "fill_rate": 1.0,
                    "fill_concentration": 20.0}


@dataclass(frozen=True)
class Closure:
    """The market closed after slice ``after_slice`` (1..N-1) for ``duration`` time units (a
    ``[[closures]]`` table). ``x_k`` is held through it: ``V`` gains ``duration sigma_c^2 x_k^2``
    and ``E`` gains ``-mu duration x_k``. ``volatility`` is ``sigma_c`` (currency / share /
    sqrt(time unit)); None: the volatility in force at ``t_k`` (slice ``k+1``'s), held through."""

    after_slice: int
    duration: float
    volatility: float | None = None

    def __post_init__(self) -> None:
        k = self.after_slice
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise SpecError("closures.after_slice", k, "must be an integer (the slice after which the market closes)")
        object.__setattr__(self, "after_slice", int(k))
        duration = _number("closures.duration", self.duration)
        if duration <= 0:
            raise SpecError("closures.duration", duration, "must be > 0 (time units)")
        object.__setattr__(self, "duration", duration)
        if self.volatility is not None:
            vol = _number("closures.volatility", self.volatility)
            if vol < 0:
                raise SpecError("closures.volatility", vol, "must be >= 0")
            object.__setattr__(self, "volatility", vol)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"after_slice": self.after_slice, "duration": self.duration}
        if self.volatility is not None:
            out["volatility"] = self.volatility
        return out


_CLOSURE_KEYS = {f.name for f in dataclasses.fields(Closure)}


@dataclass(frozen=True)
class ExecutionProblem:
    """An execution problem: the order, the market model and the objective (the conventions page).

    Attributes:
        horizon: ``T`` (time units, > 0).
        slices: ``N`` (>= 1); ``tau = T / N``.
        risk_aversion: ``lambda`` (1 / currency, >= 0). ``lambda < 0`` is risk seeking and
            needs ``risk_seeking = True``; only the closed form and dp have a branch for it.
        risk_seeking: set it to mean a negative ``risk_aversion`` (default False).
        assets: one or more :class:`Asset`. More than one is a basket.
        correlation: ``m x m`` correlation matrix of the assets' price moves (symmetric
            positive semi-definite, unit diagonal); defaults to the identity.
        volatility_model: how ``sigma`` moves (single asset only unless constant).
        temporary_impact_matrix: optional symmetric positive definite ``H`` (basket, linear
            impact): ``h(v) = epsilon sign(v) + H v``. Defaults to ``diag(eta_i)``.
        permanent_impact_matrix: optional symmetric ``Gamma`` (basket): ``g(v) = Gamma v``.
            Defaults to ``diag(gamma_i)``.
        no_reversal: if true, every trade has the sign of the order (a sell program never buys).
        name, description: free text for outputs.
        imbalance_band: optional (basket only) band on the dollar imbalance of each slice,
            ``|sum_i price_i n_ik| <= b_k`` (currency; one number or N numbers, >= 0), with
            ``price_i = S_0`` of asset ``i``: a hedged program stays hedged while it trades.
            The bands must add up to at least ``|sum_i price_i X_i|``.
        factor_loadings, specific_volatility: optional factor model of the basket covariance,
            ``C = B B' + diag(s^2)`` with ``B`` the ``m x r`` loadings (currency / share /
            sqrt(time unit) per unit factor) and ``s`` the ``m`` specific volatilities. Given
            together, instead of ``correlation``; each asset's ``volatility`` must equal
            ``sqrt(C_ii)`` (relative 1e-9), so that every method sees one covariance.
        closures: market closures (:class:`Closure`), at most one after each slice 1..N-1.
            ``horizon``, ``tau`` and ``times`` count trading time only.
        terminal_penalty: ``alpha >= 0`` (currency / share^2; one number, or one per asset): ``x_N``
            is free and the remainder is liquidated for ``alpha x_N^2``. None: ``x_N = 0``.
    """

    horizon: float
    slices: int
    risk_aversion: float
    assets: tuple[Asset, ...]
    correlation: tuple[tuple[float, ...], ...] | None = None
    volatility_model: VolatilityModel = field(default_factory=ConstantVolatility)
    temporary_impact_matrix: tuple[tuple[float, ...], ...] | None = None
    permanent_impact_matrix: tuple[tuple[float, ...], ...] | None = None
    no_reversal: bool = False
    name: str = ""
    description: str = ""
    imbalance_band: float | tuple[float, ...] | None = None
    factor_loadings: tuple[tuple[float, ...], ...] | None = None
    specific_volatility: tuple[float, ...] | None = None
    risk_seeking: bool = False
    closures: tuple[Closure, ...] = ()
    terminal_penalty: float | tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        setter = object.__setattr__
        horizon, slices, risk_aversion = check_scalars(self.horizon, self.slices, self.risk_aversion,
                                                       self.risk_seeking, self.no_reversal)
        setter(self, "horizon", horizon)
        setter(self, "slices", slices)
        setter(self, "risk_aversion", risk_aversion)

        assets = tuple(self.assets) if not isinstance(self.assets, Asset) else (self.assets,)
        if not assets:
            raise SpecError("assets", [], "needs at least one asset")
        for i, a in enumerate(assets):
            if not isinstance(a, Asset):
                raise SpecError(f"assets[{i}]", a, "must be an Asset")
        names = [a.name for a in assets]
        if len(set(names)) != len(names):
            raise SpecError("assets.name", names, "asset names must be unique")
        setter(self, "assets", assets)
        m = len(assets)
        n = self.slices
        for i, a in enumerate(assets):
            if isinstance(a.max_slice_trade, tuple) and len(a.max_slice_trade) != n:
                raise SpecError(f"assets[{i}].max_slice_trade", f"{len(a.max_slice_trade)} numbers",
                                f"must be one number or one per slice (slices = {n})")
            if a.market_volume is not None and len(a.market_volume) != n:
                raise SpecError(f"assets[{i}].market_volume", f"{len(a.market_volume)} numbers",
                                f"must have one number per slice (slices = {n})")
            for key in a.varying_keys:
                if len(getattr(a, key)) != n:
                    raise SpecError(f"assets[{i}].{key}", f"{len(getattr(a, key))} numbers",
                                    f"must be one number or one per slice (slices = {n})")
        self._validate_closures(n)
        self._validate_terminal_penalty(m)

        self._validate_correlation(m)
        self._validate_impact_matrices(m)
        self._validate_volatility_model(m)
        self._validate_magnitudes()
        self._validate_convexity()
        self._validate_caps()
        self._validate_imbalance_band()
        self._validate_factor_model(m)

    # ------------------------------------------------------------------ validation
    def _validate_closures(self, n: int) -> None:
        raw = self.closures
        if raw is None:
            raw = ()
        if isinstance(raw, (Closure, Mapping)):
            raw = (raw,)
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
            raise SpecError("closures", raw, "must be a list of [[closures]] tables")
        out = []
        for j, c in enumerate(raw):
            if isinstance(c, Mapping):
                bad = sorted(set(c) - _CLOSURE_KEYS)
                if bad:
                    raise SpecError(f"closures[{j}].{bad[0]}", c[bad[0]],
                                    f"unknown key (allowed: {', '.join(sorted(_CLOSURE_KEYS))})")
                for key in ("after_slice", "duration"):
                    if key not in c:
                        raise SpecError(f"closures[{j}].{key}", None, "is required")
                try:
                    c = Closure(**c)
                except SpecError as err:
                    raise SpecError(err.field.replace("closures.", f"closures[{j}].", 1), err.value, err.rule) from None
            if not isinstance(c, Closure):
                raise SpecError(f"closures[{j}]", c, "must be a Closure or a table")
            if not 1 <= c.after_slice <= n - 1:
                raise SpecError(f"closures[{j}].after_slice", c.after_slice,
                                f"must be in 1..N-1 = 1..{n - 1} (a closure lies between two slices)")
            if any(o.after_slice == c.after_slice for o in out):
                raise SpecError(f"closures[{j}].after_slice", c.after_slice, "each slice may be followed by one closure only")
            if c.volatility is not None and len(self.assets) > 1:
                raise SpecError(f"closures[{j}].volatility", c.volatility,
                                "applies to a single asset (a basket's closure keeps its covariance)")
            out.append(c)
        object.__setattr__(self, "closures", tuple(sorted(out, key=lambda c: c.after_slice)))

    def _validate_terminal_penalty(self, m: int) -> None:
        alpha = self.terminal_penalty
        if alpha is None:
            return
        if isinstance(alpha, (list, tuple, np.ndarray)):
            alpha = _vector("terminal_penalty", alpha, None)
            if len(alpha) != m:
                raise SpecError("terminal_penalty", f"{len(alpha)} numbers",
                                f"must be one number or one per asset ({m} assets)")
        alpha = _nonnegative("terminal_penalty", alpha, "must be >= 0 (currency per share^2)")
        object.__setattr__(self, "terminal_penalty", alpha)

    def _validate_correlation(self, m: int) -> None:
        if self.correlation is None:
            return
        rows = _matrix("correlation", self.correlation, m)
        c = np.array(rows)
        _check_symmetric("correlation", c)
        for i in range(m):
            if c[i, i] != 1.0:
                raise SpecError(f"correlation[{i}][{i}]", c[i, i], "diagonal must be 1")
        off = np.abs(c - np.eye(m))
        if off.max(initial=0.0) > 1.0:
            i, j = np.unravel_index(int(np.argmax(off)), off.shape)
            raise SpecError(f"correlation[{i}][{j}]", c[i, j], "must be in [-1, 1]")
        smallest = _smallest_eigenvalue(c)
        if smallest < -1e-12:
            raise SpecError("correlation", [list(r) for r in rows],
                            f"must be positive semi-definite (smallest eigenvalue {smallest:.6g})")
        object.__setattr__(self, "correlation", rows)

    def _validate_impact_matrices(self, m: int) -> None:
        for key in ("temporary_impact_matrix", "permanent_impact_matrix"):
            value = getattr(self, key)
            if value is None:
                continue
            rows = _matrix(key, value, m)
            mat = np.array(rows)
            _check_symmetric(key, mat)
            smallest = _smallest_eigenvalue(mat)
            if key == "temporary_impact_matrix":
                nonlinear = [i for i, a in enumerate(self.assets) if not a.is_linear]
                if nonlinear:
                    raise SpecError(f"assets[{nonlinear[0]}].impact_exponent",
                                    self.assets[nonlinear[0]].impact_exponent,
                                    "must be 1 when temporary_impact_matrix is given (matrix impact is linear)")
                if smallest <= 0:
                    raise SpecError(key, [list(r) for r in rows],
                                    f"must be positive definite (smallest eigenvalue {smallest:.6g})")
            elif smallest < -1e-12 * max(1.0, float(np.abs(mat).max())):
                raise SpecError(key, [list(r) for r in rows],
                                f"must be positive semi-definite (smallest eigenvalue {smallest:.6g})")
            object.__setattr__(self, key, rows)

    def _validate_volatility_model(self, m: int) -> None:
        model = self.volatility_model
        if isinstance(model, Mapping):
            model = volatility_model_from_dict(model)
            object.__setattr__(self, "volatility_model", model)
        if not isinstance(model, VolatilityModel):
            raise SpecError("volatility_model", model, "must be a VolatilityModel")
        if m > 1 and not isinstance(model, ConstantVolatility):
            raise SpecError("volatility_model.kind", model.kind,
                            "only 'constant' is supported for a basket (more than one asset)")
        peak = model.check(self.assets[0].volatility, self.slices, self.calendar_horizon)
        object.__setattr__(self, "_peak_variance", float(peak))

    def _validate_convexity(self) -> None:
        """The Hessian rule of the conventions page (linear impact): every slice's
        ``eta_k - gamma tau / 2 > 0`` (matrix impact: ``H - tau/2 Gamma`` positive definite); with
        a terminal penalty also the whole Hessian, on the free holdings (:meth:`hessian_check`)."""
        tau = self.tau
        if self.is_basket and (self.temporary_impact_matrix is not None or self.permanent_impact_matrix is not None):
            if all(a.is_linear for a in self.assets):
                smallest = float(np.linalg.eigvalsh(self.eta_tilde_matrix).min())
                if smallest <= 0:
                    raise SpecError("temporary_impact_matrix", self.temporary_impact_matrix,
                                    "eta_tilde = H - tau/2 Gamma must be positive definite "
                                    f"(smallest eigenvalue {smallest:.6g}, tau = {tau:g})")
        else:
            for i, a in enumerate(self.assets):
                if not a.is_linear:
                    continue
                if a.has_transient:  # the Hessian with the kernel (conventions page, "Transient impact")
                    self._check_transient_convexity(i)
                    continue
                if not isinstance(a.temporary_impact, tuple):
                    eta_tilde = a.eta_tilde(tau)
                    if eta_tilde <= 0:
                        raise SpecError(
                            f"assets[{i}].temporary_impact", a.temporary_impact,
                            f"eta_tilde = eta - gamma*tau/2 = {a.temporary_impact:g} - "
                            f"{a.permanent_impact:g}*{tau:g}/2 = {eta_tilde:g} must be > 0 "
                            "(otherwise the cost is not convex)",
                        )
                    continue
                eta = a.eta_slices(self.slices)
                k = int(np.argmin(eta))
                if eta[k] - 0.5 * a.permanent_impact * tau <= 0:
                    raise SpecError(
                        f"assets[{i}].temporary_impact[{k}]", eta[k],
                        f"eta_tilde_k = eta_k - gamma*tau/2 = {eta[k]:g} - {a.permanent_impact:g}*{tau:g}/2 = "
                        f"{eta[k] - 0.5 * a.permanent_impact * tau:g} must be > 0 in every slice "
                        "(otherwise the cost is not convex)")
        if self.terminal_penalty is not None and self.all_linear:
            smallest = self.hessian_check()
            if not smallest > 0 and self.has_transient and not self.is_basket \
                    and self.slices <= CONVEXITY_DENSE_SLICES:
                # the banded check leaves out the kernel (positive definite: it only helps)
                smallest = soft_finish_transient_min(self)
            if not smallest > 0:
                alpha = self.terminal_penalties()
                gam = np.diag(self.permanent_impact_matrix_array)
                etas = [a.impact_level for a in self.assets]
                raise SpecError(
                    "terminal_penalty", self.terminal_penalty,
                    "makes the cost non-convex: the Hessian diag(2 eta_k / tau) - gamma I + 2 L'WL "
                    f"+ (2 alpha - gamma) 11' has smallest eigenvalue {smallest:.6g} <= 0 on the free holdings "
                    f"(eta = {_fmt(etas)}, gamma = {_fmt(gam)}, terminal_penalty = {_fmt(alpha)}, tau = {tau:g}, "
                    f"lambda = {self.risk_aversion:g}); terminal_penalty >= gamma / 2 = {_fmt(gam / 2)} is always convex")

    def hessian_check(self) -> float:
        """The smallest eigenvalue of ``E + lambda V``'s Hessian in the free holdings (``x_1..x_{N-1}``,
        and ``x_N`` with a terminal penalty; linear impact), currency / share^2.

        In the holdings the Hessian is block tridiagonal: ``2 C_k`` couples ``x_{k-1}`` and ``x_k``
        (``C_k = H_k / tau - Gamma / 2``), the risk adds ``2 lambda W_k`` and the terminal penalty
        ``2 alpha - Gamma`` at ``x_N``. Trades and free holdings are related by an invertible
        linear map, so this is positive exactly when the trades' Hessian
        ``diag(2 eta_k / tau) - gamma I + 2 L'WL (+ (2 alpha - gamma) 11')`` is positive on the
        constraint subspace. A banded eigen solve on the matrix scaled to unit size: O(N m^2)."""
        band = self.hessian_band()
        if band.shape[1] == 0:
            return math.inf
        scale = float(np.abs(band).max(initial=0.0))
        if scale == 0.0:
            return 0.0
        if band.shape[1] == 1:
            return float(band[0, 0])
        vals = sla.eig_banded(band / scale, lower=True, eigvals_only=True, select="i", select_range=(0, 0))
        return scale * float(vals[0])

    def hessian_band(self) -> np.ndarray:
        """The Hessian of ``E + lambda V`` in the free holdings (time-major ``x_1..x_{N-1}``, and
        ``x_N`` with a terminal penalty; linear impact) in LAPACK's lower banded form
        (``band[d, j] = H[j + d, j]``; 2 rows for one asset, ``2m`` for a basket)."""
        n, m, tau = self.slices, self.n_assets, self.tau
        free = n if self.terminal_penalty is not None else n - 1
        gam = self.permanent_impact_matrix_array
        if self.temporary_impact_matrix is not None:
            h = np.broadcast_to(self.temporary_impact_matrix_array, (n, m, m))
        else:
            eta = np.stack([a.eta_slices(n) for a in self.assets], axis=1)  # (N, m)
            h = eta[:, :, None] * np.eye(m)[None]
        c = h / tau - 0.5 * gam[None]                                         # (N, m, m)
        risk = self.risk_aversion * self.holding_risk()                      # (N, m, m), x_1..x_N
        diag = 2.0 * c[:free] + 2.0 * risk[:free]
        diag[: n - 1] += 2.0 * c[1:]
        if free == n:
            diag[-1] += 2.0 * np.diag(self.terminal_penalties()) - gam
        off = -2.0 * c[1:free]                                                # couples x_j and x_{j+1}
        size = free * m
        band = np.zeros((2 * m, size))                                        # lower banded form
        for d in range(m):
            for i in range(m - d):
                band[d, i::m] = diag[:, i + d, i]
        for r in range(m):
            for col in range(m):
                band[m + r - col, col::m][: free - 1] = off[:, r, col]
        return band[:2] if m == 1 else band

    def holding_risk(self) -> np.ndarray:
        """``V``'s weight on ``x_k``, k = 1..N: ``V = sum_k x_k' R_k x_k`` with
        ``R_k = tau C_k`` plus ``duration C_c`` for a closure after slice ``k`` ((N, m, m),
        currency^2 / share^2; single asset ``C_k = E[sigma_k^2]``)."""
        n, tau = self.slices, self.tau
        if self.is_basket:
            out = np.broadcast_to(tau * self.covariance, (n, self.n_assets, self.n_assets)).copy()
            for c in self.closures:
                out[c.after_slice - 1] += c.duration * self.covariance
            return out
        out = (tau * self.slice_variance())[:, None, None].copy()
        for c in self.closures:
            out[c.after_slice - 1, 0, 0] += c.duration * self.closure_variance(c)
        return out

    def closure_variance(self, closure: "Closure") -> float:
        """``sigma_c^2`` of a closure (single asset): its ``volatility`` squared, else the
        variance in force at ``t_k`` (slice ``k+1``'s ``E[sigma^2]``)."""
        if closure.volatility is not None:
            return closure.volatility**2
        return float(self.slice_variance()[closure.after_slice])

    def exposure_times(self) -> np.ndarray:
        """Time each ``x_k`` (k = 1..N) is held: ``tau`` plus the closure after slice ``k``
        (time units); the drift adds ``-mu sum_k exposure_k x_k`` to ``E``."""
        out = np.full(self.slices, self.tau)
        for c in self.closures:
            out[c.after_slice - 1] += c.duration
        return out

    def terminal_penalties(self) -> np.ndarray:
        """``alpha`` per asset (currency / share^2); raises when the spec has no terminal penalty."""
        if self.terminal_penalty is None:
            raise SpecError("terminal_penalty", None, "is not set (x_N = 0 is enforced)")
        return np.broadcast_to(np.asarray(self.terminal_penalty, dtype=np.float64), (self.n_assets,)).copy()

    @property
    def has_terminal_penalty(self) -> bool:
        return self.terminal_penalty is not None

    def time_varying_keys(self) -> list[str]:
        """The spec's keys of a time-varying market or soft finish that are set: per-slice
        ``temporary_impact`` / ``spread``, ``closures``, ``terminal_penalty`` (for methods to
        name in a refusal)."""
        keys = [f"assets[{i}].{k}" for i, a in enumerate(self.assets) for k in a.varying_keys]
        if self.closures:
            keys.append("closures")
        if self.terminal_penalty is not None:
            keys.append("terminal_penalty")
        return keys

    def _check_transient_convexity(self, i: int) -> None:
        """The Hessian rule with a transient kernel ``K`` (positive definite by construction):
        ``diag(2 eta / tau - gamma) + K`` must be positive definite on ``{sum n = 0}``. Settled
        without any eigenvalue when ``2 eta / tau >= gamma``, or by ``K``'s bound in closed form
        (exponential); otherwise by the smallest eigenvalue on the subspace, computed densely."""
        a = self.assets[i]
        lowest = transient_hessian_min(self, i)
        if lowest > 0:
            return
        raise SpecError(
            f"assets[{i}].temporary_impact", a.temporary_impact,
            f"the cost is not convex: with eta = {a.impact_level:g}, gamma = {a.permanent_impact:g} and "
            f"transient_impact = {a.transient_impact:g}, diag(2 eta / tau - gamma) + K has smallest eigenvalue "
            f"{lowest:.6g} <= 0 on the trades that keep the order's total (tau = {self.tau:g})")

    def _validate_caps(self) -> None:
        for i, a in enumerate(self.assets):
            caps = a.slice_caps(self.slices)
            if caps is None:
                continue
            total = float(caps.sum())
            need = abs(a.holdings)
            if total < need * (1 - 1e-12):
                what = "max_slice_trade" if a.participation is None else "participation * market_volume"
                raise InfeasibleSpecError(
                    f"assets[{i}].{what}", f"sum of caps = {total:g}",
                    f"caps cannot complete the order of |X| = {need:g} shares "
                    f"(shortfall {need - total:g} shares)",
                )

    def _validate_imbalance_band(self) -> None:
        band = self.imbalance_band
        if band is None:
            return
        if not self.is_basket:
            raise SpecError("imbalance_band", band, "applies to a basket (more than one asset) only")
        if isinstance(band, (list, tuple, np.ndarray)):
            band = _vector("imbalance_band", band, self.slices)
        band = _nonnegative("imbalance_band", band, "must be >= 0")
        object.__setattr__(self, "imbalance_band", band)
        total = float(np.sum(self.imbalance_bands()))
        need = abs(float(np.dot([a.price for a in self.assets], self.initial_holdings)))
        if total < need * (1 - 1e-12):
            raise InfeasibleSpecError(
                "imbalance_band", f"sum of bands = {total:g}",
                f"bands cannot absorb the order's net dollar value |sum_i price_i X_i| = {need:g} "
                f"(shortfall {need - total:g} in currency)",
            )

    def _validate_factor_model(self, m: int) -> None:
        loadings, specific = self.factor_loadings, self.specific_volatility
        if loadings is None and specific is None:
            return
        if loadings is None or specific is None:
            missing = "factor_loadings" if loadings is None else "specific_volatility"
            raise SpecError(missing, None, "is required with a factor model (give factor_loadings and specific_volatility)")
        if self.correlation is not None:
            raise SpecError("correlation", "given", "must be left out when a factor model gives the covariance")
        if isinstance(loadings, (str, bytes, Mapping)) or not hasattr(loadings, "__len__") or len(loadings) != m:
            raise SpecError("factor_loadings", loadings, f"must be an {m} x r matrix (one row per asset)")
        rows = tuple(_vector(f"factor_loadings[{i}]", row) for i, row in enumerate(loadings))
        r = len(rows[0])
        if r < 1 or any(len(row) != r for row in rows):
            raise SpecError("factor_loadings", [list(x) for x in rows], "rows must all have the same number (>= 1) of factors")
        spec_vol = _vector("specific_volatility", specific, m)
        bad = [i for i, v in enumerate(spec_vol) if v < 0]
        if bad:
            raise SpecError(f"specific_volatility[{bad[0]}]", spec_vol[bad[0]], "must be >= 0")
        b = np.array(rows)
        implied = np.sqrt(np.sum(b * b, axis=1) + np.array(spec_vol) ** 2)
        for i, a in enumerate(self.assets):
            if abs(implied[i] - a.volatility) > 1e-9 * max(implied[i], a.volatility, 1e-300):
                raise SpecError(f"assets[{i}].volatility", a.volatility,
                                f"must equal sqrt(sum_j B_ij^2 + s_i^2) = {implied[i]:.12g} of the factor model")
        object.__setattr__(self, "factor_loadings", rows)
        object.__setattr__(self, "specific_volatility", spec_vol)

    def _validate_magnitudes(self) -> None:
        """Refuse a spec whose methods would overflow, before any of them runs.

        Every quantity below, in shares^2, currency or (last three) a ratio to the cost unit
        ``K = eta (|X|/T)^(1+beta) T`` that scales the problem, must be at most
        :data:`MAX_AMOUNT`. Computed from logarithms, so that the check itself cannot overflow.
        Tiny orders pass: their amounts underflow towards 0, and their scaled problem is normal.
        ``lambda`` is not bounded here: a huge one is the legitimate "sell at once" limit (the
        closed form solves it at ``kappa T = 5000``); a method that cannot scale it reports so.
        """
        lim = math.log10(MAX_AMOUNT)
        T = self.horizon
        peak = getattr(self, "_peak_variance", None)
        terms: list[tuple[str, list[tuple[str, float, float]]]] = []
        for i, a in enumerate(self.assets):
            w = f"assets[{i}]"
            f_x = (f"{w}.holdings", a.holdings, _log10(a.holdings))
            var = peak if (i == 0 and peak is not None and not self.is_basket) else a.volatility * a.volatility
            f_s = (f"{w}.volatility", a.volatility, _log10(var) if math.isfinite(var) else math.inf)
            f_t = ("horizon", T, _log10(T))
            inv_tau = [("horizon", T, -_log10(T)), ("slices", self.slices, _log10(self.slices))]  # 1 / tau
            beta = a.impact_exponent
            f_eta = (f"{w}.temporary_impact", a.temporary_impact, _log10(np.max(a.temporary_impact)))
            x_speed = (f"{w}.holdings", a.holdings, (1 + beta) * _log10(a.holdings))
            k_parts = [f_eta, x_speed, ("horizon", T, -beta * _log10(T))]
            inv_k = [(f, v, -c) for f, v, c in k_parts]
            two_x = (f_x[0], f_x[1], 2 * f_x[2])
            f_g = (f"{w}.permanent_impact", a.permanent_impact, _log10(a.permanent_impact))
            f_e = (f"{w}.spread", a.spread, _log10(np.max(a.spread)))
            f_mu = (f"{w}.drift", a.drift, _log10(a.drift))
            terms.append(("kappa_T X^2, the transient cost of a block (currency)",
                          [(f"{w}.transient_impact", a.transient_impact, _log10(a.transient_impact)), two_x]))
            if a.temporary_impact == 0:  # pure transient: the methods scale by kappa_T X^2, not eta
                inv_k = [(f"{w}.transient_impact", a.transient_impact, -_log10(a.transient_impact)),
                         (f_x[0], f_x[1], -2 * f_x[2])]
            terms += [
                ("X^2 (shares^2)", [two_x]),
                ("sigma^2, the largest E[sigma(t)^2] over [0, T]", [f_s]),
                ("(|X| / tau)^(1 + beta), the one-slice trade rate's power", [x_speed] + _power(inv_tau, 1 + beta)),
                ("eta (|X| / tau)^(1 + beta) tau, the temporary cost of one slice (currency)",
                 [f_eta, x_speed] + _power(inv_tau, beta)),
                ("K = eta (|X| / T)^(1 + beta) T, the cost unit (currency)", k_parts),
                ("gamma X^2 (currency)", [f_g, two_x]),
                ("sigma^2 T X^2, the variance of holding the order (currency^2)", [f_s, f_t, two_x]),
                ("epsilon |X| (currency)", [f_e, f_x]),
                ("|mu| T |X| (currency)", [f_mu, f_t, f_x]),
                ("S_0 |X|, the order's value (currency)", [(f"{w}.price", a.price, _log10(a.price)), f_x]),
                ("gamma X^2 / K", [f_g, two_x] + inv_k),
                ("epsilon |X| / K", [f_e, f_x] + inv_k),
                ("|mu| T |X| / K", [f_mu, f_t, f_x] + inv_k),
            ]
            if a.transient_impact > 0:  # the initial deviation D_1 (currency / share)
                f_d = (f"{w}.initial_deviation", a.initial_deviation, _log10(a.initial_deviation))
                inv_kt = (f"{w}.transient_impact", a.transient_impact, -_log10(a.transient_impact))
                terms += [
                    ("|D_1| |X|, the initial deviation's cost (currency)", [f_d, f_x]),
                    ("D_1^2 / kappa_T, the initial deviation's cost scale (currency)", [f_d, f_d, inv_kt]),
                    ("|D_1| |X| / K", [f_d, f_x] + inv_k),
                ]
        xmax = max(self.assets, key=lambda a: abs(a.holdings))
        f_xx = ("assets", f"max |X| = {abs(xmax.holdings):g}", 2 * _log10(xmax.holdings))
        for key in ("temporary_impact_matrix", "permanent_impact_matrix"):
            mat = getattr(self, key)
            if mat is not None:
                f_m = (key, f"max |entry| = {float(np.abs(np.array(mat)).max()):g}",
                       _log10(float(np.abs(np.array(mat)).max())))
                extra = ([("horizon", T, -_log10(T)), ("slices", self.slices, _log10(self.slices))]
                         if key == "temporary_impact_matrix" else [])
                terms.append((f"max |{key}| X^2" + (" / tau" if extra else "") + " (currency)", [f_m, f_xx] + extra))
        for what, parts in terms:
            if any(c == -math.inf for _, _, c in parts):
                continue  # a zero factor: the quantity is 0
            total = sum(c for _, _, c in parts)
            if total > lim:
                name, value, _ = max(parts, key=lambda p: p[2])
                size = f"about 1e{total:.0f}" if math.isfinite(total) else "beyond the float range"
                raise SpecError(name, value, f"makes {what} {size}, over the {MAX_AMOUNT:g} that every quantity "
                                             "a method forms must stay below (float64 overflows at 1.8e308)")

    @property
    def has_factor_model(self) -> bool:
        """True when the covariance comes from ``factor_loadings`` and ``specific_volatility``."""
        return self.factor_loadings is not None

    def imbalance_bands(self) -> np.ndarray | None:
        """The dollar-imbalance band ``b_k`` per slice (currency, N numbers); None if unset."""
        if self.imbalance_band is None:
            return None
        return np.broadcast_to(np.asarray(self.imbalance_band, dtype=np.float64), (self.slices,)).copy()

    # ------------------------------------------------------------------ derived
    @property
    def has_transient(self) -> bool:
        """True when some asset has transient impact."""
        return any(a.has_transient for a in self.assets)

    @property
    def trade_times(self) -> np.ndarray:
        """``s_k``, k = 1..N: the calendar time of slice ``k``'s trade (N numbers; ``t_{k-1}``
        plus the closures before it), on which transient kernels run."""
        s = self.times[:-1].copy()
        for c in self.closures:  # a closure after slice j delays every later trade
            s[c.after_slice:] += c.duration
        return s

    @property
    def tau(self) -> float:
        """Slice length ``tau = T / N`` (time units)."""
        return self.horizon / self.slices

    @property
    def times(self) -> np.ndarray:
        """``t_k = k tau``, ``k = 0..N`` (N+1 numbers)."""
        return self.tau * np.arange(self.slices + 1, dtype=np.float64)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    @property
    def is_basket(self) -> bool:
        return len(self.assets) > 1

    @property
    def asset(self) -> Asset:
        """The single asset (raises for a basket)."""
        if self.is_basket:
            raise SpecError("assets", [a.name for a in self.assets], "this operation needs a single asset")
        return self.assets[0]

    def _vec(self, key: str) -> np.ndarray:
        return np.array([getattr(a, key) for a in self.assets], dtype=np.float64)

    @property
    def initial_holdings(self) -> np.ndarray:
        """``X`` per asset (shares)."""
        return self._vec("holdings")

    @property
    def volatilities(self) -> np.ndarray:
        """``sigma`` at ``t_0`` per asset."""
        return self._vec("volatility")

    @property
    def correlation_matrix(self) -> np.ndarray:
        if self.factor_loadings is not None:
            s = np.sqrt(np.diag(self.covariance))
            return self.covariance / np.outer(s, s)
        return np.eye(self.n_assets) if self.correlation is None else np.array(self.correlation)

    @property
    def covariance(self) -> np.ndarray:
        """``C = diag(sigma) R diag(sigma)`` (currency^2 / share^2 / time unit), or
        ``B B' + diag(s^2)`` of a factor model."""
        if self.factor_loadings is not None:
            b = np.array(self.factor_loadings)
            return b @ b.T + np.diag(np.square(self.specific_volatility))
        s = self.volatilities
        return s[:, None] * self.correlation_matrix * s[None, :]

    @property
    def temporary_impact_matrix_array(self) -> np.ndarray:
        """``H`` (basket linear impact); ``diag(eta)`` unless given."""
        if self.temporary_impact_matrix is not None:
            return np.array(self.temporary_impact_matrix)
        return np.diag([a.impact_level for a in self.assets])

    @property
    def permanent_impact_matrix_array(self) -> np.ndarray:
        """``Gamma``; ``diag(gamma)`` unless given."""
        if self.permanent_impact_matrix is not None:
            return np.array(self.permanent_impact_matrix)
        return np.diag(self._vec("permanent_impact"))

    @property
    def eta_tilde(self) -> float:
        """``eta - gamma tau / 2`` of the single asset (currency / share / (share / time))."""
        return self.asset.eta_tilde(self.tau)

    @property
    def eta_tilde_matrix(self) -> np.ndarray:
        """``H - tau/2 Gamma`` for a basket with linear impact."""
        return self.temporary_impact_matrix_array - 0.5 * self.tau * self.permanent_impact_matrix_array

    @property
    def all_linear(self) -> bool:
        return all(a.is_linear for a in self.assets)

    @property
    def has_caps(self) -> bool:
        return any(a.slice_caps(self.slices) is not None for a in self.assets)

    @property
    def has_drift(self) -> bool:
        return any(a.drift != 0 for a in self.assets)

    def slice_variance(self) -> np.ndarray:
        """``E[sigma_k^2]`` for slices k = 1..N of the single asset (see volatility.py), read at the
        calendar times :attr:`volatility_times` (``t_{k-1}`` without closures)."""
        times = self.volatility_times if self.closures else None
        return self.volatility_model.slice_variance(self.assets[0].volatility, self.horizon, self.slices, times)

    @property
    def volatility_times(self) -> np.ndarray:
        """``u_k``, k = 1..N: the calendar time at which slice ``k``'s volatility is read, ``t_{k-1}``
        plus the closures before it, not counting one right after slice ``k-1`` (that closure runs
        on slice ``k``'s volatility: ``u_k = s_k - d_{k-1}``). Steps ``u_{k+1} - u_k`` are ``tau``,
        ``tau + d`` after a closure (conventions page, "Time-varying markets")."""
        u = self.times[:-1].copy()
        for c in self.closures:  # a closure after slice j delays the volatility of slices j+2..N
            u[c.after_slice + 1:] += c.duration
        return u

    @property
    def volatility_steps(self) -> np.ndarray:
        """``u_{k+1} - u_k``, k = 1..N-1 (time units): ``tau``, plus ``d`` for the step that spans
        the closure after slice ``k-1`` (exactly ``tau`` elsewhere, no rounding)."""
        steps = np.full(self.slices - 1, self.tau)
        for c in self.closures:
            if c.after_slice < self.slices - 1:
                steps[c.after_slice] += c.duration
        return steps

    @property
    def calendar_horizon(self) -> float:
        """``T`` plus the closures' durations (time units): the calendar span of the spec."""
        return self.horizon + sum(c.duration for c in self.closures)

    def volatility_path(self) -> np.ndarray:
        """Deterministic ``sigma_k`` for k = 1..N (raises for a stochastic model)."""
        if self.volatility_model.stochastic:
            raise SpecError("volatility_model.kind", self.volatility_model.kind,
                            "is stochastic: there is no deterministic volatility path")
        return np.sqrt(self.slice_variance())

    @property
    def has_constant_volatility(self) -> bool:
        model = self.volatility_model
        if isinstance(model, ConstantVolatility):
            return True
        return isinstance(model, VolatilityPath) and len(set(model.path)) == 1

    # ------------------------------------------------------------------ copies and I/O
    def replace(self, **changes: Any) -> "ExecutionProblem":
        """A copy with some top-level fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def replace_asset(self, index: int = 0, **changes: Any) -> "ExecutionProblem":
        """A copy with fields of asset ``index`` changed."""
        assets = list(self.assets)
        assets[index] = assets[index].replace(**changes)
        return self.replace(assets=tuple(assets))

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, with the TOML keys of the conventions page (None fields left out)."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        out.update(horizon=self.horizon, slices=self.slices, risk_aversion=self.risk_aversion)
        if self.risk_seeking:
            out["risk_seeking"] = True
        if self.no_reversal:
            out["no_reversal"] = True
        if self.imbalance_band is not None:
            band = self.imbalance_band
            out["imbalance_band"] = list(band) if isinstance(band, tuple) else band
        if self.factor_loadings is not None:
            out["factor_loadings"] = [list(r) for r in self.factor_loadings]
            out["specific_volatility"] = list(self.specific_volatility)
        for key in ("correlation", "temporary_impact_matrix", "permanent_impact_matrix"):
            value = getattr(self, key)
            if value is not None:
                out[key] = [list(r) for r in value]
        assets = []
        for a in self.assets:
            row: dict[str, Any] = {}
            for f in dataclasses.fields(Asset):
                value = getattr(a, f.name)
                if value is None or (f.name == "drift" and value == 0.0):
                    continue
                if f.name in _TRANSIENT_DEFAULTS and value == _TRANSIENT_DEFAULTS[f.name]:
                    continue
                if f.name in _MARKET_DEFAULTS and value == _MARKET_DEFAULTS[f.name]:
                    continue
                row[f.name] = list(value) if isinstance(value, tuple) else value
            assets.append(row)
        out["assets"] = assets
        if not isinstance(self.volatility_model, ConstantVolatility):
            out["volatility_model"] = self.volatility_model.to_dict()
        if self.closures:
            out["closures"] = [c.to_dict() for c in self.closures]
        if self.terminal_penalty is not None:
            alpha = self.terminal_penalty
            out["terminal_penalty"] = list(alpha) if isinstance(alpha, tuple) else alpha
        return out

    def to_toml(self) -> str:
        """The spec as TOML text that :func:`problem_from_toml` reads back unchanged."""
        import tomli_w

        return tomli_w.dumps(self.to_dict())


_TOP_KEYS = {"horizon", "slices", "risk_aversion", "assets", "correlation", "volatility_model",
             "temporary_impact_matrix", "permanent_impact_matrix", "no_reversal", "name", "description", "imbalance_band",
             "factor_loadings", "specific_volatility", "risk_seeking", "closures", "terminal_penalty"}


def problem_from_dict(data: Mapping[str, Any]) -> ExecutionProblem:
    """Build a problem from parsed TOML (or any mapping with the same keys).

    Unknown keys raise :class:`SpecError`: a typo must not be silently ignored.
    """
    if not isinstance(data, Mapping):
        raise SpecError("spec", data, "must be a table")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SpecError(unknown[0], data[unknown[0]], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("horizon", "slices", "risk_aversion", "assets"):
        if key not in data:
            raise SpecError(key, None, "is required")
    # the top-level scalars first: a broken horizon is reported as the horizon, not as whatever
    # per-slice list of an asset it makes inconsistent
    check_scalars(data["horizon"], data["slices"], data["risk_aversion"], data.get("risk_seeking", False),
                  data.get("no_reversal", False))
    raw_assets = data["assets"]
    if isinstance(raw_assets, Mapping) or not isinstance(raw_assets, Sequence) or not raw_assets:
        raise SpecError("assets", raw_assets, "must be one or more [[assets]] tables")
    assets = []
    for i, row in enumerate(raw_assets):
        if not isinstance(row, Mapping):
            raise SpecError(f"assets[{i}]", row, "must be a table")
        bad = sorted(set(row) - _ASSET_KEYS)
        if bad:
            raise SpecError(f"assets[{i}].{bad[0]}", row[bad[0]],
                            f"unknown key (allowed: {', '.join(sorted(_ASSET_KEYS))})")
        for key in ("holdings", "volatility", "temporary_impact"):
            if key not in row:
                raise SpecError(f"assets[{i}].{key}", None, "is required")
        kwargs = dict(row)
        for key in ("max_slice_trade", "market_volume", "temporary_impact", "spread"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = tuple(kwargs[key])
        kwargs.setdefault("name", f"asset{i}")
        try:
            asset = Asset(**kwargs)
        except SpecError as err:
            raise SpecError(err.field.replace("asset.", f"assets[{i}].", 1), err.value, err.rule) from None
        assets.append(asset)
    kwargs = {k: v for k, v in data.items() if k != "assets"}
    if "volatility_model" in kwargs:
        kwargs["volatility_model"] = volatility_model_from_dict(kwargs["volatility_model"])
    return ExecutionProblem(assets=tuple(assets), **kwargs)


def problem_from_toml(text: str) -> ExecutionProblem:
    """Parse TOML text (the conventions page's format) into a validated problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError("spec", "TOML", f"is not valid TOML ({err})") from None
    return problem_from_dict(data)


def load_problem(path: str | Path) -> ExecutionProblem:
    """Load a spec file; the problem's ``name`` defaults to the file's stem."""
    path = Path(path)
    if not path.is_file():
        raise SpecError("spec", str(path), "file does not exist")
    problem = problem_from_toml(path.read_text(encoding="utf-8"))
    return problem if problem.name else problem.replace(name=path.stem)


# ---------------------------------------------------------------------- bundled examples
def _examples_dir():
    return resources.files("solvers") / "examples"


def example_names() -> list[str]:
    """Names of the example specs shipped with the package, sorted."""
    return sorted(p.name[:-5] for p in _examples_dir().iterdir() if p.name.endswith(".toml"))


def example_path(name: str) -> Path:
    """Path of the bundled example ``name`` (raises SpecError listing the names if unknown)."""
    target = _examples_dir() / f"{name}.toml"
    if not target.is_file():
        raise SpecError("example", name, f"unknown example (available: {', '.join(example_names())})")
    return Path(str(target))


def load_example(name: str) -> ExecutionProblem:
    """Load a bundled example spec by name (see ``optexec examples``)."""
    return load_problem(example_path(name))
