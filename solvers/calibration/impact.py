"""Impact estimates from fills: temporary ``epsilon, eta, beta`` and permanent ``gamma``.

Children. Fills of one parent at the same time are one child (shares summed, price
volume-weighted). A child that starts at ``t_i`` trades until the parent's next child starts,
so its duration is ``d_i = t_{i+1} - t_i``; the last child of a parent gets the median
duration of the parent's other children (one child alone: the bar spacing). Its rate is
``v_i = n_i / d_i`` shares / time unit and its slippage, a cost per share (positive hurts), is

    c_i = side_i * (arrival_mid_i - price_i)     (side +1 sells, the conventions page's X > 0)

which the conventions page's execution rule (slice k fills at ``S_{k-1} - h(v_k)``) makes
``c_i = h(|v_i|) + noise = epsilon + eta |v_i|^beta + noise``.

Temporary impact in the form of Almgren, Thum, Hauptmann and Li (2005). ATHL write the
temporary cost in units of the volatility against the trade rate in units of the market's
volume rate: ``c / sigma = epsilon / sigma + eta_A (v / V)^beta``, with ``sigma`` the
volatility per time unit (currency / share / sqrt(time)) and ``V`` the average market volume
rate (shares / time unit; the daily volume when the unit is a day). We fit exactly this,
``y_i = a + b x_i^beta`` with ``y_i = c_i / sigma_hat``, ``x_i = |v_i| / V_hat``, by nonlinear
least squares in ``theta = (a, log b, beta)``, and map back to the spec:

    epsilon = a * sigma_hat                   (currency / share)
    eta     = b * sigma_hat / V_hat^beta      (currency / share / (share / time)^beta)
    beta    = beta                            (the same exponent)
    eta_A   = b                               (ATHL's dimensionless coefficient)

The normalization is a change of units: ``sigma_hat`` and ``V_hat`` cancel exactly in
``epsilon`` and ``eta``, so their uncertainty does not enter the spec's numbers (it does enter
``eta_A``, reported without it). Intervals: by default the cluster-robust (by parent order)
sandwich covariance with ``G - 1`` degrees of freedom (``G`` parents), because children of one
parent share noise in real data; ``covariance="iid"`` gives ``s^2 (J'J)^-1`` (``s^2`` the
residual variance, ``n - 3`` degrees of freedom), t quantiles either way; ``eta``'s interval
is built on ``log eta = log b + log sigma_hat - beta log V_hat`` (linear in ``theta``) because
``eta`` in raw units moves by a factor ``V^dbeta`` with ``beta``. With ``beta`` fixed the fit is
ordinary least squares (with ``"iid"``, its t intervals are exact under Gaussian noise).

Identification (free ``beta``): at least ``min_children`` children, participation rates that
span a factor ``min_rate_ratio``, a coefficient ``b`` distinguishable from zero (``se(log b) <=
1/2``), ``se(beta) <= max_beta_se`` and ``beta`` inside ``(0, 2)`` (not at a bound). Otherwise
``epsilon``, ``eta`` and ``beta`` are all reported as not identified, with the reason.

Permanent impact. Over parent ``p`` (size ``X_p`` signed, duration ``T_p`` from its first
child's start to its last child's end) the conventions page gives ``S_end - S_0 = -gamma X_p +
sigma sqrt(T_p) xi_p``. With ``d_p = side_p (S_0 - S_end)`` (``S_0`` the first child's arrival
mid, ``S_end`` the first bar mid at or after the parent's end) this is the regression through
the origin ``d_p = gamma |X_p| + noise_p``, ``Var noise_p ~ T_p``; weighted least squares with
weights ``1 / T_p`` and a t interval with ``P - 1`` degrees of freedom (exact under the
model). ATHL's normalized ``gamma_A = gamma V_hat / sigma_hat`` (their ``alpha = 1``) is in the
diagnostics. Parents of one symbol are assumed not to overlap in time (overlaps are counted
in the diagnostics: they bias ``gamma``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize
from scipy.special import stdtrit

from ..errors import SpecError
from .estimate import Estimate
from .readers import Bars, Fills

__all__ = ["Children", "children_from_fills", "TemporaryFit", "fit_temporary_impact", "PermanentFit",
           "fit_permanent_impact"]

BETA_BOUNDS = (1e-3, 2.0)


@dataclass(frozen=True)
class Children:
    """Child orders (fills aggregated per parent and time), sorted by parent then time."""

    start: np.ndarray
    duration: np.ndarray
    shares: np.ndarray  # > 0
    side: np.ndarray  # +1 sell, -1 buy
    price: np.ndarray  # volume-weighted fill price
    arrival_mid: np.ndarray
    parent: np.ndarray  # parent index 0..P-1
    parent_ids: np.ndarray  # the file's parent ids, by index

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @property
    def rate(self) -> np.ndarray:
        """``|v_i|`` shares / time unit."""
        return self.shares / self.duration

    @property
    def slippage(self) -> np.ndarray:
        """``c_i = side (arrival_mid - price)``, currency / share, positive is a cost."""
        return self.side * (self.arrival_mid - self.price)

    @property
    def signed_shares(self) -> np.ndarray:
        return self.side * self.shares


def children_from_fills(fills: Fills, default_duration: float) -> Children:
    """Aggregate fills into children and give each a duration (see the module docstring)."""
    if len(fills) == 0:
        raise SpecError("fills", "0 rows", "no fills to calibrate from")
    pids, pidx = np.unique(fills.parent.astype(str), return_inverse=True)
    # one side per parent
    side_sum = np.bincount(pidx, weights=fills.side, minlength=len(pids))
    count = np.bincount(pidx, minlength=len(pids))
    mixed = np.abs(side_sum) != count
    if mixed.any():
        p = int(np.argmax(mixed))
        lines = fills.line[pidx == p][:5].tolist()
        raise SpecError("fills side", f"parent {pids[p]}", f"mixes buys and sells (lines {lines}); one side per parent order")
    # aggregate same (parent, time)
    order = np.lexsort((fills.time, pidx))
    t, pi = fills.time[order], pidx[order]
    new = np.ones(len(t), dtype=bool)
    new[1:] = (pi[1:] != pi[:-1]) | (t[1:] != t[:-1])
    group = np.cumsum(new) - 1
    G = int(group[-1]) + 1
    shares = np.bincount(group, weights=fills.shares[order], minlength=G)
    notional = np.bincount(group, weights=(fills.shares * fills.price)[order], minlength=G)
    first = np.flatnonzero(new)
    start = t[first]
    parent = pi[first]
    side = fills.side[order][first].astype(np.float64)
    arrival = fills.arrival_mid[order][first]
    price = notional / shares
    # durations
    duration = np.empty(G)
    same_next = np.zeros(G, dtype=bool)
    same_next[:-1] = parent[1:] == parent[:-1]
    duration[:-1] = np.diff(start)
    last = ~same_next
    duration[last] = _group_median(parent[same_next], duration[same_next], parent[last], default_duration)
    return Children(start, duration, shares, side, price, arrival, parent, pids)


def _group_median(group: np.ndarray, values: np.ndarray, wanted: np.ndarray, default: float) -> np.ndarray:
    """Median of ``values`` within each group in ``wanted`` (``default`` for an empty group)."""
    out = np.full(len(wanted), float(default))
    if len(values) == 0:
        return out
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    keys, first, count = np.unique(g, return_index=True, return_counts=True)
    med = 0.5 * (v[first + (count - 1) // 2] + v[first + count // 2])
    pos = np.searchsorted(keys, wanted)
    pos_ok = (pos < len(keys)) & (keys[np.minimum(pos, len(keys) - 1)] == wanted)
    out[pos_ok] = med[pos[pos_ok]]
    return out


# ---------------------------------------------------------------------- temporary impact
@dataclass(frozen=True)
class TemporaryFit:
    """``epsilon``, ``eta``, ``beta`` (spec units) and the fit behind them."""

    spread: Estimate
    temporary_impact: Estimate
    impact_exponent: Estimate
    eta_athl: float
    identified: bool
    reason: str
    participation: np.ndarray  # x_i = |v_i| / V_hat
    normalized_cost: np.ndarray  # y_i = c_i / sigma_hat
    fitted: np.ndarray
    sigma_scale: float
    volume_scale: float
    beta_fixed: bool
    covariance: np.ndarray
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def curve(self, x: np.ndarray) -> np.ndarray:
        """Fitted normalized cost ``a + b x^beta`` at participation rates ``x``."""
        a = self.spread.value / self.sigma_scale
        return a + self.eta_athl * np.asarray(x, dtype=np.float64) ** self.impact_exponent.value


def _profile_start(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Best (a, b, beta) on a grid of beta by linear least squares (the starting point)."""
    betas = np.linspace(0.1, 1.9, 19)
    z = np.exp(np.outer(betas, np.log(x)))  # (grid, n)
    n = len(x)
    zm = z.mean(axis=1)
    ym = y.mean()
    szz = (z * z).sum(axis=1) - n * zm**2
    szy = z @ y - n * zm * ym
    b = szy / szz
    a = ym - b * zm
    rss = ((y[None, :] - a[:, None] - b[:, None] * z) ** 2).sum(axis=1)
    rss = np.where(b > 0, rss, np.inf)
    i = int(np.argmin(rss))
    if not np.isfinite(rss[i]):
        return float(ym), 1e-6, 1.0
    return float(a[i]), float(b[i]), float(betas[i])


def fit_temporary_impact(children: Children, sigma: float, volume_rate: float, *, beta: float | None = None,
                         confidence: float = 0.95, min_children: int = 20, min_rate_ratio: float = 2.0,
                         max_beta_se: float = 0.25, covariance: str = "cluster") -> TemporaryFit:
    """Fit ``c / sigma = a + b (v / V)^beta`` (see the module docstring).

    Args:
        sigma: the volatility used to normalize the cost (currency / share / sqrt(time)).
        volume_rate: the market's average volume rate ``V`` (shares / time unit).
        beta: fix the exponent (then the fit is linear in ``a, b``); None fits it.
        min_children, min_rate_ratio, max_beta_se: identification thresholds.
        covariance: ``"cluster"`` (default): the sandwich ``(J'J)^-1 (sum_p J_p' r_p r_p' J_p)
            (J'J)^-1`` summed over parent orders ``p``, scaled by ``G/(G-1) (n-1)/(n-k)``, with
            ``G - 1`` degrees of freedom: valid when the children of one parent share noise
            (real data: the same market conditions, the same trader). ``"iid"``: ``s^2 (J'J)^-1``
            with ``n - k`` degrees of freedom, exact for independent Gaussian noise.
    """
    if covariance not in ("cluster", "iid"):
        raise SpecError("covariance", covariance, "must be 'cluster' or 'iid'")
    if not (sigma > 0 and math.isfinite(sigma)):
        raise SpecError("volatility", sigma, "must be > 0 to normalize the impact fit")
    if not (volume_rate > 0 and math.isfinite(volume_rate)):
        raise SpecError("daily_volume", volume_rate, "must be > 0 to normalize the impact fit")
    if beta is not None and not BETA_BOUNDS[0] <= beta <= BETA_BOUNDS[1]:
        raise SpecError("beta", beta, "must be in (0, 2] (the spec's impact_exponent range)")
    x = children.rate / volume_rate
    y = children.slippage / sigma
    n = len(x)
    units_eta = "currency/share/(share/time)^beta"
    nan = float("nan")
    p = 2 if beta is not None else 3
    method = ("ATHL 2005 form, OLS with beta fixed, t intervals" if beta is not None
              else "ATHL 2005 form, nonlinear least squares, asymptotic t intervals (eta on log scale)")
    method += f", {covariance} covariance"
    ratio = float(x.max() / x.min()) if n else nan
    need = max(min_children if beta is None else max(5, p + 2), p + 2)
    reason = ""
    if n < need:
        reason = f"{n} child orders (need >= {need})"
    elif beta is None and ratio < min_rate_ratio:
        reason = f"participation rates span a factor {ratio:.3g} only (need >= {min_rate_ratio:g} to tell beta)"
    elif beta is not None and ratio <= 1 + 1e-9:
        reason = "every child trades at the same rate: intercept and slope cannot be separated"
    diag: dict[str, Any] = {"children": n, "rate_ratio": ratio, "sigma_scale": sigma, "volume_scale": volume_rate}
    if reason:
        return _unidentified(reason, confidence, units_eta, method, x, y, sigma, volume_rate, beta, diag)

    groups = children.parent
    G = int(len(np.unique(groups)))
    if covariance == "cluster" and G < 2 * p:
        reason = f"{G} parent orders: too few clusters for a cluster-robust covariance (need >= {2 * p})"
        return _unidentified(reason, confidence, units_eta, method, x, y, sigma, volume_rate, beta, diag)
    dof = n - p if covariance == "iid" else G - 1
    tq = float(stdtrit(dof, 0.5 + confidence / 2))
    diag.update(covariance=covariance, clusters=G, dof=dof)

    def _cov(J: np.ndarray, resid: np.ndarray) -> np.ndarray:
        bread = np.linalg.inv(J.T @ J)
        if covariance == "iid":
            return float(resid @ resid / (n - p)) * bread
        score = np.zeros((G, J.shape[1]))
        np.add.at(score, np.unique(groups, return_inverse=True)[1], J * resid[:, None])
        meat = score.T @ score
        return G / (G - 1) * (n - 1) / (n - p) * (bread @ meat @ bread)
    if beta is not None:
        xb = x**beta
        A = np.column_stack([np.ones(n), xb])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        resid = y - A @ coef
        s2 = float(resid @ resid / (n - p))
        cov = _cov(A, resid)
        a, b = float(coef[0]), float(coef[1])
        se_a, se_b = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
        if b <= 0 or b < 2 * se_b:
            reason = f"no impact signal: eta_A = {b:.3g} +/- {se_b:.3g} is not distinguishable from zero"
            return _unidentified(reason, confidence, units_eta, method, x, y, sigma, volume_rate, beta, diag)
        scale = sigma / volume_rate**beta
        eta = b * scale
        eta_est = Estimate("temporary_impact", eta, se_b * scale, eta - tq * se_b * scale, eta + tq * se_b * scale,
                           confidence, units_eta, method)
        beta_est = Estimate("impact_exponent", beta, 0.0, beta, beta, confidence, "1", "fixed by the user")
        fitted = A @ coef
        full_cov = np.zeros((3, 3))
        full_cov[:2, :2] = cov
        diag.update(residual_std=math.sqrt(s2), iterations=0, condition=float(np.linalg.cond(A)))
    else:
        a0, b0, beta0 = _profile_start(x, y)
        lx = np.log(x)

        def resid_fn(th):
            return th[0] + np.exp(th[1] + th[2] * lx) - y

        def jac(th):
            e = np.exp(th[1] + th[2] * lx)
            return np.column_stack([np.ones(n), e, e * lx])

        sol = optimize.least_squares(resid_fn, [a0, math.log(b0), beta0], jac=jac, method="trf",
                                     bounds=([-np.inf, -np.inf, BETA_BOUNDS[0]], [np.inf, np.inf, BETA_BOUNDS[1]]),
                                     x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12)
        th = sol.x
        J = jac(th)
        resid = sol.fun
        s2 = float(resid @ resid / (n - p))
        JTJ = J.T @ J
        cond = float(np.linalg.cond(JTJ))
        diag.update(iterations=int(sol.nfev), optimizer_status=int(sol.status), optimizer_message=sol.message,
                    residual_std=math.sqrt(s2), condition=cond)
        if not sol.success:
            reason = f"the fit did not converge ({sol.message})"
        elif cond > 1e14:
            reason = f"the fit's Jacobian is singular (condition {cond:.3g})"
        if reason:
            return _unidentified(reason, confidence, units_eta, method, x, y, sigma, volume_rate, beta, diag)
        cov = _cov(J, -resid)
        a, logb, bh = (float(v) for v in th)
        se_a, se_logb, se_beta = (math.sqrt(cov[i, i]) for i in range(3))
        b = math.exp(logb)
        if se_logb > 0.5:
            reason = f"no impact signal: eta_A = {b:.3g} with se(log eta_A) = {se_logb:.3g} > 0.5"
        elif se_beta > max_beta_se:
            reason = f"beta = {bh:.3g} +/- {se_beta:.3g}: standard error above {max_beta_se:g}"
        elif bh <= BETA_BOUNDS[0] * 1.01 or bh >= BETA_BOUNDS[1] * (1 - 1e-6):
            reason = f"beta = {bh:.3g} at the bound of (0, 2]"
        if reason:
            return _unidentified(reason, confidence, units_eta, method, x, y, sigma, volume_rate, beta, diag)
        lv = math.log(volume_rate)
        g = np.array([0.0, 1.0, -lv])
        se_logeta = math.sqrt(float(g @ cov @ g))
        eta = b * sigma / volume_rate**bh
        eta_est = Estimate("temporary_impact", eta, eta * se_logeta, eta * math.exp(-tq * se_logeta),
                           eta * math.exp(tq * se_logeta), confidence, units_eta, method)
        beta_est = Estimate("impact_exponent", bh, se_beta, bh - tq * se_beta, bh + tq * se_beta, confidence, "1",
                            method)
        fitted = y + resid
        full_cov = cov
        diag["se_log_eta"] = se_logeta
    eps = a * sigma
    spread = Estimate("spread", eps, se_a * sigma, eps - tq * se_a * sigma, eps + tq * se_a * sigma, confidence,
                      "currency/share", method)
    return TemporaryFit(spread, eta_est, beta_est, b, True, "", x, y, fitted, sigma, volume_rate, beta is not None,
                        full_cov, diag)


def _unidentified(reason, confidence, units_eta, method, x, y, sigma, volume_rate, beta, diag) -> TemporaryFit:
    ests = [Estimate.not_identified(name, reason, units, method, confidence)
            for name, units in (("spread", "currency/share"), ("temporary_impact", units_eta), ("impact_exponent", "1"))]
    return TemporaryFit(*ests, float("nan"), False, reason, x, y, np.full_like(y, np.nan), sigma, volume_rate,
                        beta is not None, np.full((3, 3), np.nan), diag)


# ---------------------------------------------------------------------- permanent impact
@dataclass(frozen=True)
class PermanentFit:
    """``gamma`` (currency / share^2) and the parent-level data behind it."""

    permanent_impact: Estimate
    size: np.ndarray  # |X_p| shares
    move: np.ndarray  # d_p = side (S_0 - S_end), currency / share
    duration: np.ndarray  # T_p
    parent_ids: np.ndarray
    skipped: tuple[str, ...]
    diagnostics: dict[str, Any] = field(default_factory=dict)


def parent_table(children: Children) -> dict[str, np.ndarray]:
    """Per parent: signed size, side, start, end, arrival mid of the first child."""
    P = len(children.parent_ids)
    idx = children.parent
    first = np.ones(len(idx), dtype=bool)
    first[1:] = idx[1:] != idx[:-1]
    size = np.bincount(idx, weights=children.shares, minlength=P)
    start = children.start[first]
    end = np.full(P, -np.inf)
    np.maximum.at(end, idx, children.start + children.duration)
    return {"size": size, "side": children.side[first], "start": start, "end": end,
            "arrival": children.arrival_mid[first]}


def fit_permanent_impact(children: Children, bars: Bars, *, confidence: float = 0.95, min_parents: int = 5,
                         spacing: float | None = None) -> PermanentFit:
    """``gamma`` from each parent's price move against its size (see the module docstring)."""
    units = "currency/share^2"
    method = "WLS through the origin of parent price moves on size (weights 1/T_p), t interval"
    par = parent_table(children)
    h = spacing if spacing is not None else float(np.median(np.diff(bars.time)))
    tol = 1e-9 * max(1.0, float(np.abs(bars.time).max()))
    j = np.searchsorted(bars.time, par["end"] - tol, side="left")
    ok = j < len(bars)
    jj = np.minimum(j, len(bars) - 1)
    ok &= bars.time[jj] <= par["end"] + h + tol  # the bar must close within one spacing of the end
    skipped = tuple(f"{children.parent_ids[p]}: no bar within one spacing after its end {par['end'][p]:g}"
                    for p in np.flatnonzero(~ok))
    S_end = bars.mid[jj]
    d = par["side"] * (par["arrival"] - S_end)
    X = par["size"]
    T = par["end"] - par["start"]
    order = np.argsort(par["start"])
    overlaps = int(np.sum(par["start"][order][1:] < par["end"][order][:-1] - tol))
    diag: dict[str, Any] = {"parents": int(ok.sum()), "skipped": len(skipped), "overlapping_parents": overlaps}
    P = int(ok.sum())
    if P < min_parents:
        est = Estimate.not_identified("permanent_impact", f"{P} parent orders with an end price (need >= {min_parents})",
                                      units, method, confidence)
        return PermanentFit(est, X[ok], d[ok], T[ok], children.parent_ids[ok], skipped, diag)
    Xo, do, To = X[ok], d[ok], T[ok]
    w = 1.0 / To
    sxx = float(np.sum(w * Xo**2))
    gamma = float(np.sum(w * Xo * do) / sxx)
    resid = do - gamma * Xo
    s2 = float(np.sum(w * resid**2) / (P - 1))
    se = math.sqrt(s2 / sxx)
    tq = float(stdtrit(P - 1, 0.5 + confidence / 2))
    diag.update(residual_std_per_sqrt_time=math.sqrt(s2), t_stat=gamma / se if se > 0 else float("inf"))
    est = Estimate("permanent_impact", gamma, se, gamma - tq * se, gamma + tq * se, confidence, units, method)
    return PermanentFit(est, Xo, do, To, children.parent_ids[ok], skipped, diag)
