"""Build the notebooks from their sources: ``python notebooks/src/build.py [NAME ...] [--no-execute]``.

Each ``notebooks/src/NAME.py`` is a script whose cells start with ``# %% [markdown]`` (the
following ``# `` comment lines are the markdown) or ``# %%`` (code). The sources are what
reviewers read in a diff; the ``.ipynb`` files are executed here (nbclient) and committed with
their outputs, so their figures show on the repository's web page; the test suite executes them
again (nbmake). ``tests/test_notebooks_in_sync.py`` checks that sources and notebooks agree and
that every notebook carries a figure. Cell ids are numbered, so a rebuild changes only what changed.
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
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:03d}"
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def cell_texts(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nb.cells]


def execute(nb: nbformat.NotebookNode, timeout: int = 1200) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, in the notebooks folder, keeping the outputs."""
    from nbclient import NotebookClient  # only needed when building, not by the tests

    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE.parent)}}).execute()
    return nb


def main(args: list[str]) -> int:
    run = "--no-execute" not in args
    names = [a for a in args if not a.startswith("--")]
    sources = [HERE / f"{n}.py" for n in names] if names else sorted(HERE.glob("[0-9]*.py"))
    for src in sources:
        target = HERE.parent / f"{src.stem}.ipynb"
        nb = build(src)
        nbformat.write(execute(nb) if run else nb, target)
        print(f"built {target}" + (" (executed)" if run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
