"""Standalone device benchmark of the HJB solvers: ``python benchmarks/gpu_hjb.py --out DIR``.

Times, on whatever JAX device is present (a GPU if jax[cuda] finds one, else the CPU):

* ``full``: the full HJB (square-root impact, mean-reverting volatility) on a 2048 holdings x
  512 volatility grid, with the number of time steps the scheme needs to be stable
  (``dt / dy <= 1.6 < MAX_SL_COURANT``); on a CPU only ``--cpu-steps`` of those steps are
  timed (same ``dt``, the same work per step) and the per-step time is reported;
* ``check``: the 256 x 64 x 1000 grid of ``bench_hjb`` on the device against the numpy
  implementation of the same scheme on the host (agreement to round-off expected);
* ``reduced``: the reduced HJB, 128 x 2000 (the CPU benchmark's grid) and 2048 x 20000;
* ``sweep``: a vol-of-vol sweep of 64 values on a 512-point grid in one ``vmap``-ed call.

Compile time is reported apart from run time (best of ``--repeat`` runs, each ended by
``block_until_ready``). Prints a table and writes ``DIR/gpu_hjb.json``.

Imports: jax, numpy, scipy (a dependency of jax) and the repository's ``hjb`` and ``solvers``
modules, loaded as bare namespaces so that their package ``__init__`` files (which pull in
the rest of optexec: CLI, sweeps, CVXPY lazily, ...) are not executed. Nothing else is needed.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bare_packages() -> None:
    """Register ``solvers`` and ``hjb`` as plain namespaces (their submodules import normally)."""
    for name in ("solvers", "hjb"):
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(ROOT / name)]
            sys.modules[name] = pkg


_bare_packages()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from hjb.pde.full import MAX_SL_COURANT, full_hjb_arrays  # noqa: E402  (sets float64)
from hjb.pde.reference import full_hjb_numpy  # noqa: E402
from hjb.jax_runtime import compiled  # noqa: E402
from hjb.pde.reduced import reduced_kernel, riccati_source, solve_mean_reverting_batch, volatility_grid  # noqa: E402
from hjb.pde import HJBSettings  # noqa: E402
from solvers.spec import load_problem  # noqa: E402


def _problem(beta: float):
    base = load_problem(ROOT / "solvers" / "examples" / "mean-reverting-volatility.toml")
    if beta == 1.0:
        return base
    return base.replace_asset(impact_exponent=beta, temporary_impact=1.118033988749895e-3)


def _full_inputs(ny: int, ns: int, steps: int):
    problem = _problem(0.5)
    grid = volatility_grid(problem, HJBSettings(time_steps=steps, vol_points=ns, holdings_points=ny))
    a = problem.asset
    c = riccati_source(problem, grid.s)
    return problem, grid, c


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def full_case(ny: int, ns: int, steps: int, timed_steps: int, repeat: int) -> dict:
    problem, grid, c = _full_inputs(ny, ns, steps)
    h = problem.horizon / steps
    # time `timed_steps` steps of the stable run (same dt): one slice of timed_steps steps
    kw = {"beta": 0.5, "ny": ny, "n_slices": 1, "per_slice": timed_steps, "j0": grid.start_index}
    w, _, _, compile_s, _ = full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **kw)
    run_s = _best(lambda: full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **kw)[0], repeat)
    w = np.asarray(w)
    out = {
        "case": f"full HJB {ny} x {ns}, {steps} steps (dt/dy = {h * (ny - 1):.3g})",
        "holdings_points": ny, "vol_points": ns, "steps_needed": steps, "steps_timed": timed_steps,
        "compile_s": compile_s, "run_s": run_s, "us_per_step": 1e6 * run_s / timed_steps,
        "grid_points_per_s": ny * ns * timed_steps / run_s,
        "finite": bool(np.all(np.isfinite(w))),
    }
    if timed_steps == steps:
        a = problem.asset
        out["value"] = a.temporary_impact * abs(a.holdings) ** 1.5 * (
            problem.horizon ** -0.5 + float(w[grid.start_index, -1]))
    else:
        out["estimated_full_run_s"] = run_s * steps / timed_steps
    return out


def check_case(repeat: int, numpy_check: bool) -> dict:
    ny, ns, steps = 256, 64, 1000
    problem, grid, c = _full_inputs(ny, ns, steps)
    h = problem.horizon / steps
    kw = {"beta": 0.5, "ny": ny, "n_slices": problem.slices, "per_slice": steps // problem.slices,
          "j0": grid.start_index}
    w, _, _, compile_s, _ = full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **kw)
    run_s = _best(lambda: full_hjb_arrays(c, grid.lower, grid.diagonal, grid.upper, h, **kw)[0], repeat)
    w = np.asarray(w)
    a = problem.asset
    out = {"case": "check: full HJB 256 x 64 x 1000 (bench_hjb's grid)", "compile_s": compile_s, "run_s": run_s,
           "value": a.temporary_impact * abs(a.holdings) ** 1.5 * (problem.horizon ** -0.5
                                                                     + float(w[grid.start_index, -1]))}
    if numpy_check:
        start = time.perf_counter()
        w_np = full_hjb_numpy(c, grid.lower, grid.diagonal, grid.upper, h, beta=0.5, ny=ny, n_steps=steps)
        out["numpy_s"] = time.perf_counter() - start
        out["numpy_over_device"] = out["numpy_s"] / run_s
        out["max_abs_difference_vs_numpy"] = float(np.max(np.abs(w - w_np)))
    return out


def reduced_case(ns: int, steps: int, repeat: int) -> dict:
    problem = _problem(1.0)
    settings = HJBSettings(time_steps=steps, vol_points=ns)
    grid = volatility_grid(problem, settings)
    a = problem.asset
    c = riccati_source(problem, grid.s)
    h = problem.horizon / steps
    args = (c, grid.lower, grid.diagonal, grid.upper, h, grid.start_index)
    static = {"n_slices": problem.slices, "per_slice": steps // problem.slices, "explicit": False}
    out, compile_s, _ = compiled(reduced_kernel, *args, **static)
    run_s = _best(lambda: compiled(reduced_kernel, *args, **static)[0], repeat)
    coeff = 1.0 / problem.horizon + float(np.asarray(out[0])[grid.start_index])
    return {"case": f"reduced HJB {ns} vol x {steps} steps", "compile_s": compile_s, "run_s": run_s,
            "us_per_step": 1e6 * run_s / steps,
            "value": a.temporary_impact * a.holdings**2 * coeff}


def sweep_case(batch: int, ns: int, steps: int, repeat: int) -> dict:
    problem = _problem(1.0)
    xis = np.linspace(0.02, 0.8, batch)
    settings = HJBSettings(time_steps=steps, vol_points=ns)
    first = solve_mean_reverting_batch(problem, xis, settings)
    run_s = _best(lambda: solve_mean_reverting_batch(problem, xis, settings)["value_coefficient"], repeat)
    return {"case": f"vol-of-vol sweep: {batch} values x {ns} vol x {steps} steps, one vmap call",
            "compile_s": first["compile_seconds"], "run_s": run_s,
            "value_coefficient_range": [float(first["value_coefficient"].min()),
                                        float(first["value_coefficient"].max())]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory for gpu_hjb.json")
    parser.add_argument("--ny", type=int, default=2048, help="holdings points of the big full grid")
    parser.add_argument("--ns", type=int, default=512, help="volatility points of the big full grid")
    parser.add_argument("--courant", type=float, default=1.6, help=f"dt/dy of the big run (<= {MAX_SL_COURANT})")
    parser.add_argument("--cpu-steps", type=int, default=50, help="steps timed on a CPU (the full run is too long)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-numpy-check", action="store_true", help="skip the host numpy run of the check grid")
    args = parser.parse_args(argv)

    device = jax.devices()[0]
    on_cpu = device.platform == "cpu"
    horizon = _problem(0.5).horizon
    steps = math.ceil(horizon * (args.ny - 1) / args.courant)
    steps = -(-steps // 20) * 20
    records = []
    cases = [
        ("check", lambda: check_case(args.repeat, not args.no_numpy_check)),
        ("full", lambda: full_case(args.ny, args.ns, steps, min(args.cpu_steps, steps) if on_cpu else steps,
                                   args.repeat)),
        ("reduced", lambda: reduced_case(128, 2000, args.repeat)),
        ("reduced", lambda: reduced_case(2048, 20000, args.repeat)),
        ("sweep", lambda: sweep_case(64, 512, 2000, args.repeat)),
    ]
    for name, run in cases:
        try:
            rec = run()
        except Exception as err:  # report and go on: one failed case must not hide the others
            rec = {"case": name, "error": f"{type(err).__name__}: {err}"}
        records.append(rec)
        print(json.dumps(rec), flush=True)
    report = {
        "device": str(device), "platform": device.platform, "device_kind": getattr(device, "device_kind", ""),
        "jax": jax.__version__, "python": platform.python_version(), "float64": bool(jax.config.jax_enable_x64),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "records": records,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_hjb.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'case':<70} {'compile s':>10} {'run s':>10}")
    for rec in records:
        print(f"{rec.get('case', '?')[:70]:<70} {rec.get('compile_s', float('nan')):>10.3f} "
              f"{rec.get('run_s', float('nan')):>10.4f}")
    print(f"written {out / 'gpu_hjb.json'} (device: {device})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
