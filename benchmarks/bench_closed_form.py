"""Closed form: accuracy against a banded KKT solve, speed against SLSQP and a loop.

Records, per N: the closed form's max holdings error against an independent tridiagonal KKT
solve (relative to |X|), its time, the KKT solve's time, and what
``scipy.optimize.minimize(method="SLSQP")`` achieves on the same objective (relative error
and time), all in this process. The frontier record compares one vectorized call over many
``lambda`` with a Python loop of single solves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.linalg import solve_banded
from scipy.optimize import minimize

from solvers import closed_form, efficient_frontier, load_example, schedule_cost

from .common import best_time, timed


def _kkt(p):
    n, tau, et, lam, s2 = p.slices, p.tau, p.eta_tilde, p.risk_aversion, p.asset.volatility**2
    ab = np.zeros((3, n - 1))
    ab[0, 1:] = -et / tau
    ab[1] = 2 * et / tau + lam * tau * s2
    ab[2, :-1] = -et / tau
    rhs = np.zeros(n - 1)
    rhs[0] = et / tau * p.asset.holdings
    return np.concatenate([[p.asset.holdings], solve_banded((1, 1), ab, rhs), [0.0]])


def _slsqp(p):
    """SLSQP on E + lambda V over the interior holdings (shares), as a user would call it."""
    x0 = np.linspace(p.asset.holdings, 0, p.slices + 1)[1:-1]

    def objective(inner):
        return float(schedule_cost(p, np.concatenate([[p.asset.holdings], inner, [0.0]])).objective)

    res = minimize(objective, x0, method="SLSQP", options={"maxiter": 500})
    return np.concatenate([[p.asset.holdings], res.x, [0.0]]), res


def run(quick: bool, out_dir: Path) -> dict:
    base = load_example("almgren-chriss-2001")
    sizes = [5, 10, 50, 390] if quick else [5, 50, 390, 2000, 10000]
    slsqp_sizes = {10} if quick else {50, 390}  # finite-difference SLSQP: seconds at N = 10, minutes at 390
    records = []
    for n in sizes:
        p = base.replace(slices=n)
        x = closed_form.optimal_holdings(p)
        ref = _kkt(p) if n > 1 else x
        t_cf = best_time(lambda: closed_form.optimal_holdings(p), repeat=5, number=3)["best"]
        t_solve = best_time(lambda: closed_form.solve(p), repeat=5, number=3)["best"]
        t_kkt = best_time(lambda: _kkt(p), repeat=5, number=3)["best"]
        rec = {
            "case": f"single asset N={n}",
            "max_error_vs_kkt": float(np.max(np.abs(x - ref)) / abs(p.asset.holdings)),
            "closed_form_ms": 1e3 * t_cf,
            "full_solve_ms": 1e3 * t_solve,
            "banded_kkt_ms": 1e3 * t_kkt,
            "kkt_over_closed_form": t_kkt / t_cf,
        }
        if n in slsqp_sizes:
            t0, (xs, res) = timed(lambda: _slsqp(p))
            obj = schedule_cost(p, x).objective
            rec["slsqp_ms"] = 1e3 * t0
            rec["slsqp_over_closed_form"] = t0 / t_cf
            rec["slsqp_rel_error_holdings"] = float(np.max(np.abs(xs - x)) / abs(p.asset.holdings))
            rec["slsqp_rel_error_objective"] = float((schedule_cost(p, xs).objective - obj) / obj)
            rec["slsqp_success"] = bool(res.success)
        records.append(rec)

    lams = np.geomspace(1e-8, 1e-4, 200 if not quick else 50)
    p = base.replace(slices=390)
    t_vec = best_time(lambda: efficient_frontier(p, lams), repeat=3)["best"]
    t_loop = best_time(lambda: [closed_form.solve(p.replace(risk_aversion=float(l))) for l in lams], repeat=1)["best"]
    records.append({
        "case": f"frontier, {len(lams)} lambdas, N=390",
        "vectorized_ms": 1e3 * t_vec,
        "loop_ms": 1e3 * t_loop,
        "loop_over_vectorized": t_loop / t_vec,
    })
    basket = load_example("two-asset-basket")
    t_b = best_time(lambda: closed_form.solve(basket), repeat=5, number=3)["best"]
    records.append({"case": "two-asset basket N=10 (eigen closed form)", "closed_form_ms": 1e3 * t_b})
    return {
        "suite": "closed_form",
        "records": records,
        "plots": [],
        "notes": [
            "max_error_vs_kkt: max |x_closed_form - x_kkt| / |X|; the KKT reference is a banded LU solve of the stationarity conditions.",
            "closed_form_ms: the trajectory alone; full_solve_ms adds costing and the Result record.",
            "SLSQP: scipy.optimize.minimize on the same objective in share units from the TWAP start, default tolerances.",
        ],
    }
