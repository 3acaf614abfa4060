"""Run a tracker on a napari thread worker, with progress and cooperative cancel.

The tracker itself is the core's (:func:`napari_mpt.api.track`); this module only
bridges its :class:`~napari_mpt.core.results.RunControl` hooks to Qt: ``progress`` emits a
queued signal (the bar lives in the GUI thread) and ``should_stop`` reads an event the
Cancel button sets, so a cancelled run raises :class:`~napari_mpt.core.errors.Cancelled`
inside the core and returns nothing half-made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qtpy.QtCore import QObject, Signal

from ..core.data import Detections, Tracks
from ..core.errors import MPTError
from ..core.results import RunControl, TrackingResult
from ..evaluation.metrics import LinkScore


@dataclass
class JobOutput:
    """What a finished run hands back to the GUI thread.

    ``error`` is an input or parameter problem (or a cancel) the user can act on; it comes
    back as a value so the widget shows its message.  Anything else is a bug and goes
    through the worker's ``errored`` signal, which napari reports with its traceback.
    """

    result: TrackingResult | None = None
    score: LinkScore | None = None
    score_error: str | None = None
    error: MPTError | None = None
    track_s: float = 0.0   # api.track on the worker: loading (a checkpoint), tracking, FLOPs
    score_s: float = 0.0   # api.evaluate on the worker


def run_tracking(detections: Detections, params: Any, truth: Tracks | None,
                 control: RunControl) -> JobOutput:
    """Track, then score against ``truth`` when there is one (both in the worker thread)."""
    from .. import api

    t0 = time.monotonic()
    try:
        result = api.track(detections, params, control)
    except MPTError as exc:
        return JobOutput(error=exc)
    t1 = time.monotonic()
    if truth is None:
        return JobOutput(result, track_s=t1 - t0)
    try:
        score = api.evaluate(result.tracks, truth)
    except MPTError as exc:   # e.g. 3D tracks against a 2D truth: keep the tracks
        return JobOutput(result, None, str(exc), track_s=t1 - t0)
    return JobOutput(result, score, track_s=t1 - t0, score_s=time.monotonic() - t1)


PROGRESS_INTERVAL_S = 0.25


class _Progress(QObject):
    """Lives in the GUI thread; emitting from the worker queues the update there."""

    changed = Signal(object, object)  # totals may exceed 32 bits


class TrackingJob:
    """One run: start it, cancel it, ask whether it is still running."""

    def __init__(self, detections: Detections, params: Any, truth: Tracks | None, *,
                 on_progress: Callable[[int, int], None],
                 on_done: Callable[[JobOutput], None],
                 on_error: Callable[[BaseException], None],
                 on_finished: Callable[[], None]):
        from napari.qt.threading import create_worker

        self._cancel = threading.Event()
        self._progress = _Progress()
        self._progress.changed.connect(on_progress)
        self._last = (-1, -1)
        self._last_time = 0.0
        self.running = True
        control = RunControl(progress=self._emit, should_stop=self._cancel.is_set)
        # our own "errored" handler stops create_worker from re-raising in the GUI thread
        self.worker = create_worker(run_tracking, detections, params, truth, control,
                                    _start_thread=False, _connect={"errored": on_error})
        self.worker.returned.connect(on_done)

        def finished() -> None:
            self.running = False
            on_finished()

        self.worker.finished.connect(finished)

    def _emit(self, done: int, total: int) -> None:
        # at most one queued update per percent and per PROGRESS_INTERVAL_S, however often
        # the core reports: each update relays out the dock, which costs napari's main
        # window tens of ms (measured: 52 updates took 1.7 s of a 0.3 s run)
        pct = (100 * done // total) if total else 0
        now = time.monotonic()
        if (pct, total) != self._last and (now - self._last_time >= PROGRESS_INTERVAL_S
                                           or done >= total):
            self._last, self._last_time = (pct, total), now
            self._progress.changed.emit(int(done), int(total))

    def start(self) -> None:
        self.worker.start()

    def cancel(self) -> None:
        self._cancel.set()
