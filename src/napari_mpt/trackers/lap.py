"""LAP linking with gap closing, through the ``laptrack`` library: the baseline users know.

Frame-to-frame linking by a linear assignment problem, then a second LAP that closes
gaps (a particle missed for a few frames), as in u-track and TrackMate (Jaqaman et al.,
Nature Methods 2008).  laptrack solves both; this module only maps our detections in and
its graph out, so nothing here re-implements the method.  Splitting and merging are off:
a particle track is a chain of detections.

Tracks have a vertex only where a detection was taken (a bridged gap has none), at that
detection's position, with ``detection`` set.  Any number of detections per frame is fine,
empty frames included.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..core.data import Detections, Tracks
from ..core.errors import InputError
from ..core.params import LAPParams
from ..core.results import FlopCount, RunControl, TrackingResult

FALLBACK_LINK_DISTANCE = 15.0
"""Link distance (px) when the data cannot give one (no two consecutive frames with
detections): laptrack's own default cutoff, 225 px^2 squared Euclidean."""
ESTIMATE_FACTOR = 4.0
"""Estimated link distance = this x the median distance from a detection to its nearest
detection in the next frame.  For a 2-D Gaussian step of per-axis std s the distance is
Rayleigh(s), median 1.18 s, so 4 x median = 4.7 s cuts about 1 true link in 60,000 (in
3-D, 6.2 s: fewer); the median (not a high percentile) keeps missed and spurious spots,
whose nearest neighbour is far, from inflating it; in dense scenes the nearest neighbour
is often another particle, which makes the estimate smaller, i.e. cautious."""
NO_FLOPS = FlopCount(0, "none", "laptrack does not count its floating-point operations; "
                     "its cost matrices are sparse (KD-tree candidates within the cutoff) and "
                     "its LAP solver's work depends on the data, so no honest analytic count "
                     "is given: compare LAP by wall time")


def estimate_link_distance(detections: Detections) -> float | None:
    """``ESTIMATE_FACTOR`` x the median nearest-next-frame distance, or None when no two
    consecutive frames both hold detections."""
    groups = detections.by_frame()
    frames = [int(detections.frame[g[0]]) for g in groups]
    dists = []
    for (fa, ga), (fb, gb) in zip(zip(frames, groups, strict=True),
                                  zip(frames[1:], groups[1:], strict=True), strict=False):
        if fb == fa + 1:
            d, _ = cKDTree(detections.coords[gb]).query(detections.coords[ga], k=1)
            dists.append(d)
    if not dists:
        return None
    all_d = np.concatenate(dists)
    median = float(np.median(all_d))
    if median > 0:
        return ESTIMATE_FACTOR * median
    return float(all_d.max()) or 1.0   # particles that do not move: link what stays put


def _check(detections: Detections) -> None:
    if len(detections) == 0:
        raise InputError(detections.source, "no detections")
    bad = np.flatnonzero(~np.all(np.isfinite(detections.coords), axis=1))
    if len(bad):
        raise InputError(detections.source, f"NaN or infinite coordinates in frame "
                         f"{int(detections.frame[bad[0]])}", row=int(bad[0]))


def link_settings(detections: Detections, params: LAPParams) -> dict[str, float | int | bool]:
    """The distances actually used (estimated where the parameters say 0)."""
    d = params.max_link_distance
    estimated = d == 0
    if estimated:
        d = estimate_link_distance(detections) or FALLBACK_LINK_DISTANCE
    g = params.gap_closing_frames
    gap_d = params.gap_closing_distance or d * float(np.sqrt(g + 1))
    return {"max_link_distance": float(d), "link_distance_estimated": estimated,
            "gap_closing_frames": g, "gap_closing_distance": float(gap_d) if g else 0.0}


def track_lap(detections: Detections, params: LAPParams,
              control: RunControl | None = None) -> TrackingResult:
    """Link ``detections`` with laptrack; progress is reported before and after laptrack
    runs (it has no hook inside), and a cancel is honoured at those points."""
    from laptrack import LapTrack  # imports networkx and pandas: only when asked for

    control = control or RunControl()
    t0 = time.perf_counter()
    control.step(0, 3)
    _check(detections)
    settings = link_settings(detections, params)
    first = int(detections.frame.min())
    n_frames = int(detections.frame.max()) - first + 1
    rows_of = [np.empty(0, dtype=np.int64) for _ in range(n_frames)]
    for rows in detections.by_frame():
        rows_of[int(detections.frame[rows[0]]) - first] = rows
    coords = [detections.coords[r] for r in rows_of]
    gap = params.gap_closing_frames
    link_cost = float(settings["max_link_distance"]) ** 2
    gap_cost = float(settings["gap_closing_distance"]) ** 2
    options: dict[str, Any] = {   # a dict: laptrack's pydantic signature confuses mypy
        "metric": "sqeuclidean", "cutoff": link_cost,
        "gap_closing_metric": "sqeuclidean",
        # laptrack counts the frame difference of a gap-closing link: 1 missed frame = 2
        "gap_closing_cutoff": gap_cost if gap else False,
        "gap_closing_max_frame_count": gap + 1,
        "splitting_cutoff": False, "merging_cutoff": False,
        # ending and starting a track costs the cutoff, so a link within the distance the
        # user gave is always preferred to a break; laptrack's default (u-track's: 1.05 x
        # the 90th percentile of the candidate costs) refuses the longest true links, e.g.
        # 4 of 1097 in a clean 40-particle scene with 5 % missed spots
        "track_start_cost": link_cost, "track_end_cost": link_cost}
    if gap:
        options.update(segment_start_cost=gap_cost, segment_end_cost=gap_cost)
    tracker = LapTrack(**options)
    control.step(1, 3)
    graph = tracker.predict(coords)
    control.step(2, 3)
    edges = np.array([(rows_of[a[0]][a[1]], rows_of[b[0]][b[1]]) for a, b in graph.edges()],
                     dtype=np.int64).reshape(-1, 2)
    tracks = chains_to_tracks(detections, edges)
    control.step(3, 3)
    return TrackingResult(tracks, "lap", params.label(), params.to_dict(),
                          time.perf_counter() - t0, NO_FLOPS, "cpu",
                          info={"links": len(edges), **settings})


def chains_to_tracks(detections: Detections, edges: np.ndarray) -> Tracks:
    """One track per connected chain of detections (every detection in exactly one track;
    an unlinked detection is a one-vertex track).  Track ids follow the first frame, then
    the first detection row, of each track, so a run is reproducible."""
    n = len(detections)
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, label = connected_components(adj, directed=False)
    order = np.lexsort((np.arange(n), detections.frame))     # by frame, then row
    first_seen = np.full(label.max() + 1, n, dtype=np.int64)
    np.minimum.at(first_seen, label[order], np.arange(n))
    rank = np.empty_like(first_seen)
    rank[np.argsort(first_seen)] = np.arange(len(first_seen))
    return Tracks(rank[label], detections.frame, detections.coords, np.arange(n))
