"""The small public facade: simulate, track, evaluate.  No napari, no Qt.

>>> from napari_mpt import api
>>> sim = api.simulate(api.SimulationParams(frames=20, seed=1))
>>> res = api.track(sim.detections, api.MHTParams(lookback=4))
>>> api.evaluate(res.tracks, sim.truth).jaccard  # doctest: +SKIP
"""

from __future__ import annotations

from .core.data import Detections, Simulation, Tracks
from .core.params import (
    HybridParams,
    LAPParams,
    MHTParams,
    SimulationParams,
    TrackerParams,
    TransformerParams,
)
from .core.results import RunControl, TrackingResult
from .evaluation.metrics import ISBI_GATE, AssociationScore, Evaluation, ISBIScore, LinkScore
from .evaluation.metrics import evaluate as _evaluate
from .simulation.presets import PRESETS, preset_params
from .simulation.simulate import simulate

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
        from .trackers.hybrid import track_hybrid

        return track_hybrid(detections, params, control)
    if isinstance(params, MHTParams):
        from .trackers.mht import track_mht

        return track_mht(detections, params, control)
    if isinstance(params, TransformerParams):
        from .trackers.transformer import track_transformer

        return track_transformer(detections, params, control)
    if isinstance(params, LAPParams):
        from .trackers.lap import track_lap

        return track_lap(detections, params, control)
    raise TypeError(f"unknown tracker parameters {type(params).__name__}")


def evaluate(tracks: Tracks, truth: Tracks, gate: float | str | None = "auto",
             isbi_gate: float = ISBI_GATE) -> Evaluation:
    """Every measure that applies to ``tracks`` against ``truth``
    (:func:`napari_mpt.evaluation.metrics.evaluate`): the paper's position link Jaccard (``.jaccard``,
    ``.tp``, ``.fp``, ``.fn``, ``.errors``, ``.wrong_link``, ``.per_frame()``), the
    association Jaccard by detection identity (``.association``, when the truth names
    detections) and the ISBI 2012 measures (``.isbi``); ``.summary()`` is the
    ``evaluate --json`` object.  ``gate``: position matching gate in px, None or "auto"."""
    return _evaluate(tracks, truth, gate, isbi_gate)
