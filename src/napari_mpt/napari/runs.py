"""The record of every run on a set of detections, for the side-by-side comparison table.

Runs are keyed by a fingerprint of the detections they tracked, so the table shows the
runs on the *current* detections: re-simulating or editing the points starts a new
comparison, and switching back to an earlier layer shows its runs again.

A run's label is the tracker's own (``MHT K=8``) plus, when an earlier run on the same
detections had the same label but other settings, the settings that tell them apart
(``MHT K=8 ν'=5``): every run with different settings keeps its own layer and row.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.params import MHTParams
from ..core.results import TrackingResult
from ..evaluation.metrics import LinkScore

# the table's row header (frozen when the table scrolls sideways) is the run's label;
# the long parameter description last, so the numbers stay in view in a narrow dock
COLUMNS = ("JC", "assoc JC", "α", "β", "TP", "FP", "FN", "edge F1", "LNK", "TRA", "CHOTA",
           "disagree", "error rate", "time", "exact", "FLOPs", "FLOP source", "method", "device",
           "parameters")
TOOLTIPS = {
    "JC": "position link Jaccard (the paper's): TP / (TP + FP + FN) over links matched by "
          "position to the ground truth",
    "assoc JC": "association link Jaccard: links compared by detection identity (only when "
                "the ground truth names the detections it made)",
    "α": "ISBI 2012 alpha: how well the tracks match the truth (1 = perfect), without "
         "penalising spurious tracks",
    "β": "ISBI 2012 beta: alpha, also penalising spurious tracks (1 = perfect)",
    "edge F1": "traccuracy's edge F1: links matched by position (within the ISBI gate, "
               "5 px), harmonic mean of precision and recall",
    "LNK": "traccuracy's Cell Tracking Challenge LNK: the true links kept, with the CTC's "
           "weights (1 per wrong link, 1.5 per missed one)",
    "TRA": "traccuracy's Cell Tracking Challenge TRA: points found and links kept together",
    "CHOTA": "traccuracy's CHOTA: detection, association and long-range consistency of "
             "the tracks together (1 = perfect; left out on data with thousands of tracks, "
             "where it would take minutes)",
    "disagree": "no truth needed: the share of the links this run or another run on these "
                "detections makes that only one of the two makes, against the run it "
                "disagrees with most (hover a cell for each; the Review dock's matrix)",
    "error rate": "no truth needed: the share of this run's links a reviewer would call "
                  "wrong, with its 95 % interval, from the links reviewed so far in the "
                  "Review dock's random sample (Estimate error rates)",
    "TP": "true links found (position link Jaccard)",
    "FP": "wrong links made (drawn magenta in the link-errors layer)",
    "FN": "true links missed (drawn cyan in the link-errors layer)",
    "time": "wall time of the tracker itself, in seconds",
    "exact": "yes: the tracker's search proved its optimum; otherwise how many clusters a "
             "budget bounded and tracks it capped (hover the readout: what to change)",
    "FLOPs": "floating-point operations of the run",
    "FLOP source": "how the FLOPs were counted (hover the readout for details)",
    "method": "the tracker that ran; for the transformer, which kind: encoder-decoder (the "
              "paper's: the same number of detections in every frame) or association (any "
              "number per frame: misses, clutter, births and deaths)",
    "device": "where the run computed (cpu, cuda)",
    "parameters": "the run's key settings",
}
ABSENT = "—"   # a measure that does not apply to this run
# how a setting is named in a run's label (None: its value says it, e.g. random-walk)
SHORT_NAMES: dict[str, str | None] = {
    "lookback": "K", "process_noise": "η'", "measurement_noise": "ν'", "motion_model": None,
    "mode": None, "velocity_prior": "v0", "max_link_distance": "d",
    "gap_closing_frames": "gap", "gap_closing_distance": "gap d", "batch_size": "batch",
    "checkpoint": None, "device": None,
}


def method_name(result: TrackingResult) -> str:
    """The tracker that ran, with the transformer's kind (its checkpoint says which)."""
    if result.method == "transformer":
        return f"transformer ({result.info.get('kind', 'encoder-decoder')})"
    return {"mht": "MHT", "lap": "LAP"}.get(result.method, result.method)


def seconds(s: float) -> str:
    """Every time the plugin prints, in one format: seconds with a unit."""
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


def detections_key(data: np.ndarray) -> str:
    """A fingerprint of a Points layer's coordinates (shape and values)."""
    arr = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    h = hashlib.sha1(str(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:16]


def _number(value: Any) -> str:
    return "?" if value is None else format(value, "g") if isinstance(value, float) else str(value)


def estimated_of(result: TrackingResult | None) -> dict[str, Any]:
    """The parameters a tracker estimated from the data (``info["estimated"]``), if any."""
    info = getattr(result, "info", None) or {}
    est = info.get("estimated") if isinstance(info, dict) else None
    return dict(est) if isinstance(est, dict) else {}


def exactness_cell(info: dict[str, Any]) -> str:
    """The run table's "exact" cell: yes, what a budget bounded, or absent when the
    tracker makes no such claim (LAP, the transformers)."""
    if "exact" not in info:
        return ABSENT
    if info["exact"]:
        return "yes"
    parts = []
    if info.get("bounded_clusters"):
        parts.append(f"{int(info['bounded_clusters']):,} bounded")
    if info.get("capped_owners"):
        parts.append(f"{int(info['capped_owners']):,} capped")
    return "no: " + ", ".join(parts)


def describe_params(params: object, device: str, result: TrackingResult | None = None) -> str:
    """The key parameters of a run, as a user would name them; a parameter estimated from
    the data shows the value used, marked "est."
    """
    if hasattr(params, "describe"):    # parameter classes that describe themselves (LAP)
        return str(params.describe())
    if isinstance(params, MHTParams):
        used = getattr(result, "params", None) or {}
        est = estimated_of(result)

        def val(name: str, fmt: str = "g") -> str:
            value = used.get(name, getattr(params, name)) if isinstance(used, dict) else None
            value = getattr(params, name) if value is None else value
            if value is None:
                return "est."
            text = format(value, fmt) if isinstance(value, float) else str(value)
            return text + (" est." if name in est else "")

        model = used.get("motion_model") if isinstance(used, dict) else None
        share = (f", directed {val('directed_share', '.0%')}"
                 if (model or params.motion_model) == "switching" else "")
        return (f"K={val('lookback')}, {val('motion_model')}, eta'={val('process_noise')}, "
                f"nu'={val('measurement_noise')}{share}, {params.mode}")
    return f"{getattr(params, 'checkpoint', '?')}, {device}"


def settings_of(params: object) -> dict[str, Any]:
    """Every field of a parameter dataclass, in declaration order."""
    if not dataclasses.is_dataclass(params):
        return {}
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}


def _setting_text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return name.replace("_", " ") if value else f"no {name.replace('_', ' ')}"
    text = "est." if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    short = SHORT_NAMES.get(name, name.replace("_", " "))
    return text if short is None else f"{short}={text}"


def run_label(base: str, settings: dict[str, Any], earlier: list[RunRecord]) -> str:
    """``base`` plus the settings in which this run differs from earlier runs of that base.

    A run with the same settings as an earlier one takes its label (and so its layer).
    """
    same_base = [r for r in earlier if r.base_label == base]
    for r in same_base:
        if r.settings == settings:
            return r.label
    others = [r for r in same_base if r.settings != settings]
    if not others:
        return base
    differing = [n for n in settings if any(r.settings.get(n) != settings[n] for r in others)]
    label = " ".join([base, *(_setting_text(n, settings[n]) for n in differing)])
    taken = {r.label for r in earlier}
    n, unique = 2, label
    while unique in taken:              # only with settings no field tells apart
        unique, n = f"{label} ({n})", n + 1
    return unique


def _measure(summary: dict[str, Any], key: str) -> float | None:
    value = summary.get(key)
    return None if value is None else float(value)


@dataclass(frozen=True)
class RunRecord:
    key: str
    label: str
    method: str
    parameters: str
    wall_s: float
    flops: int
    flops_source: str
    device: str
    jaccard: float | None = None
    tp: int | None = None
    fp: int | None = None
    fn: int | None = None
    flops_detail: str = ""
    association_jaccard: float | None = None
    alpha: float | None = None
    beta: float | None = None
    edge_f1: float | None = None
    ctc_lnk: float | None = None
    ctc_tra: float | None = None
    chota: float | None = None
    disagree: dict[str, float] = field(default_factory=dict, compare=False)
    error_rate: tuple[float, float, float] | None = None   # estimate, 95 % interval
    base_label: str = ""
    settings: dict[str, Any] = field(default_factory=dict, compare=False)
    estimated: str = ""   # parameters estimated from the data, as "name=value, ..."
    warning: str = ""     # the tracker's own word that it was not exact, and what to do
    exactness: str = ABSENT   # the run table's "exact" cell

    @classmethod
    def from_result(cls, key: str, params: object, result: TrackingResult,
                    score: LinkScore | None, label: str | None = None) -> RunRecord:
        summary = score.summary() if score is not None and hasattr(score, "summary") else {}
        return cls(key, label or result.label, method_name(result),
                   describe_params(params, result.device, result),
                   result.wall_s, int(result.flops.value), result.flops.source,
                   result.device, flops_detail=result.flops.detail,
                   jaccard=None if score is None else score.jaccard,
                   tp=None if score is None else score.tp,
                   fp=None if score is None else score.fp,
                   fn=None if score is None else score.fn,
                   association_jaccard=_measure(summary, "association_jaccard"),
                   alpha=_measure(summary, "alpha"), beta=_measure(summary, "beta"),
                   edge_f1=_measure(summary, "edge_f1"), ctc_lnk=_measure(summary, "ctc_lnk"),
                   ctc_tra=_measure(summary, "ctc_tra"), chota=_measure(summary, "chota"),
                   base_label=result.label, settings=settings_of(params),
                   estimated=", ".join(f"{SHORT_NAMES.get(k) or k}={_number(v)}"
                                       for k, v in estimated_of(result).items()),
                   warning=str(result.info.get("warning", "")),
                   exactness=exactness_cell(result.info))

    def cells(self) -> tuple[str, ...]:
        """The table's cells after the row header (the label), as :data:`COLUMNS`."""
        def opt(v: object, fmt: str) -> str:
            return ABSENT if v is None else format(v, fmt)

        return (opt(self.jaccard, ".4f"), opt(self.association_jaccard, ".4f"),
                opt(self.alpha, ".4f"), opt(self.beta, ".4f"), opt(self.tp, "d"),
                opt(self.fp, "d"), opt(self.fn, "d"), opt(self.edge_f1, ".4f"),
                opt(self.ctc_lnk, ".4f"), opt(self.ctc_tra, ".4f"), opt(self.chota, ".4f"),
                f"{100 * max(self.disagree.values()):.1f} %" if self.disagree else ABSENT,
                ABSENT if self.error_rate is None else "{:.1%} [{:.1%}, {:.1%}]".format(
                    *self.error_rate),
                seconds(self.wall_s), self.exactness, f"{self.flops:,}",
                self.flops_source, self.method, self.device, self.parameters)

    def cell(self, column: str) -> str:
        """The cell of ``column`` (one of :data:`COLUMNS`)."""
        return self.cells()[COLUMNS.index(column)]

    def readout(self) -> str:
        """The multi-line summary shown under the Run button."""
        def opt(v: float | None) -> str:
            return ABSENT if v is None else f"{v:.4f}"

        if self.jaccard is None:
            score = f"link Jaccard: {ABSENT} (no ground-truth layer to compare with)"
        else:
            score = (f"link Jaccard: {self.jaccard:.4f}   TP {self.tp}  FP {self.fp}  "
                     f"FN {self.fn}\nassociation JC: {opt(self.association_jaccard)}\n"
                     f"ISBI α: {opt(self.alpha)}   β: {opt(self.beta)}\n"
                     f"traccuracy: edge F1 {opt(self.edge_f1)}   LNK {opt(self.ctc_lnk)}   "
                     f"TRA {opt(self.ctc_tra)}   CHOTA {opt(self.chota)}")
        est = f"\nestimated from the data: {self.estimated}" if self.estimated else ""
        warn = f"\n⚠ {self.warning}" if self.warning else ""
        return (f"{self.label}\n{score}\nwall time: {seconds(self.wall_s)}\n"
                f"FLOPs: {self.flops:,} ({self.flops_source})   device: {self.device}{est}"
                f"{warn}")


def table_columns(records: list[RunRecord]) -> tuple[str, ...]:
    """The run table's columns, those with a value in some run first: without a truth the
    scores are all "—", and the time and FLOPs must not be scrolled out of view by them."""
    applies = [c for c in COLUMNS if any(r.cell(c) != ABSENT for r in records)]
    return (*applies, *(c for c in COLUMNS if c not in applies))


class RunHistory:
    """Every run of this widget, in order."""

    def __init__(self) -> None:
        self.records: list[RunRecord] = []

    def add(self, record: RunRecord) -> None:
        """Append ``record``; a run with an equal label on equal detections replaces it."""
        self.records = [r for r in self.records
                        if not (r.key == record.key and r.label == record.label)]
        self.records.append(record)

    def remove(self, record: RunRecord) -> None:
        self.records = [r for r in self.records if r is not record]

    def for_key(self, key: str | None) -> list[RunRecord]:
        return [r for r in self.records if r.key == key]


def format_table(records: list[RunRecord]) -> str:
    """A plain-text table of runs (what ``napari-mpt demo`` prints)."""
    columns = table_columns(records)
    rows = [("run", *columns), *((r.label, *(r.cell(c) for c in columns)) for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i in (0, len(row) - 1) or n == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     .rstrip())
    return "\n".join(lines)
