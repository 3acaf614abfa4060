"""The small public facade: simulate, track, evaluate.  No napari, no Qt.

>>> from napari_mpt import api
>>> sim = api.simulate(api.SimulationParams(frames=20, seed=1))
>>> res = api.track(sim.detections, api.MHTParams(lookback=4))
>>> api.evaluate(res.tracks, sim.truth).jaccard  # doctest: +SKIP
"""

from __future__ import annotations

from .data import Detections, Simulation, Tracks
from .metrics import ISBI_GATE, AssociationScore, Evaluation, ISBIScore, LinkScore
from .metrics import evaluate as _evaluate
from .params import (
    HybridParams,
    LAPParams,
    MHTParams,
    SimulationParams,
    TrackerParams,
    TransformerParams,
)
from .presets import PRESETS, preset_params
from .runtime import RunControl, TrackingResult
from .simulate import simulate

__all__ = [
    "PRESETS",
    "AssociationScore",
    "Detections",
    "Evaluation",
    "HybridParams",
    "ISBIScore",
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
    "preset_params",
    "simulate",
    "track",
]


def track(detections: Detections, params: TrackerParams,
          control: RunControl | None = None) -> TrackingResult:
    """Track ``detections`` with the method ``params`` describes (MHT, transformer, LAP, hybrid)."""
    if isinstance(params, HybridParams):   # before MHTParams: a HybridParams is one
        from .hybrid import track_hybrid

        return track_hybrid(detections, params, control)
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


def evaluate(tracks: Tracks, truth: Tracks, gate: float | str | None = "auto",
             isbi_gate: float = ISBI_GATE) -> Evaluation:
    """Every measure that applies to ``tracks`` against ``truth``
    (:func:`napari_mpt.metrics.evaluate`): the paper's position link Jaccard (``.jaccard``,
    ``.tp``, ``.fp``, ``.fn``, ``.errors``, ``.wrong_link``, ``.per_frame()``), the
    association Jaccard by detection identity (``.association``, when the truth names
    detections) and the ISBI 2012 measures (``.isbi``); ``.summary()`` is the
    ``evaluate --json`` object.  ``gate``: position matching gate in px, None or "auto"."""
    return _evaluate(tracks, truth, gate, isbi_gate)
