"""``optexec calibrate``: the round trip (calibrate the bundled sample, solve the spec it
writes, validate it), the "not identified" answer, malformed input, plots and column names."""

from __future__ import annotations

import json


from solvers import load_problem
from solvers.calibration import SyntheticTruth, calibrate_files, generate, sample_paths, write_csv
from solvers.cli import main

FILLS, BARS = (str(p) for p in sample_paths())


def test_round_trip_free_beta_solve_and_validate(tmp_path, capsys):
    """The spec written from the bundled sample holds the estimates, each of which covers the
    sample's known truth; qp (the method for beta != 1) solves it and validate passes."""
    spec = tmp_path / "cal.toml"
    assert main(["calibrate", FILLS, BARS, "-o", str(spec), "--holdings", "3e5", "--slices", "8"]) == 0
    out = capsys.readouterr().out
    assert "impact_exponent = 0.52" in out and "+/-" in out and "95% CI" in out and f"spec written to {spec}" in out
    problem = load_problem(spec)
    a = problem.asset
    cal = calibrate_files(FILLS, BARS)
    assert a.volatility == cal.volatility.sigma.value
    assert a.temporary_impact == cal.temporary.temporary_impact.value
    assert a.impact_exponent == cal.temporary.impact_exponent.value
    assert (a.holdings, problem.slices, problem.horizon) == (3e5, 8, 1.0)
    assert len(a.market_volume) == 8
    truth = SyntheticTruth()
    for est, true in zip(cal.estimates[:5], (truth.volatility, truth.spread, truth.temporary_impact,
                                             truth.impact_exponent, truth.permanent_impact)):
        assert est.covers(true), est
    result_path = tmp_path / "r.json"
    assert main(["solve", str(spec), "--method", "qp", "--json", str(result_path), "--quiet"]) == 0
    assert json.loads(result_path.read_text())["status"] == "optimal"
    assert main(["validate", str(spec), "--paths", "2000"]) == 0, capsys.readouterr().out


def test_round_trip_linear_closed_form(tmp_path, capsys):
    spec = tmp_path / "lin.toml"
    assert main(["calibrate", FILLS, BARS, "-o", str(spec), "--beta", "1", "--slices", "12", "--covariance", "iid"]) == 0
    assert "iid covariance" in json.dumps(calibrate_files(FILLS, BARS, beta=1.0, covariance="iid").to_dict())
    assert load_problem(spec).asset.impact_exponent == 1.0
    out_json = tmp_path / "r.json"
    assert main(["solve", str(spec), "--json", str(out_json), "--quiet"]) == 0
    result = json.loads(out_json.read_text())
    assert result["method"] == "closed-form" and result["status"] == "optimal"


def test_too_little_data_says_not_identified_and_writes_nothing(tmp_path, capsys):
    fills, bars = write_csv(generate(SyntheticTruth(), days=2, children=(4, 4), seed=0),
                            tmp_path / "f.csv", tmp_path / "b.csv")
    spec = tmp_path / "s.toml"
    assert main(["calibrate", str(fills), str(bars), "-o", str(spec)]) == 4
    captured = capsys.readouterr()
    assert "temporary_impact: not identified (8 child orders (need >= 20))" in captured.out
    assert "temporary_impact =" not in captured.out and "impact_exponent =" not in captured.out
    assert "optexec calibrate: temporary_impact is not identified" in captured.err
    assert "no spec written" in captured.err
    assert not spec.exists()


def test_malformed_rows_stop_or_are_listed(tmp_path, capsys):
    lines = open(FILLS).read().splitlines(keepends=True)
    lines[9] = lines[9].replace(",sell,", ",sel,").replace(",buy,", ",by,")  # file line 10
    bad = tmp_path / "fills.csv"
    bad.write_text("".join(lines))
    spec = tmp_path / "s.toml"
    assert main(["calibrate", str(bad), BARS, "-o", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "1 malformed rows" in err and "line 10: side = " in err and not spec.exists()
    assert main(["calibrate", str(bad), BARS, "-o", str(spec), "--skip-malformed"]) == 0
    captured = capsys.readouterr()
    assert "line 10: side = " in captured.err and "(left out)" in captured.err
    assert "1 malformed fill rows and 0 malformed bar rows left out" in captured.out
    assert spec.exists()


def test_plot_json_and_column_names(tmp_path, capsys):
    text = open(FILLS).read()
    renamed = tmp_path / "fills.csv"
    renamed.write_text(text.replace("arrival_mid", "mid_at_arrival", 1))
    spec, png, js = tmp_path / "s.toml", tmp_path / "fit.png", tmp_path / "cal.json"
    argv = ["calibrate", str(renamed), BARS, "-o", str(spec), "--plot", str(png), "--json", str(js)]
    assert main(argv) == 2
    assert "fills column = 'arrival_mid': not found" in capsys.readouterr().err
    assert main(argv + ["--fill-column", "arrival_mid=mid_at_arrival"]) == 0
    assert png.stat().st_size > 20_000 and png.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(js.read_text())
    assert data["identified"] and set(data["estimates"]) >= {"volatility", "temporary_impact", "permanent_impact"}
    assert main(argv + ["--fill-column", "mid=x"]) == 2
    assert "--fill-column = 'mid=x': must be FIELD=COLUMN" in capsys.readouterr().err
    assert main(argv + ["--session", "0930"]) == 2
    assert "--session = '0930': must look like HH:MM-HH:MM" in capsys.readouterr().err
    # numeric times read on a session clock: every row is malformed, and says why
    assert main(argv + ["--fill-column", "arrival_mid=mid_at_arrival", "--session", "09:30-16:00"]) == 2
    assert "line 2: time = '0': must be an ISO 8601 date-time" in capsys.readouterr().err


def test_sample_calibrates_to_the_parents_side_and_says_so(tmp_path, capsys):
    """The bundled sample holds more buy than sell parents: the default spec is a buy of the buy
    parents' median size, and the output says "buy"; a negative horizon names the horizon."""
    spec = tmp_path / "cal.toml"
    assert main(["calibrate", FILLS, BARS, "-o", str(spec)]) == 0
    out = capsys.readouterr().out
    problem = load_problem(spec)
    assert problem.asset.holdings < 0
    assert f"note: holdings = {problem.asset.holdings:g}: a buy of {-problem.asset.holdings:g} shares" in out
    assert "parent orders on the other side left out" in out
    assert main(["calibrate", FILLS, BARS, "-o", str(tmp_path / "bad.toml"), "--horizon", "-1"]) != 0
    err = capsys.readouterr().err
    assert "horizon = -1.0: must be > 0" in err and "market_volume" not in err
