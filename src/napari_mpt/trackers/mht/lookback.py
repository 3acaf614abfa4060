"""The lookback K the data calls for (``lookback`` left to "estimate").

A longer window lets later frames overturn an association, at a cost that grows fast with
K; on most data the tracks stop changing after a few frames of hindsight (on the ISBI
challenge's movies K = 8 gained nothing over K = 1 to 3 and cost 30-100 s a movie).  The
rule, on a sample of the data:

1. *Sample*: :data:`SAMPLE_FRAMES` consecutive frames from the middle of the movie (a
   quarter of a shorter one, at least 8) and, where frames hold more than
   :data:`SAMPLE_PER_FRAME` detections, only those in a centred square (cube) holding
   about that many: a few thousand detections at most, so the rule costs a fraction of
   the run it sets up.
2. *Links that change*: the detection-level MHT (the estimated model, every parameter as
   the run will have it) tracks the sample with K = 1, 2, ...; K is the first whose next
   value changes fewer than :data:`LINK_CHANGE` of the links (detection pairs a track
   joins; changed = in one run's tracks and not the other's, over those in either).
3. *Time*: a K is not taken when its predicted cost, the nodes its trees made on the
   sample scaled to the whole data, exceeds the time budget at :data:`NODES_PER_SECOND`
   (nodes, not seconds measured on the sample: the same data always gets the same K, on
   any machine and under any load); nor tried on the sample when the growth from the K
   before predicts as much (the nodes grow about fourfold per K on dense data, so the
   sample run that would only be refused is saved).  At most :data:`MAX_LOOKBACK`.

What was measured and why the rule stopped is returned, for the run's report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...core.data import Tracks
from ...core.params import MHTParams
from ...core.results import RunControl

Tracker = Callable[[np.ndarray, list[np.ndarray], list[np.ndarray], MHTParams,
                    RunControl | None], tuple[Tracks, int]]
"""Tracks some frames (numbers, coordinates, rows) with the detection-level MHT: its
tracks and the tree nodes it made."""

LINK_CHANGE = 0.01
MAX_LOOKBACK = 6
SAMPLE_FRAMES = 20
SAMPLE_PER_FRAME = 150
NODES_PER_SECOND = 150_000
"""Tree nodes the detection-level MHT makes per second on one core of the machine this
was measured on (a 2-core VM: 6-8 us a node on dense scenes, 1000 particles x 100 frames
at K = 2 and 3); the budget's conversion, not a measurement taken at run time."""


def sample(numbers: np.ndarray, coords: list[np.ndarray], rows: list[np.ndarray]
           ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray], float]:
    """The sample of the module docstring (frame numbers, coordinates and rows per frame)
    and the share of all detections it holds."""
    T = len(coords)
    n = min(SAMPLE_FRAMES, max(8, T // 4))
    a = max(0, (T - n) // 2)
    b = min(T, a + n)
    sc, sr = coords[a:b], rows[a:b]
    per_frame = np.mean([len(z) for z in sc]) if sc else 0.0
    if per_frame > SAMPLE_PER_FRAME:
        allc = np.concatenate([z for z in coords if len(z)])
        lo, hi = allc.min(0), allc.max(0)
        d = allc.shape[1]
        half = 0.5 * (hi - lo) * (SAMPLE_PER_FRAME / per_frame) ** (1.0 / d)
        mid = 0.5 * (lo + hi)
        keep = [np.all(np.abs(z - mid) <= half, axis=1) if len(z) else np.zeros(0, bool)
                for z in sc]
        sc = [z[k] for z, k in zip(sc, keep, strict=True)]
        sr = [r[k] for r, k in zip(sr, keep, strict=True)]
    total = sum(len(z) for z in coords)
    return numbers[a:b], sc, sr, sum(len(z) for z in sc) / max(total, 1)


def _links(tracks: Tracks) -> set[tuple[int, int]]:
    took = tracks.detection >= 0
    tid, det = tracks.track_id[took], tracks.detection[took]
    same = tid[1:] == tid[:-1]
    return set(zip(det[:-1][same].tolist(), det[1:][same].tolist(), strict=True))


def choose_lookback(numbers: np.ndarray, coords: list[np.ndarray], rows: list[np.ndarray],
                    params: MHTParams, track: Tracker, control: RunControl | None = None
                    ) -> tuple[int, dict[str, Any]]:
    """The lookback for these detections and (resolved) parameters, tracking the sample
    with ``track``, and the evidence: the share of links each next K changed on the
    sample, the predicted nodes and seconds of the run at each K tried, and why the rule
    stopped."""
    T = len(coords)
    if T < 3:
        return 1, {"reason": "fewer than 3 frames"}
    sn, sc, sr, share = sample(numbers, coords, rows)
    if sum(len(z) for z in sc) == 0 or len(sc) < 3:
        return 1, {"reason": "no sample to measure on"}
    stop = None if control is None else RunControl(None, control.should_stop)
    budget_nodes = params.time_budget_s * NODES_PER_SECOND
    changes: dict[int, float] = {}
    predicted: dict[int, float] = {}
    prev = None
    top = min(MAX_LOOKBACK, len(sc) - 1)
    K, reason = 1, f"K = {top}, the most the rule tries here"
    for k in range(1, top + 1):
        if k > 2 and predicted[k - 1] ** 2 / predicted[k - 2] > budget_nodes:
            growth = predicted[k - 1] / predicted[k - 2]
            reason = (f"K = {k} would make about {growth:.2g} x the nodes of K = {k - 1}, "
                      f"over the time budget ({params.time_budget_s:g} s at "
                      f"{NODES_PER_SECOND:,} nodes/s)")
            break
        tracks, created = track(sn, sc, sr, params.replace(lookback=k), stop)
        predicted[k] = created / max(share, 1e-12)
        if predicted[k] > budget_nodes and k > 1:
            reason = (f"K = {k} would make about {predicted[k]:.3g} nodes, over the time "
                      f"budget ({params.time_budget_s:g} s at {NODES_PER_SECOND:,} nodes/s)")
            break
        links = _links(tracks)
        if prev is not None:
            union = len(prev | links)
            changes[k - 1] = len(prev ^ links) / union if union else 0.0
            if changes[k - 1] < LINK_CHANGE:
                reason = (f"K = {k} changed {changes[k - 1]:.2%} of the links of K = {k - 1} "
                          f"(under {LINK_CHANGE:.0%})")
                break
        prev, K = links, k
    return K, {"changed_links": {str(k): v for k, v in changes.items()},
               "predicted_nodes": {str(k): v for k, v in predicted.items()},
               "predicted_s": {str(k): v / NODES_PER_SECOND for k, v in predicted.items()},
               "sample_frames": len(sc), "sample_share": share, "reason": reason}
