"""Dependencies point one way, and the folders say which way.

Every import in ``src/napari_mpt`` is read with :mod:`ast` (function-level imports too: a
lazy import is still a dependency) and resolved to a module of the package.  The layers
are the folders: :data:`LAYERS` orders the children (sub-folders and modules) of each
folder, bottom first.  For an import from module ``a`` of module ``b``, take the deepest
folder holding both and the children ``ca`` and ``cb`` of it that hold them: when that
folder has an order, ``cb`` must stand in a lower layer than ``ca`` (children of one layer
are independent, so ``simulation`` cannot import ``detection``, nor ``napari`` the
``cli``); a folder without an order (``mht/``, ``napari/``) is one unit, free inside.  A
package's ``__init__`` is its face and stands above its own children.  A new folder or
module in an ordered folder fails here until it is placed, and the drawing in
``docs/design/layers.md`` is made from this table (``scripts/draw_layers.py``).
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "napari_mpt"

# folder -> its children in layers, bottom first; names in one tuple are one layer
LAYERS: dict[str, tuple[tuple[str, ...], ...]] = {
    PKG: (
        ("core",),                                           # errors, data, results, params
        ("io", "imaging"),                                   # files; pixels
        ("simulation", "detection", "evaluation", "analysis"),
        ("trackers",),
        ("twin",),                                           # simulated look-alikes, advice
        ("api",),                                            # the facade
        ("cli", "napari", "experiments"),                    # front ends
    ),
    f"{PKG}.trackers": (
        ("steps", "margins"),                                # first pass, step statistics; cost margins
        ("mht", "transformer", "lap"),
        ("hybrid", "trackpy_linker"),                        # trackers made of trackers' parts
        ("registry",),                                       # every tracker by method
    ),
    f"{PKG}.trackers.transformer": (
        ("common",),                                         # devices, checkpoint file, loop
        ("encdec", "association"),                           # the two models, independent
        ("loading",),                                        # a checkpoint's model, by kind
        ("tracking",),                                       # detections to tracks, by kind
    ),
    f"{PKG}.experiments": (
        ("sweep",),
        ("benchmark", "reproduce", "batch"),
    ),
}


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Module name -> file; a package's ``__init__.py`` is named like the package."""
    out = {}
    for path in (src / PKG).rglob("*.py"):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


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


@functools.cache
def graph(src: Path = SRC) -> dict[str, set[str]]:
    files = module_files(src)
    known = set(files)
    return {m: imports_of(m, p, known) for m, p in files.items()}


def packages(g: dict[str, set[str]], src: Path = SRC) -> set[str]:
    return {m for m in g if (src / Path(*m.split("."))).is_dir()}


def _rank(folder: str, child: str, layers: dict[str, tuple[tuple[str, ...], ...]]) -> int | None:
    for i, names in enumerate(layers[folder]):
        if child in names:
            return i
    return None


def verdict(mod: str, dep: str, pkgs: set[str],
            layers: dict[str, tuple[tuple[str, ...], ...]] = LAYERS) -> str | None:
    """Why ``mod`` may not import ``dep`` (None when it may)."""
    a, b = mod.split("."), dep.split(".")
    if mod in pkgs and dep[: len(mod) + 1] == mod + ".":
        return None                        # a package's face uses its own children
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    folder = ".".join(a[:common])
    if common >= len(b):
        return f"{mod} imports its own package {dep} (the face stands above its children)"
    if folder not in layers or common >= len(a):
        return None
    ra, rb = _rank(folder, a[common], layers), _rank(folder, b[common], layers)
    if ra is None or rb is None:
        return None                        # reported by test_every_child_is_placed
    if rb < ra:
        return None
    where = "the same layer as" if rb == ra else "a higher layer than"
    return f"{mod} imports {dep}: {folder}/{b[common]} is in {where} {folder}/{a[common]}"


def wrong_way_imports(g: dict[str, set[str]], pkgs: set[str],
                      layers: dict[str, tuple[tuple[str, ...], ...]] = LAYERS) -> list[str]:
    return sorted(v for mod, deps in g.items() for dep in deps
                  if (v := verdict(mod, dep, pkgs, layers)))


def unplaced(g: dict[str, set[str]], layers: dict[str, tuple[tuple[str, ...], ...]] = LAYERS
             ) -> list[str]:
    """Children of an ordered folder that its order does not name, and names it gives
    that are not there."""
    out = []
    for folder, order in layers.items():
        named = {c for names in order for c in names}
        present = {m[len(folder) + 1:].split(".")[0] for m in g if m.startswith(folder + ".")}
        out += [f"{folder}.{c} is in no layer" for c in sorted(present - named)]
        out += [f"{folder}.{c} is named but does not exist" for c in sorted(named - present)]
    return out


def import_cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan).  A package that
    imports its own submodules is an edge like any other, so a submodule importing its
    package back is a cycle."""
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
        for w in g.get(v, ()):
            if w not in g:
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

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))
    try:
        for v in sorted(g):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(old)
    return cycles


def test_every_child_is_placed():
    bad = unplaced(graph())
    assert not bad, "place these in LAYERS:\n" + "\n".join(bad)


def test_no_wrong_way_imports():
    g = graph()
    bad = wrong_way_imports(g, packages(g))
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_no_import_cycles():
    cycles = import_cycles(graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("mod,dep,allowed", [
    ("napari_mpt.simulation.movie", "napari_mpt.io", True),
    ("napari_mpt.simulation.simulate", "napari_mpt.detection.detect", False),   # siblings
    ("napari_mpt.core.data", "napari_mpt.io", False),                           # upward
    ("napari_mpt.trackers.hybrid", "napari_mpt.trackers.mht.tracker", True),
    ("napari_mpt.trackers.mht.tracker", "napari_mpt.trackers.lap", False),
    ("napari_mpt.napari.demo", "napari_mpt.cli", False),                        # front ends
    ("napari_mpt.experiments.benchmark.cases", "napari_mpt.experiments.sweep", True),
    ("napari_mpt.trackers.mht.tracker", "napari_mpt.trackers.mht.kalman", True),  # one unit
    ("napari_mpt.trackers.transformer.encdec.training",
     "napari_mpt.trackers.transformer.common.training", True),
    ("napari_mpt.trackers.transformer.common.checkpoint",
     "napari_mpt.trackers.transformer.encdec.model", False),                   # upward
    ("napari_mpt.trackers.transformer.association.model",
     "napari_mpt.trackers.transformer.encdec.model", False),                   # siblings
    ("napari_mpt.trackers.transformer.encdec.infer",
     "napari_mpt.trackers.transformer.loading", False),                        # upward
])
def test_layers_read_as_documented(mod, dep, allowed):
    pkgs = packages(graph())
    assert (verdict(mod, dep, pkgs) is None) == allowed


def test_the_checks_see_planted_violations(tmp_path):
    """A lazy upward import, a front end importing another, siblings of one layer, an
    unplaced folder and a two-module cycle, in a planted package: each check reports
    exactly its own violation."""
    pkg = tmp_path / PKG
    for d in ("core", "napari", "cli", "simulation", "detection", "stray"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .api import track\n")
    (pkg / "api.py").write_text("from .core.data import Detections\n")
    (pkg / "core" / "data.py").write_text("def f():\n    from ..api import track\n")
    (pkg / "core" / "more.py").write_text("from . import data\n")
    (pkg / "cli" / "main.py").write_text("from ..core.data import Detections\n")
    (pkg / "napari" / "demo.py").write_text("from ..cli.main import main\n")
    (pkg / "simulation" / "sim.py").write_text("from ..detection.det import detect\n")
    (pkg / "detection" / "det.py").write_text("from ..core.more import x\n")
    layers = {PKG: (("core",), ("simulation", "detection"), ("api",), ("cli", "napari"))}
    g = graph(tmp_path)
    pkgs = packages(g, tmp_path)
    assert g[f"{PKG}.core.data"] == {f"{PKG}.api"}
    assert wrong_way_imports(g, pkgs, layers) == [
        f"{PKG}.core.data imports {PKG}.api: {PKG}/api is in a higher layer than {PKG}/core",
        f"{PKG}.napari.demo imports {PKG}.cli.main: {PKG}/cli is in the same layer as "
        f"{PKG}/napari",
        f"{PKG}.simulation.sim imports {PKG}.detection.det: {PKG}/detection is in the same "
        f"layer as {PKG}/simulation",
    ]
    assert unplaced(g, layers) == [f"{PKG}.stray is in no layer"]
    assert import_cycles(g) == [[f"{PKG}.api", f"{PKG}.core.data"]]
