"""``optexec sweep SWEEP.toml``: run or resume a parameter sweep (see :mod:`solvers.sweep`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..sweep import default_out_dir, load_sweep, run_sweep
from .common import emit_outputs

__all__ = ["register", "run", "DESCRIPTION"]

DESCRIPTION = """\
Run or resume a parameter sweep: a base spec, parameter axes and methods, one row per point
and method, written to an output folder as tasks finish.

The output folder is --out, or by default $XDG_CACHE_HOME/optexec/sweeps/NAME-FINGERPRINT
(XDG_CACHE_HOME defaults to ~/.cache; never the current directory). A folder belongs to
one sweep: a folder holding another sweep's results, or results without their sweep.json,
is refused unless --overwrite. Running the same command again resumes: points already
recorded are not computed again; an unreadable part file is named and its points computed
again.

A task whose worker dies is split into one task per point and retried, 3 times in all; then
its rows are recorded with status 'lost' and the sweep goes on. A cluster left without any
worker for --no-worker-timeout seconds has the rest recorded as 'lost'.

Exit status: 0 the sweep completed (failed points are rows of the table, counted in the
summary); 1 rows were lost to dying workers; 2 a bad sweep file, folder or option;
130 interrupted (run the same command again to resume).
"""


def register(subparsers) -> None:
    """Add the ``sweep`` sub-command to the ``optexec`` parser."""
    p = subparsers.add_parser("sweep", help="run a parameter sweep (resumable; local or dask cluster)",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep_file", metavar="SWEEP.toml", help="sweep file: base spec, axes, methods")
    p.add_argument("--out", type=Path,
                   help="output folder (default: $XDG_CACHE_HOME/optexec/sweeps/NAME-FINGERPRINT, "
                        "XDG_CACHE_HOME defaulting to ~/.cache)")
    p.add_argument("--scheduler", default=None,
                   help="'synchronous' (in-process), a dask scheduler address, or leave out for a local cluster")
    p.add_argument("--workers", type=int, default=None, help="workers of the local cluster (default: cores)")
    p.add_argument("--batch-size", type=int, default=None, help="points per task (default: the file's, else automatic)")
    p.add_argument("--no-vectorize", action="store_true", help="solve every point alone, even where a method vectorizes")
    p.add_argument("--overwrite", action="store_true", help="discard results already in the output folder")
    p.add_argument("--retry-failed", action="store_true", help="recompute points whose rows failed")
    p.add_argument("--no-worker-timeout", type=float, default=60.0, metavar="SECONDS",
                   help="seconds a cluster may have no worker before the rest is recorded as lost (default 60)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-plots", action="store_true", help="do not draw the [plot] metrics")
    p.add_argument("--json", metavar="PATH", help="write the run's counts and files as JSON ('-' for stdout: JSON only)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sweep = load_sweep(args.sweep_file)
    out = args.out or default_out_dir(sweep.name, sweep.fingerprint())
    try:
        report = run_sweep(
            sweep, out, scheduler=args.scheduler, n_workers=args.workers, batch_size=args.batch_size,
            vectorize=not args.no_vectorize, overwrite=args.overwrite, retry_failed=args.retry_failed,
            no_worker_timeout=args.no_worker_timeout, progress=not args.no_progress, plots=not args.no_plots,
        )
    except KeyboardInterrupt:  # run_sweep has saved what was done and said how to resume
        return 130
    emit_outputs(args, report.summary(), report.to_dict())
    return 1 if report.lost_rows else 0
