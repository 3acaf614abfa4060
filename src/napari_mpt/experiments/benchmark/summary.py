"""Means with 95 % intervals per (scenario, tracker, measure), the summary CSV, a plot per
measure and the Markdown table printed at the end of a run."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from ...io import atomic_write
from ..sweep import mean_ci
from .cases import MEASURES, TRACKERS

COLUMNS = ("scenario", "tracker", "measure", "mean", "ci_lo", "ci_hi", "std", "n",
           "n_failed", "error")
"""``mean`` of ``measure`` over the ``n`` seeds a tracker accepted, Student-t 95 % interval
``[ci_lo, ci_hi]``; ``n_failed`` seeds were refused, ``error`` says why."""

BOUNDED = {"association_jaccard", "jaccard", "alpha", "beta", "jsc", "jsc_theta", "edge_f1",
           "ctc_det", "ctc_lnk", "ctc_tra", "chota"}

TABLE = (("association_jaccard", "assoc. JC", "{:.3f}"), ("jaccard", "position JC", "{:.3f}"),
         ("alpha", "alpha", "{:.3f}"), ("beta", "beta", "{:.3f}"),
         ("edge_f1", "edge F1", "{:.3f}"), ("ctc_lnk", "CTC LNK", "{:.3f}"),
         ("chota", "CHOTA", "{:.3f}"),
         ("wall_s", "wall s", "{:.2f}"), ("peak_mb", "peak MiB", "{:.0f}"))


def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, tracker, measure) in first-seen scenario order and the
    known tracker order; measures a tracker never reported are left out."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["scenario"], r["tracker"])].append(r)
    scenarios = list(dict.fromkeys(r["scenario"] for r in records))
    order = {t: i for i, t in enumerate(TRACKERS)}
    rows = []
    for (scen, trk), recs in sorted(groups.items(), key=lambda kv: (
            scenarios.index(kv[0][0]), order.get(kv[0][1].split("[")[0], 99),
            "[" in kv[0][1], kv[0][1])):
        ok = [r for r in recs if not r.get("error")]
        errors = sorted({str(r["error"]) for r in recs if r.get("error")})
        measures = [m for m in MEASURES if any(m in r for r in ok)] or ["association_jaccard"]
        for m in measures:
            values = [float(r[m]) for r in ok if m in r and r[m] is not None]
            mean, lo, hi, std = mean_ci(values)
            if m in BOUNDED:
                lo, hi = max(lo, 0.0), min(hi, 1.0)
            elif values:
                lo = max(lo, 0.0)
            rows.append({"scenario": scen, "tracker": trk, "measure": m, "mean": mean,
                         "ci_lo": lo, "ci_hi": hi, "std": std, "n": len(values),
                         "n_failed": len(recs) - len(ok), "error": "; ".join(errors)})
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]],
              columns: tuple[str, ...] = COLUMNS) -> None:
    with atomic_write(path) as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in columns})


SWEEP_COLUMNS = ("scenario", "tracker", "measure", "defaults", "defaults_lo", "defaults_hi",
                 "best", "best_lo", "best_hi", "best_setting", "gap", "n")
"""Per scenario and swept tracker: its defaults' mean and 95 % interval, the best swept
setting's (the defaults among the candidates), and ``gap`` = best - defaults."""


def defaults_against_best(rows: list[dict[str, Any]], measure: str = "alpha"
                          ) -> list[dict[str, Any]]:
    """Each swept tracker's defaults against its best setting by ``measure`` (the rows of
    :data:`SWEEP_COLUMNS`)."""
    by = {(r["scenario"], r["tracker"]): r for r in rows
          if r["measure"] == measure and r["n"]}
    out = []
    for (scen, trk), r in by.items():
        if "[" in trk:
            continue
        variants = {t: v for (sc, t), v in by.items() if sc == scen and t.startswith(trk + "[")}
        if not variants:
            continue
        best_name, best = max([(trk, r), *variants.items()], key=lambda kv: kv[1]["mean"])
        out.append({"scenario": scen, "tracker": trk, "measure": measure,
                    "defaults": r["mean"], "defaults_lo": r["ci_lo"], "defaults_hi": r["ci_hi"],
                    "best": best["mean"], "best_lo": best["ci_lo"], "best_hi": best["ci_hi"],
                    "best_setting": best_name[len(trk) + 1: -1] or "defaults",
                    "gap": best["mean"] - r["mean"], "n": r["n"]})
    return out


def sweep_table(best: list[dict[str, Any]]) -> str:
    """Markdown: each swept tracker's defaults against its best setting."""
    lines = ["| scenario | tracker | defaults | best setting | its mean | best - defaults |",
             "|---|---|---|---|---|---|"]
    for b in best:
        lines.append(f"| {b['scenario']} | {b['tracker']} | {b['defaults']:.3f} "
                     f"[{b['defaults_lo']:.3f}, {b['defaults_hi']:.3f}] | {b['best_setting']} | "
                     f"{b['best']:.3f} | {b['gap']:+.3f} |")
    return f"{best[0]['measure'] if best else 'alpha'} (mean [95 % interval] over seeds)\n" + \
        "\n".join(lines)


def _cell(row: dict[str, Any] | None, fmt: str) -> str:
    if row is None or row["n"] == 0 or not math.isfinite(row["mean"]):
        return "—"
    text = fmt.format(row["mean"])
    if row["n"] > 1:
        text += " ± " + fmt.format((row["ci_hi"] - row["ci_lo"]) / 2)
    return text


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Scenario x tracker rows with the headline measures (mean ± 95 % half-width);
    a tracker that refused every seed shows its reason."""
    by = {(r["scenario"], r["tracker"], r["measure"]): r for r in rows}
    pairs = list(dict.fromkeys((r["scenario"], r["tracker"]) for r in rows))
    head = ["scenario", "tracker", "seeds", *(label for _, label, _ in TABLE)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for scen, trk in pairs:
        first = next(r for r in rows if r["scenario"] == scen and r["tracker"] == trk)
        if first["n"] == 0 and first["error"]:
            reason = first["error"]
            reason = reason if len(reason) <= 90 else reason[:87] + "..."
            lines.append(f"| {scen} | {trk} | 0/{first['n_failed']} | refused: {reason} |"
                         + " |" * (len(TABLE) - 1))
            continue
        cells = [_cell(by.get((scen, trk, m)), fmt) for m, _, fmt in TABLE]
        seeds = f"{first['n']}/{first['n'] + first['n_failed']}"
        lines.append("| " + " | ".join([scen, trk, seeds, *cells]) + " |")
    return "\n".join(lines)


def plot_measures(rows: list[dict[str, Any]], out: Path,
                  measures: tuple[str, ...] = ("association_jaccard", "jaccard", "alpha",
                                               "beta", "wall_s", "flops")) -> list[Path]:
    """One PNG per measure: grouped bars (scenario groups, a bar per tracker) with the
    95 % interval as error bars; measures nobody reported are skipped."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    written = []
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    trackers = list(dict.fromkeys(r["tracker"] for r in rows))
    for m in measures:
        sel = {(r["scenario"], r["tracker"]): r for r in rows if r["measure"] == m and r["n"]}
        if not sel:
            continue
        fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(scenarios) + 2), 3.6), dpi=100)
        width = 0.8 / max(len(trackers), 1)
        x = np.arange(len(scenarios))
        for i, trk in enumerate(trackers):
            rs = [sel.get((s, trk)) for s in scenarios]
            means = [r["mean"] if r else np.nan for r in rs]
            err = np.array([[r["mean"] - r["ci_lo"], r["ci_hi"] - r["mean"]] if r else [0, 0]
                            for r in rs]).T
            ax.bar(x + (i - (len(trackers) - 1) / 2) * width, means, width, yerr=err,
                   capsize=3, label=trk)
        ax.set_xticks(x, scenarios, rotation=20, ha="right")
        ax.set_ylabel(m)
        if m in ("wall_s", "flops"):
            ax.set_yscale("log")
        ax.set_title(f"{m}: mean and 95 % interval over seeds")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{m}.png"
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format="png")
        plt.close(fig)
        written.append(path)
    return written
