"""Accuracy: each discretization's error against an independent truth, with fitted orders.

Cases (each a record with the sizes, the errors, the fitted order and the truth used):

* discrete AC closed form -> continuous closed form, against ``tau`` (expected order 1);
* reduced HJB, constant volatility, RK4 in time, against the continuous closed form (order 4);
* reduced HJB, mean-reverting volatility, time steps and volatility grid refined together
  (Richardson in time on, the default), against extrapolation of the two finest grids (order 2);
* full HJB, square-root impact, time steps and holdings grid refined together (Richardson on),
  against extrapolation of the two finest grids (order 2);
* backward induction on the holdings grid, square-root impact with a cap, against the
  certified ``qp`` answer (KKT residual <= 1e-9).

The figure ``convergence.png`` plots every error against its step on log-log axes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from solvers import load_example, solve
from solvers.plots.figure import save, subplots


def _order(steps, errors) -> float:
    steps, errors = np.asarray(steps, float), np.asarray(errors, float)
    keep = errors > 0
    return float(np.polyfit(np.log(steps[keep]), np.log(errors[keep]), 1)[0])


def _record(case, truth, step_name, steps, errors, expected):
    return {"case": case, "truth": truth, "step": step_name, "steps": [float(s) for s in steps],
            "errors": [float(e) for e in errors], "fitted_order": _order(steps, errors), "expected_order": expected}


def _closed_form_tau(quick):
    p = load_example("almgren-chriss-2001")
    cont = solve(p, "closed-form", time_model="continuous").objective
    ns = [10, 20, 40, 80] if quick else [10, 20, 40, 80, 160, 320]
    taus = [p.horizon / n for n in ns]
    errors = [abs(solve(p.replace(slices=n), "closed-form").objective - cont) / cont for n in ns]
    return _record("discrete closed form -> continuous", "continuous closed form", "tau", taus, errors, 1.0)


def _hjb_constant(quick):
    p = load_example("almgren-chriss-2001")
    cont = solve(p, "closed-form", time_model="continuous").objective
    steps = [10, 20, 40] if quick else [10, 20, 40, 80]
    errors = [abs(solve(p, "hjb", time_steps=n).objective - cont) / cont for n in steps]
    return _record("reduced HJB, constant volatility (RK4 in 1/A)", "continuous closed form", "dt",
                   [p.horizon / n for n in steps], errors, 4.0)


def _richardson(values, ratio=2.0, order=1.0):
    """Extrapolate the two finest values of a first-order sequence refined by ``ratio``."""
    return values[-1] + (values[-1] - values[-2]) / (ratio**order - 1.0)


def _hjb_self_convergence(example: str, second_grid: str, levels, case: str):
    """Refine time steps and a second grid together by 2x; errors against extrapolation of the
    two finest values (the default, Richardson-extrapolated schemes: order 2, ``INFO.accuracy``)."""
    p = load_example(example)
    # throw=False: the coarse grids of a convergence study may miss hjb's declared accuracy (it says
    # so in its status); their values are exactly what the fitted order is measured on
    values = [solve(p, "hjb", time_steps=t, throw=False, **{second_grid: g}).objective for t, g in levels]
    truth = _richardson(values, order=2.0)
    errors = [abs(v - truth) / truth for v in values[:-1]]
    return _record(case, "extrapolation of the two finest grids (order 2)", "dt",
                   [p.horizon / t for t, _ in levels[:-1]], errors, 2.0)


def _hjb_mean_reverting(quick):
    levels = [(80, 17), (160, 33), (320, 65)] if quick else [(100, 17), (200, 33), (400, 65), (800, 129), (1600, 257)]
    return _hjb_self_convergence("mean-reverting-volatility", "vol_points", levels,
                                 "reduced HJB, mean-reverting volatility (dt and ds halved together)")


def _hjb_full(quick):
    # dt / dx <= 2 is the scheme's stability bound (hjb/full.py): steps >= 2.5 (points - 1) at T = 5;
    # odd points: the Richardson companion grid (every other point) is nested
    levels = [(80, 33), (160, 65), (320, 129)] if quick else [(80, 33), (160, 65), (320, 129), (640, 257)]
    return _hjb_self_convergence("square-root-impact", "holdings_points", levels,
                                 "full HJB, square-root impact (dt and dx halved together)")


def _dp_grid(quick):
    p = load_example("square-root-impact").replace_asset(0, max_slice_trade=1.5e5)
    ref = solve(p, "qp")
    points = [26, 51, 101] if quick else [26, 51, 101, 201, 401]
    x = abs(p.asset.holdings)
    # the numpy engine runs the same recursion as the JAX scan (bench_dp compares their tables)
    # without a compile per grid size
    errors = [float(np.max(np.abs(solve(p, "dp", x_points=m, engine="numpy").holdings - ref.holdings))) / x
              for m in points]
    return _record("backward induction, square-root impact with a cap (holdings grid)",
                   f"qp (KKT residual {ref.diagnostics['kkt_residual']:.1e})", "dx / X",
                   [1.0 / (m - 1) for m in points], errors, None)


def run(quick: bool, out_dir: Path) -> dict:
    records = [f(quick) for f in (_closed_form_tau, _hjb_constant, _hjb_mean_reverting, _hjb_full, _dp_grid)]
    fig, ax = subplots(figsize=(8, 5.5))
    for i, r in enumerate(records):
        steps = np.asarray(r["steps"])
        steps = steps / steps.max()
        ax.loglog(steps, r["errors"], "o-", color=f"C{i}", label=f"{r['case']}: order {r['fitted_order']:.2f}")
    ax.set_xlabel("step, relative to the coarsest")
    ax.set_ylabel("relative error against the truth")
    ax.set_title("Convergence of every discretization against an independent truth")
    ax.legend(fontsize=7, loc="lower right")
    path = save(fig, out_dir / "convergence.png")
    notes = ["fitted_order: slope of log(error) against log(step) over all sizes; expected_order: the scheme's order.",
             "dp's order has no stated expectation: cubic Hermite continuation values on a graded grid."]
    return {"suite": "accuracy", "records": records, "plots": [path.name], "notes": notes}
