"""Build the notebooks from their sources: ``python notebooks/src/build.py``.

Each ``notebooks/src/NAME.py`` is a script whose cells start with ``# %% [markdown]`` (the
following ``# `` comment lines are the markdown) or ``# %%`` (code). The sources are what
reviewers read in a diff; the ``.ipynb`` files (no outputs) are what users open and what
the test suite executes (nbmake). ``tests/test_notebooks_in_sync.py`` checks they agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent


def build(source: Path) -> nbformat.NotebookNode:
    cells = []
    kind, buf = None, []

    def flush() -> None:
        if kind is None:
            return
        body = "\n".join(buf).strip("\n")
        if kind == "md":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(body))
        else:
            cells.append(nbformat.v4.new_code_cell(body))

    for line in source.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %% [markdown]"):
            flush()
            kind, buf = "md", []
        elif line.startswith("# %%"):
            flush()
            kind, buf = "code", []
        else:
            buf.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def cell_texts(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def main(names: list[str]) -> int:
    sources = [HERE / f"{n}.py" for n in names] if names else sorted(HERE.glob("[0-9]*.py"))
    for src in sources:
        target = HERE.parent / f"{src.stem}.ipynb"
        nbformat.write(build(src), target)
        print(f"built {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
