"""The work of one Track-widget run, on a :class:`~napari_mpt.napari.job.Job`'s thread:
track with the core (:func:`napari_mpt.api.track`), then score against the truth when
there is one (:func:`napari_mpt.api.evaluate`, traccuracy's measures included), timing
both."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.data import Detections, Tracks
from ..core.errors import MPTError
from ..core.fixed import FixedLinks
from ..core.results import RunControl, TrackingResult
from ..evaluation.metrics import LinkScore


@dataclass
class JobOutput:
    """What a finished run hands back to the GUI thread: the result, its score or why it
    could not be scored (the tracks are kept), and where the worker's time went."""

    result: TrackingResult
    score: LinkScore | None = None
    score_error: str | None = None
    track_s: float = 0.0   # api.track on the worker: loading (a checkpoint), tracking, FLOPs
    score_s: float = 0.0   # api.evaluate on the worker


def uneven_frames(frame: np.ndarray) -> str | None:
    """Why detections in these frames do not suit the encoder-decoder transformer (a frame
    between the first and the last without spots, or counts that differ), or None."""
    frames, counts = np.unique(np.asarray(frame, dtype=np.int64), return_counts=True)
    if len(frames) < 2:
        return None
    missing = np.setdiff1d(np.arange(frames[0], frames[-1] + 1), frames)
    if len(missing):
        return f"frame {int(missing[0])} has no spots"
    odd = np.flatnonzero(counts != counts[0])
    if len(odd):
        return (f"frame {int(frames[0])} has {int(counts[0])} spots, frame "
                f"{int(frames[odd[0]])} has {int(counts[odd[0]])}")
    return None


def run_tracking(detections: Detections, params: Any, truth: Tracks | None,
                 control: RunControl, fixed: FixedLinks | None = None) -> JobOutput:
    """Track (keeping ``fixed`` links, the Review dock's re-solve), then score against
    ``truth`` when there is one (both in the worker thread); a tracker's refusal or a
    cancel raises its ``MPTError``."""
    from .. import api

    t0 = time.monotonic()
    result = api.track(detections, params, control, fixed)
    t1 = time.monotonic()
    if truth is None:
        return JobOutput(result, track_s=t1 - t0)
    try:
        score = api.evaluate(result.tracks, truth, traccuracy=True)
    except MPTError as exc:   # e.g. 3D tracks against a 2D truth: keep the tracks
        return JobOutput(result, None, str(exc), track_s=t1 - t0)
    return JobOutput(result, score, track_s=t1 - t0, score_s=time.monotonic() - t1)
