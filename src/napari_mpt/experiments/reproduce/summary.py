"""Per-point means with 95% confidence intervals over seeds, and the figure CSV."""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from typing import Any

from ..sweep import mean_ci
from .figures import FigureSpec

COLUMNS = (
    "figure", "curve", "x_name", "x", "metric", "mean", "ci_lo", "ci_hi", "std", "n",
    "n_failed", "frames", "sigma", "lookback", "encoder", "prior", "eta", "mode", "smooth",
    "model", "flops_source", "wall_s_mean", "error",
)
"""The CSV's columns: ``mean`` of ``metric`` over ``n`` seeds, 95% Student-t interval
``[ci_lo, ci_hi]`` (clipped to [0, 1] for the Jaccard coefficient; equal to the mean when
n = 1 or all seeds agree)."""


def summarize(spec: FigureSpec, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (curve, x), curves in the spec's order and x ascending."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["curve"], float(r["x"]))].append(r)
    order = {c.label: i for i, c in enumerate(spec.curves)}
    rows = []
    for (curve, x), recs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99),
                                                                  kv[0][1])):
        ok = [r for r in recs if not r.get("error")]
        values = [float(r[spec.metric]) for r in ok]
        mean, lo, hi, std = mean_ci(values)
        if spec.metric == "jaccard":  # JC lives in [0, 1]; so does its interval
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        elif values:                  # FLOPs are never negative
            lo = max(lo, 0.0)
        first = recs[0]
        mht = first["method"] == "mht"
        sources = sorted({str(r.get("flops_source", "")) for r in ok} - {""})
        errors = sorted({r["error"] for r in recs if r.get("error")})
        rows.append({
            "figure": spec.name, "curve": curve, "x_name": spec.x, "x": x,
            "metric": spec.metric, "mean": mean, "ci_lo": lo, "ci_hi": hi, "std": std,
            "n": len(ok), "n_failed": len(recs) - len(ok), "frames": first["frames"],
            # the columns keep the paper's symbols of the published tables: sigma, K (K_MHT
            # or K_D), K_E, the MHT's priors nu' ("prior") and eta'
            "sigma": first["measurement_noise"],
            "lookback": first["lookback" if mht else "decoder_lookback"],
            "encoder": "" if mht else first["encoder_lookback"],
            "prior": first["mht_measurement_noise"] if mht else "",
            "eta": first["mht_process_noise"] if mht else "",
            "mode": first["mode"] if first["method"] == "mht" else "",
            "smooth": int(bool(first.get("smooth"))) if first["method"] == "mht" else "",
            "model": first.get("model", ""), "flops_source": "+".join(sources),
            "wall_s_mean": (math.fsum(float(r["wall_s"]) for r in ok) / len(ok)
                            if ok else float("nan")),
            "error": errors[0] if errors else "",
        })
    return rows


def write_csv(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    from ...io import atomic_write

    with atomic_write(path) as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for row in rows:
            w.writerow({k: _fmt(row.get(k, "")) for k in COLUMNS})


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else "nan"
    return v


def read_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a figure CSV with the numeric columns as floats (for plotting overlays)."""
    numeric = {"x", "mean", "ci_lo", "ci_hi", "std"}
    with open(path, encoding="utf-8", newline="") as fh:
        return [{k: (float(v) if k in numeric and v != "" else v) for k, v in row.items()}
                for row in csv.DictReader(fh)]
