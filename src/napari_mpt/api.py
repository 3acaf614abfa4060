"""The small public facade: simulate, detect, track, evaluate, analyze.  No napari, no Qt.

>>> from napari_mpt import api
>>> sim = api.simulate(api.SimulationParams(frames=20, seed=1))
>>> res = api.track(sim.detections, api.MHTParams(lookback=4))
>>> api.evaluate(res.tracks, sim.truth).jaccard  # doctest: +SKIP
>>> api.analyze(res.tracks, api.StatsParams(drift="subtract")).ensemble().D  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .analysis.stats import TrackStatistics, track_statistics
from .core.data import Detections, Simulation, Tracks
from .core.fixed import FixedLinks
from .core.params import (
    AdviseParams,
    DetectParams,
    HybridParams,
    LAPParams,
    MHTParams,
    SimulationParams,
    StatsParams,
    TrackerParams,
    TrackpyParams,
    TransformerParams,
)
from .core.results import RunControl, TrackingResult
from .detection.detect import detect
from .detection.estimate import DetectSettings, estimate_settings
from .evaluation.metrics import ISBI_GATE, AssociationScore, Evaluation, ISBIScore, LinkScore
from .evaluation.metrics import evaluate as _evaluate
from .evaluation.traccuracy import traccuracy_installed, traccuracy_measures
from .io import Movie, read_movie
from .simulation.presets import PRESETS, preset_params
from .simulation.simulate import simulate
from .trackers.registry import TRACKERS, Tracker, tracker
from .trackers.registry import track as _track

if TYPE_CHECKING:
    from .twin.advise import Advice

__all__ = [
    "PRESETS",
    "TRACKERS",
    "AdviseParams",
    "AssociationScore",
    "DetectParams",
    "DetectSettings",
    "Detections",
    "Evaluation",
    "FixedLinks",
    "HybridParams",
    "ISBIScore",
    "LAPParams",
    "LinkScore",
    "MHTParams",
    "Movie",
    "RunControl",
    "Simulation",
    "SimulationParams",
    "StatsParams",
    "TrackStatistics",
    "Tracker",
    "TrackingResult",
    "TrackpyParams",
    "Tracks",
    "TransformerParams",
    "advise",
    "analyze",
    "detect",
    "estimate_settings",
    "evaluate",
    "preset_params",
    "read_movie",
    "simulate",
    "track",
    "tracker",
]


def track(detections: Detections, params: TrackerParams,
          control: RunControl | None = None, fixed: FixedLinks | None = None
          ) -> TrackingResult:
    """Track ``detections`` with the tracker ``params`` belong to (their ``method``: one of
    :data:`TRACKERS`); torch is imported only when a transformer is asked for.  ``fixed``:
    links a user pinned or forbade, kept by the MHT and LAP (a re-solve after review)."""
    return _track(detections, params, control, fixed)


def evaluate(tracks: Tracks, truth: Tracks, gate: float | str | None = "auto",
             isbi_gate: float = ISBI_GATE, traccuracy: bool = False) -> Evaluation:
    """Every measure that applies to ``tracks`` against ``truth``
    (:func:`napari_mpt.evaluation.metrics.evaluate`): the paper's position link Jaccard (``.jaccard``,
    ``.tp``, ``.fp``, ``.fn``, ``.errors``, ``.wrong_link``, ``.per_frame()``), the
    association Jaccard by detection identity (``.association``, when the truth names
    detections) and the ISBI 2012 measures (``.isbi``); with ``traccuracy=True`` also
    traccuracy's edge F1, CTC DET/LNK/TRA and CHOTA (``.traccuracy``, when traccuracy is
    installed; :mod:`napari_mpt.evaluation.traccuracy`); ``.summary()`` is
    the ``evaluate --json`` object.  ``gate``: position matching gate in px, None or "auto"."""
    score = _evaluate(tracks, truth, gate, isbi_gate)
    if traccuracy and traccuracy_installed():
        score.traccuracy = traccuracy_measures(tracks, truth, isbi_gate)
    return score


def analyze(tracks: Tracks, params: StatsParams | None = None) -> TrackStatistics:
    """Per-track and ensemble statistics of ``tracks`` (:func:`napari_mpt.analysis.stats.track_statistics`):
    D, alpha, speed, motility features with the fits' flags, the ensemble MSD and its power
    law, the drift (subtracted when ``params.drift == "subtract"``); ``.summary()`` is the
    ``analyze --json`` object, ``.to_pandas()`` the table."""
    return track_statistics(tracks, params or StatsParams())


def advise(detections: Detections, params: AdviseParams | None = None,
           control: RunControl | None = None) -> Advice:
    """Which tracker for ``detections``: every tracker ranked on simulated twins of them
    (:func:`napari_mpt.twin.advise.advise`); ``.summary()`` is the ``advise --json``
    object (``ranking`` best first, ``parameters`` of the twins, what was ``found``).
    The twin loads the trackers' estimators (scipy's optimisers) only when asked."""
    from .twin.advise import advise as _advise

    return _advise(detections, params, control)
