"""Fuzz: mutated example specs through every registered method, in process.

Each example mutates one bundled spec (``solvers/examples/*.toml``) one to three times: numbers
from 5e-324 to 1.7e308, zeros, negatives, wrong types, lists of the wrong length, degenerate
matrices, extreme exponents and risk aversions, tiny and large N. Every registered method then
solves it with ``solvers.methods.solve(problem, name, throw=False)``. The property: a spec is
refused with a project error that has a message, or each method answers with (a) a project
error with a message, (b) an ``optimal`` result whose numbers are finite and whose objective
equals an independent re-pricing (``schedule_cost`` of its holdings for static discrete
methods; ``E + lambda V`` from its own moments for the others) within its declared accuracy,
or (c) a non-optimal status with a message. Never another exception, never NaN as optimal.

Deterministic (``derandomize=True``). ``OPTEXEC_FUZZ_EXAMPLES`` sets the number of specs
(default 60, under 40 s); the long run is
``OPTEXEC_FUZZ_EXAMPLES=400 timeout 1200 python -m pytest -q tests/test_fuzz.py -s`` (it prints
the outcome counts; with ``OPTEXEC_FUZZ_COLLECT=fails.jsonl`` it records each failure, its
method, error and source line, instead of stopping at the first). Methods whose :mod:`solvers.resources` estimate exceeds
``OPTEXEC_FUZZ_SECONDS`` (default 2 s) are skipped for that spec and counted;
``OPTEXEC_FUZZ_METHODS`` (comma-separated) limits the methods.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import tomllib
import traceback
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.costs import schedule_cost
from solvers.errors import OptexecError
from solvers.methods import method_info, method_names, solve
from solvers.methods import estimate_resources
from solvers.spec import example_names, example_path, problem_from_dict

EXAMPLES = int(os.environ.get("OPTEXEC_FUZZ_EXAMPLES", "60"))
SECONDS = float(os.environ.get("OPTEXEC_FUZZ_SECONDS", "2"))
#: the methods to run (comma-separated names; empty: spec validation only); default all registered
METHODS = [m for m in os.environ.get("OPTEXEC_FUZZ_METHODS", ",".join(method_names())).split(",") if m]
SPECS = {name: tomllib.loads(example_path(name).read_text()) for name in example_names()}
OUTCOMES: collections.Counter = collections.Counter()
#: with OPTEXEC_FUZZ_COLLECT=PATH, failures are recorded (JSON lines at PATH) instead of raised
COLLECT = os.environ.get("OPTEXEC_FUZZ_COLLECT", "")

MAGNITUDES = [5e-324, 2.3e-308, 1e-300, 1e-200, 1e-12, 1e-6, 0.5, 1.0, 3.0, 1e6, 1e12, 1e156, 1e200, 1e300, 1.7e308]
SPECIAL = [0.0, -0.0, -1.0, -1e-6, -1e300, float("nan"), float("inf"), "high", True, [1.0, 2.0], {}]
TOP_NUMBERS = ["horizon", "risk_aversion", "imbalance_band", "terminal_penalty"]
ASSET_NUMBERS = ["holdings", "price", "volatility", "permanent_impact", "temporary_impact", "spread",
                 "impact_exponent", "max_slice_trade", "participation", "drift", "min_holdings", "max_holdings",
                 "transient_impact", "resilience", "transient_exponent", "initial_deviation"]
MODEL_NUMBERS = ["reversion", "mean", "vol_of_vol", "elasticity"]
MATRICES = ["correlation", "temporary_impact_matrix", "permanent_impact_matrix", "factor_loadings"]


def _number(draw, current):
    kind = draw(st.sampled_from(["magnitude", "scaled", "special", "negated"]))
    if kind == "magnitude":
        return draw(st.sampled_from(MAGNITUDES))
    if kind == "special":
        return draw(st.sampled_from(SPECIAL))
    base = current if isinstance(current, (int, float)) and not isinstance(current, bool) else 1.0
    if kind == "negated":
        return -base
    return base * 10.0 ** draw(st.sampled_from([-300, -150, -20, -3, 3, 20, 150, 300]))


@st.composite
def mutated_specs(draw):
    name = draw(st.sampled_from(sorted(SPECS)))
    spec = copy.deepcopy(SPECS[name])
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "asset", "asset", "slices", "risk", "model", "matrix", "list",
                                      "closures"]))
        assets = spec.get("assets") if isinstance(spec.get("assets"), list) else []
        if where == "top":
            key = draw(st.sampled_from(TOP_NUMBERS))
            spec[key] = _number(draw, spec.get(key))
        elif where == "asset" and assets:
            a = draw(st.sampled_from(assets))
            key = draw(st.sampled_from(ASSET_NUMBERS))
            a[key] = _number(draw, a.get(key))
            if key == "impact_exponent" and draw(st.booleans()):
                a[key] = draw(st.sampled_from([1e-6, 0.01, 0.5, 1.0, 1.5, 1.999, 2.0]))
        elif where == "slices":
            n = draw(st.sampled_from([1, 2, 3, 7, 64, 500, 5000, 10**6, 10**9, 0, -3, 2.5, "5"]))
            spec["slices"] = n
            for a in assets:  # keep per-slice lists consistent half of the time
                if isinstance(a.get("market_volume"), list) and a["market_volume"] and isinstance(n, int) \
                        and 0 < n <= 5000 \
                        and draw(st.booleans()):
                    a["market_volume"] = [a["market_volume"][0]] * n
        elif where == "risk":
            spec["risk_aversion"] = draw(st.sampled_from([0.0, 1e-300, 1e-12, 1e-6, 1e-2, 1e3, 1e100, -1e-7, -1e-3]))
            spec["risk_seeking"] = draw(st.booleans())
        elif where == "model" and isinstance(spec.get("volatility_model"), dict):
            model = spec["volatility_model"]
            key = draw(st.sampled_from(MODEL_NUMBERS + ["levels", "path", "generator"]))
            if key in model and isinstance(model[key], list):
                model[key] = draw(st.sampled_from([[], model[key][:1], model[key] * 2,
                                                   [[_number(draw, 1.0)] * len(model[key])]]))
            else:
                model[key] = _number(draw, model.get(key))
                if key == "vol_of_vol" and draw(st.booleans()):
                    model[key], model["elasticity"] = draw(st.sampled_from([5.0, 20.0, 1e3])), 1.0
        elif where == "matrix" and len(assets) > 1:
            key = draw(st.sampled_from(MATRICES))
            m = len(assets)
            spec[key] = draw(st.sampled_from([
                [[1.0] * m for _ in range(m)], [[0.0] * m for _ in range(m)], [[1.0]], "x",
                [[1.0 if i == j else -1.0 for j in range(m)] for i in range(m)],
                [[_number(draw, 1.0) if i == j else 0.0 for j in range(m)] for i in range(m)],
            ]))
        elif where == "closures":
            after = draw(st.sampled_from([0, 1, 2, 3, -1, 10**6, 1.5, "2"]))
            duration = _number(draw, 0.5)
            closure = {"after_slice": after, "duration": duration}
            if draw(st.booleans()):
                closure["volatility"] = _number(draw, 1.0)
            spec["closures"] = draw(st.sampled_from([[closure], [closure, dict(closure)], closure, []]))
        elif where == "list" and assets:
            a = draw(st.sampled_from(assets))
            key = draw(st.sampled_from(["market_volume", "max_slice_trade"]))
            length = draw(st.sampled_from([0, 1, 3, 5, 64]))
            a[key] = [_number(draw, 1e6)] * length
    return name, spec


def _finite(*values) -> bool:
    return all(np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in values)


def _check_result(result, info) -> str:
    """The property for one answer; returns the outcome's kind."""
    if result.status != "optimal":
        assert result.message, f"{info.name}: status {result.status!r} without a message"
        return f"status:{result.status}"
    assert _finite(result.holdings, result.trades, result.expected_cost, result.variance, result.objective), \
        f"{info.name}: optimal with non-finite numbers ({result.objective!r})"
    problem = result.problem
    rtol = max(info.accuracy.objective_rtol, 1e-8)
    stated = result.diagnostics.get("objective_error")
    if info.kind == "static" and result.time_model == "discrete":
        cost = schedule_cost(problem, result.holdings, check_endpoints=False)
        parts = [cost.permanent, cost.temporary, cost.spread, cost.drift, problem.risk_aversion * cost.variance]
        ref = cost.objective
    else:
        var_term = problem.risk_aversion * result.variance
        parts = [result.expected_cost, var_term]
        ref = result.expected_cost + var_term
    scale = sum(abs(p) for p in parts) + abs(ref)
    allowed = rtol * scale + (abs(stated) if isinstance(stated, (int, float)) else 0.0) + 1e-300
    assert abs(result.objective - ref) <= allowed, (
        f"{info.name}: objective {result.objective!r} but re-priced {ref!r} (allowed {allowed:.3g})")
    return "optimal"


def _record(spec: dict, method: str, err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    where = next((f"{f.filename.split('/work/wt/reliab/')[-1]}:{f.lineno}" for f in reversed(frames)
                  if "site-packages" not in f.filename and "test_fuzz" not in f.filename), "")
    with open(COLLECT, "a", encoding="utf-8") as out:
        out.write(json.dumps({"method": method, "error": f"{type(err).__name__}: {str(err)[:300]}", "where": where,
                              "spec": spec}, default=repr) + "\n")
    return f"FAIL:{method}:{type(err).__name__}"


def _solve_one(problem, name: str) -> str:
    info = method_info(name)
    if estimate_resources(problem, name).seconds > SECONDS:
        return "skipped:size"
    try:
        result = solve(problem, name, throw=False)
    except OptexecError as err:
        assert str(err), f"{name}: {type(err).__name__} without a message"
        return f"error:{type(err).__name__}"
    return _check_result(result, info)


def run_one(spec: dict) -> list[str]:
    """Build and solve one spec with every method; the outcome kinds (asserting the property)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            problem = problem_from_dict(copy.deepcopy(spec))
        except OptexecError as err:
            assert str(err), "a spec error without a message"
            return [f"spec:{type(err).__name__}"]
        except Exception as err:  # noqa: BLE001 - the property: only project errors
            if not COLLECT:
                raise
            return [_record(spec, "spec", err)]
        kinds = ["spec:accepted"]
        for name in METHODS:
            try:
                kinds.append(_solve_one(problem, name))
            except Exception as err:  # noqa: BLE001 - the property: only project errors
                if not COLLECT:
                    raise
                kinds.append(_record(spec, name, err))
        return kinds


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(mutated_specs())
def test_every_method_answers_or_refuses_clearly(case):
    name, spec = case
    OUTCOMES.update(run_one(spec))


def test_fuzz_outcomes_reported():
    """Prints the outcome counts of the property run above (``-s`` shows them)."""
    if OUTCOMES:
        print("\nfuzz outcomes:", dict(sorted(OUTCOMES.items())))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_unmutated_examples_pass_the_property(name):
    run_one(copy.deepcopy(SPECS[name]))


def test_known_triggers_are_refused_or_answered_finite():
    """The inputs that once produced NaN labelled optimal or a traceback."""
    base = SPECS["almgren-chriss-2001"]
    mr = SPECS["mean-reverting-volatility"]
    cases = [
        {**mr, "volatility_model": {**mr["volatility_model"], "vol_of_vol": 20.0, "elasticity": 1.0}},
        {**base, "assets": [{**base["assets"][0], "holdings": 1e-200}]},
        {**base, "assets": [{**base["assets"][0], "holdings": 1e156}]},
        {**base, "horizon": 5e-324},
        {**base, "assets": [{**base["assets"][0], "volatility": 1e300}]},
        {**base, "slices": 10**9},
        {**base, "risk_aversion": -1e-6},
    ]
    for spec in cases:
        assert run_one(copy.deepcopy(spec))
