"""Where a sweep's results live on disk, and how a sweep resumes.

Layout of the output folder::

    sweep.json        manifest: the sweep's fingerprint, name, parameters, methods, point count
    points.parquet    every point: point_id and its parameter values
    parts/            one Parquet file per finished task, written atomically (tmp + rename)
    results.parquet   the consolidated table: one row per point and method, with agreement
    results.csv       the same table as CSV (also appended to as each task finishes)

A folder belongs to one sweep: ``sweep.json`` (and ``parts/FINGERPRINT``, its spare copy)
hold the sweep's fingerprint, and another sweep, or results without a readable manifest, are
refused unless ``overwrite``. A part file that cannot be read is named, moved aside
(``*.corrupt``) and its points computed again. The default folder is :func:`default_out_dir`.

The part files are the truth: a row is durable once its task's part file exists, so an
interrupted sweep (Ctrl-C, a killed driver) loses at most the tasks that were running.
On resume the store reads the ``(point_id, method)`` pairs already recorded and the engine
computes only the others. Part files carry a sequence number; if a pair is recorded twice
(a point retried after it was lost), the later row wins in the consolidated table.

Agreement (the cross-checks): for every row whose status is ``optimal``,
``rel_diff_vs_<m>`` is ``(objective - objective_m) / |objective_m|`` against each other
method ``m`` optimal at the same point, and ``agreement`` is the largest absolute value of
those (NaN where no other method answered).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from ..errors import SpecError
from ..result import OK_STATUSES
from ..serialize import cell

if TYPE_CHECKING:  # pandas is imported on use: `import solvers` stays light
    import pandas as pd

__all__ = ["SweepStore", "add_agreement", "LOST_STATUS", "default_out_dir"]

#: status of the rows of a task that could not be run (its workers kept dying); such points
#: are computed again when the sweep resumes
LOST_STATUS = "lost"

_PART = re.compile(r"part-(\d+)-[0-9a-f]+\.parquet")
#: files that mean "this folder holds sweep results"
_RESULT_FILES = ("points.parquet", "results.parquet", "results.csv")


def default_out_dir(name: str, fingerprint: str) -> Path:
    """Where a sweep writes when no folder is given: ``$XDG_CACHE_HOME/optexec/sweeps/<name>-<fp>``
    (``XDG_CACHE_HOME`` defaults to ``~/.cache``; ``<fp>``: the first 12 hex digits of the
    sweep's fingerprint), never the current directory."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "optexec" / "sweeps" / f"{name}-{fingerprint[:12]}"


def _warn(text: str) -> None:
    print(f"optexec sweep: {text}", file=sys.stderr)


class SweepStore:
    """The output folder of one sweep (see the module docstring).

    Args:
        out_dir: the folder (created if needed).
        manifest: the sweep's description; its ``fingerprint`` (the points) must match an
            existing folder's to resume, and so must the definition of every method label the
            folder already has (``methods``: a list of ``{"label", "name", "options"}``).
        resume: keep the rows already recorded (default). With ``resume=False`` an existing
            folder is an error unless ``overwrite`` is set.
        overwrite: delete the results of whatever sweep the folder held.
    """

    def __init__(self, out_dir: str | Path, manifest: dict[str, Any], *, resume: bool = True,
                 overwrite: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.parts_dir = self.out_dir / "parts"
        self.manifest = dict(manifest)
        self.corrupt: list[Path] = []  # files found unreadable (moved aside, their points computed again)
        path = self.out_dir / "sweep.json"
        spare = self.parts_dir / "FINGERPRINT"
        old = self._read_manifest(path, spare, overwrite)
        if old is None and not overwrite and self._holds_results():
            raise SpecError("out_dir", str(self.out_dir),
                            "holds sweep results without a manifest (sweep.json), so their sweep is unknown: "
                            "choose another folder or overwrite it (--overwrite)")
        if overwrite:
            self._wipe()
        elif old is not None:
            same = old.get("fingerprint") == manifest["fingerprint"]
            if not same:
                raise SpecError("out_dir", str(self.out_dir),
                                f"holds results of another sweep ({old.get('name')!r}, fingerprint "
                                f"{str(old.get('fingerprint'))[:12]}, not {manifest['fingerprint'][:12]}): "
                                "choose another folder or overwrite it (--overwrite)")
            elif not resume:
                raise SpecError("out_dir", str(self.out_dir),
                                "already holds results of this sweep: resume it or overwrite it")
            else:
                self._check_methods(old.get("methods", []), manifest.get("methods", []))
                known = {m["label"]: m for m in manifest.get("methods", [])}
                # keep the labels recorded before (their rows stay in the table)
                self.manifest["methods"] = [*manifest.get("methods", []),
                                            *(m for m in old.get("methods", []) if m["label"] not in known)]
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2, default=repr) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        spare.write_text(str(manifest["fingerprint"]) + "\n", encoding="utf-8")
        points = self.out_dir / "points.parquet"
        if points.exists() and not _readable_parquet(points):
            _warn(f"{points} cannot be read: it is written again")
            self.corrupt.append(points)
            points.unlink()
        self._seq = 1 + max((self._seq_of(p) for p in self.parts_dir.glob("part-*.parquet")), default=-1)

    def _holds_results(self) -> bool:
        return any((self.out_dir / n).exists() for n in _RESULT_FILES) or (
            self.parts_dir.is_dir() and any(self.parts_dir.glob("part-*.parquet")))

    def _read_manifest(self, path: Path, spare: Path, overwrite: bool) -> dict[str, Any] | None:
        """The folder's manifest, or None when there is none. A manifest that cannot be read is
        named; it is rebuilt when the spare fingerprint (``parts/FINGERPRINT``) matches this
        sweep, else the folder is refused (unless ``overwrite``)."""
        if not path.exists():
            return None
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(old, dict) or not isinstance(old.get("fingerprint"), str):
                raise ValueError("no 'fingerprint' in it")
            return old
        except (ValueError, UnicodeDecodeError) as err:
            self.corrupt.append(path)
            if overwrite:
                return None
            fingerprint = spare.read_text(encoding="utf-8").strip() if spare.exists() else ""
            if fingerprint == self.manifest["fingerprint"]:
                _warn(f"{path} cannot be read ({type(err).__name__}: {err}); its spare fingerprint "
                      f"{spare} matches this sweep: the manifest is written again")
                return {"fingerprint": fingerprint, "name": self.manifest.get("name"), "methods": []}
            raise SpecError("out_dir", str(self.out_dir),
                            f"its manifest {path} cannot be read ({type(err).__name__}: {err}) and no spare "
                            f"fingerprint of this sweep is in {spare}: choose another folder or overwrite it "
                            "(--overwrite)") from None

    def _check_methods(self, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
        before = {m["label"]: m for m in old}
        for i, m in enumerate(new):
            prev = before.get(m["label"])
            if prev is not None and (prev.get("name"), prev.get("options")) != (m["name"], m["options"]):
                raise SpecError(f"methods[{i}]", m["label"],
                                f"was run in {self.out_dir} as {prev.get('name')!r} with options {prev.get('options')}: "
                                "give the changed method a new label, or overwrite the folder")

    @property
    def labels(self) -> list[str]:
        """Method labels of the folder, those of this run first."""
        return [m["label"] for m in self.manifest.get("methods", [])]

    # ------------------------------------------------------------------ writing
    def _wipe(self) -> None:
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        for name in ("results.parquet", "results.csv", "points.parquet", "sweep.json"):
            (self.out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(self.out_dir / "plots", ignore_errors=True)

    @staticmethod
    def _seq_of(path: Path) -> int:
        match = _PART.fullmatch(path.name)
        return int(match.group(1)) if match else -1

    def write_points(self, points: Iterable[tuple[int, dict[str, Any]]], parameters: Sequence[str]) -> Path:
        """Write ``points.parquet`` (point_id and parameter values)."""
        import pandas as pd

        rows = [{"point_id": pid, **{k: cell(params[k]) for k in parameters}} for pid, params in points]
        path = self.out_dir / "points.parquet"
        _atomic_parquet(pd.DataFrame(rows), path)
        return path

    def write_part(self, rows: list[dict[str, Any]]) -> Path:
        """Record the rows of one finished task: a new part file (atomic) plus CSV lines."""
        frame = _frame(rows)
        path = self.parts_dir / f"part-{self._seq:08d}-{uuid.uuid4().hex[:8]}.parquet"
        self._seq += 1
        _atomic_parquet(frame, path)
        csv = self.out_dir / "results.csv"
        frame.to_csv(csv, mode="a", header=not csv.exists() or csv.stat().st_size == 0, index=False)
        return path

    # ------------------------------------------------------------------ reading
    def part_files(self) -> list[Path]:
        return sorted(self.parts_dir.glob("part-*.parquet"), key=self._seq_of)

    def read_rows(self, columns: Sequence[str] | None = None, latest: bool = True) -> pd.DataFrame:
        """Every recorded row (in part order). ``latest`` keeps only the last row of each
        ``(point_id, method)``; ``latest=False`` returns the raw rows, duplicates included."""
        import pandas as pd

        if columns and latest:
            columns = list(dict.fromkeys(["point_id", "method", *columns]))
        frames = []
        for part in self.part_files():
            try:
                frames.append(pd.read_parquet(part, columns=list(columns) if columns else None))
            except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged file
                self._set_aside(part, err)
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=list(columns) if columns else ["point_id", "method", "status"])
        table = pd.concat(frames, ignore_index=True)
        if latest:
            table = table.drop_duplicates(["point_id", "method"], keep="last").reset_index(drop=True)
        return table

    def _set_aside(self, part: Path, err: BaseException) -> None:
        """A part file that cannot be read: named, renamed ``*.corrupt``; its points are computed again."""
        if _columns_missing(err):
            raise SpecError("parts", str(part), f"lacks a column the sweep needs ({err})") from None
        first = " ".join(str(err).split())[:200]
        _warn(f"{part} cannot be read ({type(err).__name__}: {first}); set aside as "
              f"{part.name}.corrupt, its points are computed again")
        self.corrupt.append(part)
        os.replace(part, part.with_name(part.name + ".corrupt"))

    def done_keys(self, retry_statuses: Sequence[str] = (LOST_STATUS,)) -> set[tuple[int, str]]:
        """``(point_id, method)`` pairs recorded with a status not in ``retry_statuses``."""
        rows = self.read_rows(["point_id", "method", "status"])
        keep = ~rows["status"].isin(list(retry_statuses))
        return {(int(p), str(m)) for p, m in zip(rows["point_id"][keep], rows["method"][keep])}

    # ------------------------------------------------------------------ consolidation
    def consolidate(self, methods: Sequence[str]) -> pd.DataFrame:
        """Build ``results.parquet`` and ``results.csv`` from the parts (latest row per pair,
        sorted by point and method order, with the agreement columns)."""
        table = self.read_rows()
        if len(table):
            order = {m: i for i, m in enumerate(methods)}
            table = table.assign(_m=table["method"].map(order).fillna(len(order)))
            table = table.sort_values(["point_id", "_m"], kind="stable").drop(columns="_m").reset_index(drop=True)
            table = add_agreement(table, methods)
        _atomic_parquet(table, self.out_dir / "results.parquet")
        tmp = self.out_dir / "results.csv.tmp"
        table.to_csv(tmp, index=False)
        os.replace(tmp, self.out_dir / "results.csv")
        return table


def add_agreement(table: pd.DataFrame, methods: Sequence[str]) -> pd.DataFrame:
    """Add ``rel_diff_vs_<m>`` for each method and ``agreement`` (see the module docstring)."""
    import pandas as pd

    table = table.copy()
    ok = table["status"].isin(list(OK_STATUSES))
    table["agreement"] = np.nan
    if len(methods) < 2:
        return table
    objective = table["objective"].astype(np.float64)
    diffs = []
    for m in methods:
        ref = table.loc[ok & (table["method"] == m)].set_index("point_id")["objective"].astype(np.float64)
        other = table["point_id"].map(ref)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = (objective - other) / np.abs(other)
        rel = rel.where(ok & (table["method"] != m))
        table[f"rel_diff_vs_{m}"] = rel
        diffs.append(rel.abs())
    table["agreement"] = pd.concat(diffs, axis=1).max(axis=1, skipna=True)
    return table


# ---------------------------------------------------------------------------- helpers
def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows)
    for col in ("error_type", "error", "message", "diagnostics", "worker", "status", "method", "run_id", "time_model"):
        if col in frame:
            frame[col] = frame[col].fillna("").astype(str)
    return frame


def _columns_missing(err: BaseException) -> bool:
    """Whether a read error says a requested column does not exist (not a damaged file)."""
    return isinstance(err, KeyError) or "No match for FieldRef" in str(err)


def _readable_parquet(path: Path) -> bool:
    import pyarrow.parquet as pq

    try:
        pq.read_metadata(path)
        return True
    except Exception:  # noqa: BLE001 - any damage
        return False


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
