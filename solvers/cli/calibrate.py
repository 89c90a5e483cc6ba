"""``optexec calibrate FILLS BARS -o SPEC.toml [--plot PNG]``: a spec from execution data.

Reads the fills and bars (CSV or Parquet, see :mod:`solvers.calibration.readers`; times are
numbers in the spec's time unit, or ISO date-times with ``--session 09:30-16:00``), prints
every estimate with its standard error and confidence interval, writes the spec that
``optexec solve`` takes, and with ``--plot`` draws the fitted impact curve over the data and
its residuals; ``--transient`` also fits transient impact (``transient_impact``, ``resilience``:
the propagator regression of :mod:`solvers.calibration.transient`) and writes it into the spec;
``--propagate`` adds the optimal cost's interval and the expected regret of
solving at the point estimates next to the parameter intervals. The order (``--holdings``, ``--horizon``, ``--slices``, ``--risk-aversion``)
is the user's; data does not choose it (``--holdings`` defaults to the median parent order).

Exit status: 0 written; 2 bad input (malformed rows, unknown column, bad option);
4 an estimate the spec needs is not identified (the reason is printed, no number and no
spec are written; ``--beta`` fixes the exponent when only ``beta`` is the problem).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from ..calibration import BarColumns, FillColumns, SessionClock, calibrate, read_bars, read_fills
from ..errors import SpecError
from ..plots import plot_calibration
from ..sensitivities import calibration_covariance, propagate
from .common import emit_outputs

__all__ = ["register", "run", "DESCRIPTION"]

NOT_IDENTIFIED_EXIT = 4

DESCRIPTION = """\
Estimate a spec from execution data: reads the fills and the bars (CSV or Parquet; times are
numbers in the spec's time unit, or ISO date-times with --session 09:30-16:00), prints every
estimate with its standard error and confidence interval, writes the spec that 'optexec
solve' takes, and with --plot draws the fitted impact curve over the data and its
residuals. With --transient it also fits transient impact (transient_impact and resilience of
an exponential kernel, by the propagator regression of mid moves on lagged signed volume) and
writes it into the spec. The order (--holdings, --horizon, --slices, --risk-aversion) is yours;
the data do not choose it (--holdings defaults to the median parent order).

Exit status: 0 written; 2 bad input (malformed rows, unknown column, bad option); 4 an
estimate the spec needs is not identified (the reason is printed, no spec is written;
--beta fixes the exponent when only beta is the problem).
"""


def _columns(cls, items: list[str], flag: str):
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in names or not value:
            raise SpecError(flag, item, f"must be FIELD=COLUMN with FIELD one of {', '.join(sorted(names))}")
        kwargs[key] = value
    return cls(**kwargs)


def _propagation_method(problem) -> str:
    """The exact method for the calibrated spec: the closed form for linear impact, dp's exact
    ``(x, D)`` recursion with transient impact, else qp."""
    if problem.all_linear and not problem.has_caps:
        return "dp" if problem.has_transient else "closed-form"
    return "qp"


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="estimate a spec (volatility, impact) from fills and market bars",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fills", help="child fills (CSV or Parquet)")
    p.add_argument("bars", help="market bars (CSV or Parquet)")
    p.add_argument("-o", "--output", required=True, metavar="SPEC.toml", help="where to write the spec")
    p.add_argument("--plot", metavar="PNG",
                   help="draw the impact fit, residuals, permanent fit and volume profile (PNG, SVG, PDF, ...)")
    p.add_argument("--json", metavar="PATH", help="write the estimates as JSON ('-' for stdout: JSON only)")
    p.add_argument("--symbol", help="the symbol to calibrate (needed when the files hold several)")
    p.add_argument("--beta", type=float, help="fix the impact exponent (1 = linear: the closed form applies)")
    p.add_argument("--covariance", choices=["cluster", "iid"], default="cluster",
                   help="impact-fit intervals: cluster-robust by parent order (default) or iid")
    p.add_argument("--confidence", type=float, default=0.95, help="coverage of the intervals (default 0.95)")
    p.add_argument("--holdings", type=float, help="X of the spec, shares (default: the median parent order)")
    p.add_argument("--horizon", type=float, default=1.0, help="T of the spec, time units (default 1)")
    p.add_argument("--slices", type=int, default=10, help="N of the spec (default 10)")
    p.add_argument("--risk-aversion", type=float, default=1e-6, help="lambda of the spec (default 1e-6)")
    p.add_argument("--price", type=float, help="S0 of the spec (default: the last bar mid)")
    p.add_argument("--start", type=float, default=0.0,
                   help="where the horizon starts in the volume profile's period (default 0: the open)")
    p.add_argument("--participation", type=float, help="add a participation cap to the spec")
    p.add_argument("--period", type=float, default=1.0, help="period of the volume profile in time units (default 1)")
    p.add_argument("--fill-column", action="append", default=[], metavar="FIELD=COLUMN",
                   help="column name of a fill field (time, symbol, side, shares, price, arrival_mid, parent)")
    p.add_argument("--bar-column", action="append", default=[], metavar="FIELD=COLUMN",
                   help="column name of a bar field (time, symbol, mid, volume)")
    p.add_argument("--session", metavar="HH:MM-HH:MM",
                   help="times are ISO date-times: map them to trading days with this session (e.g. 09:30-16:00)")
    p.add_argument("--propagate", action="store_true",
                   help="print the optimal cost's delta-method interval, its bootstrap check and the expected regret "
                        "of solving at the point estimates, from the estimates' covariance")
    p.add_argument("--transient", action="store_true",
                   help="also estimate transient impact (transient_impact, resilience; exponential kernel) by the "
                        "propagator regression of mid moves on lagged signed volume, and write them into the spec")
    p.add_argument("--draws", type=int, default=200, help="bootstrap draws of --propagate (default 200)")
    p.add_argument("--skip-malformed", action="store_true",
                   help="leave malformed rows out (each is printed with its line number) instead of stopping")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    on_error = "skip" if args.skip_malformed else "raise"
    clock = None
    if args.session:
        start, sep, end = args.session.partition("-")
        if not sep:
            raise SpecError("--session", args.session, "must look like HH:MM-HH:MM (e.g. 09:30-16:00)")
        clock = SessionClock(start, end)
    fills = read_fills(args.fills, _columns(FillColumns, args.fill_column, "--fill-column"), on_error=on_error,
                       clock=clock)
    bars = read_bars(args.bars, _columns(BarColumns, args.bar_column, "--bar-column"), on_error=on_error,
                     clock=clock)
    for table in (fills, bars):
        for row in table.malformed:
            print(f"optexec calibrate: {table.source} {row} (left out)", file=sys.stderr)
    cal = calibrate(fills, bars, symbol=args.symbol, beta=args.beta, confidence=args.confidence, period=args.period,
                    covariance=args.covariance, transient=args.transient)
    out = emit_outputs(args, cal.summary(), cal.to_dict(), lambda path: plot_calibration(cal, path))
    if not cal.identified:
        for est in cal.not_identified():
            print(f"optexec calibrate: {est.name} is not identified: {est.reason}", file=sys.stderr)
        print(f"optexec calibrate: no spec written to {args.output} (more data, or fix beta with --beta"
              f"{'; leave out --transient' if args.transient else ''})",
              file=sys.stderr)
        return NOT_IDENTIFIED_EXIT
    problem, notes = cal.to_problem(holdings=args.holdings, horizon=args.horizon, slices=args.slices,
                                    risk_aversion=args.risk_aversion, price=args.price, start=args.start,
                                    participation=args.participation, name=Path(args.output).stem)
    for note in notes:
        print(f"  note: {note}", file=out)
    Path(args.output).write_text(problem.to_toml(), encoding="utf-8")
    print(f"spec written to {args.output}", file=out)
    if args.propagate:
        method = _propagation_method(problem)
        print(propagate(problem, calibration_covariance(cal), method, draws=args.draws).summary(), file=out)
    return 0
