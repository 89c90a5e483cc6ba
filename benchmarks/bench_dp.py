"""Backward induction (method ``dp``): speed of the JAX ``lax.scan`` against a plain numpy loop of
the same recursion (the same :mod:`hjb.dp.stage` code, driven by a Python ``for`` over slices) in
this process, as N, the x grid and the number of volatility states grow; compile time apart;
the exact linear recursion against the closed form; the whole ``solve`` at N = 1,000 and 10,000 in
the same run (``n10000_over_n1000``); and accuracy against ``qp`` as the x grid refines
(square-root impact with a per-slice cap).

Speed figures are ratios measured in the same run (``numpy_over_jax``), never promises. The JAX
scan runs a padded length (next power of two up to 256, then multiples of 256) so that nearby
N share a compiled program; ``scan_length`` says how many steps ran.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hjb.dp import solve
from hjb.dp.grid import scan_length
from solvers import MeanRevertingVolatility, closed_form, load_example
from solvers.methods import solve as solve_method

from .common import best_time


def _problem(slices: int, states: int):
    base = load_example("square-root-impact").replace(slices=slices, no_reversal=True)
    if states > 1:
        model = MeanRevertingVolatility(reversion=2.0, mean=0.95, vol_of_vol=0.5, elasticity=1.0)
        base = base.replace(volatility_model=model)
    return base


def _speed_record(slices: int, points: int, states: int, numpy_too: bool) -> dict:
    problem = _problem(slices, states)
    opts = {"x_points": points, **({"vol_states": states} if states > 1 else {})}
    first = solve(problem, **opts)
    compile_s = first.diagnostics["compile_seconds"]

    def jax_run():
        return solve(problem, **opts).diagnostics["run_seconds"]

    t_jax = min(jax_run() for _ in range(3))
    rec = {
        "case": f"N={slices} M={points} S={first.diagnostics['vol_states']}",
        "N": slices, "x_points": points, "vol_states": first.diagnostics["vol_states"],
        "scan_length": scan_length(slices - 1), "jax_run_ms": 1e3 * t_jax, "jax_compile_s": compile_s,
        "nodes_x_slices_per_us": slices * points * first.diagnostics["vol_states"] / (1e6 * t_jax),
    }
    if numpy_too:
        npy = solve(problem, **opts, engine="numpy")
        rec["numpy_loop_ms"] = 1e3 * npy.diagnostics["run_seconds"]
        rec["numpy_over_jax"] = npy.diagnostics["run_seconds"] / t_jax
        rec["max_table_diff"] = float(np.max(np.abs(npy.policy.tables - first.policy.tables)))
    return rec


def _exact_records(sizes) -> list[dict]:
    out = []
    base = load_example("almgren-chriss-2001")
    for n in sizes:
        p = base.replace(slices=n)
        t_dp = best_time(lambda: solve(p), repeat=3)["best"]
        t_cf = best_time(lambda: closed_form.solve(p), repeat=3)["best"]
        err = float(np.max(np.abs(solve(p).holdings - closed_form.solve(p).holdings)) / 1e6)
        out.append({"case": f"exact linear N={n}", "N": n, "dp_exact_ms": 1e3 * t_dp, "closed_form_ms": 1e3 * t_cf,
                    "dp_over_closed_form": t_dp / t_cf, "max_error_vs_closed_form": err})
    return out


def _accuracy_records(points_list) -> tuple[list[dict], str]:
    problem = load_example("square-root-impact").replace_asset(0, max_slice_trade=1.3e5)
    truth = solve_method(problem, "qp")
    out, errors = [], []
    for m in points_list:
        r = solve(problem, x_points=m, engine="numpy")
        err = float(np.max(np.abs(r.holdings - truth.holdings)) / 1e6)
        errors.append(err)
        out.append({"case": f"sqrt impact + cap, M={m}", "x_points": m, "max_holdings_error_vs_qp": err,
                    "value_rel_error_vs_qp": float(r.diagnostics["value_function_objective"] / truth.objective - 1),
                    "path_objective_rel_error_vs_qp": float(r.objective / truth.objective - 1)})
    h = 1.0 / (np.asarray(points_list) - 1.0)
    order = float(np.polyfit(np.log(h), np.log(errors), 1)[0])
    return out, f"fitted order of the holdings error in the x spacing (sqrt impact + cap, vs qp): {order:.2f}"


def _scaling_records(sizes=(1000, 10000)) -> tuple[list[dict], str]:
    """Wall time of the whole ``solve`` (backward scan, frozen path, pricing; warm: best of 2 after a
    compiling call) on the square-root example (grid recursion) for each N, and the ratio."""
    out = []
    for n in sizes:
        problem = _problem(n, 1)
        first = solve(problem)
        wall = best_time(lambda: solve(problem), repeat=2)["best"]
        out.append({"case": f"solve N={n}", "N": n, "solve_s": wall, "first_call_s": first.solve_seconds,
                    "jax_compile_s": first.diagnostics["compile_seconds"]})
    ratio = out[-1]["solve_s"] / out[0]["solve_s"]
    out[-1][f"n{sizes[-1]}_over_n{sizes[0]}"] = ratio
    return out, f"whole solve, N = {sizes[-1]} over N = {sizes[0]} (square-root impact, warm): {ratio:.3g}"


def run(quick: bool, out_dir: Path) -> dict:
    records: list[dict] = []
    notes = [
        "jax_run_ms: the compiled lax.scan alone (best of 3, after block_until_ready); jax_compile_s apart.",
        "numpy_loop_ms: the same recursion (hjb.dp.stage) in a Python loop over slices with numpy arrays.",
        "Square-root impact, so every case uses the grid recursion; S > 1 is the mean-reverting chain.",
    ]
    if quick:
        grid = [(10, 51, 1), (14, 51, 1), (10, 51, 5)]
        exact_sizes = [50, 2000]
        acc_points = [25, 49, 97]
    else:
        grid = [(20, 201, 1), (100, 201, 1), (500, 201, 1),     # time against N
                (100, 51, 1), (100, 801, 1),                      # against the x grid
                (100, 201, 5), (100, 201, 15), (100, 201, 31)]    # against volatility states
        exact_sizes = [50, 2000, 20000]
        acc_points = [25, 49, 97, 193, 385]
    for n, m, s in grid:
        numpy_too = n * m * s <= 2.5e5
        records.append(_speed_record(n, m, s, numpy_too))
    records += _exact_records(exact_sizes)
    scaling, note = _scaling_records((100, 120) if quick else (1000, 10000))  # quick: one compiled program
    records += scaling
    notes.append(note)
    acc, note = _accuracy_records(acc_points)
    records += acc
    notes.append(note)
    return {"suite": "dp", "records": records, "plots": [], "notes": notes}
