"""trackpy's linking (Crocker-Grier) as one of the trackers compared: what most
microscopists link with, run on the same detections and scored by the same measures.

trackpy solves it; this module maps our detections in and its particle labels out, and
estimates what the user did not give: the search range as LAP's link distance is
estimated (:func:`napari_mpt.trackers.lap.estimate_link_distance`), the memory from the
detection probability P_D the MHT estimates
(:func:`napari_mpt.trackers.steps.detection_rates`): the fewest frames m for
which a particle is missed more than m frames in a row with probability
``(1 - P_D)^(m+1) <= 0.2 %``.  Every value used is returned in ``info``.

``trackpy.link`` is run in its frame-by-frame form ``trackpy.link_iter`` (the same
linker, which ``link`` itself loops over), so that a run reports progress and can be
cancelled between frames.  Tracks have a vertex per detection (every detection is in
one track; an unlinked one is a one-vertex track), at the detection's position, with
the cost margin of the link arriving at it as ``link_confidence`` (:mod:`.margins`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..core.data import Detections
from ..core.errors import ParameterError
from ..core.params import TrackpyParams
from ..core.results import FlopCount, RunControl, TrackingResult
from .lap import FALLBACK_LINK_DISTANCE, chains_to_tracks, estimate_link_distance
from .margins import margin_confidence
from .mht.tracker import frames_of
from .steps import detection_rates, first_pass

MISS_TAIL = 0.002
"""The memory covers all but this fraction of a particle's runs of missed frames.  At 1 %
it gave a memory of 1 at P_D = 0.9, where 2 scored 0.011-0.024 higher alpha on the
receptor and mixture presets (``napari-mpt benchmark ... --sweep trackpy:memory=1,2``,
docs/guide/which-tracker.md)."""
MAX_ESTIMATED_MEMORY = 5
"""The estimated memory is capped here: beyond it a vanished particle is better a new
track than a long bridge (set ``memory`` to go further)."""
ADAPTIVE_FRACTION = 0.1
"""``adaptive_stop`` = 0: this fraction of the search range."""
NO_FLOPS = FlopCount(0, "none", "trackpy does not count its floating-point operations (a "
                     "KD-tree candidate search, then an exhaustive search within each "
                     "subnetwork of nearby particles, whose size depends on the data): "
                     "compare trackpy by wall time")


def estimate_memory(coords: list[np.ndarray]) -> tuple[int, float]:
    """The memory for every frame's coordinates (empty frames included) and the detection
    probability it came from."""
    p_d = float(detection_rates(coords, first_pass(coords))["detection_probability"])
    return memory_for(p_d), p_d


def memory_for(p_d: float) -> int:
    """The fewest frames m with ``(1 - p_d)^(m+1) <= MISS_TAIL``, at most
    :data:`MAX_ESTIMATED_MEMORY`."""
    if p_d >= 1.0:
        return 0
    m = math.ceil(math.log(MISS_TAIL) / math.log(1.0 - p_d) - 1e-9) - 1
    return int(min(max(m, 0), MAX_ESTIMATED_MEMORY))


def link_settings(detections: Detections, params: TrackpyParams,
                  coords: list[np.ndarray]) -> dict[str, Any]:
    """The search range, memory and adaptive stop actually used (estimated where the
    parameters leave them to the data), with what the estimates came from; ``coords``:
    every frame's coordinates."""
    d = params.search_range
    estimated = d == 0
    if estimated:
        d = estimate_link_distance(detections) or FALLBACK_LINK_DISTANCE
    out: dict[str, Any] = {"search_range": float(d), "search_range_estimated": estimated}
    if params.memory is None:
        memory, p_d = estimate_memory(coords)
        out.update(memory=memory, memory_estimated=True, detection_probability=p_d)
    else:
        out.update(memory=int(params.memory), memory_estimated=False)
    out["adaptive_stop"] = float(params.adaptive_stop or ADAPTIVE_FRACTION * d)
    return out


def track_trackpy(detections: Detections, params: TrackpyParams,
                  control: RunControl | None = None) -> TrackingResult:
    """Link ``detections`` with trackpy; progress after every frame, where a cancel is
    honoured too."""
    import trackpy
    from trackpy.linking import SubnetOversizeException

    control = control or RunControl()
    t0 = time.perf_counter()
    numbers, coords, rows_of = frames_of(detections)   # refuses untrackable data
    settings = link_settings(detections, params, coords)
    n_frames = len(numbers)
    levels = zip(numbers.tolist(), coords, strict=True)
    label = np.empty(len(detections), dtype=np.int64)
    trackpy.quiet()   # trackpy logs every frame otherwise
    control.step(0, n_frames)
    try:
        for k, (_, ids) in enumerate(trackpy.link_iter(
                levels, settings["search_range"], memory=settings["memory"],
                adaptive_stop=settings["adaptive_stop"], adaptive_step=0.95)):
            label[rows_of[k]] = ids
            control.step(k + 1, n_frames)
    except SubnetOversizeException as exc:
        raise ParameterError("adaptive_stop", f"trackpy could not solve a subnetwork of "
                             f"candidates even at a search range of "
                             f"{settings['adaptive_stop']:g} px ({exc}); lower the search "
                             "range or the adaptive stop") from None
    order = np.lexsort((detections.frame, label))
    same = label[order][1:] == label[order][:-1]
    edges = np.column_stack([order[:-1][same], order[1:][same]])
    tracks = chains_to_tracks(detections, edges)
    # trackpy's null link costs the squared search range, at any gap (its memory)
    conf = margin_confidence(detections, edges, lambda _g: settings["search_range"])
    tracks = tracks.with_features(link_confidence=conf[tracks.detection])
    return TrackingResult(tracks, "trackpy", params.label(), params.to_dict(),
                          time.perf_counter() - t0, NO_FLOPS, "cpu",
                          info={"links": len(edges), **settings})
