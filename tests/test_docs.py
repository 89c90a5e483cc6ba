"""The documentation tells the truth: README.md and solvers/docs/*.md.

(a) Every fenced ```toml block loads, as written and with its optional keys uncommented
    (a line ``# key = value`` becomes ``key = value``, ``# [table]`` becomes ``[table]``).
    A block whose first line starts with ``# fragment`` is merged into the AC 2001 example
    first. A block with ``axes`` is a sweep file and goes through the sweep loader, any other
    through the spec loader.
(b) Every key the spec loader accepts (the fields of ExecutionProblem and Asset, and every
    volatility kind with its keys) is named in spec-reference.md.
(c) Every relative link in those pages points to an existing file.
(d) The README opens with the two set-up commands, each in its own virtual environment.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from solvers.spec import Asset, ExecutionProblem, example_path, problem_from_dict
from solvers.sweep import sweep_from_dict
from solvers.volatility import VolatilityModel

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "solvers" / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
REFERENCE = DOCS / "spec-reference.md"

FRAGMENT = "# fragment"
_FENCE = re.compile(r"^```toml[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_COMMENTED = re.compile(r"^(\s*)# ?((?:[A-Za-z_][A-Za-z0-9_]*\s*=)|(?:\[))")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def toml_snippets() -> list[tuple[str, str]]:
    """``(id, text)`` of every fenced TOML block in the documentation pages."""
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for i, match in enumerate(_FENCE.finditer(text)):
            line = text.count("\n", 0, match.start()) + 1
            out.append((f"{_page_id(page)}:{line}", match.group(1)))
    return out


def uncomment(text: str) -> str:
    """Turn the optional keys and tables of a snippet (``# key = value``, ``# [table]``) on."""
    return "\n".join(_COMMENTED.sub(r"\1\2", line) for line in text.splitlines())


def merged(base: dict, fragment: dict) -> dict:
    """``base`` with the fragment's keys: top-level keys replace, ``assets[i]`` tables update."""
    data = copy.deepcopy(base)
    for key, value in fragment.items():
        if key == "assets":
            assets = data.setdefault("assets", [])
            for i, row in enumerate(value):
                if i < len(assets):
                    assets[i].update(row)
                else:
                    assets.append(row)
        else:
            data[key] = value
    return data


def load_snippet(text: str):
    """Load one snippet: a sweep (has ``axes``) or a spec, a fragment merged into AC 2001."""
    data = tomllib.loads(text)
    if text.lstrip().startswith(FRAGMENT):
        base = tomllib.loads(example_path("almgren-chriss-2001").read_text(encoding="utf-8"))
        data = merged(base, data)
    if "axes" in data:
        return sweep_from_dict(data, root=ROOT)
    return problem_from_dict(data)


SNIPPETS = toml_snippets()


def test_pages_have_toml_snippets():
    assert (ROOT / "README.md").is_file() and REFERENCE.is_file()
    pages = {sid.rsplit(":", 1)[0] for sid, _ in SNIPPETS}
    assert "README.md" in pages and _page_id(REFERENCE) in pages


@pytest.mark.parametrize("snippet_id, text", SNIPPETS, ids=[sid for sid, _ in SNIPPETS])
def test_toml_snippet_loads_as_written_and_uncommented(snippet_id, text):
    load_snippet(text)
    on = uncomment(text)
    if on != text:
        load_snippet(on)


def test_uncomment_turns_keys_and_tables_on_but_not_prose():
    text = "# fragment\n# [volatility_model]\n  # kind = \"path\"\n# a sentence, not a key\nx = 1  # note"
    assert uncomment(text).splitlines() == ["# fragment", "[volatility_model]", "  kind = \"path\"",
                                            "# a sentence, not a key", "x = 1  # note"]


def _volatility_kinds() -> dict[str, set[str]]:
    """Every volatility model class in code: its ``kind`` and the keys its table accepts."""
    kinds: dict[str, set[str]] = {}
    stack = list(VolatilityModel.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.kind:
            kinds[cls.kind] = {f.name for f in dataclasses.fields(cls) if f.init}
    return kinds


def test_every_loader_key_is_in_the_spec_reference():
    text = REFERENCE.read_text(encoding="utf-8")
    kinds = _volatility_kinds()
    assert {"constant", "path", "mean_reverting", "regimes"} <= set(kinds)
    keys = {f.name for f in dataclasses.fields(ExecutionProblem)} | {f.name for f in dataclasses.fields(Asset)}
    keys |= set().union(*kinds.values())
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"spec-reference.md does not name these spec keys: {missing}"
    missing_kinds = sorted(k for k in kinds if f'kind = "{k}"' not in text)
    assert not missing_kinds, f"spec-reference.md has no section for these volatility kinds: {missing_kinds}"


def test_spec_reference_has_an_example_for_every_volatility_kind():
    kinds_shown = set()
    for sid, text in SNIPPETS:
        if sid.startswith(_page_id(REFERENCE)):
            model = load_snippet(uncomment(text))
            if isinstance(model, ExecutionProblem):
                kinds_shown.add(model.volatility_model.kind)
    assert set(_volatility_kinds()) <= kinds_shown


def _relative_links() -> list[tuple[str, str, Path]]:
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)  # code is not links
        for target in _LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # http:, mailto:, an anchor in the same page
            path = target.split("#", 1)[0]
            out.append((_page_id(page), target, (page.parent / path).resolve()))
    return out


def test_relative_links_point_to_existing_files():
    links = _relative_links()
    assert links, "no relative links found: the link pattern is broken"
    broken = [f"{page}: {target}" for page, target, path in links if not path.exists()]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_opens_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"```bash\n(.*?)\n```\n", text, re.DOTALL)
    assert match, "README.md must open with a bash block of the set-up commands"
    lines = match.group(1).splitlines()
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    install = 'python -m pip install -e ".[dev]" && '
    assert len(lines) == 2 and all(line.startswith(venv + install) for line in lines), lines
    assert lines[0].endswith("optexec validate --example almgren-chriss-2001")
    assert lines[1].endswith(install + "python -m pytest")  # the part .ci/run runs
    assert "Python 3.11 or newer" in text[match.end():match.end() + 300]
