"""From fills and bars to a spec: the calibration pipeline.

Order of the steps (each in its own module):

1. children from fills (:func:`impact.children_from_fills`), durations from the bar spacing;
2. the volume profile and the average volume rate ``V_hat`` (:func:`market.volume_profile`);
3. permanent impact ``gamma_hat`` from parent price moves (:func:`impact.fit_permanent_impact`);
4. volatility ``sigma_hat`` from bar mids with our own permanent impact ``gamma_hat q`` taken
   out (:func:`market.estimate_volatility`);
5. temporary impact ``epsilon, eta, beta`` in the ATHL form normalized by ``sigma_hat`` and
   ``V_hat`` (:func:`impact.fit_temporary_impact`);
6. on request, transient impact ``kappa_T, rho`` (exponential kernel) from the propagator
   regression of mid moves on lagged signed volume (:func:`transient.fit_transient_impact`).

:meth:`Calibration.to_problem` writes the estimates into an :class:`ExecutionProblem` (the
order, horizon, slices and risk aversion are the user's: data does not choose them).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError
from ..spec import Asset, ExecutionProblem, check_scalars
from .estimate import Estimate, NotIdentifiedError
from .impact import Children, PermanentFit, TemporaryFit, children_from_fills, fit_permanent_impact, fit_temporary_impact, parent_table
from .market import VolatilityFit, VolumeProfile, bar_spacing, estimate_volatility, own_shares_per_bar, volume_profile
from .readers import BarColumns, Bars, FillColumns, Fills, SessionClock, read_bars, read_fills
from .transient import TransientFit, fit_transient_impact

__all__ = ["Calibration", "calibrate", "calibrate_files"]


@dataclass(frozen=True)
class Calibration:
    """Every estimate for one symbol, with the fits behind them."""

    symbol: str
    volatility: VolatilityFit
    profile: VolumeProfile
    temporary: TemporaryFit
    permanent: PermanentFit
    children: Children
    confidence: float
    notes: tuple[str, ...] = ()
    sources: tuple[str, str] = ("", "")
    last_mid: float = float("nan")
    transient: TransientFit | None = None

    @property
    def estimates(self) -> list[Estimate]:
        """The spec's estimates, the average volume rate, then (when fitted) ``transient_impact``
        and ``resilience``."""
        t = self.temporary
        out = [self.volatility.sigma, t.spread, t.temporary_impact, t.impact_exponent,
               self.permanent.permanent_impact, self.profile.daily_volume]
        if self.transient is not None:
            out += [self.transient.transient_impact, self.transient.resilience]
        return out

    def _required(self) -> list[Estimate]:
        """The estimates the spec needs: all but the average volume rate."""
        return [e for e in self.estimates if e is not self.profile.daily_volume]

    @property
    def identified(self) -> bool:
        return all(e.identified for e in self._required())

    def not_identified(self) -> list[Estimate]:
        return [e for e in self._required() if not e.identified]

    def typical_order(self) -> tuple[float, str]:
        """The default order: the median size of the parent orders on their side (shares; sales
        positive, purchases negative), and a sentence saying which parents it came from. With
        parents on both sides, the more common side (ties: sell) and its parents' median."""
        par = parent_table(self.children)
        sells, buys = int(np.sum(par["side"] > 0)), int(np.sum(par["side"] < 0))
        side = 1.0 if sells >= buys else -1.0
        chosen = par["side"] > 0 if side > 0 else par["side"] < 0
        size = side * float(np.median(par["size"][chosen]))
        word, other = ("sell", buys) if side > 0 else ("buy", sells)
        text = (f"holdings = {size:g}: a {word} of {abs(size):g} shares, the median of the "
                f"{int(np.sum(chosen))} {word} parent orders")
        if other:
            text += (f" ({other} parent orders on the other side left out: the fills mix sells and buys; "
                     "--holdings chooses the order)")
        return size, text

    def to_problem(self, *, holdings: float | None = None, horizon: float = 1.0, slices: int = 10,
                   risk_aversion: float = 1e-6, price: float | None = None, start: float = 0.0,
                   participation: float | None = None, name: str = "") -> tuple[ExecutionProblem, list[str]]:
        """The calibrated spec and notes on any adjustment made to fit the spec's rules.

        ``holdings`` defaults to :meth:`typical_order` (signed by the parent orders' side: a
        buy program calibrates to a buy), ``price`` to the last bar mid. The last note says
        which side the spec trades and why.
        ``start`` is the time of day (fraction of the profile's period) where the horizon
        begins; it places ``market_volume`` on the intraday profile. Raises
        :class:`NotIdentifiedError` when an estimate the spec needs is not identified.
        """
        check_scalars(horizon, slices, risk_aversion)  # the user's numbers first (their errors name them)
        missing = self.not_identified()
        if missing:
            raise NotIdentifiedError(", ".join(e.name for e in missing),
                                     "; ".join(dict.fromkeys(e.reason for e in missing)))
        notes: list[str] = []
        spread = self.temporary.spread.value
        if spread < 0:
            notes.append(f"spread estimate {spread:.4g} < 0 set to 0 (the spec needs epsilon >= 0; "
                         f"interval {self.temporary.spread.ci_low:.4g} .. {self.temporary.spread.ci_high:.4g})")
            spread = 0.0
        gamma = self.permanent.permanent_impact.value
        if gamma < 0:
            notes.append(f"permanent impact estimate {gamma:.4g} < 0 set to 0 (the spec needs gamma >= 0)")
            gamma = 0.0
        kwargs: dict[str, Any] = {}
        if self.profile.identified:
            kwargs["market_volume"] = tuple(float(v) for v in self.profile.market_volume(horizon, slices, start))
            if participation is not None:
                kwargs["participation"] = participation
        elif participation is not None:
            raise SpecError("participation", participation, "needs a volume profile, which is not identified")
        else:
            notes.append("volume profile not identified (a bucket has no bars): market_volume left out")
        if self.transient is not None:
            kwargs["transient_impact"] = self.transient.transient_impact.value
            kwargs["resilience"] = self.transient.resilience.value
        if holdings is None:
            holdings, side_note = self.typical_order()
        else:
            holdings = float(holdings)
            side_note = (f"holdings = {holdings:g}: a {'sell' if holdings > 0 else 'buy'} of {abs(holdings):g} "
                         "shares (given)")
        try:
            asset = Asset(
                name=self.symbol, holdings=holdings,
                price=self.last_mid if price is None else price, volatility=self.volatility.sigma.value,
                permanent_impact=gamma, temporary_impact=self.temporary.temporary_impact.value, spread=spread,
                impact_exponent=self.temporary.impact_exponent.value, **kwargs,
            )
        except SpecError as err:
            raise type(err)(err.field.replace("asset.", "assets[0].", 1), err.value, err.rule) from None
        description = (f"calibrated from {Path(self.sources[0]).name} and {Path(self.sources[1]).name}: "
                       f"{len(self.children)} child orders, {len(self.permanent.size)} parents, "
                       f"{self.volatility.increments} bar increments")
        # A concave impact (beta < 1) with permanent impact makes round trips pay in the conventions page's
        # discrete cost (unbounded below once gamma > lambda tau sigma^2); an execution program
        # calibrated from one-way parent orders never reverses, so the spec says so.
        no_reversal = asset.impact_exponent < 1.0 and gamma > 0.0
        if no_reversal:
            notes.append("no_reversal = true: impact_exponent < 1 with permanent impact > 0 would let round trips "
                         "pay in the model's cost")
        problem = ExecutionProblem(horizon=horizon, slices=slices, risk_aversion=risk_aversion, assets=(asset,),
                                   name=name or f"calibrated-{self.symbol}", description=description,
                                   no_reversal=no_reversal)
        return problem, notes + [side_note]

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "confidence": self.confidence, "identified": self.identified,
            "estimates": {e.name: e.to_dict() for e in self.estimates},
            "eta_athl": self.temporary.eta_athl,
            "gamma_athl": (self.permanent.permanent_impact.value * self.profile.daily_volume.value
                           / self.volatility.sigma.value) if self.identified else None,
            "volume_profile": {"period": self.profile.period, "rate": self.profile.rate.tolist(),
                               "std_error": self.profile.std_error.tolist(), "counts": self.profile.counts.tolist()},
            "diagnostics": {"temporary": _plain(self.temporary.diagnostics), "permanent": _plain(self.permanent.diagnostics),
                            "volatility": _plain({**self.volatility.diagnostics, "increments": self.volatility.increments,
                                                  "skipped_gaps": self.volatility.skipped_gaps,
                                                  "spacing": self.volatility.spacing})},
            "transient": None if self.transient is None else _plain(self.transient.diagnostics),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        lines = [f"calibration of {self.symbol}: {len(self.children)} child orders in {len(self.permanent.size)} "
                 f"parents, {self.volatility.increments} bar increments"]
        lines += [f"  {e}" for e in self.estimates]
        if self.temporary.identified:
            lines.append(f"  ATHL normalized: eta_A = {self.temporary.eta_athl:.4g} (cost in sigma units against "
                         f"participation of V = {self.profile.daily_volume.value:.4g} shares/time)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _plain(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, np.integer)):
            v = v.item()
        out[k] = v
    return out


def _one_symbol(fills: Fills, bars: Bars, symbol: str | None) -> tuple[str, Fills, Bars]:
    symbols = sorted(set(fills.symbol.tolist()))
    if symbol is None:
        if len(symbols) != 1:
            raise SpecError("symbol", None, f"the fills hold {len(symbols)} symbols ({', '.join(symbols[:10])}): "
                            "choose one")
        symbol = symbols[0]
    f = fills.select(fills.symbol == symbol)
    b = bars.select(bars.symbol == symbol)
    if len(f) == 0:
        raise SpecError("symbol", symbol, f"has no fills (symbols in the fills: {', '.join(symbols[:10])})")
    if len(b) < 2:
        raise SpecError("symbol", symbol, f"has {len(b)} bars (need at least 2)")
    order = np.argsort(b.time, kind="stable")
    return symbol, f, b.select(order)


def calibrate(fills: Fills, bars: Bars, *, symbol: str | None = None, beta: float | None = None,
              confidence: float = 0.95, period: float = 1.0, max_gap: float = 1.5, min_children: int = 20,
              min_parents: int = 5, min_rate_ratio: float = 2.0, max_beta_se: float = 0.25,
              covariance: str = "cluster", transient: bool = False) -> Calibration:
    """Estimate every parameter of the spec for one symbol (see the module docstring).

    Args:
        beta: fix the impact exponent (e.g. 1 for the closed form); None estimates it.
        confidence: nominal coverage of every interval.
        period: the volume profile's period in time units (1 = a day when times are days).
        max_gap: bar increments longer than this many spacings are not used for volatility.
        min_children, min_parents, min_rate_ratio, max_beta_se: identification thresholds.
        covariance: the temporary fit's covariance, ``"cluster"`` by parent order (default) or
            ``"iid"`` (see :func:`impact.fit_temporary_impact`).
        transient: also fit ``transient_impact`` and ``resilience`` (exponential kernel,
            :func:`transient.fit_transient_impact`); the spec then carries them.
    """
    if not 0 < confidence < 1:
        raise SpecError("confidence", confidence, "must be in (0, 1)")
    symbol, f, b = _one_symbol(fills, bars, symbol)
    notes: list[str] = []
    h = bar_spacing(b)
    children = children_from_fills(f, h)
    profile = volume_profile(b, period=period, confidence=confidence)
    perm = fit_permanent_impact(children, b, confidence=confidence, min_parents=min_parents, spacing=h)
    notes += [f"parent {s}" for s in perm.skipped]
    trans = fit_transient_impact(f, b, confidence=confidence) if transient else None
    if trans is not None and trans.transient_impact.identified:
        # a parent's price move also holds the deviation not yet decayed: the joint fit separates them
        perm = dataclasses.replace(perm, permanent_impact=trans.permanent_impact)
        notes.append("permanent_impact from the propagator regression (jointly with the kernel): the parent-move "
                     "fit would count the transient deviation left at each parent's end")
    if perm.diagnostics.get("overlapping_parents"):
        notes.append(f"{perm.diagnostics['overlapping_parents']} parent orders overlap in time: gamma is biased")
    gamma = perm.permanent_impact.value if perm.permanent_impact.identified else 0.0
    own = own_shares_per_bar(b, children.start, children.duration, children.signed_shares)
    moves = trans.own_moves if trans is not None and trans.transient_impact.identified else None
    vol = estimate_volatility(b, confidence=confidence, own_shares=own, permanent_impact=gamma, max_gap=max_gap,
                              own_moves=moves)
    if vol.skipped_gaps:
        notes.append(f"{vol.skipped_gaps} bar increments across a session break or longer than {max_gap:g} "
                     "spacings left out of the volatility")
    sigma = vol.sigma.value if vol.sigma.identified else float(np.std(np.diff(b.mid)) / math.sqrt(h) or 1.0)
    V = profile.daily_volume.value
    fit_children = children
    if trans is not None and trans.transient_impact.identified:
        # each child walks the book for its own part, 1/2 kappa_T n per share on top of the
        # temporary cost (the conventions page): take it out before the temporary fit
        walk = 0.5 * trans.transient_impact.value * children.signed_shares
        fit_children = dataclasses.replace(children, price=children.price + walk)
        notes.append("the temporary fit takes out each child's own transient walk 1/2 kappa_T n at the fitted "
                     "kappa_T (its uncertainty is not carried into the temporary intervals)")
    temp = fit_temporary_impact(fit_children, sigma, V, beta=beta, confidence=confidence, min_children=min_children,
                                min_rate_ratio=min_rate_ratio, max_beta_se=max_beta_se, covariance=covariance)
    if any(fills.malformed) or any(bars.malformed):
        notes.append(f"{len(fills.malformed)} malformed fill rows and {len(bars.malformed)} malformed bar rows left out")
    return Calibration(symbol, vol, profile, temp, perm, children, confidence, tuple(notes),
                       (fills.source, bars.source), float(b.mid[-1]), trans)


def calibrate_files(fills_path: str | Path, bars_path: str | Path, *, fill_columns: FillColumns = FillColumns(),
                    bar_columns: BarColumns = BarColumns(), on_error: str = "raise",
                    clock: SessionClock | None = None, **options: Any) -> Calibration:
    """Read both files (CSV or Parquet; ISO time stamps with a :class:`SessionClock`) and :func:`calibrate`."""
    fills = read_fills(fills_path, fill_columns, on_error=on_error, clock=clock)
    bars = read_bars(bars_path, bar_columns, on_error=on_error, clock=clock)
    return calibrate(fills, bars, **options)
