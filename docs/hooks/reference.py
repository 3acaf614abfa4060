"""mkdocs hook: the reference pages are generated from the code at every build, so they
cannot go stale and nothing generated is committed.

- ``reference/cli.md``: every ``napari-mpt`` subcommand's usage and options, from the
  argparse parsers the CLI itself builds (:func:`napari_mpt.cli.build_parser`).
- ``reference/parameters.md``: every field of every parameter class of the one parameter
  model (:mod:`napari_mpt.core.params`): default, range or choices, help, CLI flag.
- ``design/layers.md``: the package's layers as the architecture test reads them
  (``tests/test_architecture.py``'s ``LAYERS``), drawn as nested lists with the modules
  of each folder.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import sys
from contextlib import redirect_stdout
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]


def _cli_page() -> str:
    from napari_mpt.cli import build_parser

    parser = build_parser()
    out = ["# Command line reference", "",
           "Generated from the parsers `napari-mpt` builds (`napari_mpt.cli.build_parser`); "
           "`napari-mpt COMMAND --help` prints the same.", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        buf = io.StringIO()
        with redirect_stdout(buf):
            p.print_help()
        out += [f"## `napari-mpt {name}`", "", "```text", buf.getvalue().rstrip(), "```", ""]
    return "\n".join(out)


def _default(f: Any) -> str:
    if f.default is not MISSING:
        v = f.default
    elif f.default_factory is not MISSING:
        v = f.default_factory()
    else:
        return "required"
    if v is None and f.metadata.get("estimate") is not None:
        return "estimate"
    return repr(v) if isinstance(v, str) else str(v)


def _range(meta: dict[str, Any]) -> str:
    if meta.get("choices"):
        return ", ".join(f"`{c}`" for c in meta["choices"])
    lo, hi = meta.get("min"), meta.get("max")
    if lo is None and hi is None:
        return ""
    return f"{'' if lo is None else lo} … {'' if hi is None else hi}"


def _parameters_page() -> str:
    from napari_mpt.core import params

    out = ["# Parameter reference", "",
           "Generated from the one parameter model (`napari_mpt.core.params`): the CLI's "
           "options, the API's dataclasses and the widgets' controls are all built from "
           "these fields, so a setting means the same everywhere. `estimate`: estimated "
           "from the data, reported with the result, and can be overridden.", ""]
    classes = [getattr(params, n) for n in params.__all__ if n.endswith("Params")
               and isinstance(getattr(params, n), type)]
    for cls in sorted(classes, key=lambda c: c.__name__):
        doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        out += [f"## `{cls.__name__}`", "", doc, "",
                "| field | CLI | default | range | meaning |", "|---|---|---|---|---|"]
        for f in fields(cls):
            meta = f.metadata
            flag = "--" + (meta.get("cli") or f.name.replace("_", "-"))
            help_ = str(meta.get("help", "")).replace("|", "\\|")
            out.append(f"| `{f.name}` | `{flag}` | `{_default(f)}` | {_range(meta)} | {help_} |")
        out.append("")
    return "\n".join(out)


def _architecture() -> Any:
    spec = importlib.util.spec_from_file_location("_arch", ROOT / "tests" / "test_architecture.py")
    assert spec is not None and spec.loader is not None
    arch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(arch)
    return arch


def _layers_svg() -> str:
    """The top-level folders in their layers (top layer first) and the imports between
    them, one arrow per pair of folders, its width growing with the number of imports."""
    arch = _architecture()
    g = arch.graph()
    pkg = arch.PKG
    order = arch.LAYERS[pkg]

    def unit(m: str) -> str | None:
        parts = m.split(".")
        return parts[1] if len(parts) > 1 else None

    count: dict[tuple[str, str], int] = {}
    sizes: dict[str, int] = {}
    for m, deps in g.items():
        a = unit(m)
        if a is None:
            continue
        sizes[a] = sizes.get(a, 0) + 1
        for d in deps:
            b = unit(d)
            if b is not None and b != a:
                count[(a, b)] = count.get((a, b), 0) + 1
    w, box_w, box_h, row_h = 900, 150, 44, 110
    pos: dict[str, tuple[float, float]] = {}
    rows = list(reversed(order))
    for r, names in enumerate(rows):
        gap = w / (len(names) + 1)
        for i, n in enumerate(names):
            pos[n] = (gap * (i + 1), 30 + r * row_h)
    h = 30 + len(rows) * row_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
           f'font-family="sans-serif" font-size="14">',
           '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>']
    for (a, b), n in sorted(count.items()):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        up = yb < ya
        colour = "#c00" if up else "#888"
        out.append(f'<line x1="{xa}" y1="{ya + box_h}" x2="{xb}" y2="{yb}" stroke="{colour}" '
                   f'stroke-width="{1 + n ** 0.5 / 2:.1f}" marker-end="url(#a)" opacity="0.6">'
                   f'<title>{a} imports {b}: {n}</title></line>')
    for n, (x, y) in pos.items():
        is_pkg = any(m.startswith(f"{pkg}.{n}.") for m in g)
        label = f"{n}/" if is_pkg else f"{n}.py"
        k = sizes.get(n, 0)
        out.append(f'<rect x="{x - box_w / 2}" y="{y}" width="{box_w}" height="{box_h}" rx="6" '
                   f'fill="#e8eef7" stroke="#4a6fa5"/>')
        out.append(f'<text x="{x}" y="{y + 20}" text-anchor="middle" font-weight="bold">{label}</text>')
        out.append(f'<text x="{x}" y="{y + 36}" text-anchor="middle" font-size="11" '
                   f'fill="#555">{k} module{"s" if k != 1 else ""}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _layers_page() -> str:
    arch = _architecture()
    g = arch.graph()
    out = ["# Layers", "",
           "![The package's folders in their layers, top layer first, and the imports "
           "between them: every arrow runs down (an upward one would be red)](layers.svg)", "",
           "How the package is layered, read from the table the architecture test enforces "
           "(`tests/test_architecture.py`, `LAYERS`): within each folder, its children from "
           "the top layer down. A module may import its own folder and any lower layer; "
           "folders of one layer never import each other, so the arrows only run down. "
           "A folder without an order is one unit, free inside.", ""]

    def children(folder: str) -> list[str]:
        return sorted({m[len(folder) + 1:].split(".")[0] for m in g if m.startswith(folder + ".")})

    def describe(folder: str, depth: int) -> None:
        pad = "    " * depth
        order = arch.LAYERS.get(folder)
        if order is None:
            kids = children(folder)
            if kids:
                out.append(f"{pad}- {', '.join(f'`{k}`' for k in kids)}")
            return
        for rank in reversed(range(len(order))):
            names = order[rank]
            out.append(f"{pad}- layer {rank}: " + " · ".join(f"`{n}`" for n in names))
            for n in names:
                if children(f"{folder}.{n}"):
                    out.append(f"{pad}    - `{n}/`")
                    describe(f"{folder}.{n}", depth + 2)

    describe(arch.PKG, 0)
    edges = sum(len(v) for v in g.values())
    out += ["", f"{len(g)} modules, {edges} imports, "
            f"{len(arch.wrong_way_imports(g, arch.packages(g)))} against the layers, "
            f"{len(arch.import_cycles(g))} cycles (at this build)."]
    return "\n".join(out)


PAGES = {"reference/cli.md": _cli_page, "reference/parameters.md": _parameters_page,
         "design/layers.md": _layers_page, "design/layers.svg": _layers_svg}


def on_files(files: Any, config: Any) -> Any:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ["COLUMNS"] = "100"   # argparse wraps its help to the terminal: fix the width
    for uri, make in PAGES.items():
        files.append(File.generated(config, uri, content=make()))
    return files
