"""Link Jaccard coefficient, exactly as in paper section III-D.

1. In every frame the estimated positions are matched to the true positions by the
   Hungarian algorithm, minimising the summed Euclidean distance.
2. A predicted link joins consecutive vertices of one estimated track.  It is a true
   positive (TP) when both ends match the same true particle and that particle has the
   link; otherwise a false positive (FP): it joins two different true particles (or an
   unmatched vertex).
3. A true link (consecutive vertices of one true track) that no TP follows is a false
   negative (FN).  ``JC = TP / (TP + FP + FN)``.

"Consecutive" means consecutive vertices of a track, so a track with a gap links across
it; with no gaps these are exactly the frame-to-frame links of the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from .data import Tracks
from .errors import InputError


@dataclass(frozen=True)
class LinkError:
    """One wrong link: an FP (a predicted link) or an FN (a true link nobody followed)."""

    kind: Literal["FP", "FN"]
    frame_from: int
    frame_to: int
    start: tuple[float, ...]
    end: tuple[float, ...]
    track_id: int          # estimated track for FP, true particle for FN
    particles: tuple[int, int]  # true particles at the two ends (-1: unmatched)


@dataclass
class LinkScore:
    jaccard: float
    tp: int
    fp: int
    fn: int
    errors: list[LinkError] = field(default_factory=list)
    wrong_link: np.ndarray | None = None   # per vertex of the estimated tracks (their row order)
    matched_particle: np.ndarray | None = None  # per estimated vertex, true particle (-1 none)

    def per_frame(self) -> dict[int, dict[str, int]]:
        """Wrong links counted by the frame the link arrives in."""
        out: dict[int, dict[str, int]] = {}
        for e in self.errors:
            row = out.setdefault(e.frame_to, {"fp": 0, "fn": 0})
            row[e.kind.lower()] += 1
        return dict(sorted(out.items()))

    def summary(self) -> dict:
        return {
            "jaccard": self.jaccard, "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "per_frame": [{"frame": f, **c} for f, c in self.per_frame().items()],
        }


def match_frames(estimated: Tracks, truth: Tracks) -> np.ndarray:
    """For each estimated vertex, the true particle it is matched to in its frame (-1: none)."""
    out = np.full(len(estimated), -1, dtype=np.int64)
    est_frames = estimated.frame
    true_frames = truth.frame
    for f in np.unique(est_frames):
        ei = np.flatnonzero(est_frames == f)
        ti = np.flatnonzero(true_frames == f)
        if len(ti) == 0:
            continue
        diff = estimated.coords[ei][:, None, :] - truth.coords[ti][None, :, :]
        cost = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        r, c = linear_sum_assignment(cost)
        out[ei[r]] = truth.track_id[ti[c]]
    return out


def _links(tracks: Tracks) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (a, b) of consecutive vertices of the same track."""
    same = tracks.track_id[1:] == tracks.track_id[:-1]
    a = np.flatnonzero(same)
    return a, a + 1


def link_jaccard(estimated: Tracks, truth: Tracks) -> LinkScore:
    """Score estimated tracks against the truth with the paper's link Jaccard."""
    if estimated.ndim != truth.ndim:
        raise InputError("tracks", f"tracks are {estimated.ndim}D but the truth is {truth.ndim}D")
    match = match_frames(estimated, truth)
    ea, eb = _links(estimated)
    ta, tb = _links(truth)
    true_links = {
        (int(truth.track_id[a]), int(truth.frame[a]), int(truth.frame[b])): (a, b)
        for a, b in zip(ta, tb, strict=True)
    }
    followed: set[tuple[int, int, int]] = set()
    errors: list[LinkError] = []
    wrong = np.zeros(len(estimated), dtype=bool)
    tp = fp = 0
    for a, b in zip(ea, eb, strict=True):
        p, q = int(match[a]), int(match[b])
        key = (p, int(estimated.frame[a]), int(estimated.frame[b]))
        if p >= 0 and p == q and key in true_links and key not in followed:
            followed.add(key)
            tp += 1
            continue
        fp += 1
        wrong[b] = True
        errors.append(LinkError(
            "FP", int(estimated.frame[a]), int(estimated.frame[b]),
            tuple(map(float, estimated.coords[a])), tuple(map(float, estimated.coords[b])),
            int(estimated.track_id[a]), (p, q)))
    for key, (a, b) in true_links.items():
        if key in followed:
            continue
        errors.append(LinkError(
            "FN", key[1], key[2], tuple(map(float, truth.coords[a])),
            tuple(map(float, truth.coords[b])), key[0], (key[0], key[0])))
    fn = len(true_links) - len(followed)
    denom = tp + fp + fn
    jc = tp / denom if denom else 1.0
    errors.sort(key=lambda e: (e.frame_to, e.kind, e.track_id))
    return LinkScore(jc, tp, fp, fn, errors, wrong, match)
