"""Where trackers disagree, with no truth needed.

Two runs on the same detections are compared link by link: a link is a pair of detection
rows that one track joins (:func:`~napari_mpt.evaluation.metrics.detection_links`: the
detections a track took, in order, a link bridging the frames it skipped).  Every link
that one run makes and the other does not is a place where at least one of them is wrong,
so the disagreements are where a user should look first, and their share bounds how much
the choice of tracker matters on this movie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.data import Tracks
from ..core.errors import InputError
from .metrics import detection_links


def link_keys(tracks: Tracks, width: int) -> np.ndarray:
    """The run's links as sorted unique ``a * width + b`` keys (``width`` > every row)."""
    links = detection_links(tracks)
    return np.unique(links[:, 0] * width + links[:, 1])


def _width(runs: list[Tracks]) -> int:
    return int(max((int(t.detection.max(initial=-1)) for t in runs), default=-1)) + 1


def _check(runs: list[Tracks]) -> None:
    for i, t in enumerate(runs):
        if len(t) and not (t.detection >= 0).any():
            raise InputError(f"run {i}", "names no detection rows; runs are compared by the "
                             "detections their tracks took, so both must track the same "
                             "detections")


@dataclass(frozen=True)
class Disagreement:
    """Links only run A makes, links only run B makes (``(k, 2)`` detection rows each) and
    how many both make."""

    only_a: np.ndarray
    only_b: np.ndarray
    shared: int

    @property
    def count(self) -> int:
        return len(self.only_a) + len(self.only_b)

    @property
    def share(self) -> float:
        """Disagreeing links over all links either run makes (0: the same tracks)."""
        total = self.count + self.shared
        return self.count / total if total else 0.0

    def per_frame(self, frame_of_row: np.ndarray, frames: int) -> np.ndarray:
        """``(frames, 2)`` counts of A-only and B-only links by the frame a link arrives in
        (its second detection's frame)."""
        out = np.zeros((frames, 2), dtype=np.int64)
        for col, links in enumerate((self.only_a, self.only_b)):
            if len(links):
                np.add.at(out[:, col], frame_of_row[links[:, 1]], 1)
        return out


def disagreement(a: Tracks, b: Tracks) -> Disagreement:
    """The links on which runs ``a`` and ``b`` of the same detections differ.

    Examples
    --------
    Two runs over the same four detections (rows 0, 1 in frame 0; rows 2, 3 in frame 1):
    the first links 0 to 2 and 1 to 3, the second swaps the second frame's ends.

    >>> import numpy as np
    >>> from napari_mpt.core.data import Tracks
    >>> def run(ids):
    ...     return Tracks(np.array(ids), np.array([0, 0, 1, 1]), np.zeros((4, 2)),
    ...                   detection=np.arange(4))
    >>> d = disagreement(run([0, 1, 0, 1]), run([0, 1, 1, 0]))
    >>> d.only_a.tolist(), d.only_b.tolist(), d.count
    ([[0, 2], [1, 3]], [[0, 3], [1, 2]], 4)
    """
    _check([a, b])
    width = _width([a, b])
    ka, kb = link_keys(a, width), link_keys(b, width)
    only_a = np.setdiff1d(ka, kb, assume_unique=True)
    only_b = np.setdiff1d(kb, ka, assume_unique=True)

    def rows(keys: np.ndarray) -> np.ndarray:
        return np.column_stack([keys // width, keys % width]).astype(np.int64)

    return Disagreement(rows(only_a), rows(only_b), len(ka) - len(only_a))


def disagreement_matrix(runs: list[Tracks]) -> np.ndarray:
    """``share`` of :func:`disagreement` for every pair of runs (symmetric, 0 diagonal)."""
    n = len(runs)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = disagreement(runs[i], runs[j]).share
    return out


@dataclass(frozen=True)
class LinkSupport:
    """Every link any run makes (``(k, 2)`` detection rows, sorted) and which runs make it
    (``(k, n_runs)`` booleans)."""

    links: np.ndarray
    made_by: np.ndarray

    @property
    def support(self) -> np.ndarray:
        """How many runs make each link."""
        return self.made_by.sum(axis=1)

    def contested(self) -> np.ndarray:
        """Rows of the links that not every run makes."""
        return np.flatnonzero(self.support < self.made_by.shape[1])


def link_support(runs: list[Tracks]) -> LinkSupport:
    """The union of the runs' links and, for each, the runs that make it: with three or
    more runs, the links on which they do not all agree are ``contested()``."""
    if not runs:
        raise InputError("runs", "no run to compare")
    _check(runs)
    width = max(_width(runs), 1)
    keys = [link_keys(t, width) for t in runs]
    union = np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.int64)
    made = np.column_stack([np.isin(union, k, assume_unique=True) for k in keys])
    links = np.column_stack([union // width, union % width]).astype(np.int64)
    return LinkSupport(links, made.reshape(len(union), len(runs)))


CONFIDENCE = "link_confidence"
"""The per-vertex feature a tracker reports its confidence in the link arriving at the
vertex with (in [0, 1]; NaN at a track's first vertex or where it has no number)."""


def arriving_vertices(tracks: Tracks) -> np.ndarray:
    """The vertex (row of ``tracks``) each link of :func:`detection_links` arrives at."""
    took = np.flatnonzero(tracks.detection >= 0)
    same = tracks.track_id[took][1:] == tracks.track_id[took][:-1]
    return took[1:][same]


def link_confidence(support: LinkSupport, runs: list[Tracks]) -> np.ndarray:
    """Per link of ``support``: the mean confidence the runs that make it report for it
    (their ``link_confidence`` feature), NaN where none reports one."""
    width = max(int(support.links.max(initial=-1)) + 1, _width(runs), 1)
    union = support.links[:, 0] * width + support.links[:, 1]
    total = np.zeros(len(union))
    count = np.zeros(len(union))
    for t in runs:
        values = t.features.get(CONFIDENCE)
        if values is None:
            continue
        links = detection_links(t)
        conf = np.asarray(values, dtype=np.float64)[arriving_vertices(t)]
        at = np.searchsorted(union, links[:, 0] * width + links[:, 1])
        ok = np.isfinite(conf)
        np.add.at(total, at[ok], conf[ok])
        np.add.at(count, at[ok], 1)
    return np.divide(total, count, out=np.full(len(union), np.nan), where=count > 0)


def priority_order(support: LinkSupport, confidence: np.ndarray | None = None,
                   error: np.ndarray | None = None) -> np.ndarray:
    """The union's link indices, the ones to look at first first: with a truth, the links
    that are an error for some run (``error``: wrong and made, or right and missed);
    then the most disputed (the runs split most evenly); then the least confident
    (``confidence``, NaN counted as 0.5); then by position in the union."""
    n = support.made_by.shape[1]
    split = np.abs(2 * support.support - n) / max(n, 1)     # exact: 0 is an even split
    conf = (np.full(len(split), 0.5) if confidence is None
            else np.where(np.isfinite(confidence), confidence, 0.5))
    first = np.zeros(len(split)) if error is None else (~np.asarray(error, bool)).astype(float)
    return np.lexsort((np.arange(len(split)), conf, split, first))


def alternatives(support: LinkSupport, i: int) -> np.ndarray:
    """Indices of the other links of the union that leave link ``i``'s start or reach its
    end: what the runs offered instead of it."""
    a, b = support.links[i]
    return np.flatnonzero(((support.links[:, 0] == a) | (support.links[:, 1] == b))
                          & (np.arange(len(support.links)) != i))


def partner(support: LinkSupport, i: int, end: int) -> int | None:
    """The link of the union arriving at detection ``end`` that a run making link ``i``
    makes too (else any run's), for a swap; None when no run links into ``end``."""
    into = np.flatnonzero(support.links[:, 1] == end)
    into = into[into != i]
    if not len(into):
        return None
    same_run = (support.made_by[into] & support.made_by[i]).any(axis=1)
    return int(into[np.argmax(same_run)])
