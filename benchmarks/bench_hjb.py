"""HJB finite differences: jitted JAX against a numpy implementation of the same scheme on
the same grid, in this process; plus accuracy against independent truths.

Records:

* ``reduced``: the mean-reverting reduced HJB (``V = x^2 A(t, s)``), 128 volatility points x
  2000 steps (quick: 32 x 200): JAX (``lax.scan``, one tridiagonal solve per step) against
  numpy/scipy (``solve_banded`` per step); compile time apart; the two answers' difference.
* ``full``: the full HJB with square-root impact under mean-reverting volatility,
  256 holdings x 64 volatility points x 1000 steps (quick: 64 x 16 x 200): JAX against the
  same semi-Lagrangian + implicit-s scheme vectorised in numpy; ``jax_s_solve`` says how the
  JAX s-step was applied (``hjb.pde.s_step.default_s_solve``) and ``jax_inverse_ms`` times the JAX
  kernel with the dense ``(I - dt L_s)^-1`` product instead (the numpy baseline's s-step).
* ``sweep``: a vol-of-vol sweep in one ``vmap``-ed call against a Python loop of single
  compiled solves.
* ``accuracy``: the AC 2001 continuous value (closed form 1,696,984.9) by the reduced and the
  full HJB, and the frozen path's objective against the value for square-root impact.
* ``presets``: each accuracy preset's objective and ``E + lambda V`` against the independent
  references of :mod:`benchmarks.hjb_references` (quick: regimes at ``default`` only).

Speed is reported as ratios against the baseline run in the same process (best of a few runs;
the machine is shared), never asserted.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hjb.jax_runtime import compiled
from hjb.pde import HJBSettings, solve
from hjb.pde.full import full_hjb_arrays
from hjb.pde.reduced import reduced_kernel, riccati_source, solve_mean_reverting_batch, volatility_grid
from hjb.pde.reference import full_hjb_numpy, reduced_pde_numpy
from hjb.pde.s_step import default_s_solve
from solvers import closed_form, load_example
from solvers.volatility import MeanRevertingVolatility

from .common import best_time, timed
from .hjb_references import almgren_2003, mean_reverting_reference, regime_reference


def _cpu_time(fn, repeat: int) -> float:
    """Best process CPU time of ``fn`` (all threads): robust to other jobs on a shared machine."""
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        samples.append(time.process_time() - start)
    return min(samples)


def _mean_reverting(beta: float = 1.0):
    base = load_example("mean-reverting-volatility")
    if beta == 1.0:
        return base
    return base.replace_asset(impact_exponent=beta, temporary_impact=1.118033988749895e-3)


def _reduced_record(quick: bool) -> dict:
    problem = _mean_reverting()
    ns, n_t = (32, 200) if quick else (128, 2000)
    settings = HJBSettings(time_steps=n_t, vol_points=ns)
    grid = volatility_grid(problem, settings)
    a = problem.asset
    c = riccati_source(problem, grid.s)
    h = problem.horizon / n_t
    per_slice = n_t // problem.slices
    args = (c, grid.lower, grid.diagonal, grid.upper, h, grid.start_index)
    static = {"n_slices": problem.slices, "per_slice": per_slice, "explicit": False}
    out, compile_s, _ = compiled(reduced_kernel, *args, **static)
    jax_s = best_time(lambda: compiled(reduced_kernel, *args, **static), repeat=5)["best"]
    numpy_s = best_time(lambda: reduced_pde_numpy(c, grid.lower, grid.diagonal, grid.upper, h, n_t),
                        repeat=2 if not quick else 3)["best"]
    d_np = reduced_pde_numpy(c, grid.lower, grid.diagonal, grid.upper, h, n_t)
    d_jax = np.asarray(out[0])
    jax_cpu = _cpu_time(lambda: compiled(reduced_kernel, *args, **static), 5)
    numpy_cpu = _cpu_time(lambda: reduced_pde_numpy(c, grid.lower, grid.diagonal, grid.upper, h, n_t), 2)
    return {
        "case": f"reduced HJB, mean-reverting, {ns} vol x {n_t} steps",
        "jax_ms": 1e3 * jax_s, "numpy_ms": 1e3 * numpy_s, "numpy_over_jax": numpy_s / jax_s,
        "jax_cpu_ms": 1e3 * jax_cpu, "numpy_cpu_ms": 1e3 * numpy_cpu, "numpy_over_jax_cpu_time": numpy_cpu / jax_cpu,
        "jax_compile_s": compile_s,
        "max_rel_difference": float(np.max(np.abs(d_jax - d_np) / np.maximum(np.abs(d_np), 1e-300))),
    }


def _full_record(quick: bool) -> dict:
    problem = _mean_reverting(0.5)
    ny, ns, n_t = (64, 16, 200) if quick else (256, 64, 1000)
    settings = HJBSettings(time_steps=n_t, vol_points=ns, holdings_points=ny)
    grid = volatility_grid(problem, settings)
    a = problem.asset
    c = riccati_source(problem, grid.s)
    h = problem.horizon / n_t
    kw = {"beta": 0.5, "ny": ny, "n_slices": problem.slices, "per_slice": n_t // problem.slices,
          "j0": grid.start_index}
    w, _, _, compile_s, _ = full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **kw)
    jax_s = best_time(lambda: full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **kw), repeat=5)["best"]
    jax_cpu = _cpu_time(lambda: full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **kw), 3)
    s_solve = default_s_solve(ns)
    inverse_kw = {**kw, "s_solve": "inverse"}  # the dense (I - dt L_s)^-1 product, for comparison
    w_inverse = full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **inverse_kw)[0]
    jax_inverse_s = best_time(lambda: full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **inverse_kw),
                              repeat=3)["best"]
    start, cpu_start = time.perf_counter(), time.process_time()
    w_np = full_hjb_numpy(c, grid.lower, grid.diagonal, grid.upper, h, beta=0.5, ny=ny, n_steps=n_t)
    numpy_s = time.perf_counter() - start
    numpy_cpu = time.process_time() - cpu_start
    if quick:
        numpy_s = min(numpy_s, best_time(lambda: full_hjb_numpy(c, grid.lower, grid.diagonal, grid.upper, h,
                                                                 beta=0.5, ny=ny, n_steps=n_t), repeat=2)["best"])
    w = np.asarray(w)
    return {
        "case": f"full HJB, sqrt impact, mean-reverting, {ny} x {ns} x {n_t} steps",
        "jax_ms": 1e3 * jax_s, "numpy_ms": 1e3 * numpy_s, "numpy_over_jax": numpy_s / jax_s,
        "jax_cpu_ms": 1e3 * jax_cpu, "numpy_cpu_ms": 1e3 * numpy_cpu, "numpy_over_jax_cpu_time": numpy_cpu / jax_cpu,
        "jax_compile_s": compile_s,
        "max_abs_difference_scaled": float(np.max(np.abs(w - w_np))),
        "jax_s_solve": s_solve, "jax_inverse_ms": 1e3 * jax_inverse_s,
        "max_abs_difference_scaled_inverse": float(np.max(np.abs(np.asarray(w_inverse) - w_np))),
    }


def _sweep_record(quick: bool) -> dict:
    problem = _mean_reverting()
    xis = np.linspace(0.05, 0.8, 4 if quick else 16)
    settings = HJBSettings(time_steps=200 if quick else 1000, vol_points=32 if quick else 128)
    batch = solve_mean_reverting_batch(problem, xis, settings)
    batch_s = best_time(lambda: solve_mean_reverting_batch(problem, xis, settings), repeat=3)["best"]

    def loop():
        for xi in xis:
            model = MeanRevertingVolatility(2.0, 0.95, float(xi), 1.0)
            solve_mean_reverting_batch(problem.replace(volatility_model=model), [xi], settings)

    loop()  # compiles the batch-of-one kernel: the loop is timed warm, like the vmap call
    loop_s = best_time(loop, repeat=2)["best"]
    return {
        "case": f"vol-of-vol sweep, {xis.size} values, vmap vs loop",
        "vmap_ms": 1e3 * batch_s, "loop_ms": 1e3 * loop_s, "loop_over_vmap": loop_s / batch_s,
        "vmap_compile_s": batch["compile_seconds"],
        "value_min": float(batch["value_coefficient"].min()), "value_max": float(batch["value_coefficient"].max()),
    }


def _accuracy_records(quick: bool) -> list[dict]:
    ac = load_example("almgren-chriss-2001")
    exact = closed_form.solve(ac, time_model="continuous").objective
    out = []
    reduced = solve(ac)
    out.append({"case": "AC 2001 continuous, reduced HJB (RK4, 2000 steps)", "objective": reduced.objective,
                "closed_form": exact, "rel_error": abs(reduced.objective / exact - 1),
                "solve_ms": 1e3 * reduced.solve_seconds})
    grid = (250, 64) if quick else (1000, 256)
    full = solve(ac, form="full", time_steps=grid[0], holdings_points=grid[1])
    out.append({"case": f"AC 2001 continuous, full HJB beta=1 ({grid[0]} steps x {grid[1]} x)",
                "objective": full.objective, "closed_form": exact, "rel_error": abs(full.objective / exact - 1),
                "solve_ms": 1e3 * full.solve_seconds})
    sq = load_example("square-root-impact")
    res = solve(sq, time_steps=grid[0], holdings_points=grid[1])
    out.append({"case": f"square-root impact, full HJB ({grid[0]} x {grid[1]}): value vs frozen-path objective",
                "objective": res.objective, "frozen_path_objective": res.diagnostics["frozen_path_objective"],
                "rel_gap": res.objective / res.diagnostics["frozen_path_objective"] - 1,
                "solve_ms": 1e3 * res.solve_seconds})
    return out


#: (example, preset) pairs of the presets table; the full HJB's ``reference`` preset is not run (minutes)
PRESET_CASES = [(name, preset) for name in ("mean-reverting-volatility", "volatility-regimes")
                for preset in ("default", "high", "reference")] + \
               [("square-root-impact", "default"), ("square-root-impact", "high")]


def _preset_records(quick: bool) -> list[dict]:
    """Each accuracy preset's objective against an independent reference (benchmarks.hjb_references):
    relative error of the objective and of ``E + lambda V`` (the policy's own moments), and the
    warm solve time."""
    references = {"mean-reverting-volatility": None, "volatility-regimes": regime_reference,
                  "square-root-impact": almgren_2003}
    cases = [("volatility-regimes", "default")] if quick else PRESET_CASES
    out = []
    for name, preset in cases:
        problem = load_example(name)
        res = solve(problem, accuracy=preset)  # compiles
        t_solve, res = timed(lambda: solve(problem, accuracy=preset), repeat=1 if quick else 2)
        if references[name] is None:  # the reference on the run's own volatility span
            truth = mean_reverting_reference(problem, (res.diagnostics["vol_min"], res.diagnostics["vol_max"]))
        else:
            truth = references[name](problem)
        repriced = res.expected_cost + problem.risk_aversion * res.variance
        out.append({"case": f"preset {preset}: {name}", "preset": preset, "reference": truth,
                    "objective_rel_error": abs(res.objective / truth - 1),
                    "moments_rel_error": abs(repriced / truth - 1), "solve_s": t_solve})
    return out


def run(quick: bool, out_dir: Path) -> dict:
    records = ([_reduced_record(quick), _full_record(quick), _sweep_record(quick)] + _accuracy_records(quick)
               + _preset_records(quick))
    notes = [
        "numpy_over_jax: the same scheme on the same grid, same process (best wall time of repeated runs; "
        "compile time reported apart, not in jax_ms). numpy_over_jax_cpu_time: the same with process CPU "
        "time (all threads), less sensitive to other jobs on a shared machine.",
        "A prototype measured 9-13x (reduced) and 3-7x (full, float64) here; the goal is >= 20x on the full HJB.",
        "GPU: python benchmarks/gpu_hjb.py --out DIR times a 2048 x 512 full grid on whatever JAX device is present.",
    ]
    return {"suite": "hjb", "records": records, "plots": [], "notes": notes}
