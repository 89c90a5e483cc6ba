"""The committed notebooks are built from notebooks/src/*.py (readable diffs): they must agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("nb_build", ROOT / "notebooks" / "src" / "build.py")
nb_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nb_build)

SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9]*.py"))


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_matches_its_source(source):
    notebook = ROOT / "notebooks" / f"{source.stem}.ipynb"
    assert notebook.exists(), f"run: python notebooks/src/build.py {source.stem}"
    committed = nbformat.read(notebook, as_version=4)
    assert nb_build.cell_texts(committed) == nb_build.cell_texts(nb_build.build(source)), (
        f"{notebook.name} differs from its source: run python notebooks/src/build.py {source.stem}")
    images = [o for c in committed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert images, f"{notebook.name} has no figure in its outputs: run python notebooks/src/build.py {source.stem}"
    errors = [o for c in committed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, f"{notebook.name} was committed with an error output"


def test_every_notebook_has_a_source():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks == [s.stem for s in SOURCES]
