"""Import hygiene: ``import solvers`` stays light, and the project's modules import each other
only through public names, at module level, without cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("solvers", "hjb", "benchmarks")
HEAVY = ("jax", "cvxpy", "dask", "distributed", "pandas", "matplotlib", "scipy.stats", "gymnasium", "optax")


def test_import_solvers_loads_no_heavy_library():
    code = ("import sys, solvers; heavy = %r; "
            "print(' '.join(m for m in heavy if m in sys.modules))" % (HEAVY,))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [], f"import solvers loaded: {proc.stdout.strip()}"


# ---------------------------------------------------------------------------- the import lint
def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" or (
        isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path, modules: dict[str, Path]):
    """(module-level project imports, problems) of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    project = set(PACKAGES)
    edges: set[str] = set()
    problems: list[str] = []

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    def visit(node: ast.AST, local: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True, type_only)
                continue
            if isinstance(child, ast.If) and _is_type_checking(child):
                visit(child, local, True)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if isinstance(child, ast.Import):
                    targets = [(alias.name, None) for alias in child.names]
                else:
                    base = _absolute(module, is_package, child.level, child.module)
                    targets = [(base, alias.name) for alias in child.names]
                for base, name in targets:
                    if base.split(".")[0] not in project:
                        continue
                    where = f"{path.relative_to(ROOT)}:{child.lineno}"
                    if local:
                        problems.append(f"{where}: function-local import of {base}")
                    if name is not None and name.startswith("_") and not name.startswith("__"):
                        problems.append(f"{where}: private name {base}.{name}")
                    if not local and not type_only:
                        full = f"{base}.{name}" if name and f"{base}.{name}" in modules else base
                        target = resolve(full)
                        if target and target != module:
                            edges.add(target)
                continue
            visit(child, local, type_only)

    visit(tree, False, False)
    return edges, problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_imports_are_public_module_level_and_acyclic():
    """(a) no private name imported from another project module, (b) no function-local import
    of a project module (heavy third-party libraries may load lazily), (c) no import cycle
    among project modules (module-level imports; ``if TYPE_CHECKING`` blocks left out)."""
    modules = _modules()
    graph, problems = {}, []
    for name, path in modules.items():
        graph[name], found = _imports(name, path, modules)
        problems += found
    problems += [f"import cycle: {' -> '.join(c)}" for c in _cycles(graph)]
    assert not problems, "\n".join(problems)
