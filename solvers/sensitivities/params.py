"""The differentiable parameters of a spec, named by their spec paths.

``risk_aversion``, ``horizon``, ``assets[i].volatility``, ``correlation[0][1]``,
``volatility_model.levels[1]``, ... Entry points: :func:`parameter_names` (the default list),
:func:`parameter_value`, :func:`perturbed` (a copy with one parameter moved, linked fields kept
consistent: an asset's ``volatility`` moves the model's initial level with it, a generator's
off-diagonal entry moves its row's diagonal, a correlation moves its mirror entry).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from ..errors import SpecError
from ..spec import ExecutionProblem, problem_from_dict

__all__ = ["parameter_names", "parameter_value", "perturbed", "check_names", "ASSET_FIELDS"]

#: scalar asset fields that are numbers a derivative is taken in (when set and scalar)
ASSET_FIELDS = ("holdings", "price", "volatility", "permanent_impact", "temporary_impact", "spread",
                "impact_exponent", "drift", "max_slice_trade", "participation")
_MODEL_FIELDS = {"mean_reverting": ("reversion", "mean", "vol_of_vol")}
_PATH = re.compile(r"^([a-z_]+)((?:\[\d+\])*)(?:\.([a-z_]+)((?:\[\d+\])*))?$")


def parameter_names(problem: ExecutionProblem) -> list[str]:
    """Every numeric spec field a derivative can be taken in: the top-level scalars, each
    asset's set scalar fields, the correlations above the diagonal and the volatility model's
    numbers (a regime model: the levels not tied to the asset's volatility and the generator's
    off-diagonal rates)."""
    data = problem.to_dict()
    names = ["risk_aversion", "horizon"]
    for i, row in enumerate(data["assets"]):
        for key in ASSET_FIELDS:
            value = row.get(key, 0.0 if key == "drift" else None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if key == "volatility" and problem.factor_loadings is not None:
                    continue
                names.append(f"assets[{i}].{key}")
    if "correlation" in data:
        m = len(data["assets"])
        names += [f"correlation[{i}][{j}]" for i in range(m) for j in range(i + 1, m)]
    model = data.get("volatility_model")
    if model:
        kind = model["kind"]
        names += [f"volatility_model.{key}" for key in _MODEL_FIELDS.get(kind, ())]
        if kind == "regimes":
            n = len(model["levels"])
            start = model.get("initial_regime", 0)
            names += [f"volatility_model.levels[{j}]" for j in range(n) if j != start]
            names += [f"volatility_model.generator[{i}][{j}]" for i in range(n) for j in range(n) if i != j]
        elif kind == "path":
            names += [f"volatility_model.path[{k}]" for k in range(1, len(model["path"]))]
    return names


def _locate(data: dict, name: str) -> tuple[Any, Any]:
    """``(container, key)`` of ``name`` inside the spec's plain data."""
    match = _PATH.match(name)
    if not match:
        raise SpecError("wrt", name, "must be a spec path such as risk_aversion or assets[0].volatility")
    head, head_idx, tail, tail_idx = match.groups()
    parts: list[Any] = [head] + [int(k) for k in re.findall(r"\d+", head_idx)]
    if tail:
        parts += [tail] + [int(k) for k in re.findall(r"\d+", tail_idx or "")]
    node: Any = data
    for part in parts[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            raise SpecError("wrt", name, "is not a field of this spec") from None
    last = parts[-1]
    if isinstance(node, dict) and last not in node and last == "drift":
        node[last] = 0.0
    try:
        value = node[last]
    except (KeyError, IndexError, TypeError):
        raise SpecError("wrt", name, "is not a field of this spec") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError("wrt", name, f"is not a number in this spec ({value!r})")
    return node, last


def check_names(problem: ExecutionProblem, names) -> list[str]:
    """The names, each checked to be a numeric field of the spec (SpecError naming ``wrt``)."""
    data = problem.to_dict()
    out = []
    for name in names:
        _locate(data, str(name))
        if name == "slices":
            raise SpecError("wrt", name, "is an integer: no derivative")
        out.append(str(name))
    return out


def parameter_value(problem: ExecutionProblem, name: str) -> float:
    """The spec's value of parameter ``name``."""
    node, key = _locate(problem.to_dict(), name)
    return float(node[key])


def perturbed(problem: ExecutionProblem, name: str, value: float) -> ExecutionProblem:
    """A copy of the spec with parameter ``name`` set to ``value`` (validated again)."""
    data = copy.deepcopy(problem.to_dict())
    node, key = _locate(data, name)
    old = float(node[key])
    node[key] = float(value)
    model = data.get("volatility_model")
    asset = re.match(r"^assets\[(\d+)\]\.volatility$", name)
    if asset and model and int(asset.group(1)) == 0:
        if model["kind"] == "regimes":
            model["levels"][model.get("initial_regime", 0)] = float(value)
        elif model["kind"] == "path":
            model["path"][0] = float(value)
    gen = re.match(r"^volatility_model\.generator\[(\d+)\]\[(\d+)\]$", name)
    if gen:
        i = int(gen.group(1))
        model["generator"][i][i] -= float(value) - old
    corr = re.match(r"^correlation\[(\d+)\]\[(\d+)\]$", name)
    if corr:
        i, j = int(corr.group(1)), int(corr.group(2))
        data["correlation"][j][i] = float(value)
    if name == "risk_aversion" and value < 0:
        data["risk_seeking"] = True
    return problem_from_dict(data)
