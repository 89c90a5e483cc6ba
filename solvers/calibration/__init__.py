"""Calibrating the model from execution data (issue 8).

Fills and bars in (CSV or Parquet, :mod:`.readers`), estimates with their uncertainty out
(:mod:`.market`: volatility and the intraday volume profile; :mod:`.impact`: temporary
``epsilon, eta, beta`` in the form of Almgren, Thum, Hauptmann and Li 2005 and permanent
``gamma``; :mod:`.transient`: ``transient_impact`` and ``resilience``), and a spec that every solver takes (:meth:`Calibration.to_problem`, then
``ExecutionProblem.to_toml()``). :mod:`.synthetic` makes data with known parameters; the
bundled sample is ``solvers/data/sample_fills.csv`` and ``sample_bars.csv``
(:func:`sample_paths`). Units are the spec's (the conventions page).
"""

from importlib import resources
from pathlib import Path

from .calibrate import Calibration, calibrate, calibrate_files
from .estimate import Estimate, NotIdentifiedError
from .impact import Children, PermanentFit, TemporaryFit, children_from_fills, fit_permanent_impact, fit_temporary_impact
from .market import VolatilityFit, VolumeProfile, estimate_volatility, volume_profile
from .readers import (BarColumns, Bars, FillColumns, Fills, MalformedDataError, MalformedRow, SessionClock, read_bars,
                      read_fills)
from .synthetic import SyntheticData, SyntheticTruth, generate, write_csv, write_sample
from .transient import TransientFit, fit_transient_impact


def sample_paths() -> tuple[Path, Path]:
    """Paths of the bundled sample fills and bars (deterministic synthetic data)."""
    root = resources.files("solvers") / "data"
    return Path(str(root / "sample_fills.csv")), Path(str(root / "sample_bars.csv"))


__all__ = [
    "Calibration", "calibrate", "calibrate_files", "Estimate", "NotIdentifiedError", "Children", "PermanentFit",
    "TemporaryFit", "children_from_fills", "fit_permanent_impact", "fit_temporary_impact", "VolatilityFit",
    "VolumeProfile", "estimate_volatility", "volume_profile", "BarColumns", "Bars", "FillColumns", "Fills",
    "MalformedDataError", "MalformedRow", "SessionClock", "read_bars", "read_fills", "SyntheticData", "SyntheticTruth", "generate",
    "write_csv", "write_sample", "sample_paths", "TransientFit", "fit_transient_impact",
]
