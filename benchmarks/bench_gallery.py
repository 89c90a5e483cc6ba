"""The README's gallery: result figures regenerated on every run, so they never go stale.

* ``gallery_frontier.png``: AC 2001 efficient frontier and the U-shaped cost-vs-horizon curve
  (closed form).
* ``gallery_impact.png``: optimal schedules for impact exponents 0.5 to 1.5 (qp), with the
  backward induction's answer for the square-root law on top.
* ``gallery_urgency.png``: the HJB urgency ``A(0, s) / eta`` under mean-reverting volatility
  against the frozen-volatility closed form.
* ``gallery_adaptivity.png``: the value of adaptivity under volatility regimes (static qp
  against the dp feedback policy on common random numbers).

Records hold the numbers each figure shows, so the README can quote them from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hjb import HJBSettings, solve_reduced
from solvers import cost_vs_horizon, efficient_frontier, load_example, schedule_cost, solve
from solvers import twap as twap_schedule
from solvers.adaptivity import value_of_adaptivity
from solvers.closed_form import urgency
from solvers.plots import plot_adaptivity, plot_frontier
from solvers.plots.figure import save, subplots


def _frontier(out_dir: Path) -> dict:
    p = load_example("almgren-chriss-2001")
    frontier = efficient_frontier(p, np.geomspace(1e-9, 1e-3, 200))
    curve = cost_vs_horizon(p, range(1, 21))
    r = solve(p, "closed-form")
    plot_frontier(frontier, out_dir / "gallery_frontier.png", curve=curve, marked=r,
                  title="AC 2001: efficient frontier")
    twap = schedule_cost(p, twap_schedule(p))
    return {"case": "frontier (AC 2001)", "figure": "gallery_frontier.png", "E": r.expected_cost, "V": r.variance,
            "twap_E": twap.expected_cost, "twap_V": twap.variance,
            "std_cut_vs_twap": 1.0 - r.std / float(twap.std), "extra_E_vs_twap": r.expected_cost / twap.expected_cost - 1.0,
            "twap_best_horizon": curve.best_horizon}


def _impact(out_dir: Path, quick: bool) -> dict:
    base = load_example("almgren-chriss-2001").replace(slices=10)
    v_twap = base.asset.holdings / base.horizon
    fig, ax = subplots(figsize=(7, 4.2))
    record: dict = {"case": "impact exponents (qp, dp)", "figure": "gallery_impact.png"}
    for beta in (0.5, 0.75, 1.0, 1.5):
        p = base.replace(no_reversal=beta < 1).replace_asset(0, impact_exponent=beta, temporary_impact=2.5e-6 * v_twap ** (1 - beta))
        r = solve(p, "qp")
        ax.plot(r.times, r.holdings / 1e6, "o-", ms=3, label=f"qp, beta = {beta}")
        if beta == 0.5:
            d = solve(p, "dp", x_points=51 if quick else 201)
            ax.plot(d.times, d.holdings / 1e6, "k+", ms=10, label="dp, beta = 0.5")
            record["sqrt_dp_vs_qp_max_holdings_gap"] = float(np.max(np.abs(d.holdings - r.holdings)))
        record[f"first_slice_fraction_beta_{beta}"] = float(r.trades[0] / 1e6)
    ax.set_xlabel("time (days)")
    ax.set_ylabel("fraction of the order held")
    ax.set_title("Concave impact front-loads the sale (same impact at the TWAP rate)")
    ax.legend(fontsize=8)
    save(fig, out_dir / "gallery_impact.png")
    return record


def _urgency(out_dir: Path, quick: bool) -> dict:
    p = load_example("mean-reverting-volatility")
    # quick: the finest grid of bench_accuracy's mean-reverting check, compiled once per process
    settings = HJBSettings(time_steps=320, vol_points=64) if quick else HJBSettings.with_accuracy("medium")
    sol = solve_reduced(p, settings)
    s = sol.states
    keep = s > 0
    frozen = urgency(p, s[keep])
    fig, ax = subplots(figsize=(7, 4.2))
    ax.plot(s[keep], sol.a_start[keep], lw=2, label="mean-reverting volatility (HJB)")
    ax.plot(s[keep], frozen, "--", label="volatility frozen at s (closed form)")
    ax.axvline(p.asset.volatility, color="gray", ls=":", label="sigma_0")
    ax.set_xlabel("volatility s")
    ax.set_ylabel("urgency A(0, s) / eta (1/day)")
    ax.set_title("Mean reversion flattens the urgency: high volatility is expected to fall")
    ax.legend(fontsize=8)
    save(fig, out_dir / "gallery_urgency.png")
    return {"case": "HJB urgency (mean-reverting)", "figure": "gallery_urgency.png",
            "urgency_at_sigma0": sol.value_coefficient, "vol_points": int(s.size)}


def _adaptivity(out_dir: Path, quick: bool) -> dict:
    p = load_example("volatility-regimes")
    report = value_of_adaptivity(p, paths=5_000 if quick else 100_000, seed=0)
    plot_adaptivity(report, out_dir / "gallery_adaptivity.png")
    v = report.value
    lo, hi = v.ci()
    return {"case": "value of adaptivity (regimes)", "figure": "gallery_adaptivity.png", "paths": report.static_sim.paths,
            "value": v.value, "ci_low": lo, "ci_high": hi, "static_objective": report.static_sim.objective.value}


def run(quick: bool, out_dir: Path) -> dict:
    records = [_frontier(out_dir), _impact(out_dir, quick), _urgency(out_dir, quick), _adaptivity(out_dir, quick)]
    return {"suite": "gallery", "records": records, "plots": [r["figure"] for r in records],
            "notes": ["Result figures for the README; the numbers in each record are what the figure shows."]}
