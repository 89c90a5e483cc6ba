"""The execution test set: specs generated from a fixed seed, from N = 10 to 10,000 slices
and baskets of up to 100 assets, each exported as a QP in raw and scaled units with its
certified optimum (:func:`solvers.testset.certified_optimum`).

:func:`qp_specs` (linear impact: the QP set), :func:`conic_specs` (power-law impact: the
CVXPY set), :data:`CI_SPECS` (the small subset CI runs), :func:`certified` (cached optimum).
"""

from __future__ import annotations

import functools

import numpy as np

from solvers.spec import Asset, ExecutionProblem
from solvers.testset import CertifiedOptimum, certified_optimum

__all__ = ["SEED", "qp_specs", "conic_specs", "CI_SPECS", "certified", "spec"]

SEED = 20261202
#: the specs of the CI subset (small, every constraint family)
CI_SPECS = ("ac-n10", "caps-n20", "noreversal-n50", "hedged-m5-n20")

_AC = dict(price=50.0, volatility=0.95, permanent_impact=2.5e-7, temporary_impact=2.5e-6, spread=0.0625)


def _ac(n: int, **changes) -> ExecutionProblem:
    asset = Asset(name="XYZ", holdings=1e6, **{**_AC, **changes.pop("asset", {})})
    return ExecutionProblem(horizon=5.0, slices=n, risk_aversion=1e-6, assets=(asset,), **changes)


def _u_shape(n: int, low: float, high: float) -> np.ndarray:
    s = np.linspace(-1.0, 1.0, n)
    return low + (high - low) * s**2


def _basket(rng: np.random.Generator, m: int, n: int, *, factors: int = 3, factor_model: bool = False,
            band: float | None = None, impact_matrix: bool = False) -> ExecutionProblem:
    prices = rng.uniform(20.0, 100.0, m)
    loadings = rng.normal(0.0, 1.0, (m, factors)) * prices[:, None] * 0.008
    specific = prices * rng.uniform(0.008, 0.015, m)
    cov = loadings @ loadings.T + np.diag(specific**2)
    vol = np.sqrt(np.diag(cov))
    holdings = rng.choice([-1.0, 1.0], m) * rng.uniform(2e5, 1e6, m)
    if band is not None:   # a hedged program: the last asset offsets the dollar value of the others
        others = float(np.dot(prices[:-1], holdings[:-1]))
        holdings[-1] = -others / prices[-1]
    eta = rng.uniform(1e-6, 4e-6, m) * prices / 50.0
    assets = tuple(Asset(name=f"A{i:03d}", holdings=float(holdings[i]), price=float(prices[i]),
                         volatility=float(vol[i]), permanent_impact=float(0.1 * eta[i]),
                         temporary_impact=float(eta[i]), spread=float(0.0625 * prices[i] / 50.0))
                   for i in range(m))
    kw: dict = {}
    if factor_model:
        kw.update(factor_loadings=[list(r) for r in loadings], specific_volatility=list(specific))
    else:
        corr = cov / np.outer(vol, vol)
        np.fill_diagonal(corr, 1.0)
        kw["correlation"] = [list(r) for r in 0.5 * (corr + corr.T)]
    if band is not None:
        kw["imbalance_band"] = band * float(np.sum(np.abs(prices * holdings))) / n
    if impact_matrix:
        off = rng.uniform(0.0, 0.2, (m, m)) * np.sqrt(np.outer(eta, eta))
        h = np.diag(eta) + 0.5 * (off + off.T) - np.diag(np.diag(off))
        kw["temporary_impact_matrix"] = [list(r) for r in h]
    return ExecutionProblem(horizon=5.0, slices=n, risk_aversion=1e-6, assets=assets, **kw)


@functools.lru_cache(maxsize=1)
def qp_specs() -> dict[str, ExecutionProblem]:
    """The linear-impact specs of the QP set, by name (deterministic)."""
    rng = np.random.default_rng(SEED)
    out: dict[str, ExecutionProblem] = {}
    for n in (10, 100, 1000, 10000):
        out[f"ac-n{n}"] = _ac(n)
    for n in (50, 1000):
        path = _u_shape(n, 0.7, 1.4) * rng.uniform(0.95, 1.05, n)
        out[f"path-drift-n{n}"] = _ac(n, asset={"drift": 0.05, "volatility": float(path[0])},
                                      volatility_model={"kind": "path", "path": list(path)})
    for n in (20, 390, 2000):
        volume = _u_shape(n, 1.0, 2.5) * 8e6 / n
        out[f"caps-n{n}"] = _ac(n, asset={"participation": 0.1, "market_volume": tuple(volume),
                                          "max_slice_trade": 2.5e6 / n})
    for n in (50, 1000):
        out[f"noreversal-n{n}"] = _ac(n, no_reversal=True, asset={"drift": 0.4, "max_holdings": 1e6})
    out["bounds-n200"] = _ac(200, asset={"drift": -1.0, "min_holdings": 0.0})
    out["basket-m10-n50"] = _basket(rng, 10, 50)
    out["basket-m30-n50"] = _basket(rng, 30, 50)
    out["basket-m100-n20"] = _basket(rng, 100, 20)
    out["factor-m100-n50"] = _basket(rng, 100, 50, factors=5, factor_model=True)
    out["hedged-m5-n20"] = _basket(rng, 5, 20, band=0.6)
    out["hedged-m100-n20"] = _basket(rng, 100, 20, band=0.6)
    out["impact-matrix-m10-n50"] = _basket(rng, 10, 50, impact_matrix=True)
    return out


@functools.lru_cache(maxsize=1)
def conic_specs() -> dict[str, ExecutionProblem]:
    """The power-law specs of the conic set, by name."""
    sqrt_eta = 1.118033988749895e-3
    return {
        # no_reversal: with gamma = 2.5e-7 at N = 10 trades alternating in sign pay without bound
        # (gamma (1 + cos(pi/N)) > lambda tau sigma^2); the one-way problem has the same optimum
        "sqrt-n10": _ac(10, no_reversal=True, asset={"impact_exponent": 0.5, "temporary_impact": sqrt_eta}),
        "sqrt-nogamma-n100": _ac(100, asset={"impact_exponent": 0.5, "temporary_impact": sqrt_eta,
                                             "permanent_impact": 0.0}),
        "sqrt-noreversal-n500": _ac(500, no_reversal=True, asset={"impact_exponent": 0.5,
                                                                   "temporary_impact": sqrt_eta}),
        "power075-n50": _ac(50, asset={"impact_exponent": 0.75, "temporary_impact": 2.5e-6 * 2e5**0.25,
                                       "permanent_impact": 0.0}),
    }


def spec(name: str) -> ExecutionProblem:
    """A spec of either set by name."""
    table = {**qp_specs(), **conic_specs()}
    return table[name]


@functools.lru_cache(maxsize=None)
def certified(name: str) -> CertifiedOptimum:
    """The certified optimum of spec ``name`` (computed once per process)."""
    return certified_optimum(spec(name))
