"""Readers for execution data: child fills and market bars (CSV or Parquet).

Tables and units (those of the spec, the conventions page):

* **fills** - one row per child fill: ``time`` (in the spec's time unit, e.g. trading days
  counted as day number + fraction of the session), ``symbol``, ``side`` (``sell``/``buy``,
  ``s``/``b``, ``+1``/``-1``; the conventions page's sign: a sale is ``+1`` like ``X > 0``), ``shares``
  (> 0), ``price`` (the fill price, currency / share), ``arrival_mid`` (the mid price when the
  child was sent, currency / share) and ``parent`` (the parent order id). The fill's time is
  when the child starts trading (``t_{k-1}`` of the conventions page: it executes against ``S_{k-1}``, its
  permanent impact shows from then on).
* **bars** - one row per market bar: ``time`` (the bar's *end*, spec time unit), ``symbol``,
  ``mid`` (mid or close price at the bar's end, currency / share) and ``volume`` (shares traded
  by the whole market during the bar, >= 0).

Time stamps. By default ``time`` is a number already in the spec's time unit. With
``clock=SessionClock("09:30", "16:00")`` it is an ISO 8601 date-time (``2024-03-05T10:15:00``,
or a timestamp column of a Parquet file) mapped to *trading days*:
``t = business days since 1970-01-01 + (time of day - open) / (close - open)``, so one time
unit is one trading session, and overnight and weekends take no time (the wall-clock time
of day is used as written; a time-zone offset is ignored). Stamps outside the session or on
a weekend are malformed rows. Bars then carry their session (the date), and the volatility
estimator leaves out the increments from one session's last bar to the next session's first
(the overnight move is not the conventions page's intraday diffusion).

Column names are configurable (:class:`FillColumns`, :class:`BarColumns`). Every row is
checked; a malformed row is never dropped silently: by default the reader raises
:class:`MalformedDataError` listing every bad row with its line number (CSV: the physical
line of the file, header = line 1; Parquet: ``row`` r, 1-based). With
``on_error="skip"`` the bad rows are left out *and* returned in the table's ``malformed``
list, which the command line prints.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import SpecError

__all__ = [
    "FillColumns",
    "BarColumns",
    "Fills",
    "Bars",
    "MalformedRow",
    "MalformedDataError",
    "read_fills",
    "read_bars",
    "parse_side",
    "SessionClock",
]


@dataclass(frozen=True)
class FillColumns:
    """Names of the fill table's columns in the file (defaults in parentheses)."""

    time: str = "time"
    symbol: str = "symbol"
    side: str = "side"
    shares: str = "shares"
    price: str = "price"
    arrival_mid: str = "arrival_mid"
    parent: str = "parent_id"


@dataclass(frozen=True)
class BarColumns:
    """Names of the bar table's columns in the file (defaults in parentheses)."""

    time: str = "time"
    symbol: str = "symbol"
    mid: str = "mid"
    volume: str = "volume"


@dataclass(frozen=True)
class SessionClock:
    """Maps ISO date-times to trading days (see the module docstring): ``open``/``close`` as HH:MM."""

    open: str = "09:30"
    close: str = "16:00"

    def __post_init__(self) -> None:
        lo, hi = self.bounds()
        if not hi > lo:
            raise SpecError("session", (self.open, self.close), "close must be later than open (HH:MM, 24 hours)")

    def bounds(self) -> tuple[float, float]:
        """Open and close in seconds after midnight."""
        out = []
        for name in ("open", "close"):
            text = getattr(self, name)
            try:
                hh, mm = str(text).split(":")
                out.append(3600.0 * int(hh) + 60.0 * int(mm))
            except ValueError:
                raise SpecError(f"session.{name}", text, "must be HH:MM") from None
        return out[0], out[1]

    def convert(self, raw: Any) -> tuple[float, int]:
        """``(t, session)`` for one stamp: trading days since 1970-01-01 and the day's index."""
        import datetime as dt

        if isinstance(raw, dt.datetime):
            stamp = raw
        elif hasattr(raw, "to_pydatetime"):
            stamp = raw.to_pydatetime()
        else:
            try:
                stamp = dt.datetime.fromisoformat(str(raw).strip())
            except ValueError:
                raise _Bad("must be an ISO 8601 date-time (e.g. 2024-03-05T10:15:00)") from None
        day = np.datetime64(stamp.date(), "D")
        if not np.is_busday(day):
            raise _Bad("is not a business day (Monday to Friday)")
        lo, hi = self.bounds()
        secs = stamp.hour * 3600.0 + stamp.minute * 60.0 + stamp.second + stamp.microsecond * 1e-6
        if not lo <= secs <= hi:
            raise _Bad(f"is outside the trading session {self.open}-{self.close}")
        index = int(np.busday_count(np.datetime64("1970-01-01", "D"), day))
        return index + (secs - lo) / (hi - lo), index


@dataclass(frozen=True)
class MalformedRow:
    """One bad row: where it is, which column, the raw value and the rule it broke."""

    line: int
    column: str
    value: Any
    rule: str
    unit: str = "line"  # "line" for CSV, "row" for Parquet

    def __str__(self) -> str:
        if self.column == "*":
            return f"{self.unit} {self.line}: {self.rule}"
        return f"{self.unit} {self.line}: {self.column} = {self.value!r}: {self.rule}"


class MalformedDataError(SpecError):
    """A data file has malformed rows; ``rows`` lists them all (with line numbers)."""

    def __init__(self, path: str, rows: Sequence[MalformedRow], limit: int = 20) -> None:
        self.rows = list(rows)
        shown = "; ".join(str(r) for r in self.rows[:limit])
        more = f"; ... and {len(self.rows) - limit} more" if len(self.rows) > limit else ""
        super().__init__(path, f"{len(self.rows)} malformed rows",
                         f"{shown}{more} (fix them, or pass on_error='skip' / --skip-malformed to leave them out)")


@dataclass(frozen=True)
class Fills:
    """Child fills as arrays (one entry per fill, file order). See the module docstring."""

    time: np.ndarray
    symbol: np.ndarray
    side: np.ndarray  # +1 sell, -1 buy
    shares: np.ndarray
    price: np.ndarray
    arrival_mid: np.ndarray
    parent: np.ndarray
    line: np.ndarray  # line (CSV) or row (Parquet) number of each fill
    source: str = ""
    malformed: tuple[MalformedRow, ...] = ()

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def select(self, mask: np.ndarray) -> "Fills":
        """The fills where ``mask`` is true (same order)."""
        kw = {f.name: getattr(self, f.name)[mask] for f in fields(self)
              if isinstance(getattr(self, f.name), np.ndarray)}
        return Fills(source=self.source, malformed=self.malformed, **kw)


@dataclass(frozen=True)
class Bars:
    """Market bars as arrays (file order). See the module docstring."""

    time: np.ndarray
    symbol: np.ndarray
    mid: np.ndarray
    volume: np.ndarray
    line: np.ndarray
    source: str = ""
    malformed: tuple[MalformedRow, ...] = ()
    session: np.ndarray | None = None  # trading-day index of each bar (SessionClock), else None

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def select(self, mask: np.ndarray) -> "Bars":
        kw = {f.name: getattr(self, f.name)[mask] for f in fields(self)
              if isinstance(getattr(self, f.name), np.ndarray)}
        return Bars(source=self.source, malformed=self.malformed, **kw)

    def sessions_break(self) -> np.ndarray:
        """For each increment ``i-1 -> i``: True where the two bars lie in different sessions."""
        if self.session is None:
            return np.zeros(max(len(self) - 1, 0), dtype=bool)
        return self.session[1:] != self.session[:-1]


# ---------------------------------------------------------------------- cell parsers
class _Bad(Exception):
    def __init__(self, rule: str) -> None:
        self.rule = rule


def _float(raw: Any) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise _Bad("is empty")
    if isinstance(raw, bool):
        raise _Bad("must be a number")
    try:
        out = float(raw)
    except (TypeError, ValueError):
        raise _Bad("must be a number") from None
    if not math.isfinite(out):
        raise _Bad("must be finite")
    return out


def _positive(raw: Any) -> float:
    out = _float(raw)
    if out <= 0:
        raise _Bad("must be > 0")
    return out


def _nonnegative(raw: Any) -> float:
    out = _float(raw)
    if out < 0:
        raise _Bad("must be >= 0")
    return out


def _text(raw: Any) -> str:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        raise _Bad("is empty")
    out = str(raw).strip()
    if not out:
        raise _Bad("is empty")
    return out


_SIDES = {"sell": 1, "s": 1, "+1": 1, "1": 1, "short": 1, "buy": -1, "b": -1, "-1": -1, "cover": -1}


def parse_side(raw: Any) -> int:
    """``+1`` for a sale (the conventions page's ``X > 0``), ``-1`` for a purchase."""
    if isinstance(raw, (int, np.integer, float)) and not isinstance(raw, bool) and raw in (1, -1):
        return int(raw)
    key = str(raw).strip().lower()
    if key not in _SIDES:
        raise _Bad("must be sell/buy, s/b or +1/-1")
    return _SIDES[key]


def _side(raw: Any) -> int:
    return parse_side(raw)


_FILL_PARSERS: dict[str, Callable[[Any], Any]] = {
    "time": _float, "symbol": _text, "side": _side, "shares": _positive, "price": _positive,
    "arrival_mid": _positive, "parent": _text,
}
_BAR_PARSERS: dict[str, Callable[[Any], Any]] = {
    "time": _float, "symbol": _text, "mid": _positive, "volume": _nonnegative,
}


# ---------------------------------------------------------------------- raw row sources
def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("csv", "parquet"):
            raise SpecError("format", fmt, "must be 'csv' or 'parquet'")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    return "csv"


def _rows_csv(path: Path, wanted: Sequence[str], what: str):
    """Yield (line number, {column: raw}, problem) for each data row of a CSV file."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise SpecError(str(path), "empty file", f"the {what} file has no header line") from None
        header = [h.strip() for h in header]
        index = _column_index(path, header, wanted, what)
        width = len(header)
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line is not a row
            if len(row) != width:
                yield line, None, f"has {len(row)} fields, the header has {width}"
                continue
            yield line, {name: row[i] for name, i in index.items()}, None


def _rows_parquet(path: Path, wanted: Sequence[str], what: str):
    import pandas as pd

    frame = pd.read_parquet(path)
    header = [str(c) for c in frame.columns]
    index = _column_index(path, header, wanted, what)
    columns = {name: frame.iloc[:, i].tolist() for name, i in index.items()}
    for r in range(len(frame)):
        yield r + 1, {name: values[r] for name, values in columns.items()}, None


def _column_index(path: Path, header: list[str], wanted: Sequence[str], what: str) -> dict[str, int]:
    missing = [c for c in wanted if c not in header]
    if missing:
        raise SpecError(f"{what} column", missing[0],
                        f"not found in {path.name} (columns present: {', '.join(header)}); "
                        "set the column names to match the file")
    return {c: header.index(c) for c in wanted}


def _read(path: str | Path, columns: Any, parsers: dict[str, Callable[[Any], Any]], what: str,
          fmt: str | None, on_error: str, clock: SessionClock | None = None
          ) -> tuple[dict[str, list], list[int], list[MalformedRow]]:
    if on_error not in ("raise", "skip"):
        raise SpecError("on_error", on_error, "must be 'raise' or 'skip'")
    if clock is not None:
        if not isinstance(clock, SessionClock):
            raise SpecError("clock", clock, "must be a SessionClock or None")
        parsers = {**parsers, "time": clock.convert}
    path = Path(path)
    if not path.is_file():
        raise SpecError(what, str(path), "file does not exist")
    kind = _format_of(path, fmt)
    names = {f.name: getattr(columns, f.name) for f in fields(columns)}
    source = _rows_csv if kind == "csv" else _rows_parquet
    unit = "line" if kind == "csv" else "row"
    out: dict[str, list] = {k: [] for k in names}
    lines: list[int] = []
    bad: list[MalformedRow] = []
    for line, raw, problem in source(path, list(names.values()), what):
        if problem is not None:
            bad.append(MalformedRow(line, "*", "", problem, unit))
            continue
        parsed = {}
        ok = True
        for key, column in names.items():
            try:
                parsed[key] = parsers[key](raw[column])
            except _Bad as err:
                bad.append(MalformedRow(line, column, raw[column], err.rule, unit))
                ok = False
        if ok:
            for key, value in parsed.items():
                out[key].append(value)
            lines.append(line)
    if bad and on_error == "raise":
        raise MalformedDataError(str(path), bad)
    return out, lines, bad


def _times(values: list) -> tuple[np.ndarray, np.ndarray | None]:
    if values and isinstance(values[0], tuple):
        return (np.asarray([v[0] for v in values], dtype=np.float64),
                np.asarray([v[1] for v in values], dtype=np.int64))
    return np.asarray(values, dtype=np.float64), None


def read_fills(path: str | Path, columns: FillColumns = FillColumns(), *, format: str | None = None,
               on_error: str = "raise", clock: SessionClock | None = None) -> Fills:
    """Read a fill table (CSV or Parquet, chosen by the suffix unless ``format`` is given).

    Raises :class:`MalformedDataError` listing every bad row (with its line number) unless
    ``on_error="skip"``, which leaves them out and lists them in ``Fills.malformed``.
    ``clock``: a :class:`SessionClock` when ``time`` holds ISO date-times (else numbers).
    """
    data, lines, bad = _read(path, columns, _FILL_PARSERS, "fills", format, on_error, clock)
    return Fills(
        time=_times(data["time"])[0], symbol=np.asarray(data["symbol"], dtype=object),
        side=np.asarray(data["side"], dtype=np.int64), shares=np.asarray(data["shares"], dtype=np.float64),
        price=np.asarray(data["price"], dtype=np.float64),
        arrival_mid=np.asarray(data["arrival_mid"], dtype=np.float64),
        parent=np.asarray(data["parent"], dtype=object), line=np.asarray(lines, dtype=np.int64),
        source=str(path), malformed=tuple(bad),
    )


def read_bars(path: str | Path, columns: BarColumns = BarColumns(), *, format: str | None = None,
              on_error: str = "raise", clock: SessionClock | None = None) -> Bars:
    """Read a bar table (CSV or Parquet); malformed rows and ``clock`` as in :func:`read_fills`."""
    data, lines, bad = _read(path, columns, _BAR_PARSERS, "bars", format, on_error, clock)
    time, session = _times(data["time"])
    if clock is not None and session is None:
        session = np.zeros(0, dtype=np.int64)
    return Bars(
        time=time, symbol=np.asarray(data["symbol"], dtype=object),
        mid=np.asarray(data["mid"], dtype=np.float64), volume=np.asarray(data["volume"], dtype=np.float64),
        line=np.asarray(lines, dtype=np.int64), source=str(path), malformed=tuple(bad), session=session,
    )
