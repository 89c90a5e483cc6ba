"""Shared helpers of the benchmark suites: timing, machine information, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

__all__ = ["best_time", "timed", "machine_info", "write_json", "RESULTS_DIR"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def best_time(fn: Callable[[], Any], repeat: int = 5, number: int = 1) -> dict[str, float]:
    """Run ``fn`` ``number`` times per sample, ``repeat`` samples; seconds per call
    (``best`` is the minimum, the least disturbed by other load; ``median`` for spread)."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number)
    return {"best": min(samples), "median": statistics.median(samples)}


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """``(best seconds, last return value)`` of ``repeat`` calls of ``fn``: the timed runs'
    answer is kept, so a suite never solves again only to read the result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def machine_info() -> dict[str, Any]:
    """CPU, cores, Python and library versions, and the BLAS numpy uses."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    for pkg in ("numpy", "scipy", "jax", "jaxlib", "cvxpy", "clarabel", "piqp", "osqp", "scs"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[pkg] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                        for d in threadpool_info()]
    except ImportError:
        import numpy as np

        info["blas"] = str(np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {}))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=float) + "\n", encoding="utf-8")
    return path
