"""The ``optexec export`` file: an exported QP as a NumPy ``.npz`` archive.

Keys: ``P``, ``q`` and those of ``G``, ``h``, ``A``, ``b``, ``lb``, ``ub`` that exist, in
qpsolvers' convention (minimize ``1/2 z'Pz + q'z`` s.t. ``Gz <= h``, ``Az = b``,
``lb <= z <= ub``); ``holdings_map`` and ``holdings_offset`` (holdings, ``N+1`` rows by ``m``
assets flattened row-major, ``= holdings_map @ z + holdings_offset``, shares);
``objective_scale`` and ``objective_offset`` (``E + lambda V = objective_scale * (1/2 z'Pz +
q'z + objective_offset)``, currency); ``holdings_shape``, ``units``, ``name``. A sparse matrix
``M`` is stored as its CSC components ``M_data``, ``M_indices``, ``M_indptr``, ``M_shape``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sps

from .qp_export import ExportedQP

__all__ = ["save_npz", "load_npz", "SPARSE_KEYS"]

#: the matrices stored as CSC components
SPARSE_KEYS = ("P", "G", "A", "holdings_map")


def save_npz(qp: ExportedQP, path: str | Path) -> Path:
    """Write ``qp`` to ``path`` (module docstring); returns the path."""
    arrays: dict[str, Any] = {}
    for key in ("P", "q", "G", "h", "A", "b", "lb", "ub", "holdings_map", "holdings_offset"):
        value = getattr(qp, key)
        if value is None:
            continue
        if key in SPARSE_KEYS:
            csc = sps.csc_matrix(value)
            arrays.update({f"{key}_data": csc.data, f"{key}_indices": csc.indices, f"{key}_indptr": csc.indptr,
                           f"{key}_shape": np.array(csc.shape, dtype=np.int64)})
        else:
            arrays[key] = np.asarray(value, dtype=np.float64)
    arrays.update(objective_scale=np.float64(qp.objective_scale), objective_offset=np.float64(qp.objective_offset),
                  holdings_shape=np.array(qp.shape, dtype=np.int64), units=np.array(qp.units), name=np.array(qp.name))
    path = Path(path)
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def load_npz(path: str | Path) -> dict[str, Any]:
    """Read an export: a dict with the dense vectors, the CSC matrices (``scipy.sparse``) and
    the scalars; absent constraint blocks are None. ``qpsolvers.Problem(**{k: d[k] for k in
    "P q G h A b lb ub".split()})`` rebuilds the QP."""
    with np.load(Path(path), allow_pickle=False) as data:
        files = set(data.files)
        out: dict[str, Any] = {}
        for key in ("P", "q", "G", "h", "A", "b", "lb", "ub", "holdings_map", "holdings_offset"):
            if key in SPARSE_KEYS:
                out[key] = (sps.csc_matrix((data[f"{key}_data"], data[f"{key}_indices"], data[f"{key}_indptr"]),
                                           shape=tuple(data[f"{key}_shape"])) if f"{key}_data" in files else None)
            else:
                out[key] = data[key] if key in files else None
        out["objective_scale"] = float(data["objective_scale"])
        out["objective_offset"] = float(data["objective_offset"])
        out["holdings_shape"] = tuple(int(v) for v in data["holdings_shape"])
        out["units"] = str(data["units"])
        out["name"] = str(data["name"])
    return out
