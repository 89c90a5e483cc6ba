"""``optexec sweep SWEEP.toml``: run or resume a parameter sweep (see :mod:`solvers.sweep`).

    optexec sweep SWEEP.toml [--out DIR] [--scheduler synchronous|ADDRESS] [--workers N]
                             [--batch-size N] [--no-vectorize] [--overwrite] [--retry-failed]
                             [--no-progress] [--no-plots]

The output folder defaults to ``<sweep name>-results`` in the current directory. Running
the same command again resumes: points already recorded are not computed again. Exit
status: 0 when the sweep completed (failed points are rows of the table, counted in the
summary), 1 when rows were lost to dying workers, 130 when interrupted (rerun to resume).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..sweep import load_sweep, run_sweep

__all__ = ["register", "run"]


def register(subparsers) -> None:
    """Add the ``sweep`` sub-command to the ``optexec`` parser."""
    p = subparsers.add_parser("sweep", help="run a parameter sweep (resumable; local or dask cluster)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_file", metavar="SWEEP.toml", help="sweep file: base spec, axes, methods")
    p.add_argument("--out", type=Path, help="output folder (default: <name>-results)")
    p.add_argument("--scheduler", default=None,
                   help="'synchronous' (in-process), a dask scheduler address, or leave out for a local cluster")
    p.add_argument("--workers", type=int, default=None, help="workers of the local cluster (default: cores)")
    p.add_argument("--batch-size", type=int, default=None, help="points per task (default: the file's, else automatic)")
    p.add_argument("--no-vectorize", action="store_true", help="solve every point alone, even where a method vectorizes")
    p.add_argument("--overwrite", action="store_true", help="discard results already in the output folder")
    p.add_argument("--retry-failed", action="store_true", help="recompute points whose rows failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="do not draw the [plot] metrics")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sweep = load_sweep(args.sweep_file)
    out = args.out or Path(f"{sweep.name}-results")
    try:
        report = run_sweep(
            sweep, out, scheduler=args.scheduler, n_workers=args.workers, batch_size=args.batch_size,
            vectorize=not args.no_vectorize, overwrite=args.overwrite, retry_failed=args.retry_failed,
            progress=not args.no_progress, plots=not args.no_plots,
        )
    except KeyboardInterrupt:  # run_sweep has saved what was done and said how to resume
        return 130
    print(report.summary())
    return 1 if report.lost_rows else 0
