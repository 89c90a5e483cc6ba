"""Readers of fills and bars: malformed rows reported with their line numbers, configurable
column names, CSV and Parquet giving the same table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from solvers import SpecError
from solvers.calibration import (BarColumns, FillColumns, MalformedDataError, read_bars, read_fills)
from solvers.calibration.market import bar_spacing

HEADER = "time,symbol,side,shares,price,arrival_mid,parent_id\n"
GOOD = "0.1,XYZ,sell,100,9.9,10.0,A\n"


def _write(tmp_path, text, name="fills.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_malformed_fill_rows_are_reported_with_line_numbers(tmp_path):
    path = _write(tmp_path, HEADER + GOOD                       # line 2
                  + "0.2,XYZ,sell,abc,9.9,10.0,A\n"           # line 3: shares
                  + "\n"                                        # line 4: blank, not a row
                  + "0.3,XYZ,sell,100,9.9,10.0\n"             # line 5: 6 fields
                  + "0.4,XYZ,hold,100,9.9,10.0,A\n"           # line 6: side
                  + "0.5,XYZ,buy,100,-9.9,10.0,B\n"           # line 7: price
                  + "0.6,XYZ,buy,100,10.1,10.0,B\n")          # line 8
    with pytest.raises(MalformedDataError) as info:
        read_fills(path)
    msg = str(info.value)
    assert "4 malformed rows" in msg
    assert "line 3: shares = 'abc': must be a number" in msg
    assert "line 5: has 6 fields, the header has 7" in msg
    assert "line 6: side = 'hold': must be sell/buy, s/b or +1/-1" in msg
    assert "line 7: price = '-9.9': must be > 0" in msg
    assert [r.line for r in info.value.rows] == [3, 5, 6, 7]

    fills = read_fills(path, on_error="skip")  # left out, but listed
    assert fills.line.tolist() == [2, 8]
    assert [r.line for r in fills.malformed] == [3, 5, 6, 7]
    assert fills.side.tolist() == [1, -1]


def test_missing_column_names_the_column_and_the_ones_present(tmp_path):
    path = _write(tmp_path, "time,symbol,side,shares,px,arrival_mid,parent_id\n" + GOOD)
    with pytest.raises(SpecError, match=r"fills column = 'price': not found in fills.csv \(columns present: "
                                        r"time, symbol, side, shares, px, arrival_mid, parent_id\)"):
        read_fills(path)
    fills = read_fills(path, FillColumns(price="px"))
    assert fills.price.tolist() == [9.9]


def test_parquet_with_custom_names_reads_like_csv(tmp_path):
    csv_path = _write(tmp_path, HEADER + GOOD + "0.2,XYZ,b,50,10.2,10.1,B\n")
    frame = pd.read_csv(csv_path).rename(columns={"time": "ts", "parent_id": "order"})
    pq = tmp_path / "fills.parquet"
    frame.to_parquet(pq)
    a = read_fills(csv_path)
    b = read_fills(pq, FillColumns(time="ts", parent="order"))
    for key in ("time", "side", "shares", "price", "arrival_mid"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert b.parent.tolist() == ["A", "B"] and b.line.tolist() == [1, 2]  # Parquet: row numbers
    frame.loc[1, "price"] = np.nan
    frame.to_parquet(pq)
    with pytest.raises(MalformedDataError, match=r"row 2: price = nan: must be finite"):
        read_fills(pq, FillColumns(time="ts", parent="order"))


def test_bars_reader_and_time_order(tmp_path):
    path = _write(tmp_path, "t,sym,close,vol\n1,XYZ,10,100\n2,XYZ,10.1,-5\n3,XYZ,x,7\n", "bars.csv")
    cols = BarColumns(time="t", symbol="sym", mid="close", volume="vol")
    with pytest.raises(MalformedDataError, match=r"line 3: vol = '-5': must be >= 0; line 4: close = 'x'"):
        read_bars(path, cols)
    path = _write(tmp_path, "t,sym,close,vol\n1,XYZ,10,100\n2,XYZ,10.1,5\n2,XYZ,10.2,7\n", "bars.csv")
    with pytest.raises(SpecError, match=r"bars time \(line 4\) = 2.0: must be later than the previous bar's time 2"):
        bar_spacing(read_bars(path, cols))


def test_missing_file_and_bad_options(tmp_path):
    with pytest.raises(SpecError, match=r"fills = '.*nope.csv': file does not exist"):
        read_fills(tmp_path / "nope.csv")
    path = _write(tmp_path, HEADER + GOOD)
    with pytest.raises(SpecError, match=r"on_error = 'ignore': must be 'raise' or 'skip'"):
        read_fills(path, on_error="ignore")


# ---------------------------------------------------------------------- ISO time stamps
def _iso(t: np.ndarray, bar_end: bool) -> list[str]:
    """Trading-day times (day index + fraction of a 09:30-16:00 session) as ISO stamps, day 0 =
    Monday 2024-01-01. A bar ending at the close (fraction 1) belongs to the day it closes."""
    day = np.ceil(t - 1e-9).astype(int) - 1 if bar_end else np.floor(t + 1e-9).astype(int)
    frac = t - day
    dates = np.busday_offset(np.datetime64("2024-01-01"), day)
    secs = np.round(34200 + frac * 23400).astype(int)
    return [f"{d}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for d, s in zip(dates, secs)]


def _write_iso(data, tmp_path, jump: float = 0.0):
    """The synthetic data with ISO stamps; ``jump`` is added to every price from day 20 on
    (an overnight move between day 19's close and day 20's open)."""
    f, b = data.fills, data.bars
    fj = np.where(f.time >= 20, jump, 0.0)
    bj = np.where(b.time > 20 + 1e-9, jump, 0.0)
    pd.DataFrame({"time": _iso(f.time, False), "symbol": f.symbol, "side": f.side, "shares": f.shares,
                  "price": f.price + fj, "arrival_mid": f.arrival_mid + fj, "parent_id": f.parent}
                 ).to_csv(tmp_path / "f.csv", index=False)
    pd.DataFrame({"time": _iso(b.time, True), "symbol": b.symbol, "mid": b.mid + bj, "volume": b.volume}
                 ).to_csv(tmp_path / "b.csv", index=False)
    return tmp_path / "f.csv", tmp_path / "b.csv"


def test_iso_stamps_on_a_session_clock_give_the_same_calibration(tmp_path):
    """The same data with ISO stamps: impact estimates equal the numeric-time ones (times are
    shifted by a whole number of days; stamps are rounded to the second, 1e-5 of a 15-minute
    child, hence rel 1e-4 on rates and eta); the volatility leaves out the overnight increments
    (39 for 40 days) and an overnight price jump does not move it at all."""
    from solvers.calibration import SessionClock, calibrate, calibrate_files, generate, SyntheticTruth

    data = generate(SyntheticTruth(), days=40, seed=8)
    ref = calibrate(data.fills, data.bars)
    clock = SessionClock("09:30", "16:00")
    cal = calibrate_files(*_write_iso(data, tmp_path), clock=clock)
    assert cal.volatility.increments == ref.volatility.increments - 39
    assert cal.volatility.skipped_gaps == 39
    for a, b in zip(cal.estimates[1:5], ref.estimates[1:5]):
        assert a.value == pytest.approx(b.value, rel=1e-4), a.name
    (tmp_path / "jump").mkdir()
    jumped = calibrate_files(*_write_iso(data, tmp_path / "jump", jump=5.0), clock=clock)
    assert jumped.volatility.sigma.value == pytest.approx(cal.volatility.sigma.value, rel=1e-12)
    assert jumped.temporary.temporary_impact.value == pytest.approx(cal.temporary.temporary_impact.value, rel=1e-9)


def test_stamps_outside_the_session_are_malformed(tmp_path):
    from solvers.calibration import SessionClock

    path = _write(tmp_path, HEADER + "2024-01-02T10:00:00,XYZ,sell,100,9.9,10.0,A\n"
                  "2024-01-02T17:00:00,XYZ,sell,100,9.9,10.0,A\n"
                  "2024-01-06T10:00:00,XYZ,sell,100,9.9,10.0,A\n"
                  "yesterday,XYZ,sell,100,9.9,10.0,A\n")
    with pytest.raises(MalformedDataError) as info:
        read_fills(path, clock=SessionClock())
    msg = str(info.value)
    assert "line 3: time = '2024-01-02T17:00:00': is outside the trading session 09:30-16:00" in msg
    assert "line 4: time = '2024-01-06T10:00:00': is not a business day" in msg
    assert "line 5: time = 'yesterday': must be an ISO 8601 date-time" in msg
    with pytest.raises(SpecError, match=r"session = \('16:00', '09:30'\): close must be later than open"):
        SessionClock("16:00", "09:30")
