"""The figure PNGs, in the paper's layout: one panel, metric against the x-axis, a line
per tracker with its 95% interval shaded.  Matplotlib's Agg backend, no display needed."""

from __future__ import annotations

import io
import math
import os
from collections import defaultdict
from typing import Any

from .figures import FigureSpec

X_LABELS = {
    "sigma": "measurement noise σ (px)",
    "i": "training experiments per batch i",
    "K": "lookback window K",
    "T": "sequence length T (frames)",
}
Y_LABELS = {"jaccard": "link Jaccard coefficient", "flops": "FLOPs per sequence"}


def plot_figure(spec: FigureSpec, rows: list[dict[str, Any]], path: str | os.PathLike, *,
                overlay: list[dict[str, Any]] | None = None, subtitle: str = "") -> None:
    """Draw ``rows`` (from :func:`summary.summarize`) to a small PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from ...io import atomic_write

    fig, ax = plt.subplots(figsize=(5.6, 3.8), dpi=90)
    styles = {c.label: c for c in spec.curves}
    n_curves = len({r["curve"] for r in rows})
    _draw(ax, rows, styles, alpha=0.18 if n_curves <= 4 else 0.08, linestyle=None)
    if overlay and spec.overlay:
        from .figures import FIGURES

        other = FIGURES[spec.overlay]
        paper = {c.label: c for c in other.curves if not c.extra}  # the paper's curves only
        _draw(ax, [r for r in overlay if r["curve"] in paper], paper, alpha=0.0,
              linestyle="--", suffix=f" ({other.name})")
    ax.set_xlabel(X_LABELS[spec.x])
    ax.set_ylabel(Y_LABELS[spec.metric])
    if spec.metric == "jaccard":  # zoom on the data, in steps of 0.1, never past [0, 1]
        lows = [float(r["ci_lo"]) for r in [*rows, *(overlay or [])]
                if math.isfinite(float(r["ci_lo"]))]
        bottom = max(0.0, math.floor((min(lows, default=0.0) - 0.02) * 10) / 10)
        ax.set_ylim(bottom - 0.01, 1.01)
    if spec.logx:
        from matplotlib.ticker import ScalarFormatter

        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())  # 1, 2, 4 … rather than 2^0, 2^1
    if spec.logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.set_title(spec.title + (f"\n{subtitle}" if subtitle else ""), fontsize=8.5)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    with atomic_write(path, "wb") as fh:
        fh.write(_palette_png(buf.getvalue()))


def _palette_png(png: bytes) -> bytes:
    """The same image with a 256-colour palette: a third of the size, to keep the PNGs
    committed under docs/ small (matplotlib depends on Pillow, so it is there)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        out = io.BytesIO()
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            out, format="PNG", optimize=True)
    return out.getvalue()


def _draw(ax: Any, rows: list[dict[str, Any]], styles: dict[str, Any], *, alpha: float,
          linestyle: str | None, suffix: str = "") -> None:
    by_curve: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if math.isfinite(float(r["mean"])):
            by_curve[r["curve"]].append(r)
    for n, (curve, pts) in enumerate(by_curve.items()):
        pts.sort(key=lambda r: float(r["x"]))
        xs = [float(r["x"]) for r in pts]
        style = styles.get(curve)
        color = style.color if style is not None else f"C{n}"
        ls = linestyle or (style.linestyle if style is not None else "-")
        ax.plot(xs, [float(r["mean"]) for r in pts], ls, color=color, marker="o",
                markersize=3, linewidth=1.3, label=curve + suffix)
        if alpha > 0:
            ax.fill_between(xs, [float(r["ci_lo"]) for r in pts],
                            [float(r["ci_hi"]) for r in pts], color=color, alpha=alpha,
                            linewidth=0)
