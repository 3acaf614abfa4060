"""Dependencies point one way: core <- trackers <- api <- front ends (CLI, napari, reproduce).

Every import in ``src/napari_mpt`` is read with :mod:`ast` (function-level imports too:
a lazy import is still a dependency), resolved to a module of the package and checked
against the layer of both ends.  A module not named below is core by default, so a new
module that reaches upward fails here until it is placed deliberately.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "napari_mpt"

# (prefix, layer); the longest matching prefix wins.  Higher layers may import lower ones.
LAYERS: tuple[tuple[str, int], ...] = (
    (PKG, 0),                                 # core: data, params, io, metrics, simulate, ...
    (f"{PKG}.mht", 1), (f"{PKG}.transformer", 1), (f"{PKG}.lap", 1), (f"{PKG}.hybrid", 1),
    (f"{PKG}.api", 2),
    (f"{PKG}.cli", 3), (f"{PKG}.transformer.cli", 3), (f"{PKG}.napari", 3),
    (f"{PKG}.reproduce", 3), (f"{PKG}.benchmark", 3),
)
FRONT_ENDS = (f"{PKG}.cli", f"{PKG}.napari", f"{PKG}.reproduce", f"{PKG}.benchmark",
              f"{PKG}.transformer.cli")
LAYER_NAMES = {0: "core", 1: "trackers", 2: "api", 3: "front ends"}


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Module name -> file; a package's ``__init__.py`` is named like the package."""
    out = {}
    for path in (src / PKG).rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer(module: str) -> int:
    if module == PKG:
        return 2            # the facade: napari_mpt/__init__ re-exports the API
    best = max((p for p, _ in LAYERS if _matches(module, p)), key=len)
    return dict(LAYERS)[best]


def front_end(module: str) -> str | None:
    hits = [p for p in FRONT_ENDS if _matches(module, p)]
    return max(hits, key=len) if hits else None


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """Package modules that ``module`` imports (``from x import y`` resolves to ``x.y``
    when that is a module, else ``x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                stem = base[: len(base) - node.level + 1]
                target = ".".join(stem + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target
                     for a in node.names]
        else:
            continue
        for n in names:
            if n == PKG or n.startswith(PKG + "."):
                while n not in known and "." in n:
                    n = n.rsplit(".", 1)[0]
                if n in known and n != module:
                    found.add(n)
    return found


def graph(src: Path = SRC) -> dict[str, set[str]]:
    files = module_files(src)
    known = set(files)
    return {m: imports_of(m, p, known) for m, p in files.items()}


def upward_imports(g: dict[str, set[str]]) -> list[str]:
    return sorted(f"{mod} ({LAYER_NAMES[layer(mod)]}) imports {dep} ({LAYER_NAMES[layer(dep)]})"
                  for mod, deps in g.items() for dep in deps if layer(dep) > layer(mod))


def cross_front_end_imports(g: dict[str, set[str]]) -> list[str]:
    """A front end (the CLI, napari, reproduce, benchmark, train) importing another one:
    shared helpers belong below them (e.g. :mod:`napari_mpt.options`)."""
    return sorted(f"{mod} imports {dep}" for mod, deps in g.items() for dep in deps
                  if front_end(mod) and front_end(dep) and front_end(dep) != front_end(mod))


def test_no_upward_imports():
    bad = upward_imports(graph())
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_front_ends_do_not_import_each_other():
    bad = cross_front_end_imports(graph())
    assert not bad, "front ends import each other:\n" + "\n".join(bad)


def import_cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan).  A package that
    imports its own submodules is an edge like any other, so a submodule importing its
    package back is a cycle."""
    nodes = set(g)
    edges = g
    # Tarjan's strongly connected components
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in nodes:
                continue
            if w not in index:
                visit(w)
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
                cycles.append(sorted(comp))

    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        for v in sorted(nodes):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(old)
    return cycles


def test_no_import_cycles():
    cycles = import_cycles(graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("module,expected", [
    ("napari_mpt.data", 0), ("napari_mpt.mht.exact", 1), ("napari_mpt.transformer.model", 1),
    ("napari_mpt.transformer.cli", 3), ("napari_mpt.api", 2), ("napari_mpt.napari.demo", 3)])
def test_layers_are_assigned_as_documented(module, expected):
    assert layer(module) == expected


def test_the_checks_see_planted_violations(tmp_path):
    """A lazy upward import, a front end importing another and a two-module cycle, in a
    planted package: each check reports exactly its own violation."""
    pkg = tmp_path / PKG
    (pkg / "napari").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .api import track\n")
    (pkg / "api.py").write_text("from .data import Detections\n")
    (pkg / "data.py").write_text("def f():\n    from .api import track\n")
    (pkg / "cli.py").write_text("from .data import Detections\n")
    (pkg / "napari" / "__init__.py").write_text("")
    (pkg / "napari" / "demo.py").write_text("from ..cli import main\n")
    g = graph(tmp_path)
    assert g[f"{PKG}.data"] == {f"{PKG}.api"}
    assert upward_imports(g) == [f"{PKG}.data (core) imports {PKG}.api (api)"]
    assert cross_front_end_imports(g) == [f"{PKG}.napari.demo imports {PKG}.cli"]
    assert import_cycles(g) == [[f"{PKG}.api", f"{PKG}.data"]]
