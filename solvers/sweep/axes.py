"""The sweep file: a base spec, parameter axes and the methods to run (``optexec sweep``).

A sweep is a TOML file::

    name = "frontier-sweep"
    base_example = "almgren-chriss-2001"   # or base = "spec.toml" (relative to this file),
                                           # or an inline [base] table in the spec format
    methods = ["closed-form"]              # or [[methods]] tables: name, label, options
    seed = 2026                            # required when an axis draws random values
    batch_size = 64                        # optional: points per task (default: automatic)

    [[axes]]
    parameter = "risk_aversion"            # a dotted path into the spec
    kind = "grid"                          # start, stop, num, scale = "linear" | "log"
    start = 1e-8
    stop = 1e-4
    num = 41
    scale = "log"

    [[axes]]
    parameter = "assets[0].volatility"
    values = [0.5, 0.95, 1.5]              # kind = "list" (inferred from 'values')

    [[axes]]
    parameter = "volatility_model.vol_of_vol"
    kind = "random"                        # distribution = uniform | log-uniform | normal | integers
    distribution = "uniform"
    low = 0.1
    high = 0.9
    count = 8

    [plot]
    x = "risk_aversion"                    # the axis on the horizontal axis
    metrics = ["objective", "expected_cost", "std"]

Points are the Cartesian product of the axes, the last axis varying fastest. Axes that share
a ``group`` name are zipped instead (they must have the same length): this is how several
parameters are drawn together at random. A point is numbered by its position in that order
(``point_id``), which with the sweep's fingerprint (a hash of base, axes and seed) identifies
it when a sweep resumes. Methods are matched by label: a sweep may resume with methods added
(only their rows are computed), but a label whose name or options changed is refused.

Dotted paths name the spec's TOML keys (the conventions page): ``risk_aversion``, ``slices``,
``assets[0].volatility``, ``volatility_model.vol_of_vol``, ``correlation[0][1]`` ... A value
at a point goes through the spec's own validation; a value the spec rejects is a failed
point (its row records the error), not a failed sweep. Random draws use numpy's PCG64 seeded
with ``(seed, crc32(parameter))`` (or the axis' own ``seed``), so adding or reordering axes
does not change the values of the others.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import math
import re
import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..errors import SpecError
from ..methods import method_names
from ..spec import example_path, problem_from_dict

__all__ = [
    "Axis",
    "MethodSpec",
    "PlotSpec",
    "Sweep",
    "load_sweep",
    "sweep_from_dict",
    "sweep_from_toml",
    "parse_path",
    "apply_params",
    "RESULT_COLUMNS",
    "MAX_POINTS",
]

#: the largest sweep accepted (points); beyond it, split the sweep into several files
MAX_POINTS = 5_000_000

#: columns every result row has (a parameter may not use these names)
RESULT_COLUMNS = (
    "point_id", "method", "status", "objective", "expected_cost", "variance", "std", "solve_seconds",
    "batched", "error_type", "error", "message", "diagnostics", "worker", "task", "run_id", "time_model",
)

_TOP_KEYS = {"name", "description", "base", "base_example", "methods", "seed", "batch_size", "axes", "plot"}
_AXIS_KEYS = {
    "list": {"values"},
    "grid": {"start", "stop", "num", "scale"},
    "random": {"distribution", "low", "high", "mean", "std", "count", "seed"},
}
_DISTRIBUTIONS = {"uniform": ("low", "high"), "log-uniform": ("low", "high"), "normal": ("mean", "std"),
                  "integers": ("low", "high")}
_PLOT_KINDS = ("lines", "heatmap")

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


# ---------------------------------------------------------------------------- dotted paths
def parse_path(path: str, where: str = "parameter") -> tuple[str | int, ...]:
    """``"assets[0].volatility"`` -> ``("assets", 0, "volatility")``.

    Keys are TOML bare keys; ``[i]`` indexes an array (0-based). Raises :class:`SpecError`
    for anything else.
    """
    if not isinstance(path, str) or not path:
        raise SpecError(where, path, "must be a dotted path such as 'assets[0].volatility'")
    out: list[str | int] = []
    for part in path.split("."):
        match = _TOKEN.fullmatch(part)
        if not match:
            raise SpecError(where, path, f"is not a dotted path: {part!r} must look like key or key[i]")
        out.append(match.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(out)


def _resolve_parent(data: Any, tokens: Sequence[str | int], path: str, where: str):
    """The container that holds the last token of ``tokens`` (raises if the path is absent)."""
    node = data
    for depth, tok in enumerate(tokens[:-1]):
        shown = _render(tokens[: depth + 1])
        if isinstance(tok, int):
            if not isinstance(node, list) or tok >= len(node):
                size = len(node) if isinstance(node, list) else "not a list"
                raise SpecError(where, path, f"{shown} does not exist in the base spec (length {size})")
            node = node[tok]
        else:
            if not isinstance(node, dict) or tok not in node:
                raise SpecError(where, path, f"{shown} does not exist in the base spec")
            node = node[tok]
    last = tokens[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise SpecError(where, path, f"{_render(tokens)} does not exist in the base spec")
    elif not isinstance(node, dict):
        raise SpecError(where, path, f"{_render(tokens[:-1])} is not a table")
    return node, last


def _render(tokens: Sequence[str | int]) -> str:
    text = ""
    for tok in tokens:
        text += f"[{tok}]" if isinstance(tok, int) else (f".{tok}" if text else tok)
    return text


def apply_params(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the spec data ``base`` with each dotted path of ``params`` set.

    Only the tables and arrays along each path are copied (the rest is shared with
    ``base``, which is never modified), so building a point costs little more than the spec's
    own validation.
    """
    data = dict(base)
    for path, value in params.items():
        tokens = _cached_path(path)
        _resolve_parent(data, tokens, path, "parameter")  # raises a SpecError naming the path
        node = data
        for tok in tokens[:-1]:
            child = node[tok]
            child = list(child) if isinstance(child, list) else dict(child)
            node[tok] = child
            node = child
        node[tokens[-1]] = copy.deepcopy(value)
    return data


@functools.lru_cache(maxsize=1024)
def _cached_path(path: str) -> tuple[str | int, ...]:
    return parse_path(path)


# ---------------------------------------------------------------------------- axes
def _scalar_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


@dataclass(frozen=True)
class Axis:
    """One parameter axis: a dotted ``parameter`` path and the ``values`` it takes.

    ``definition`` is the axis table as written (it enters the sweep's fingerprint);
    ``values`` are computed from it (the draws of a random axis included).
    """

    parameter: str
    kind: str
    values: tuple[Any, ...]
    group: str | None = None
    definition: Mapping[str, Any] = field(default_factory=dict, compare=False)
    scale: str = "linear"

    def __len__(self) -> int:
        return len(self.values)


def _axis_from_dict(data: Any, index: int, seed: int | None) -> Axis:
    where = f"axes[{index}]"
    if not isinstance(data, Mapping):
        raise SpecError(where, data, "must be a table ([[axes]])")
    if "parameter" not in data:
        raise SpecError(f"{where}.parameter", None, "is required (a dotted path such as 'risk_aversion')")
    parameter = data["parameter"]
    parse_path(parameter, f"{where}.parameter")
    if parameter in RESULT_COLUMNS:
        raise SpecError(f"{where}.parameter", parameter, "collides with a result column name")
    kind = data.get("kind")
    if kind is None:
        inferred = [k for k, keys in _AXIS_KEYS.items() if keys & set(data)]
        if len(inferred) != 1:
            raise SpecError(f"{where}.kind", None,
                            "is required: 'list' (values), 'grid' (start, stop, num) or 'random' (distribution, count)")
        kind = inferred[0]
    if kind not in _AXIS_KEYS:
        raise SpecError(f"{where}.kind", kind, f"must be one of {sorted(_AXIS_KEYS)}")
    unknown = sorted(set(data) - _AXIS_KEYS[kind] - {"parameter", "kind", "group"})
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}", data[unknown[0]],
                        f"unknown key for a {kind!r} axis (allowed: {sorted(_AXIS_KEYS[kind] | {'parameter', 'kind', 'group'})})")
    group = data.get("group")
    if group is not None and (not isinstance(group, str) or not group):
        raise SpecError(f"{where}.group", group, "must be a non-empty string")
    scale = "linear"
    if kind == "list":
        values = data.get("values")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{where}.values", values, "must be a non-empty list")
        kinds = {_scalar_kind(v) for v in values}
        if len(kinds) != 1 or not kinds <= {"bool", "number", "string", "list"}:
            raise SpecError(f"{where}.values", values,
                            "must all be numbers, all strings, all booleans or all lists")
        out = tuple(values)
    elif kind == "grid":
        for key in ("start", "stop", "num"):
            if key not in data:
                raise SpecError(f"{where}.{key}", None, "is required for a 'grid' axis")
        start = _finite(f"{where}.start", data["start"])
        stop = _finite(f"{where}.stop", data["stop"])
        num = data["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise SpecError(f"{where}.num", num, "must be an integer >= 1")
        scale = data.get("scale", "linear")
        if scale not in ("linear", "log"):
            raise SpecError(f"{where}.scale", scale, "must be 'linear' or 'log'")
        if scale == "log":
            if start <= 0 or stop <= 0:
                bad = "start" if start <= 0 else "stop"
                raise SpecError(f"{where}.{bad}", data[bad], "must be > 0 on a 'log' grid")
            grid = np.geomspace(start, stop, num)
        else:
            grid = np.linspace(start, stop, num)
        out = tuple(float(v) for v in grid)
    else:
        out, scale = _random_values(data, where, seed)
    return Axis(parameter=parameter, kind=kind, values=out, group=group, definition=dict(data), scale=scale)


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(name, value, "must be a finite number")
    return float(value)


def _random_values(data: Mapping[str, Any], where: str, seed: int | None) -> tuple[tuple[Any, ...], str]:
    dist = data.get("distribution")
    if dist not in _DISTRIBUTIONS:
        raise SpecError(f"{where}.distribution", dist, f"must be one of {sorted(_DISTRIBUTIONS)}")
    count = data.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise SpecError(f"{where}.count", count, "must be an integer >= 1 (the number of draws)")
    axis_seed = data.get("seed", seed)
    if axis_seed is None:
        raise SpecError(f"{where}.seed", None,
                        "a random axis needs a seed (top-level 'seed' or the axis' own) so the sweep is reproducible")
    if isinstance(axis_seed, bool) or not isinstance(axis_seed, int) or axis_seed < 0:
        raise SpecError(f"{where}.seed", axis_seed, "must be an integer >= 0")
    a_key, b_key = _DISTRIBUTIONS[dist]
    for key in (a_key, b_key):
        if key not in data:
            raise SpecError(f"{where}.{key}", None, f"is required for distribution {dist!r}")
    a = _finite(f"{where}.{a_key}", data[a_key])
    b = _finite(f"{where}.{b_key}", data[b_key])
    rng = np.random.default_rng([axis_seed, zlib.crc32(data["parameter"].encode())])
    scale = "linear"
    if dist == "normal":
        if b < 0:
            raise SpecError(f"{where}.std", data["std"], "must be >= 0")
        draws = rng.normal(a, b, count)
    else:
        if not a < b and not (dist == "integers" and a == b):
            raise SpecError(f"{where}.high", data["high"], f"must be > low = {data['low']}")
        if dist == "uniform":
            draws = rng.uniform(a, b, count)
        elif dist == "log-uniform":
            if a <= 0:
                raise SpecError(f"{where}.low", data["low"], "must be > 0 for a log-uniform draw")
            draws = np.exp(rng.uniform(math.log(a), math.log(b), count))
            scale = "log"
        else:
            if not (float(a).is_integer() and float(b).is_integer()):
                raise SpecError(f"{where}.low", data["low"], "low and high must be integers for 'integers'")
            return tuple(int(v) for v in rng.integers(int(a), int(b), count, endpoint=True)), scale
    return tuple(float(v) for v in draws), scale


# ---------------------------------------------------------------------------- methods and plot
@dataclass(frozen=True)
class MethodSpec:
    """A method to run at every point: a registered ``name`` (``closed-form``, ``qp``, ...), the
    ``options`` (its settings, as keywords), the ``label`` its rows carry (default: the name),
    and ``vectorize = false`` to solve it point by point even where it has a batch solver."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    vectorize: bool = True

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "options": dict(self.options), "label": self.label}
        return out if self.vectorize else {**out, "vectorize": False}


def _methods_from_value(value: Any) -> tuple[MethodSpec, ...]:
    if isinstance(value, (str, Mapping)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SpecError("methods", value, "must be a non-empty list of method names or [[methods]] tables")
    out = []
    for i, entry in enumerate(value):
        where = f"methods[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping):
            raise SpecError(where, entry, "must be a method name or a table with 'name'")
        unknown = sorted(set(entry) - {"name", "options", "label", "vectorize"})
        if unknown:
            raise SpecError(f"{where}.{unknown[0]}", entry[unknown[0]],
                            "unknown key (allowed: label, name, options, vectorize)")
        vectorize = entry.get("vectorize", True)
        if not isinstance(vectorize, bool):
            raise SpecError(f"{where}.vectorize", vectorize, "must be true or false")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}.name", name, "is required (a method name)")
        if name not in method_names():
            raise SpecError(f"{where}.name", name, f"unknown method (available: {', '.join(method_names())})")
        options = entry.get("options", {})
        if not isinstance(options, Mapping):
            raise SpecError(f"{where}.options", options, "must be a table of keyword options")
        label = entry.get("label", name)
        if not isinstance(label, str) or not label:
            raise SpecError(f"{where}.label", label, "must be a non-empty string")
        out.append(MethodSpec(name=name, options=dict(options), label=label, vectorize=vectorize))
    labels = [m.label for m in out]
    dupes = sorted({lab for lab in labels if labels.count(lab) > 1})
    if dupes:
        raise SpecError("methods", labels, f"labels must be unique ({dupes[0]!r} repeats; give each a 'label')")
    return tuple(out)


@dataclass(frozen=True)
class PlotSpec:
    """Which metrics to plot over which axis (``[plot]``). ``x`` defaults to the first axis
    with more than one value; ``kind`` is ``lines`` (one line per method and combination of
    the other axes) or ``heatmap`` (``x`` against ``y``, one panel per method)."""

    metrics: tuple[str, ...] = ("objective", "expected_cost", "std")
    x: str | None = None
    y: str | None = None
    kind: str = "lines"
    log_x: bool | None = None
    log_y: bool = False


_METRICS = ("objective", "expected_cost", "variance", "std", "solve_seconds", "agreement")


def _plot_from_dict(data: Any, axes: Sequence[Axis]) -> PlotSpec:
    if data is None:
        return PlotSpec()
    if not isinstance(data, Mapping):
        raise SpecError("plot", data, "must be a table ([plot])")
    allowed = {"metrics", "x", "y", "kind", "log_x", "log_y"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecError(f"plot.{unknown[0]}", data[unknown[0]], f"unknown key (allowed: {sorted(allowed)})")
    metrics = data.get("metrics", list(PlotSpec.metrics))
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list) or not metrics:
        raise SpecError("plot.metrics", metrics, "must be a non-empty list")
    for m in metrics:
        if m not in _METRICS and not (isinstance(m, str) and m.startswith("rel_diff_vs_")):
            raise SpecError("plot.metrics", m, f"unknown metric (allowed: {', '.join(_METRICS)}, rel_diff_vs_<method>)")
    names = [a.parameter for a in axes]
    for key in ("x", "y"):
        value = data.get(key)
        if value is not None and value not in names:
            raise SpecError(f"plot.{key}", value, f"must be one of the axes' parameters ({', '.join(names)})")
    kind = data.get("kind", "lines")
    if kind not in _PLOT_KINDS:
        raise SpecError("plot.kind", kind, f"must be one of {list(_PLOT_KINDS)}")
    if kind == "heatmap" and len(axes) < 2:
        raise SpecError("plot.kind", kind, "a heatmap needs two axes")
    for key in ("log_x", "log_y"):
        if key in data and not isinstance(data[key], bool):
            raise SpecError(f"plot.{key}", data[key], "must be true or false")
    return PlotSpec(metrics=tuple(metrics), x=data.get("x"), y=data.get("y"), kind=kind,
                    log_x=data.get("log_x"), log_y=data.get("log_y", False))


# ---------------------------------------------------------------------------- the sweep
@dataclass(frozen=True)
class Sweep:
    """A parsed, validated sweep. ``base`` is the spec as plain TOML data (the spec's keys)."""

    base: Mapping[str, Any]
    axes: tuple[Axis, ...]
    methods: tuple[MethodSpec, ...]
    name: str = "sweep"
    description: str = ""
    seed: int | None = None
    batch_size: int | None = None
    plot: PlotSpec = field(default_factory=PlotSpec)
    source: str | None = None

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(a.parameter for a in self.axes)

    @property
    def n_points(self) -> int:
        return math.prod(len(g[0]) for g in self._groups())

    def _groups(self) -> list[list[Axis]]:
        groups: dict[str, list[Axis]] = {}
        order: list[list[Axis]] = []
        for axis in self.axes:
            if axis.group is None:
                order.append([axis])
            elif axis.group in groups:
                groups[axis.group].append(axis)
            else:
                groups[axis.group] = [axis]
                order.append(groups[axis.group])
        return order

    def points(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(point_id, {parameter: value})`` for every point, in sweep order."""
        groups = self._groups()
        for pid, combo in enumerate(itertools.product(*(range(len(g[0])) for g in groups))):
            params: dict[str, Any] = {}
            for g, i in zip(groups, combo):
                for axis in g:
                    params[axis.parameter] = axis.values[i]
            yield pid, params

    def fingerprint(self) -> str:
        """SHA-256 of what defines the points (base spec, axes, seed); methods are not in it
        (they are matched by label on resume)."""
        data = {"base": self.base, "axes": [dict(a.definition) for a in self.axes], "seed": self.seed}
        text = json.dumps(data, sort_keys=True, default=repr, allow_nan=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def problem(self, params: Mapping[str, Any] | None = None):
        """The :class:`ExecutionProblem` at one point (``params`` as yielded by :meth:`points`)."""
        return problem_from_dict(apply_params(self.base, params or {}))


def _load_toml(path: Path, where: str) -> dict[str, Any]:
    if not path.is_file():
        raise SpecError(where, str(path), "file does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SpecError(where, str(path), f"is not valid TOML ({err})") from None


def sweep_from_dict(data: Mapping[str, Any], root: str | Path | None = None, source: str | None = None) -> Sweep:
    """Build a :class:`Sweep` from parsed TOML; relative ``base`` paths resolve against ``root``."""
    if not isinstance(data, Mapping):
        raise SpecError("sweep", data, "must be a table")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SpecError(unknown[0], data[unknown[0]], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    has_base, has_example = "base" in data, "base_example" in data
    if has_base == has_example:
        raise SpecError("base", data.get("base", data.get("base_example")),
                        "give exactly one of base (a spec path or an inline [base] table) or base_example")
    if has_example:
        spec_path = example_path(data["base_example"])
        base = _load_toml(spec_path, "base_example")
        base.setdefault("name", spec_path.stem)
    elif isinstance(data["base"], str):
        spec_path = Path(data["base"])
        if not spec_path.is_absolute() and root is not None:
            spec_path = Path(root) / spec_path
        base = _load_toml(spec_path, "base")
        base.setdefault("name", spec_path.stem)
    elif isinstance(data["base"], Mapping):
        base = copy.deepcopy(dict(data["base"]))
    else:
        raise SpecError("base", data["base"], "must be a spec path or an inline [base] table")
    try:
        problem_from_dict(base)
    except SpecError as err:
        raise SpecError(f"base.{err.field}", err.value, err.rule) from None

    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SpecError("seed", seed, "must be an integer >= 0")
    raw_axes = data.get("axes")
    if not isinstance(raw_axes, list) or not raw_axes:
        raise SpecError("axes", raw_axes, "needs at least one [[axes]] table")
    axes = tuple(_axis_from_dict(a, i, seed) for i, a in enumerate(raw_axes))
    seen: set[str] = set()
    for i, axis in enumerate(axes):
        if axis.parameter in seen:
            raise SpecError(f"axes[{i}].parameter", axis.parameter, "appears in two axes")
        seen.add(axis.parameter)
        _resolve_parent(base, parse_path(axis.parameter), axis.parameter, f"axes[{i}].parameter")
    lengths: dict[str, tuple[int, int]] = {}
    for i, axis in enumerate(axes):
        if axis.group is None:
            continue
        if axis.group in lengths and lengths[axis.group][0] != len(axis):
            first = lengths[axis.group][1]
            raise SpecError(f"axes[{i}].group", axis.group,
                            f"zipped axes need the same length ({len(axis)} values here, "
                            f"{lengths[axis.group][0]} in axes[{first}])")
        lengths.setdefault(axis.group, (len(axis), i))
    methods = _methods_from_value(data.get("methods", ["closed-form"]))
    batch_size = data.get("batch_size")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise SpecError("batch_size", batch_size, "must be an integer >= 1")
    name = data.get("name", Path(source).stem if source else "sweep")
    if not isinstance(name, str) or not name:
        raise SpecError("name", name, "must be a non-empty string")
    sweep = Sweep(base=base, axes=axes, methods=methods, name=name, description=str(data.get("description", "")),
                  seed=seed, batch_size=batch_size, plot=_plot_from_dict(data.get("plot"), axes), source=source)
    if sweep.n_points > MAX_POINTS:
        raise SpecError("axes", f"{sweep.n_points} points", f"a sweep may have at most {MAX_POINTS} points")
    return sweep


def sweep_from_toml(text: str, root: str | Path | None = None) -> Sweep:
    """Parse sweep TOML text (see the module docstring)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError("sweep", "TOML", f"is not valid TOML ({err})") from None
    return sweep_from_dict(data, root=root)


def load_sweep(path: str | Path) -> Sweep:
    """Load a sweep file; a relative ``base`` path is relative to the sweep file's folder."""
    path = Path(path)
    data = _load_toml(path, "sweep")
    return sweep_from_dict(data, root=path.parent, source=str(path))
