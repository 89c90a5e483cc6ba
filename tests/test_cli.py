"""The optexec command line: solve, examples, frontier, error handling."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from solvers import example_names
from solvers.cli import main

MODEL_KEYS = {"method", "status", "times", "holdings", "trades", "expected_cost", "variance", "objective", "solve_seconds"}


def test_solve_example_json_to_stdout_is_valid(capsys):
    assert main(["solve", "--example", "almgren-chriss-2001", "--json", "-"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)  # stdout is pure JSON; the summary went to stderr
    assert MODEL_KEYS <= set(data)
    assert data["method"] == "closed-form" and data["status"] == "optimal"
    assert len(data["holdings"]) == 6 and len(data["trades"]) == 5
    assert data["expected_cost"] == pytest.approx(911227, abs=0.5)
    assert "expected cost E" in out.err


def test_solve_prints_summary_and_writes_plot(tmp_path, capsys):
    png = tmp_path / "ac.png"
    assert main(["solve", "--example", "almgren-chriss-2001", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    for text in ("kappa", "half_life", "541955.5", "objective E+lambda*V", "std sqrt(V)"):
        assert text in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_solve_basket_spec_file_and_continuous(tmp_path, capsys):
    spec = tmp_path / "basket.toml"
    from solvers import load_example

    spec.write_text(load_example("two-asset-basket").to_toml())
    target = tmp_path / "r.json"
    assert main(["solve", str(spec), "--time-model", "continuous", "--json", str(target)]) == 0
    data = json.loads(target.read_text())
    assert data["time_model"] == "continuous"
    assert len(data["holdings"][0]) == 2


def test_examples_lists_names_first(capsys):
    assert main(["examples"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == example_names()


def test_frontier_prints_and_plots(tmp_path, capsys):
    png = tmp_path / "f.png"
    js = tmp_path / "f.json"
    assert main(["frontier", "--example", "almgren-chriss-2001", "--points", "11", "--plot", str(png), "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "mean-VaR optimum" in out and "TWAP is cheapest at T = 3" in out
    assert png.stat().st_size > 10_000
    assert len(json.loads(js.read_text())["risk_aversion"]) == 11


def test_invalid_spec_exits_2_with_message_and_no_traceback(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text("horizon = 5.0\nslices = 5\nrisk_aversion = 1e-6\n[[assets]]\nholdings = 1e6\n"
                    "volatility = -0.95\ntemporary_impact = 2.5e-6\n")
    assert main(["solve", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "assets[0].volatility = -0.95: must be >= 0" in err and "Traceback" not in err


def test_not_applicable_method_exits_3(capsys):
    assert main(["solve", "--example", "square-root-impact"]) == 3
    assert "closed-form does not apply: needs linear temporary impact" in capsys.readouterr().err


def test_spec_and_example_are_exclusive(capsys):
    assert main(["solve"]) == 2
    assert "give exactly one of SPEC or --example NAME" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("optexec") is None, reason="console script not installed (pip install -e . first)")
def test_console_script_runs_from_any_folder(tmp_path):
    proc = subprocess.run(["optexec", "solve", "--example", "almgren-chriss-2001", "--json", "-"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["variance"] == pytest.approx(3.64129e11, abs=0.5e6)


def test_python_dash_m_solvers(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "solvers", "examples"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "almgren-chriss-2001" in proc.stdout


# ---------------------------------------------------------------------------- method settings
def test_set_and_option_are_method_settings(tmp_path, capsys):
    """``--set KEY=VALUE`` (and its alias ``--option``) pass the method's settings; values are
    Python or TOML literals."""
    from solvers.cli.common import parse_setting

    assert parse_setting("time_steps=400") == ("time_steps", 400)
    assert parse_setting("vol-bounds=(0.5, 2.0)") == ("vol_bounds", (0.5, 2.0))
    assert parse_setting("extrapolate=true") == ("extrapolate", True)
    assert parse_setting("backend=CLARABEL") == ("backend", "CLARABEL")
    for flag in ("--set", "--option"):
        out = tmp_path / f"{flag[2:]}.json"
        assert main(["solve", "--example", "almgren-chriss-2001", flag, "time_model='continuous'",
                     "--json", str(out)]) == 0
        assert json.loads(out.read_text())["time_model"] == "continuous"


def test_probe_time_model_on_a_discrete_only_method(capsys):
    """qp with --time-model discrete: accepted (its only time model) or a clear error, no traceback."""
    rc = main(["solve", "--example", "almgren-chriss-2001", "--method", "qp", "--time-model", "discrete", "--quiet"])
    err = capsys.readouterr().err
    assert rc in (0, 3) and "Traceback" not in err
    if rc == 3:
        assert "qp" in err and "time" in err
    rc = main(["solve", "--example", "almgren-chriss-2001", "--method", "dp", "--time-model", "continuous"])
    err = capsys.readouterr().err
    assert rc == 3 and "dp does not apply: --time-model continuous: it solves the discrete-time problem only" in err


@pytest.mark.parametrize("method", ["closed-form", "dp", "hjb"])
def test_probe_solver_on_a_method_without_back_end(method, capsys):
    rc = main(["solve", "--example", "almgren-chriss-2001", "--method", method, "--solver", "CLARABEL"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert f"optexec: invalid spec: --solver = 'CLARABEL': method {method} has no back end setting (its settings: " in err


def test_probe_unknown_setting_names_the_key_and_method(capsys):
    rc = main(["solve", "--example", "almgren-chriss-2001", "--set", "unknown_key=1"])
    err = capsys.readouterr().err
    assert rc == 2 and "settings.unknown_key = 1" in err and "method closed-form" in err and "Traceback" not in err


def test_a_method_registered_in_one_place_is_on_the_command_line(tmp_path, capsys):
    from solvers.methods import registered

    with registered("toy", "tests.helpers.toy_method"):
        out = tmp_path / "toy.json"
        assert main(["solve", "--example", "almgren-chriss-2001", "--method", "toy", "--set", "label='flat'",
                     "--json", str(out)]) == 0
        data = json.loads(out.read_text())
        assert data["method"] == "toy" and data["diagnostics"]["label"] == "flat"
        assert main(["solve", "--example", "almgren-chriss-2001", "--method", "toy", "--set", "nope=1"]) == 2
        assert "settings.nope = 1: unknown setting of method toy" in capsys.readouterr().err
