"""``optexec calibrate``: the round trip (calibrate the bundled sample, solve the spec it
writes, validate it), the "not identified" answer, malformed input, plots and column names."""

from __future__ import annotations

import json


from solvers import load_problem
from solvers.calibration import SyntheticTruth, calibrate, calibrate_files, generate, sample_paths, write_csv
from solvers.sensitivities import calibration_covariance
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


def _transient_truths(truth):
    return {"volatility": truth.volatility, "spread": truth.spread,
            "temporary_impact": truth.eta_athl * truth.volatility / truth.daily_volume**truth.impact_exponent,
            "impact_exponent": truth.impact_exponent,
            "permanent_impact": truth.permanent_athl * truth.volatility / truth.daily_volume,
            "transient_impact": truth.transient_impact, "resilience": truth.resilience}


def test_transient_fit_corrects_the_other_estimates_over_seeds():
    """Synthetic data with a decaying deviation (kappa_T = 2e-6 > gamma, rho = 10/day): with
    transient=True each of the seven spec estimates covers its truth in at least 16 of 20 seeds
    (nominal 95%: P(fewer than 16) is about 1.6% for one estimate); without it the permanent
    impact (which then counts the deviation left at each parent's end) and the impact exponent
    (the children's own walk 1/2 kappa_T n) cover in at most 2, so the corrections are needed."""
    truth = SyntheticTruth(transient_impact=2e-6, resilience=10.0)
    truths = _transient_truths(truth)
    with_t = dict.fromkeys(truths, 0)
    without = dict.fromkeys(truths, 0)
    for seed in range(20):
        data = generate(truth, days=250, parents_per_day=2, children=(6, 12), seed=seed)
        for hits, flag in ((with_t, True), (without, False)):
            cal = calibrate(data.fills, data.bars, transient=flag)
            for est in cal.estimates:
                if est.name in truths:
                    hits[est.name] += est.covers(truths[est.name])
    assert min(with_t.values()) >= 16, with_t
    assert without["permanent_impact"] <= 2 and without["impact_exponent"] <= 2, without


def test_transient_flag_writes_the_kernel_and_propagates_with_dp(tmp_path, capsys):
    """``--transient`` prints and writes kappa_T and rho, and ``--propagate`` on the linear spec
    uses dp's exact (x, D) recursion with the joint covariance of (gamma, kappa_T, rho)."""
    truth = SyntheticTruth(transient_impact=2e-6, resilience=10.0)
    fills, bars = write_csv(generate(truth, days=250, parents_per_day=2, children=(6, 12), seed=3),
                            tmp_path / "f.csv", tmp_path / "b.csv")
    spec = tmp_path / "t.toml"
    assert main(["calibrate", str(fills), str(bars), "-o", str(spec), "--transient", "--beta", "1",
                 "--propagate", "--draws", "20"]) == 0
    out = capsys.readouterr().out
    cal = calibrate_files(fills, bars, transient=True, beta=1.0)
    a = load_problem(spec).asset
    assert a.transient_impact == cal.transient.transient_impact.value
    assert a.resilience == cal.transient.resilience.value
    assert a.permanent_impact == cal.transient.permanent_impact.value
    assert "transient_impact = " in out and "resilience = " in out and "optimal objective (dp)" in out
    names = calibration_covariance(cal).names
    assert {"assets[0].transient_impact", "assets[0].resilience", "assets[0].permanent_impact"} <= set(names)


def test_transient_fit_without_decay_is_not_identified_and_writes_no_spec(tmp_path, capsys):
    """Data without a transient term: the kappa_T interval includes 0, so calibrate says no
    transient impact is detected and exits 4 without a spec."""
    fills, bars = write_csv(generate(SyntheticTruth(), days=60, seed=1), tmp_path / "f.csv", tmp_path / "b.csv")
    spec = tmp_path / "n.toml"
    assert main(["calibrate", str(fills), str(bars), "-o", str(spec), "--transient"]) == 4
    err = capsys.readouterr().err
    assert not spec.exists() and "no transient impact detected" in err and "leave out --transient" in err
