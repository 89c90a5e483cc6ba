"""The optexec command line: solve, examples, frontier, error handling."""

from __future__ import annotations

import json
from pathlib import Path
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


# ---------------------------------------------------------------------------- one error boundary
SPEC_COMMANDS = ["solve", "frontier", "validate", "adaptivity"]


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("optexec")]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


def test_an_unexpected_exception_is_one_line_exit_1_unless_debug(monkeypatch, capsys):
    import solvers.cli.solve as solve_cli

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division\nby zero")

    monkeypatch.setattr(solve_cli, "solve", broken)
    assert main(["solve", "--example", "almgren-chriss-2001"]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert line.startswith("optexec: internal error in solve: ZeroDivisionError: float division by zero")
    monkeypatch.setenv("OPTEXEC_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["solve", "--example", "almgren-chriss-2001"])


def test_usage_errors_are_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["solve", "--example", "almgren-chriss-2001", "--no-such-flag"])
    assert exc.value.code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert line.startswith("optexec: unrecognized arguments: --no-such-flag")
    with pytest.raises(SystemExit) as exc:
        main(["solve", "--example"])
    assert exc.value.code == 2
    assert _one_line_error(capsys.readouterr().err).startswith("optexec: solve: argument --example: expected one argument")
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code == 2 and "invalid choice: 'nonsense'" in _one_line_error(capsys.readouterr().err)


def test_missing_spec_file_is_exit_2_naming_it(tmp_path, capsys):
    rc = main(["solve", str(tmp_path / "nope.toml")])
    line = _one_line_error(capsys.readouterr().err)
    assert rc == 2 and "nope.toml" in line


def test_output_files_are_checked_before_the_solve(tmp_path, capsys):
    """A bad --json/--plot/-o is exit 2 naming the option, before any method runs (boom would be exit 1)."""
    from solvers.methods import registered

    missing = tmp_path / "no-such-folder"
    with registered("boom", "tests.helpers.boom_method"):
        for argv, option in [(["--json", str(missing / "r.json")], "--json"),
                             (["--plot", str(missing / "r.png")], "--plot"),
                             (["--plot", str(tmp_path / "r.xyz")], "--plot"),
                             (["--plot", str(tmp_path / "r")], "--plot"),
                             (["--json", str(tmp_path)], "--json")]:
            rc = main(["solve", "--example", "almgren-chriss-2001", "--method", "boom", *argv])
            line = _one_line_error(capsys.readouterr().err)
            assert rc == 2 and line.startswith(f"optexec: invalid spec: {option} = "), line
    rc = main(["solve", "--example", "almgren-chriss-2001", "--plot", str(tmp_path / "r.xyz")])
    assert rc == 2 and "format 'xyz' is not one matplotlib writes" in capsys.readouterr().err
    rc = main(["calibrate", str(tmp_path / "fills.csv"), str(tmp_path / "bars.csv"), "-o", str(missing / "s.toml")])
    line = _one_line_error(capsys.readouterr().err)
    assert rc == 2 and "--output = " in line and "does not exist" in line
    svg = tmp_path / "r.svg"  # any format the Agg canvas writes
    assert main(["solve", "--example", "almgren-chriss-2001", "--plot", str(svg), "--quiet"]) == 0
    assert svg.read_text().lstrip().startswith("<?xml")


def test_option_alias_unknown_key_names_the_setting_and_method(capsys):
    rc = main(["solve", "--example", "almgren-chriss-2001", "--method", "qp", "--option", "foo=1"])
    line = _one_line_error(capsys.readouterr().err)
    assert rc == 2 and "settings.foo = 1" in line and "method qp" in line


def _json_commands(tmp_path):
    from solvers.calibration import generate, write_csv  # noqa: F401 - the sample files are bundled

    data = Path(__file__).resolve().parents[1] / "solvers" / "data"
    sweep = tmp_path / "s.toml"
    sweep.write_text('name = "j"\nbase_example = "almgren-chriss-2001"\nmethods = ["closed-form"]\n'
                     '[[axes]]\nparameter = "risk_aversion"\nvalues = [1e-7, 1e-6]\n')
    ex = ["--example", "almgren-chriss-2001"]
    return {
        "examples": [],
        "solve": ex,
        "frontier": [*ex, "--points", "7"],
        "validate": [*ex, "--methods", "closed-form", "--paths", "200"],
        "adaptivity": ["--example", "mean-reverting-volatility", "--paths", "200"],
        "calibrate": [str(data / "sample_fills.csv"), str(data / "sample_bars.csv"), "-o", str(tmp_path / "c.toml")],
        "sweep": [str(sweep), "--scheduler", "synchronous", "--out", str(tmp_path / "sw"), "--no-progress"],
        "bench": ["--quick", "--out", str(tmp_path / "bench")],
        "sensitivities": [*ex, "--method", "closed-form"],
        "export": [*ex, "-o", str(tmp_path / "e.npz")],
    }


def test_json_dash_leaves_only_json_on_stdout_for_every_command(tmp_path, capsys, monkeypatch):
    import benchmarks.runner

    from solvers.cli import COMMANDS

    monkeypatch.setattr(benchmarks.runner, "SUITES", ["tests.helpers.tiny_bench"])
    commands = _json_commands(tmp_path)
    assert set(commands) == set(COMMANDS)  # every command takes --json
    for command, argv in commands.items():
        rc = main([command, *argv, "--json", "-"])
        out = capsys.readouterr()
        assert rc in (0, 4), (command, out.err[-2000:])
        json.loads(out.out)  # nothing but JSON on stdout
        assert out.err.strip(), command  # the human-readable text went to stderr


def test_bench_quick_prints_its_table(tmp_path, capsys, monkeypatch):
    import benchmarks.runner

    monkeypatch.setattr(benchmarks.runner, "SUITES", ["tests.helpers.tiny_bench"])
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| case | ms | quick |" in out and "| one | 1.25 | True |" in out and "- a test suite" in out


def test_every_help_entry_is_present_and_plain_text(capsys):
    """Every sub-command's --help: each option has a help text, and no Sphinx markup shows."""
    import argparse as ap
    import re

    from solvers.cli import build_parser

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, ap._SubParsersAction))
    from solvers.cli import COMMANDS

    assert set(subs.choices) == set(COMMANDS)  # the walk covers every registered command
    assert {"examples", "solve", "frontier", "validate", "adaptivity", "calibrate", "sweep", "bench",
            "sensitivities", "export"} <= set(COMMANDS)
    markup = re.compile(r":(func|mod|class|meth|data|attr|ref):|``|\.\. ")
    for name, sub in [("optexec", parser), *subs.choices.items()]:
        text = sub.format_help()
        assert not markup.search(text), (name, markup.search(text).group(0))
        assert sub.description, f"{name} has no description"
        for action in sub._actions:
            if isinstance(action, (ap._HelpAction, ap._SubParsersAction)):
                continue
            assert action.help and action.help.strip(), f"optexec {name} {action.option_strings or action.dest}: no help"
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"] if name != "optexec" else ["--help"])
        assert exc.value.code == 0 and capsys.readouterr().out.strip()


# ---------------------------------------------------------------------------- newcomer outputs
def test_summary_and_json_show_costs_in_bps_of_the_notional(capsys):
    from solvers import load_example, solve

    ac = load_example("almgren-chriss-2001")
    result = solve(ac, "closed-form")
    data = result.to_dict()
    notional = 1e6 * 50.0
    assert data["notional"] == notional
    assert data["expected_cost_bps"] == pytest.approx(1e4 * result.expected_cost / notional)
    assert data["objective_bps"] == pytest.approx(1e4 * result.objective / notional)
    assert data["std_bps"] == pytest.approx(1e4 * result.std / notional)
    text = result.summary()
    assert "basis points (bps) of the order's notional |X| S_0 = 50,000,000" in text
    assert "182.2 bps" in text and "120.7 bps" in text and "255.1 bps" in text
    basket = solve(load_example("two-asset-basket"), "closed-form").summary()
    assert "(AAA 50,000,000, BBB 20,000,000)" in basket and "E per asset" in basket and "AAA 766017 = 153.2 bps" in basket
    # a static method under stochastic volatility says what it solved
    sv = solve(load_example("mean-reverting-volatility"), "qp").summary()
    assert "solves the static problem on the expected variance E[sigma_k^2]" in sv
    assert "E[sigma_k^2]" not in text
    assert main(["frontier", "--example", "almgren-chriss-2001", "--points", "5"]) == 0
    out = capsys.readouterr().out
    assert "E bps" in out and "in bps of the notional |X| S_0 = 50,000,000" in out


def _tree(root: Path) -> set[str]:
    skip = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".venv", ".ci-venv", "quick"}
    out = set()
    for path in root.rglob("*"):
        if not any(part in skip or part.endswith(".egg-info") for part in path.relative_to(root).parts):
            out.add(str(path.relative_to(root)))
    return out


def test_every_command_writes_only_where_it_is_told(tmp_path, monkeypatch, capsys):
    """Each command, run from an empty folder with its outputs in out/, leaves the folder, the
    repository as they were and writes no file into the home folder; only out/ and the documented
    cache folder (XDG_CACHE_HOME: JAX's compilation cache, default sweep results, matplotlib's
    font cache) may gain files (matplotlib itself creates an empty ~/.config/matplotlib)."""
    import benchmarks.runner

    from solvers.cli import COMMANDS

    monkeypatch.setattr(benchmarks.runner, "SUITES", ["tests.helpers.tiny_bench"])
    repo = Path(__file__).resolve().parents[1]
    work, out, cache, home = (tmp_path / d for d in ("work", "out", "cache", "home"))
    for d in (work, out, cache, home):
        d.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("HOME", str(home))
    commands = _json_commands(out)
    assert set(commands) == set(COMMANDS)
    commands["solve"] = [*commands["solve"], "--plot", str(out / "x.png")]
    before = _tree(repo)
    for command, argv in commands.items():
        rc = main([command, *argv, "--json", str(out / f"{command}.json")])
        capsys.readouterr()
        assert rc in (0, 4), command
        assert not any(work.iterdir()), (command, sorted(p.name for p in work.iterdir()))
        files = [str(p.relative_to(home)) for p in home.rglob("*") if not p.is_dir()]
        assert not files, (command, files)
    assert _tree(repo) == before
    assert (out / "solve.json").exists() and (out / "x.png").exists()
