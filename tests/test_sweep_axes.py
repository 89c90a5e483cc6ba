"""The sweep file format: axes, dotted paths, random draws, methods, plot settings, and the
error messages of bad sweep files. No cluster here (fast)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from solvers import SpecError, load_example
from solvers.spec import example_path
from solvers.sweep import apply_params, load_sweep, parse_path, sweep_from_dict, sweep_from_toml

BASE = "base_example = 'almgren-chriss-2001'\n"


def _sweep(extra: str):
    return sweep_from_toml(BASE + extra)


def test_grid_list_product_order_and_count():
    sweep = _sweep("""
[[axes]]
parameter = "risk_aversion"
kind = "grid"
start = 1e-8
stop = 1e-4
num = 5
scale = "log"
[[axes]]
parameter = "assets[0].volatility"
values = [0.5, 0.95, 1.5]
""")
    assert sweep.n_points == 15
    points = list(sweep.points())
    assert [pid for pid, _ in points] == list(range(15))
    # the last axis varies fastest
    assert [p["assets[0].volatility"] for _, p in points[:4]] == [0.5, 0.95, 1.5, 0.5]
    lams = sorted({p["risk_aversion"] for _, p in points})
    # independent truth: a log grid has a constant ratio (10 per step here), ends exact to rounding
    np.testing.assert_allclose(lams, [1e-8, 1e-7, 1e-6, 1e-5, 1e-4], rtol=1e-13)
    linear = _sweep("[[axes]]\nparameter = 'risk_aversion'\nkind = 'grid'\nstart = 0.0\nstop = 1e-6\nnum = 3\n")
    assert linear.axes[0].values == (0.0, 5e-7, 1e-6)


def test_point_problem_matches_spec_built_by_hand():
    sweep = _sweep("""
[[axes]]
parameter = "assets[0].volatility"
values = [0.7]
[[axes]]
parameter = "slices"
values = [10]
""")
    (pid, params), = sweep.points()
    by_hand = load_example("almgren-chriss-2001").replace(slices=10).replace_asset(0, volatility=0.7)
    assert sweep.problem(params) == by_hand.replace(name=sweep.problem(params).name)


def test_random_axes_are_reproducible_and_independent_of_order():
    text = """
seed = 7
[[axes]]
parameter = "assets[0].volatility"
kind = "random"
distribution = "uniform"
low = 0.5
high = 1.5
count = 50
[[axes]]
parameter = "risk_aversion"
kind = "random"
distribution = "log-uniform"
low = 1e-8
high = 1e-4
count = 50
group = "g"
[[axes]]
parameter = "assets[0].temporary_impact"
kind = "random"
distribution = "normal"
mean = 2.5e-6
std = 1e-7
count = 50
group = "g"
"""
    a, b = _sweep(text), _sweep(text)
    assert a.axes[0].values == b.axes[0].values
    vols = np.array(a.axes[0].values)
    assert vols.min() >= 0.5 and vols.max() <= 1.5 and len(set(vols)) == 50
    lams = np.array(a.axes[1].values)
    assert lams.min() >= 1e-8 and lams.max() <= 1e-4
    # the zipped group gives 50 points, times 50 volatilities
    assert a.n_points == 2500
    other_seed = _sweep(text.replace("seed = 7", "seed = 8"))
    assert other_seed.axes[0].values != a.axes[0].values
    # seeding by (seed, parameter): dropping an axis does not change another's draws
    single = _sweep(text.split("[[axes]]\nparameter = \"risk_aversion\"")[0])
    assert single.axes[0].values == a.axes[0].values
    ints = _sweep("seed = 1\n[[axes]]\nparameter = 'slices'\nkind = 'random'\ndistribution = 'integers'\n"
                  "low = 2\nhigh = 4\ncount = 40\n")
    assert set(ints.axes[0].values) == {2, 3, 4}


def test_zipped_group_pairs_values():
    sweep = _sweep("""
[[axes]]
parameter = "risk_aversion"
values = [1e-7, 1e-6]
group = "pair"
[[axes]]
parameter = "assets[0].volatility"
values = [0.5, 1.5]
group = "pair"
""")
    assert [p for _, p in sweep.points()] == [
        {"risk_aversion": 1e-7, "assets[0].volatility": 0.5}, {"risk_aversion": 1e-6, "assets[0].volatility": 1.5}]


def test_dotted_paths():
    assert parse_path("assets[0].volatility") == ("assets", 0, "volatility")
    assert parse_path("correlation[0][1]") == ("correlation", 0, 1)
    assert parse_path("volatility_model.vol_of_vol") == ("volatility_model", "vol_of_vol")
    base = {"horizon": 1.0, "assets": [{"volatility": 1.0}], "volatility_model": {"kind": "mean_reverting"}}
    out = apply_params(base, {"assets[0].volatility": 2.0, "volatility_model.vol_of_vol": 0.3})
    assert out["assets"][0]["volatility"] == 2.0 and out["volatility_model"]["vol_of_vol"] == 0.3
    assert base["assets"][0]["volatility"] == 1.0  # the base is not modified
    for bad in ("assets[0]..x", "assets.[0]", "1abc", ""):
        with pytest.raises(SpecError, match="parameter"):
            parse_path(bad)


def test_mean_reverting_base_accepts_vol_of_vol_axis():
    sw = sweep_from_toml("base_example = 'mean-reverting-volatility'\n[[axes]]\n"
                         "parameter = 'volatility_model.vol_of_vol'\nvalues = [0.1, 0.4]\n")
    problems = [sw.problem(p) for _, p in sw.points()]
    assert [p.volatility_model.vol_of_vol for p in problems] == [0.1, 0.4]


@pytest.mark.parametrize("extra, field, words", [
    ("[[axes]]\nparameter = 'assets[3].volatility'\nvalues = [1.0]\n", "axes[0].parameter",
     "assets[3] does not exist in the base spec (length 1)"),
    ("[[axes]]\nparameter = 'volatility_model.vol_of_vol'\nvalues = [1.0]\n", "axes[0].parameter",
     "volatility_model does not exist in the base spec"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = []\n", "axes[0].values", "must be a non-empty list"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0, 'x']\n", "axes[0].values", "must all be numbers"),
    ("[[axes]]\nparameter = 'risk_aversion'\nkind = 'grid'\nstart = 0.0\nstop = 1.0\nnum = 0\n",
     "axes[0].num", "must be an integer >= 1"),
    ("[[axes]]\nparameter = 'risk_aversion'\nkind = 'grid'\nstart = 0.0\nstop = 1.0\nnum = 3\nscale = 'log'\n",
     "axes[0].start", "must be > 0 on a 'log' grid"),
    ("[[axes]]\nparameter = 'risk_aversion'\nkind = 'random'\ndistribution = 'uniform'\nlow = 0.0\nhigh = 1.0\n"
     "count = 3\n", "axes[0].seed", "needs a seed"),
    ("seed = 1\n[[axes]]\nparameter = 'risk_aversion'\nkind = 'random'\ndistribution = 'uniform'\nlow = 1.0\n"
     "high = 0.0\ncount = 3\n", "axes[0].high", "must be > low"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\nstart = 1.0\n", "axes[0].kind", "is required"),
    ("[[axes]]\nparameter = 'risk_aversion'\nkind = 'list'\nvalues = [1.0]\nnum = 2\n", "axes[0].num", "unknown key"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n[[axes]]\nparameter = 'risk_aversion'\nvalues = [2.0]\n",
     "axes[1].parameter", "appears in two axes"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\ngroup = 'g'\n[[axes]]\nparameter = 'slices'\n"
     "values = [2, 3]\ngroup = 'g'\n", "axes[1].group", "same length"),
    ("[[axes]]\nparameter = 'status'\nvalues = [1.0]\n", "axes[0].parameter", "collides with a result column"),
    ("methods = ['no-such']\n[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n", "methods[0].name",
     "unknown method"),
    ("methods = ['closed-form', 'closed-form']\n[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n",
     "methods", "labels must be unique"),
    ("bogus = 1\n[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n", "bogus", "unknown key"),
    ("", "axes", "needs at least one [[axes]] table"),
    ("batch_size = 0\n[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n", "batch_size", "integer >= 1"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n[plot]\nmetrics = ['speed']\n", "plot.metrics",
     "unknown metric"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n[plot]\nx = 'slices'\n", "plot.x",
     "must be one of the axes' parameters"),
    ("[[axes]]\nparameter = 'risk_aversion'\nvalues = [1.0]\n[plot]\nkind = 'heatmap'\n", "plot.kind",
     "needs two axes"),
])
def test_bad_sweep_files_name_the_field(extra, field, words):
    with pytest.raises(SpecError) as info:
        _sweep(extra)
    assert info.value.field == field
    assert words in str(info.value)
    assert str(info.value).startswith(f"{field} = ")


def test_base_sources(tmp_path):
    axes = "[[axes]]\nparameter = 'risk_aversion'\nvalues = [1e-6]\n"
    with pytest.raises(SpecError, match="give exactly one of base"):
        sweep_from_toml(axes)
    with pytest.raises(SpecError, match="give exactly one of base"):
        sweep_from_toml(BASE + "base = 'x.toml'\n" + axes)
    spec = tmp_path / "specs" / "mine.toml"
    spec.parent.mkdir()
    spec.write_text(example_path("almgren-chriss-2001").read_text())
    (tmp_path / "s.toml").write_text("base = 'specs/mine.toml'\n" + axes)
    sweep = load_sweep(tmp_path / "s.toml")  # relative to the sweep file, not the cwd
    assert sweep.name == "s" and sweep.base["name"] == "almgren-chriss-2001"
    inline = sweep_from_dict({"base": {"horizon": 1.0, "slices": 4, "risk_aversion": 0.0,
                                       "assets": [{"holdings": 100.0, "volatility": 0.1, "temporary_impact": 1.0}]},
                              "axes": [{"parameter": "slices", "values": [2, 8]}]})
    assert [inline.problem(p).slices for _, p in inline.points()] == [2, 8]
    with pytest.raises(SpecError) as info:
        sweep_from_dict({"base": {"horizon": 1.0, "slices": 4, "risk_aversion": 0.0,
                                  "assets": [{"holdings": 100.0, "volatility": 0.1, "temporary_impact": 1.0,
                                              "price": -1.0}]},
                         "axes": [{"parameter": "slices", "values": [2]}]})
    assert info.value.field == "base.assets[0].price"
    with pytest.raises(SpecError, match="file does not exist"):
        load_sweep(tmp_path / "missing.toml")


def test_fingerprint_tracks_what_defines_the_rows():
    text = "[[axes]]\nparameter = 'risk_aversion'\nvalues = [1e-6, 2e-6]\n"
    a = _sweep(text)
    assert a.fingerprint() == _sweep(text).fingerprint()
    assert a.fingerprint() != _sweep(text.replace("2e-6", "3e-6")).fingerprint()
    # methods are matched by label when a sweep resumes, not by the fingerprint of the points
    assert a.fingerprint() == _sweep("methods = [{name = 'closed-form', label = 'cf'}]\n" + text).fingerprint()
    assert a.fingerprint() != _sweep("seed = 3\n" + text).fingerprint()
    # the batch size and the plot do not change the rows
    assert a.fingerprint() == _sweep("batch_size = 3\n" + text + "[plot]\nmetrics = ['std']\n").fingerprint()


def test_bundled_example_sweeps_load():
    from importlib import resources

    folder = resources.files("solvers") / "examples" / "sweeps"
    sweeps = {p.name: load_sweep(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}
    frontier = sweeps["frontier-sweep.toml"]
    assert frontier.n_points == 41 * 3 * 3
    assert math.isclose(min(p["risk_aversion"] for _, p in frontier.points()), 1e-8, rel_tol=1e-12)
    vov = sweeps["vol-of-vol-sweep.toml"]
    assert vov.n_points == 48
    first = vov.problem(next(vov.points())[1])
    assert first.volatility_model.vol_of_vol == 0.0 and 1e-7 <= first.risk_aversion <= 1e-5


def test_a_method_registered_in_one_place_is_swept(tmp_path):
    """One call registers the toy method; a sweep names it and runs it like any other."""
    from solvers.methods import registered
    from solvers.sweep import run_sweep

    data = {"base_example": "almgren-chriss-2001", "methods": ["closed-form", "toy"],
            "axes": [{"parameter": "risk_aversion", "values": [1e-7, 1e-6]}]}
    with pytest.raises(SpecError, match=r"methods\[1\].name = 'toy': unknown method"):
        sweep_from_dict(data)
    with registered("toy", "tests.helpers.toy_method"):
        report = run_sweep(sweep_from_dict(data), tmp_path, scheduler="synchronous", progress=False, plots=False)
    table = report.table
    assert len(table) == 4 and set(table["method"]) == {"closed-form", "toy"}
    assert (table["status"] == "optimal").all()
