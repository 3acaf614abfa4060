"""Results, FLOP figures and the progress/cancel hooks every long computation accepts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .data import Tracks
from .errors import Cancelled

FlopSource = Literal["papi", "analytic", "fvcore", "none"]
"""``none``: the computation cannot be counted (a library without a count, e.g. laptrack);
the value is 0 and ``detail`` says why."""


@dataclass(frozen=True)
class FlopCount:
    """A FLOP figure and where it came from; a multiply and an add always count as two."""

    value: int
    source: FlopSource
    detail: str = ""


@dataclass
class RunControl:
    """Progress reporting and cooperative cancellation for worker threads.

    ``progress(done, total)`` is called as work advances; ``should_stop()`` is polled at
    the same points and, when true, the computation raises :class:`Cancelled` and
    returns nothing, so no half-made result escapes.
    """

    progress: Callable[[int, int], None] | None = None
    should_stop: Callable[[], bool] | None = None

    def check(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop (no progress reported)."""
        if self.should_stop is not None and self.should_stop():
            raise Cancelled("cancelled by the user")

    def step(self, done: int, total: int) -> None:
        self.check()
        if self.progress is not None:
            self.progress(done, total)


@dataclass
class TrackingResult:
    """Tracks plus what a user compares trackers by: method, parameters, time and cost."""

    tracks: Tracks
    method: str
    label: str
    params: dict[str, Any]
    wall_s: float
    flops: FlopCount
    device: str = "cpu"
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``--json`` output)."""
        return {
            "method": self.method,
            "label": self.label,
            **({"lookback": self.params["lookback"]} if "lookback" in self.params else {}),
            "params": self.params,
            "wall_s": self.wall_s,
            "flops": self.flops.value,
            "flops_source": self.flops.source,
            "flops_detail": self.flops.detail,
            "device": self.device,
            "tracks": len(self.tracks.ids()),
            **self.info,
        }
