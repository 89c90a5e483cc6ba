"""Synthetic execution data with known true parameters (the conventions page's dynamics).

Time runs in trading days, back to back (day ``d`` is ``[d, d + 1)``, no overnight gap), cut
into ``B`` bars of length ``tau = 1 / B``. Each day holds ``parents_per_day`` parent orders in
disjoint windows; a parent trades ``L`` consecutive slices, one child per slice, at a
participation ``x`` (log-uniform) of the average market volume rate ``V``:
``n_j = round(x V tau (1 + jitter u_j))`` shares, ``u_j ~ U(-1, 1)``, all on one side.

Prices follow the conventions page exactly, with ``n_k`` our signed trade in slice ``k`` (sales positive):

    S_k = S_{k-1} + sigma sqrt(tau) xi_k - gamma n_k
    fill price of the child of slice k = S_{k-1} - side (epsilon + eta |v_k|^beta) + e_k

with ``v_k = n_k / tau``. ``e_k ~ N(0, execution_noise^2)`` is the one addition to the conventions page: the
price a real child gets is not exactly the model's (timing inside the slice, ticks); it has
mean zero, so the expected cost is the conventions page's, and ``execution_noise = 0`` is the convention to the
letter. ``parent_noise`` adds a cost ``u_p ~ N(0, parent_noise^2)`` shared by every child of
parent ``p`` (same conditions, same trader: the correlation real fills have; 0 by default).
With ``transient_impact > 0`` the mid also carries the decaying deviation ``D`` (the conventions
page, "Transient impact": exponential kernel) and a child pays ``kappa_T n_k / 2`` more per share.
The truth is given in the ATHL normalization (``eta = eta_A sigma / V^beta``,
``gamma = gamma_A sigma / V``); :class:`SyntheticTruth` also gives the spec's numbers.

Bars: at ``t_k`` the mid ``S_k`` and the market's volume in slice ``k``,
``V tau u(s) exp(volume_noise zeta - volume_noise^2 / 2) + |n_k|`` (our shares are part of
the market's), with the U-shaped intraday profile ``u(s) = (1 + 3 (2 s - 1)^2) / 2`` (mean 1
over the day), ``s`` the slice's mid-time of day.

``solvers.simulate`` (the project's simulator) did not exist when this was written; this
module follows the same equations of the conventions page on its own.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpecError
from .readers import Bars, Fills

__all__ = ["SyntheticTruth", "SyntheticData", "generate", "write_csv", "volume_shape", "SAMPLE_SETTINGS",
           "write_sample"]


def volume_shape(s: np.ndarray) -> np.ndarray:
    """The U-shaped intraday volume profile ``u(s)``, mean 1 over ``s in [0, 1)``."""
    s = np.asarray(s, dtype=np.float64)
    return 0.5 * (1.0 + 3.0 * (2.0 * s - 1.0) ** 2)


@dataclass(frozen=True)
class SyntheticTruth:
    """True parameters. Units: days, shares, currency / share."""

    price: float = 50.0
    volatility: float = 0.5  # sigma, currency / share / sqrt(day)
    daily_volume: float = 2e6  # V, shares / day
    spread: float = 0.01  # epsilon, currency / share
    eta_athl: float = 0.3  # eta_A (dimensionless)
    impact_exponent: float = 0.5  # beta
    permanent_athl: float = 2.0  # gamma_A (dimensionless)
    execution_noise: float = 0.02  # sd of e_k, currency / share
    volume_noise: float = 0.3  # lognormal sd of bar volumes
    parent_noise: float = 0.0  # sd of a cost shift shared by the children of one parent, currency / share
    transient_impact: float = 0.0  # kappa_T, currency / share per share (0: none)
    resilience: float = 0.0  # rho, 1 / day (exponential kernel)

    @property
    def temporary_impact(self) -> float:
        """``eta = eta_A sigma / V^beta`` (currency / share / (share / day)^beta)."""
        return self.eta_athl * self.volatility / self.daily_volume**self.impact_exponent

    @property
    def permanent_impact(self) -> float:
        """``gamma = gamma_A sigma / V`` (currency / share^2)."""
        return self.permanent_athl * self.volatility / self.daily_volume

    def h(self, rate: np.ndarray) -> np.ndarray:
        """Temporary impact ``epsilon + eta |v|^beta`` per share at ``|v|`` shares / day."""
        return self.spread + self.temporary_impact * np.abs(rate) ** self.impact_exponent


@dataclass(frozen=True)
class SyntheticData:
    fills: Fills
    bars: Bars
    truth: SyntheticTruth


def generate(truth: SyntheticTruth = SyntheticTruth(), *, days: int = 120, bars_per_day: int = 26,
             parents_per_day: int = 1, children: tuple[int, int] = (6, 26),
             participation: tuple[float, float] = (0.05, 0.6), jitter: float = 0.3, symbol: str = "XYZ",
             seed: int | np.random.Generator = 0) -> SyntheticData:
    """Simulate ``days`` days of bars and parent orders (see the module docstring).

    Args:
        children: the number of children (slices) per parent is uniform on this range
            (inclusive), capped by the parent's window of ``bars_per_day // parents_per_day``.
        participation: range of ``x = |v| / V`` (log-uniform per parent).
        jitter: relative spread of child sizes inside a parent (0 = TWAP).
    """
    if days < 1 or bars_per_day < 2 or parents_per_day < 0:
        raise SpecError("generate", (days, bars_per_day, parents_per_day), "need days >= 1, bars_per_day >= 2")
    window = bars_per_day // max(parents_per_day, 1)
    lo, hi = children
    hi = min(hi, window)
    if parents_per_day and not 1 <= lo <= hi:
        raise SpecError("children", children, f"must be 1 <= min <= max and min <= window of {window} bars")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    B = bars_per_day
    K = days * B
    tau = 1.0 / B
    sig, V = truth.volatility, truth.daily_volume

    # parents: one per window
    P = days * parents_per_day
    length = rng.integers(lo, hi + 1, size=P)
    offset = np.floor(rng.random(P) * (window - length + 1)).astype(np.int64)
    first = np.repeat(np.arange(days) * B, parents_per_day) + np.tile(np.arange(parents_per_day) * window, days) + offset
    x = np.exp(rng.uniform(np.log(participation[0]), np.log(participation[1]), size=P))
    side = rng.choice(np.array([1.0, -1.0]), size=P)
    C = int(length.sum())
    parent_of = np.repeat(np.arange(P), length)
    within = np.arange(C) - np.repeat(np.cumsum(length) - length, length)
    slot = first[parent_of] + within  # 0-based slice index; the child trades over [t_slot, t_slot+1)
    u = rng.uniform(-1.0, 1.0, size=C)
    shares = np.maximum(1.0, np.round(x[parent_of] * V * tau * (1.0 + jitter * u)))
    signed = side[parent_of] * shares

    # prices (the conventions page): n per slice, then S_k
    n = np.zeros(K)
    n[slot] = signed
    xi = rng.standard_normal(K)
    S = truth.price + np.concatenate([[0.0], np.cumsum(sig * np.sqrt(tau) * xi - truth.permanent_impact * n)])
    walk = np.zeros(C)
    if truth.transient_impact:  # observed mid S_k - D(t_k), D(t_{k+1}) = a (D(t_k) + kappa_T n_k); no draws
        a = np.exp(-truth.resilience * tau)
        dev = np.zeros(K + 1)
        for k in range(K):
            dev[k + 1] = a * (dev[k] + truth.transient_impact * n[k])
        S = S - dev
        walk = 0.5 * truth.transient_impact * signed  # the child walks the book for its own part
    arrival = S[slot]
    noise = truth.execution_noise * rng.standard_normal(C)
    price = arrival - walk - side[parent_of] * truth.h(shares / tau) + noise
    if truth.parent_noise:  # drawn last so that parent_noise = 0 leaves every other draw unchanged
        price = price - side[parent_of] * truth.parent_noise * rng.standard_normal(P)[parent_of]

    # bars at t_k = k tau, k = 1..K
    t = tau * np.arange(1, K + 1)
    s = np.mod(t - tau / 2, 1.0)
    zeta = rng.standard_normal(K)
    vol = V * tau * volume_shape(s) * np.exp(truth.volume_noise * zeta - 0.5 * truth.volume_noise**2)
    vol = np.round(vol + np.abs(n))

    fills = Fills(
        time=tau * slot.astype(np.float64), symbol=np.full(C, symbol, dtype=object), side=side[parent_of].astype(np.int64),
        shares=shares, price=price, arrival_mid=arrival,
        parent=np.array([f"P{p:05d}" for p in parent_of], dtype=object), line=np.arange(2, C + 2),
        source="synthetic",
    )
    bars = Bars(time=t, symbol=np.full(K, symbol, dtype=object), mid=S[1:], volume=vol, line=np.arange(2, K + 2),
                source="synthetic")
    return SyntheticData(fills, bars, truth)


def write_csv(data: SyntheticData, fills_path: str | Path, bars_path: str | Path) -> tuple[Path, Path]:
    """Write the default-column CSV files (times to 12 significant digits, prices to 1e-6)."""
    fills_path, bars_path = Path(fills_path), Path(bars_path)
    f = data.fills
    with fills_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["time", "symbol", "side", "shares", "price", "arrival_mid", "parent_id"])
        for i in range(len(f)):
            w.writerow([f"{f.time[i]:.12g}", f.symbol[i], "sell" if f.side[i] > 0 else "buy", f"{f.shares[i]:.0f}",
                        f"{f.price[i]:.6f}", f"{f.arrival_mid[i]:.6f}", f.parent[i]])
    b = data.bars
    with bars_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["time", "symbol", "mid", "volume"])
        for i in range(len(b)):
            w.writerow([f"{b.time[i]:.12g}", b.symbol[i], f"{b.mid[i]:.6f}", f"{b.volume[i]:.0f}"])
    return fills_path, bars_path


#: how the bundled sample (solvers/data/sample_*.csv) was made: ``write_sample`` rewrites it
SAMPLE_SETTINGS = {"days": 120, "bars_per_day": 26, "parents_per_day": 1, "children": (6, 26),
                   "participation": (0.05, 0.6), "seed": 20260127}


def write_sample(directory: str | Path) -> tuple[Path, Path]:
    """Regenerate the bundled sample ``sample_fills.csv`` and ``sample_bars.csv`` in ``directory``."""
    directory = Path(directory)
    data = generate(SyntheticTruth(), **SAMPLE_SETTINGS)
    return write_csv(data, directory / "sample_fills.csv", directory / "sample_bars.csv")
