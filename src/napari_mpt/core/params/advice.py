"""How to ask the data twin which tracker suits the user's detections (``napari-mpt
advise``, the Review dock's Advise button)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import _f, _Validated
from .trackers import HybridParams, LAPParams, MHTParams, TrackpyParams, TransformerParams

TRACKER_METHODS: tuple[str, ...] = tuple(
    c.method for c in (MHTParams, TransformerParams, LAPParams, TrackpyParams, HybridParams))
"""Every tracker's method name (the registry's keys)."""


@dataclass(frozen=True)
class AdviseParams(_Validated):
    """Twins simulated from the detections and the trackers compared on them: small scenes
    by default (the density kept, the size capped), so that advice takes minutes."""

    twins: int = _f(3, "twin scenes simulated (the ranking's intervals narrow with more)",
                    lo=1, hi=100)
    max_particles: int = _f(40, "at most this many particles per twin (the field of view "
                            "shrinks to keep the detections' density)", lo=2, hi=100_000)
    max_frames: int = _f(20, "at most this many frames per twin", lo=2, hi=100_000)
    seed: int = _f(0, "seed of the first twin (then seed + 1, ...) and of the bootstrap",
                   lo=0)
    methods: tuple[str, ...] = _f(TRACKER_METHODS, "the trackers to compare (the transformer "
                                  "as the association checkpoint)", choices=TRACKER_METHODS)
