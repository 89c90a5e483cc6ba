"""The ``qp`` method: compile time, first solve, DPP re-solve, structured path, accuracy and
the ratio to the closed form (run in the same process), plus what
``scipy.optimize.minimize(method="SLSQP")`` achieves on the same problem.

Cases: the AC 2001 order (linear impact) at N = 390 and 2000 (10,000 in the full run), a
50-asset basket at N = 390 with a dense correlation and with a 5-factor model, the
square-root law with permanent impact (convex-concave iteration), and the power law and a
capped order at N = 2000 (10,000 and 100,000 in the full run) with peak memory. Accuracy is measured
against the closed form (holdings relative to |X|, objective relative); ``kkt`` is the
independent KKT residual of the unscaled problem. Times are best-of-``repeat`` wall seconds;
ratios are against the closed form measured in this run.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from solvers import closed_form, load_example, schedule_cost
from solvers.methods import solve as solve_method
from solvers.plots.figure import save, subplots
from solvers.qp import clear_cache
from solvers.qp import solve as solve_qp
from solvers.spec import Asset, ExecutionProblem

from .common import best_time, timed

__all__ = ["run"]


def _rel(a, b, problem) -> float:
    x = np.abs(problem.initial_holdings)
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)).reshape(problem.slices + 1, -1) / x))


def _basket(m: int, slices: int, factors: int | None, seed: int = 11) -> ExecutionProblem:
    rng = np.random.default_rng(seed)
    kw: dict = {}
    if factors:
        b = rng.normal(scale=0.4, size=(m, factors))
        s = rng.uniform(0.2, 0.8, m)
        vol = np.sqrt((b**2).sum(1) + s**2)
        kw = {"factor_loadings": b.tolist(), "specific_volatility": s.tolist()}
    else:
        a = rng.normal(size=(m, m + 3))
        cov = a @ a.T / (m + 3)
        vol = np.sqrt(np.diag(cov))
        corr = cov / np.outer(vol, vol)
        corr = 0.5 * (corr + corr.T)
        np.fill_diagonal(corr, 1.0)
        vol = rng.uniform(0.3, 1.5, m)
        kw = {"correlation": corr.tolist()}
    assets = tuple(
        Asset(name=f"A{i}", holdings=float(rng.uniform(1e5, 1e6) * rng.choice([-1, 1])), price=float(rng.uniform(10, 100)),
              volatility=float(vol[i]), permanent_impact=float(rng.uniform(0, 2e-7)),
              temporary_impact=float(rng.uniform(1e-6, 5e-6)))
        for i in range(m))
    return ExecutionProblem(horizon=5.0, slices=slices, risk_aversion=1e-6, assets=assets, **kw)


def _case(label: str, problem: ExecutionProblem, repeat: int, solvers=("CLARABEL", "PIQP")) -> list[dict]:
    cf_time = best_time(lambda: closed_form.solve(problem), repeat=repeat)["best"]
    records = []
    other = problem.replace(risk_aversion=problem.risk_aversion * 2.0)
    ref_other = closed_form.solve(other)
    for solver in solvers:
        clear_cache()
        start = time.perf_counter()
        first = solve_qp(problem, path="cvxpy", backend=solver)
        first_wall = time.perf_counter() - start
        d = first.diagnostics
        raw = solve_qp(other, path="cvxpy", backend=solver, polish=False, tolerance=1e-8)
        resolve, res = timed(lambda: solve_qp(other, path="cvxpy", backend=solver), repeat=repeat)
        records.append({
            "case": label, "path": "cvxpy", "solver": solver, "N": problem.slices, "m": problem.n_assets,
            "compile_s": d["build_seconds"] + d["compile_seconds"], "first_solve_s": first_wall,
            "dpp_resolve_s": resolve, "resolve_cvxpy_s": res.diagnostics["cvxpy_seconds"],
            "resolve_solver_s": res.diagnostics["solver_seconds"], "iterations": res.diagnostics["iterations"],
            "err_raw": _rel(raw.holdings, ref_other.holdings, other),
            "err_polished": _rel(res.holdings, ref_other.holdings, other),
            "obj_err": abs(res.objective / ref_other.objective - 1), "kkt": res.diagnostics["kkt_residual"],
            "kkt_raw": raw.diagnostics["kkt_residual"], "closed_form_s": cf_time, "ratio_to_closed_form": resolve / cf_time,
        })
    structured, res = timed(lambda: solve_qp(other, path="structured"), repeat=repeat)
    records.append({
        "case": label, "path": "structured", "solver": res.diagnostics["solver"], "N": problem.slices,
        "m": problem.n_assets, "compile_s": 0.0, "first_solve_s": structured, "dpp_resolve_s": structured,
        "err_polished": _rel(res.holdings, ref_other.holdings, other),
        "obj_err": abs(res.objective / ref_other.objective - 1), "kkt": res.diagnostics["kkt_residual"],
        "closed_form_s": cf_time, "ratio_to_closed_form": structured / cf_time,
    })
    return records


def _slsqp(problem: ExecutionProblem) -> dict:
    """SLSQP in raw share units, default options, objective from costs.py and its exact
    gradient (what a user tries first; finite-difference gradients only make it slower)."""
    a = problem.asset
    x_big, n, tau = a.holdings, problem.slices, problem.tau
    s2 = problem.slice_variance()

    def full(inner):
        return np.concatenate([[x_big], inner, [0.0]])

    def f(inner):
        return float(schedule_cost(problem, full(inner), check_endpoints=False).objective)

    def jac(inner):
        x = full(inner)
        trades = x[:-1] - x[1:]
        g = 2 * a.temporary_impact * trades / tau - a.permanent_impact * trades + a.spread * np.sign(trades)
        return g[1:] - g[:-1] + 2 * problem.risk_aversion * tau * s2[:-1] * inner

    start = time.perf_counter()
    out = minimize(f, np.linspace(x_big, 0.0, n + 1)[1:-1], jac=jac, method="SLSQP")
    wall = time.perf_counter() - start
    ref = closed_form.solve(problem)
    hold = np.concatenate([[x_big], out.x, [0.0]])
    return {"case": "AC linear", "path": "scipy SLSQP", "solver": "SLSQP", "N": n, "m": 1, "first_solve_s": wall,
            "err_polished": _rel(hold, ref.holdings, problem), "obj_err": abs(out.fun / ref.objective - 1),
            "slsqp_success": bool(out.success), "iterations": int(out.nit)}


def _power_law(slices: int, repeat: int) -> dict:
    # no_reversal: with beta < 1 and gamma > lambda tau sigma^2 (N >= 20 here) round trips would make
    # the objective unbounded below, which qp rightly refuses (see solvers/qp/convex_concave.py)
    problem = load_example("square-root-impact").replace(slices=slices, no_reversal=True).replace_asset(0, spread=0.0)
    solve_qp(problem)
    wall, res = timed(lambda: solve_qp(problem), repeat=repeat)
    d = res.diagnostics
    return {"case": "sqrt law + permanent", "path": d["path"], "solver": d["solver"], "N": slices, "m": 1,
            "dpp_resolve_s": wall, "iterations": d["iterations"], "convex_concave_iterations": d["convex_concave_iterations"],
            "kkt_raw": d["kkt_residual_solver"], "kkt": d["kkt_residual"], "global_optimum": d["global_optimum"]}


def _large(slices: int) -> list[dict]:
    """Power law (square-root example, no-reversal) and a capped linear order at ``slices``: wall
    time and peak traced memory (tracemalloc, a separate run from the timed one), with the ratio
    to the unconstrained linear structured solve at the same N measured in this run."""
    cases = {
        "sqrt law + permanent (large N)": load_example("square-root-impact").replace(slices=slices, no_reversal=True),
        "AC linear capped (large N)": load_example("almgren-chriss-2001").replace(slices=slices).replace_asset(
            0, max_slice_trade=1.5e6 / slices),
        "AC linear structured (large N)": load_example("almgren-chriss-2001").replace(slices=slices),
    }
    out = []
    solve_method(load_example("square-root-impact").replace(slices=20, no_reversal=True), "qp")  # warm-up: lazy imports
    for label, problem in cases.items():
        start = time.perf_counter()
        res = solve_method(problem, "qp")
        wall = time.perf_counter() - start
        tracemalloc.start()
        solve_method(problem, "qp")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        d = res.diagnostics
        out.append({"case": label, "path": d["path"], "solver": d["solver"], "N": slices, "m": 1, "first_solve_s": wall,
                    "peak_mb": peak / 1024**2, "iterations": d.get("iterations"), "kkt": d["kkt_residual"],
                    "status": res.status})
    base = out[-1]
    for rec in out:
        rec["ratio_to_structured"] = rec["first_solve_s"] / base["first_solve_s"]
        rec["memory_ratio_to_structured"] = rec["peak_mb"] / max(base["peak_mb"], 1e-9)
    return out


def run(quick: bool, out_dir: Path) -> dict:
    repeat = 2 if quick else 5
    ac = load_example("almgren-chriss-2001")
    records: list[dict] = []
    for n in ((390,) if quick else (390, 2000, 10000)):
        records += _case("AC linear", ac.replace(slices=n), repeat)
    m, n = (10, 100) if quick else (50, 390)
    records += _case("basket dense corr", _basket(m, n, None), repeat)
    records += _case("basket 5 factors", _basket(m, n, 5), repeat)
    for n in ((50,) if quick else (50, 390)):
        records.append(_slsqp(ac.replace(slices=n)))
    records.append(_power_law(100 if quick else 390, repeat))
    for n in ((2000,) if quick else (2000, 10_000, 100_000)):
        records += _large(n)
    lin = [r for r in records if r["case"] == "AC linear" and r["N"] == 390 and r["path"] == "cvxpy" and r["solver"] == "CLARABEL"]
    notes = [
        "dpp_resolve_s is the whole qp pipeline (parameter update, solver, Newton polish, independent KKT residual, "
        "costing); resolve_cvxpy_s is the CVXPY call alone; err_raw is the solver's own answer (no polish).",
        "Targets: linear N = 390 re-solve within 5 ms; 50-asset basket N = 390 within 1 s; power law and caps "
        "at N = 10,000 within 5 s and 1 GB (interior path; peak_mb from tracemalloc).",
    ]
    if lin:
        notes.append(f"linear N = 390: CVXPY re-solve {lin[0]['resolve_cvxpy_s'] * 1e3:.1f} ms, whole pipeline "
                     f"{lin[0]['dpp_resolve_s'] * 1e3:.1f} ms, closed form {lin[0]['closed_form_s'] * 1e3:.2f} ms.")
    return {"suite": "qp", "records": records, "plots": [_scaling_plot(records, out_dir)], "notes": notes}


def _scaling_plot(records: list[dict], out_dir: Path) -> str:
    """Re-solve time against N for the linear AC problem: each CVXPY back end, the structured
    banded path and the closed form, from this run's records."""
    lin = [r for r in records if r["case"] == "AC linear" and "dpp_resolve_s" in r]
    fig, ax = subplots(figsize=(7, 4.5))
    for label in sorted({f"{r['path']} {r['solver']}" for r in lin}):
        rows = sorted((r for r in lin if f"{r['path']} {r['solver']}" == label), key=lambda r: r["N"])
        ax.loglog([r["N"] for r in rows], [r["dpp_resolve_s"] for r in rows], "o-", label=f"qp: {label}")
    rows = sorted({r["N"]: r["closed_form_s"] for r in lin}.items())
    ax.loglog([n for n, _ in rows], [t for _, t in rows], "k--", label="closed form")
    ax.set_xlabel("slices N")
    ax.set_ylabel("re-solve time (s), best of repeats")
    ax.set_title("Linear AC problem: qp back ends against the closed form")
    ax.legend(fontsize=8)
    return save(fig, out_dir / "qp_scaling.png").name
