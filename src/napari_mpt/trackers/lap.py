"""LAP linking with gap closing, through the ``laptrack`` library: the baseline users know.

Frame-to-frame linking by a linear assignment problem, then a second LAP that closes
gaps (a particle missed for a few frames), as in u-track and TrackMate (Jaqaman et al.,
Nature Methods 2008).  laptrack solves both; this module only maps our detections in and
its graph out, so nothing here re-implements the method.  Splitting and merging are off:
a particle track is a chain of detections.

Tracks have a vertex only where a detection was taken (a bridged gap has none), at that
detection's position, with ``detection`` set and the cost margin of the link arriving at
it as ``link_confidence`` (:mod:`.margins`).  Any number of detections per frame is fine,
empty frames included.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..core.data import Detections, Tracks
from ..core.errors import InputError
from ..core.fixed import FixedLinks
from ..core.params import LAPParams
from ..core.results import FlopCount, RunControl, TrackingResult
from . import steps
from .margins import margin_confidence

FALLBACK_LINK_DISTANCE = 15.0
"""Link distance (px) when the data cannot give one (no two consecutive frames with
detections): laptrack's own default cutoff, 225 px^2 squared Euclidean."""
LINK_QUANTILE = 0.995
LINK_MARGIN = 1.25
"""The estimated link distance is ``LINK_MARGIN`` x the ``LINK_QUANTILE`` quantile of the
real steps of a first linking pass (:mod:`napari_mpt.trackers.steps`: mutual nearest
neighbours, each link weighed by its probability of being a real step under the fitted
step mixture, so links to spurious detections do not stretch it).  A high quantile of the
whole mixture, not a multiple of its median: on mixed populations the fast steps are a
component of their own (on the ISBI challenge's RECEPTOR movie, 4 x the median cut one
real step in ten).  The margin reaches the longest steps of a movie, which lie beyond the
99.5 % quantile (for Gaussian steps, the quantile 1 - 1/n of n = 2,000 to 80,000 steps is
1.2 to 1.45 x it), so a clean sparse scene is linked without a break; more would cost
accuracy where particles die and are born often (a longer cutoff makes ending a track
dearer, so a dying track takes a newborn neighbour: ``docs/guide/lap.md``)."""
ESTIMATE_FACTOR = 4.0
"""With fewer than ten first-pass links (no mixture can be fitted): the link distance is
this x the median distance from a detection to its nearest detection in the next frame
(for a 2-D Gaussian step of per-axis std s, 4.7 s)."""
NO_FLOPS = FlopCount(0, "none", "laptrack does not count its floating-point operations; "
                     "its cost matrices are sparse (KD-tree candidates within the cutoff) and "
                     "its LAP solver's work depends on the data, so no honest analytic count "
                     "is given: compare LAP by wall time")


def frame_coords(detections: Detections) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every frame's table rows and coordinates, from the first frame to the last (empty
    frames included)."""
    first = int(detections.frame.min())
    n_frames = int(detections.frame.max()) - first + 1
    rows_of = [np.empty(0, dtype=np.int64) for _ in range(n_frames)]
    for rows in detections.by_frame():
        rows_of[int(detections.frame[rows[0]]) - first] = rows
    return rows_of, [detections.coords[r] for r in rows_of]


def _median_rule(coords: list[np.ndarray]) -> float | None:
    dists = [cKDTree(b).query(a, k=1)[0] for a, b in itertools.pairwise(coords)
             if len(a) and len(b)]
    if not dists:
        return None
    all_d = np.concatenate(dists)
    median = float(np.median(all_d))
    if median > 0:
        return ESTIMATE_FACTOR * median
    return float(all_d.max()) or 1.0   # particles that do not move: link what stays put


def estimate_distances(coords: list[np.ndarray], gap_frames: int
                       ) -> tuple[float | None, float | None, dict[str, Any]]:
    """The link distance and the gap-closing distance for ``gap_frames`` missed frames
    (the same rule on the first pass's displacements over ``gap_frames + 1`` frames, real
    steps weighed as for the link distance; None when there are too few) for
    every frame's coordinates, and what they came from.  None for the link distance when
    no two consecutive frames both hold detections."""
    if sum(len(z) for z in coords) < 2:
        return None, None, {}
    fp = steps.first_pass(coords)
    v = fp.displacements()
    mix = steps.fit_step_mixture(v, fp.radius)
    if mix is None:
        return _median_rule(coords), None, {"link_distance_rule": "4 x median next-frame "
                                            "distance (too few links for a step mixture)"}
    inlier = mix.inlier(v)
    q = steps.weighted_quantile(np.linalg.norm(v, axis=1), inlier, LINK_QUANTILE)
    link = LINK_MARGIN * q
    facts: dict[str, Any] = {"link_distance_rule": f"{LINK_MARGIN:g} x the {LINK_QUANTILE:.1%} "
                             "quantile of the real steps of a first linking pass",
                             "step_q995": q, "step_mixture": mix.summary(),
                             "first_pass_links": fp.links}
    gap = None
    if gap_frames:
        vg, wg = steps.lag_displacements(fp, gap_frames + 1, inlier)
        if wg.sum() >= steps.MIN_LINKS:
            gap = max(LINK_MARGIN * steps.weighted_quantile(np.linalg.norm(vg, axis=1), wg,
                                                            LINK_QUANTILE), link)
    return link, gap, facts


def estimate_link_distance(detections: Detections) -> float | None:
    """The estimated link distance (:func:`estimate_distances`), or None when no two
    consecutive frames both hold detections."""
    return estimate_distances(frame_coords(detections)[1], 0)[0]


def _check(detections: Detections) -> None:
    if len(detections) == 0:
        raise InputError(detections.source, "no detections")
    bad = np.flatnonzero(~np.all(np.isfinite(detections.coords), axis=1))
    if len(bad):
        raise InputError(detections.source, f"NaN or infinite coordinates in frame "
                         f"{int(detections.frame[bad[0]])}", row=int(bad[0]))


def link_settings(detections: Detections, params: LAPParams) -> dict[str, Any]:
    """The distances actually used (estimated where the parameters say 0) and, when
    estimated, what from (:func:`estimate_distances`)."""
    d = params.max_link_distance
    g = params.gap_closing_frames
    gap_d = params.gap_closing_distance
    facts: dict[str, Any] = {}
    est_d = est_gap = None
    if d == 0 or (g and gap_d == 0):
        est_d, est_gap, facts = estimate_distances(frame_coords(detections)[1], g)
    estimated = d == 0
    if estimated:
        d = est_d or FALLBACK_LINK_DISTANCE
    if g and gap_d == 0:
        # with too few lagged steps: Brownian growth, the link distance x sqrt(frames)
        gap_d = est_gap if est_gap is not None else d * float(np.sqrt(g + 1))
    out: dict[str, Any] = {"max_link_distance": float(d), "link_distance_estimated": estimated,
                           "gap_closing_frames": g,
                           "gap_closing_distance": float(gap_d) if g else 0.0,
                           "gap_distance_estimated": bool(g) and params.gap_closing_distance == 0}
    if facts:
        out["estimation"] = facts
    return out


def estimated_values(settings: dict[str, Any]) -> dict[str, float]:
    """The distances the data chose (the ``estimated`` entry of a result's info)."""
    out = {}
    if settings["link_distance_estimated"]:
        out["max_link_distance"] = settings["max_link_distance"]
    if settings["gap_distance_estimated"]:
        out["gap_closing_distance"] = settings["gap_closing_distance"]
    return out


def track_lap(detections: Detections, params: LAPParams,
              control: RunControl | None = None, fixed: FixedLinks | None = None
              ) -> TrackingResult:
    """Link ``detections`` with laptrack; progress is reported before and after laptrack
    runs (it has no hook inside), and a cancel is honoured at those points.  ``fixed``:
    links a user pinned (laptrack's ``connected_edges``: their ends take no other link)
    or forbade (:func:`forbidding`)."""
    from laptrack import LapTrack  # imports networkx and pandas: only when asked for

    control = control or RunControl()
    t0 = time.perf_counter()
    control.step(0, 3)
    _check(detections)
    settings = link_settings(detections, params)
    rows_of, coords = frame_coords(detections)
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
    connected = None
    if fixed:
        connected, coords = _fixed_for_laptrack(detections, rows_of, coords, fixed, options)
    tracker = LapTrack(**options)
    control.step(1, 3)
    graph = tracker.predict(coords, connected_edges=connected)
    control.step(2, 3)
    edges = np.array([(rows_of[a[0]][a[1]], rows_of[b[0]][b[1]]) for a, b in graph.edges()],
                     dtype=np.int64).reshape(-1, 2)
    link_d, gap_d = float(settings["max_link_distance"]), float(settings["gap_closing_distance"])
    conf = margin_confidence(detections, edges, lambda g: link_d if g == 1 else gap_d)
    tracks = chains_to_tracks(detections, edges)
    tracks = tracks.with_features(link_confidence=conf[tracks.detection])
    control.step(3, 3)
    info = {"links": len(edges), **settings, "estimated": estimated_values(settings)}
    if fixed:
        info["fixed"] = fixed.held_by(edges)
    return TrackingResult(tracks, "lap", params.label(), params.to_dict(),
                          time.perf_counter() - t0, NO_FLOPS, "cpu", info=info)


def forbidding(forbidden: set[tuple[int, int]]) -> Callable[[np.ndarray, np.ndarray], float]:
    """laptrack's ``metric`` (and gap-closing metric) for coordinates whose last column is
    the detection's row: the squared distance of the others, infinite (beyond every
    cutoff) for a forbidden pair.  laptrack takes any scipy ``cdist`` metric, so this is
    its own way to refuse a link; a Python call per candidate pair, used only when links
    are forbidden."""
    def metric(u: np.ndarray, v: np.ndarray) -> float:
        if (int(u[-1]), int(v[-1])) in forbidden:
            return math.inf
        d = u[:-1] - v[:-1]
        return float(d @ d)

    return metric


def _fixed_for_laptrack(detections: Detections, rows_of: list[np.ndarray],
                        coords: list[np.ndarray], fixed: FixedLinks, options: dict[str, Any]
                        ) -> tuple[list[tuple[tuple[int, int], tuple[int, int]]],
                                   list[np.ndarray]]:
    """The pinned links as laptrack's ``connected_edges`` ((frame, index) node pairs)
    and, with forbidden links, the coordinates with their rows and the metrics that refuse
    them (set in ``options``)."""
    first = int(detections.frame.min())
    pos = np.empty(len(detections), dtype=np.int64)
    for rows in rows_of:
        pos[rows] = np.arange(len(rows))
    fr = detections.frame - first
    connected = [((int(fr[a]), int(pos[a])), (int(fr[b]), int(pos[b])))
                 for a, b in fixed.pinned.tolist()]
    if len(fixed.forbidden):
        refuse = forbidding({(int(a), int(b)) for a, b in fixed.forbidden.tolist()})
        options.update(metric=refuse, gap_closing_metric=refuse)
        coords = [np.column_stack([c.reshape(len(r), detections.ndim), r]).astype(np.float64)
                  for c, r in zip(coords, rows_of, strict=True)]
    return connected, coords


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
