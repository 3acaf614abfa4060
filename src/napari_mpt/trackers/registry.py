"""Every tracker, keyed by method: the one table the API, the CLI, ``benchmark`` and the
Track widget read, so adding a tracker is one entry here.

A tracker is its parameter class (whose ``method`` attribute names it) and a
``track(detections, params, control) -> TrackingResult`` function, imported only when a
run asks for it (torch loads with the transformer, not with ``napari-mpt --help``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from ..core.data import Detections
from ..core.errors import ParameterError
from ..core.fixed import FixedLinks
from ..core.params import (
    HybridParams,
    LAPParams,
    MHTParams,
    TrackerParams,
    TrackpyParams,
    TransformerParams,
)
from ..core.results import RunControl, TrackingResult


@dataclass(frozen=True)
class Tracker:
    """One tracker: its method name, parameter class, where its function lives, a title
    for menus and a line of help; ``priors`` says whether it takes a simulation's own
    noise and detection model (:func:`napari_mpt.core.params.known_priors`); ``fixed``
    whether it can re-solve with links a user pinned or forbade
    (:class:`~napari_mpt.core.fixed.FixedLinks`, its function's ``fixed`` argument)."""

    method: str
    params: type
    function: str              # "module:function", relative to napari_mpt.trackers
    title: str
    help: str
    priors: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)
    fixed: bool = False

    def make(self, **values: Any) -> Any:
        """Parameters of this tracker: its defaults, then ``values``."""
        return self.params(**{**self.defaults, **values})

    def run(self, detections: Detections, params: Any, control: RunControl | None = None,
            fixed: FixedLinks | None = None) -> TrackingResult:
        module, name = self.function.split(":")
        fn = getattr(import_module(f".{module}", __package__), name)
        if not fixed:
            return fn(detections, params, control)
        if not self.fixed:
            raise ParameterError("fixed", f"{self.title} cannot keep links fixed; re-solve "
                                 "with " + " or ".join(t.title for t in TRACKERS.values()
                                                       if t.fixed))
        fixed.check(detections)
        return fn(detections, params, control, fixed=fixed)


TRACKERS: dict[str, Tracker] = {t.method: t for t in (
    Tracker("mht", MHTParams, "mht:track_mht", "MHT",
            "Multiple Hypothesis Tracker with lookback K (exact within its gates)",
            priors=True, fixed=True),
    Tracker("transformer", TransformerParams, "transformer:track_transformer", "Transformer",
            "a trained transformer checkpoint: the paper's encoder-decoder (a fixed count of "
            "detections per frame) or the association transformer (any count)"),
    Tracker("lap", LAPParams, "lap:track_lap", "LAP",
            "frame-to-frame LAP linking with gap closing (laptrack)", fixed=True),
    Tracker("trackpy", TrackpyParams, "trackpy_linker:track_trackpy", "trackpy",
            "trackpy's nearest-neighbour linking (Crocker-Grier) with memory: what most "
            "microscopists link with"),
    Tracker("hybrid", HybridParams, "hybrid:track_hybrid", "Hybrid",
            "the association transformer's scores prune the MHT's links; the MHT's exact "
            "search decides among the rest", priors=True),
)}

ALIASES: dict[str, Tracker] = {
    "association": Tracker("transformer", TransformerParams, "transformer:track_transformer",
                           "Association transformer",
                           "the shipped association transformer (any number of detections)",
                           defaults={"checkpoint": "association"}),
}
"""Names ``benchmark`` accepts for a tracker with other defaults."""


def tracker(method: str) -> Tracker:
    """The tracker named ``method`` (or an alias); a ParameterError naming the choices."""
    found = TRACKERS.get(method) or ALIASES.get(method)
    if found is None:
        raise ParameterError("method", f"{method!r} is not one of "
                             f"{', '.join([*TRACKERS, *ALIASES])}")
    return found


def track(detections: Detections, params: TrackerParams,
          control: RunControl | None = None, fixed: FixedLinks | None = None
          ) -> TrackingResult:
    """Track ``detections`` with the tracker ``params`` belong to, keeping ``fixed``
    links when given (trackers whose ``fixed`` is set)."""
    method = getattr(params, "method", None)
    if method not in TRACKERS or not isinstance(params, TRACKERS[method].params):
        raise TypeError(f"unknown tracker parameters {type(params).__name__}")
    return TRACKERS[method].run(detections, params, control, fixed)
