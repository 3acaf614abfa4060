"""One background job behind every widget's Run button: cancellable, with throttled progress.

The work is the core's (tracking, detection, simulation, statistics); a job only bridges
its :class:`~napari_mpt.core.results.RunControl` hooks to Qt: ``progress`` emits a queued
signal (the bar lives in the GUI thread) at most once per percent and per
:data:`PROGRESS_INTERVAL_S`, and ``should_stop`` reads an event that :meth:`Job.cancel`
sets, so a cancelled run raises :class:`~napari_mpt.core.errors.Cancelled` inside the
core and returns nothing half-made.

Expected failures are values, bugs are not: an :class:`~napari_mpt.core.errors.MPTError`
(bad input, a refusal, a cancel) comes back to the GUI thread through ``on_refused`` so
the widget shows its message; anything else is a bug: ``on_error`` lets the widget say
that the run failed, then the exception is raised again in the GUI thread, where napari
reports it with its traceback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from qtpy.QtCore import QObject, Signal

from ..core.errors import MPTError
from ..core.results import RunControl

T = TypeVar("T")

PROGRESS_INTERVAL_S = 0.25
"""Least time between two progress updates: each one relays out the dock, which costs
napari's main window tens of ms (measured: 52 updates took 1.7 s of a 0.3 s run)."""


class Throttle:
    """Which progress reports reach the GUI: a new percent, at most one per
    ``interval_s``, and always the last one (pure: testable without Qt)."""

    def __init__(self, interval_s: float = PROGRESS_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self.clock = clock
        self._last = (-1, -1)
        self._last_time = -float("inf")

    def due(self, done: int, total: int) -> bool:
        pct = (100 * done // total) if total else 0
        now = self.clock()
        if (pct, total) == self._last:
            return False
        if now - self._last_time < self.interval_s and done < total:
            return False
        self._last, self._last_time = (pct, total), now
        return True


class TimeLeft:
    """The time a job has left, from the work done (pure: testable without Qt).

    Extrapolating the whole elapsed time by the fraction done said "about 289 s left" 6 s
    into a 47 s run: the time before the first report (loading a checkpoint, estimating
    parameters) was counted as if it had done no work, and early progress was slow.  So
    the rate is measured from the first report on, over the last third of the reports'
    span (a run whose pace changes is followed), and nothing is said ("estimating…", None)
    until ``min_fraction`` of the work and ``min_s`` seconds of reports are seen.
    Between reports the estimate counts down.
    """

    def __init__(self, min_fraction: float = 0.05, min_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic):
        self.min_fraction = min_fraction
        self.min_s = min_s
        self.clock = clock
        self._samples: list[tuple[float, float]] = []   # (time, fraction done)
        self._total: int | None = None

    def report(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if total != self._total:          # a new stage of work: a new rate
            self._total, self._samples = total, []
        self._samples.append((self.clock(), min(done / total, 1.0)))

    def seconds(self) -> float | None:
        """Seconds left, or None while the work done is too little to tell."""
        if len(self._samples) < 2:
            return None
        (t0, f0), (t1, f1) = self._samples[0], self._samples[-1]
        if f1 - f0 < self.min_fraction or t1 - t0 < self.min_s:
            return None
        recent = t0 + (t1 - t0) * 2 / 3
        tm, fm = next((t, f) for t, f in self._samples if t >= recent)
        if tm >= t1 or f1 <= fm:           # the last third holds one report: all of it
            tm, fm = t0, f0
        rate = (f1 - fm) / (t1 - tm)
        return max((1.0 - f1) / rate - (self.clock() - t1), 0.0)


class _Signal(QObject):
    """Lives in the GUI thread; emitting from the worker queues the call there."""

    progress = Signal(object, object)  # totals may exceed 32 bits


@dataclass
class _Refused:
    error: MPTError


class Job(Generic[T]):
    """``work(control)`` on a napari thread worker: start it, cancel it, ask whether it
    is still running.  ``on_done`` gets its value, ``on_refused`` its ``MPTError``
    (a cancel included), ``on_error`` any other exception (a bug), ``on_finished`` is
    called last in every case."""

    def __init__(self, work: Callable[[RunControl], T], *,
                 on_done: Callable[[T], None],
                 on_refused: Callable[[MPTError], None],
                 on_progress: Callable[[int, int], None] | None = None,
                 on_error: Callable[[BaseException], None] | None = None,
                 on_finished: Callable[[], None] | None = None,
                 interval_s: float = PROGRESS_INTERVAL_S):
        from napari.qt.threading import create_worker

        self._cancel = threading.Event()
        self._signal = _Signal()
        if on_progress is not None:
            self._signal.progress.connect(on_progress)
        self._throttle = Throttle(interval_s)
        self.running = True
        control = RunControl(progress=self._emit, should_stop=self._cancel.is_set)

        def run() -> T | _Refused:
            try:
                return work(control)
            except MPTError as exc:
                return _Refused(exc)

        def returned(value: Any) -> None:
            if isinstance(value, _Refused):
                on_refused(value.error)
            else:
                on_done(value)

        def finished() -> None:
            self.running = False
            if on_finished is not None:
                on_finished()

        def errored(exc: BaseException) -> None:
            if on_error is not None:
                on_error(exc)
            raise exc

        self.worker = create_worker(run, _start_thread=False, _connect={"errored": errored})
        self.worker.returned.connect(returned)
        self.worker.finished.connect(finished)

    def _emit(self, done: int, total: int) -> None:
        if self._throttle.due(done, total):
            self._signal.progress.emit(int(done), int(total))

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self) -> Job[T]:
        self.worker.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()
