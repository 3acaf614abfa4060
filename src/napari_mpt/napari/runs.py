"""The record of every run on a set of detections, for the side-by-side comparison table.

Runs are keyed by a fingerprint of the detections they tracked, so the table shows the
runs on the *current* detections: re-simulating or editing the points starts a new
comparison, and switching back to an earlier layer shows its runs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..metrics import LinkScore
from ..params import MHTParams
from ..runtime import TrackingResult

# the long parameter description last, so the numbers stay in view in a narrow dock
COLUMNS = ("method", "JC", "TP", "FP", "FN", "FLOPs", "FLOP source", "time (s)", "device",
           "parameters")


def detections_key(data: np.ndarray) -> str:
    """A fingerprint of a Points layer's coordinates (shape and values)."""
    arr = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    h = hashlib.sha1(str(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:16]


def describe_params(params: object, device: str) -> str:
    """The key parameters of a run, as a user would name them."""
    if hasattr(params, "describe"):    # parameter classes that describe themselves (LAP)
        return str(params.describe())
    if isinstance(params, MHTParams):
        return (f"K={params.lookback}, {params.motion_model}, eta'={params.process_noise:g}, "
                f"nu'={params.measurement_noise:g}, {params.mode}")
    return f"{getattr(params, 'checkpoint', '?')}, {device}"


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

    @classmethod
    def from_result(cls, key: str, params: object, result: TrackingResult,
                    score: LinkScore | None) -> RunRecord:
        return cls(key, result.label, result.method, describe_params(params, result.device),
                   result.wall_s, int(result.flops.value), result.flops.source,
                   result.device, flops_detail=result.flops.detail,
                   jaccard=None if score is None else score.jaccard,
                   tp=None if score is None else score.tp,
                   fp=None if score is None else score.fp,
                   fn=None if score is None else score.fn)

    def cells(self) -> tuple[str, ...]:
        def opt(v: object, fmt: str) -> str:
            return "–" if v is None else format(v, fmt)

        return (self.label, opt(self.jaccard, ".4f"), opt(self.tp, "d"), opt(self.fp, "d"),
                opt(self.fn, "d"), f"{self.flops:,}", self.flops_source, f"{self.wall_s:.3f}",
                self.device, self.parameters)

    def readout(self) -> str:
        """The multi-line summary shown under the Run button."""
        if self.jaccard is None:
            score = "link Jaccard: – (no ground-truth layer to compare with)"
        else:
            score = (f"link Jaccard: {self.jaccard:.4f}   TP {self.tp}  FP {self.fp}  "
                     f"FN {self.fn}")
        return (f"{self.label}\n{score}\nwall time: {self.wall_s:.3f} s\n"
                f"FLOPs: {self.flops:,} ({self.flops_source})   device: {self.device}")


class RunHistory:
    """Every run of this widget, in order."""

    def __init__(self) -> None:
        self.records: list[RunRecord] = []

    def add(self, record: RunRecord) -> None:
        self.records.append(record)

    def for_key(self, key: str | None) -> list[RunRecord]:
        return [r for r in self.records if r.key == key]


def format_table(records: list[RunRecord]) -> str:
    """A plain-text table of runs (what ``napari-mpt demo`` prints)."""
    rows = [COLUMNS, *(r.cells() for r in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i in (0, len(row) - 1) or n == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     .rstrip())
    return "\n".join(lines)
