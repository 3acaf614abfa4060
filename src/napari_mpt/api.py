"""The small public facade: simulate, track, evaluate.  No napari, no Qt.

>>> from napari_mpt import api
>>> sim = api.simulate(api.SimulationParams(frames=20, seed=1))
>>> res = api.track(sim.detections, api.MHTParams(lookback=4))
>>> api.evaluate(res.tracks, sim.truth).jaccard  # doctest: +SKIP
"""

from __future__ import annotations

from .data import Detections, Simulation, Tracks
from .metrics import LinkScore, link_jaccard
from .params import LAPParams, MHTParams, SimulationParams, TrackerParams, TransformerParams
from .runtime import RunControl, TrackingResult
from .simulate import simulate

__all__ = [
    "Detections",
    "LAPParams",
    "LinkScore",
    "MHTParams",
    "RunControl",
    "Simulation",
    "SimulationParams",
    "TrackingResult",
    "Tracks",
    "TransformerParams",
    "evaluate",
    "simulate",
    "track",
]


def track(detections: Detections, params: TrackerParams,
          control: RunControl | None = None) -> TrackingResult:
    """Track ``detections`` with the method ``params`` describes (MHT, transformer, LAP)."""
    if isinstance(params, MHTParams):
        from .mht import track_mht

        return track_mht(detections, params, control)
    if isinstance(params, TransformerParams):
        from .transformer import track_transformer  # imports torch only when asked for

        return track_transformer(detections, params, control)
    if isinstance(params, LAPParams):
        from .lap import track_lap

        return track_lap(detections, params, control)
    raise TypeError(f"unknown tracker parameters {type(params).__name__}")


def evaluate(tracks: Tracks, truth: Tracks) -> LinkScore:
    """The paper's link Jaccard of ``tracks`` against ``truth`` (section III-D)."""
    return link_jaccard(tracks, truth)
