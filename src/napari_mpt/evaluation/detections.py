"""How well detected spots match true positions: precision, recall, F1, localisation RMSE.

In each frame, detections and true positions are paired one to one by
:func:`scipy.optimize.linear_sum_assignment` on their Euclidean distances, and a pair counts
(a true positive) only within ``max_distance`` (2 px by default).  The assignment first
maximises the number of pairs within the gate, then minimises their summed distance, so
no greedy nearest-neighbour choice can steal a spot's only partner.  RMSE is the root mean
squared Euclidean distance over the true positives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.data import Detections, Tracks
from ..core.errors import InputError, ParameterError

Positions = Detections | Tracks | tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class FrameCounts:
    tp: int
    fp: int
    fn: int
    sq_error: float

    def scores(self) -> dict[str, float | int]:
        return _scores(self.tp, self.fp, self.fn, self.sq_error)


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _scores(tp: int, fp: int, fn: int, sq_error: float) -> dict[str, float | int]:
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    rmse = math.sqrt(sq_error / tp) if tp else float("nan")
    return {"precision": precision, "recall": recall, "f1": f1, "rmse": rmse,
            "tp": tp, "fp": fp, "fn": fn}


@dataclass(frozen=True)
class DetectionScore:
    """Overall counts and scores, and the same per frame.

    A ratio with a zero denominator (no detection, no truth, no match) is NaN.
    """

    tp: int
    fp: int
    fn: int
    sq_error: float
    max_distance: float
    frames: dict[int, FrameCounts] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return float(self.summary()["precision"])

    @property
    def recall(self) -> float:
        return float(self.summary()["recall"])

    @property
    def f1(self) -> float:
        return float(self.summary()["f1"])

    @property
    def rmse(self) -> float:
        return float(self.summary()["rmse"])

    def summary(self) -> dict[str, Any]:
        """Overall ``precision, recall, f1, rmse, tp, fp, fn`` and ``max_distance``."""
        return {**_scores(self.tp, self.fp, self.fn, self.sq_error),
                "max_distance": self.max_distance}

    def per_frame(self) -> dict[int, dict[str, float | int]]:
        return {f: c.scores() for f, c in sorted(self.frames.items())}


def _as_arrays(obj: Positions, what: str) -> tuple[np.ndarray, np.ndarray, str]:
    if isinstance(obj, (Detections, Tracks)):
        src = getattr(obj, "source", what)
        return np.asarray(obj.frame, dtype=np.int64), np.asarray(obj.coords, dtype=float), src
    frame, coords = obj
    return np.asarray(frame, dtype=np.int64), np.asarray(coords, dtype=float).reshape(
        len(frame), -1), what


def match_frame(detected: np.ndarray, truth: np.ndarray, max_distance: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(i_detected, i_truth)`` of the one-to-one pairs within ``max_distance``
    that are most numerous and, among those, closest in total."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    if not len(detected) or not len(truth):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    d = cdist(detected, truth)
    inside = d <= max_distance
    # a pair outside the gate costs more than any set of pairs inside it can save
    big = max_distance * (min(d.shape) + 1) + 1.0
    cost = np.where(inside, d, big)
    rows, cols = linear_sum_assignment(cost)
    keep = inside[rows, cols]
    return rows[keep], cols[keep]


def evaluate_detections(detected: Positions, truth_positions: Positions,
                        max_distance: float = 2.0) -> DetectionScore:
    """Precision, recall, F1 and RMSE of ``detected`` against ``truth_positions``.

    Both are :class:`Detections`, :class:`Tracks` (e.g. a simulation's truth) or
    ``(frame, coords)`` arrays with the same spatial dimensions; every true position
    counts, in every frame either one has.
    """
    if not (isinstance(max_distance, (int, float)) and math.isfinite(max_distance)
            and max_distance > 0):
        raise ParameterError("max_distance", f"must be a positive number, got {max_distance}")
    fd, cd, src_d = _as_arrays(detected, "detections")
    ft, ct, src_t = _as_arrays(truth_positions, "truth")
    if len(cd) and len(ct) and cd.shape[1] != ct.shape[1]:
        raise InputError(src_d, f"detections are {cd.shape[1]}-D but the truth "
                         f"({src_t}) is {ct.shape[1]}-D")
    for c, f, src in ((cd, fd, src_d), (ct, ft, src_t)):
        bad = ~np.all(np.isfinite(c), axis=1)
        if bad.any():
            raise InputError(src, f"NaN or infinite coordinates in frame {int(f[bad][0])}",
                             row=int(np.flatnonzero(bad)[0]))
    frames: dict[int, FrameCounts] = {}
    tp = fp = fn = 0
    sq = 0.0
    for frame in np.union1d(fd, ft):
        a, b = cd[fd == frame], ct[ft == frame]
        i, j = match_frame(a, b, max_distance)
        err = float(((a[i] - b[j]) ** 2).sum())
        counts = FrameCounts(len(i), len(a) - len(i), len(b) - len(i), err)
        frames[int(frame)] = counts
        tp, fp, fn, sq = tp + counts.tp, fp + counts.fp, fn + counts.fn, sq + err
    return DetectionScore(tp, fp, fn, sq, float(max_distance), frames)
