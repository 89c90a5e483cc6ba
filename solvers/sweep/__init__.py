"""Parameter sweeps on dask.distributed: many solves, nothing lost (``optexec sweep``).

A :class:`Sweep` (a base spec, parameter axes, registered methods; :func:`load_sweep` reads
a TOML file) becomes a table with one row per point and method, written to an output folder
as tasks finish (:mod:`.store`) and resumable. :func:`run_sweep` runs it in process, on an
embedded local cluster, or on an existing one (:mod:`.runners`).
"""

from .axes import Axis, MethodSpec, PlotSpec, Sweep, apply_params, load_sweep, parse_path, sweep_from_dict, sweep_from_toml
from .engine import SweepReport, run_sweep
from .runners import available_cores
from .store import LOST_STATUS, SweepStore, add_agreement, default_out_dir
from .task import point_problem, solve_batch

__all__ = [
    "Sweep", "load_sweep", "sweep_from_dict", "sweep_from_toml", "run_sweep", "SweepReport", "Axis", "MethodSpec",
    "PlotSpec", "apply_params", "parse_path", "SweepStore", "add_agreement", "LOST_STATUS", "point_problem",
    "solve_batch", "available_cores", "default_out_dir",
]
