"""One benchmark case: simulate a scenario with a seed, track it with one tracker, score it.

A case is plain data (dicts of parameters), so it travels to a Dask worker as it is and
its key names everything that decides its result: a resumed sweep reuses exactly the
cases whose settings did not change.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ...api import TRACKERS as REGISTRY
from ...api import evaluate, simulate, track, tracker
from ...core.data import Detections, Tracks
from ...core.errors import MPTError
from ...core.params import (
    HybridParams,
    LAPParams,
    MHTParams,
    SimulationParams,
    TransformerParams,
    known_priors,
)

ORDER: tuple[str, ...] = ("lap", "mht", "association", "hybrid", "transformer")
TRACKERS: tuple[str, ...] = ("oracle", *ORDER, *(m for m in REGISTRY if m not in ORDER))
"""Trackers the benchmark knows, in the order tables list them.  ``oracle`` is no tracker:
the truth's own association of the detections at their measured positions, i.e. the best
any tracker can score on these detections (the position measures cannot reach 1 when
particles are missed: a true vertex without a detection cannot be matched)."""

MEASURES: tuple[str, ...] = ("association_jaccard", "jaccard", "alpha", "beta", "jsc",
                             "jsc_theta", "rmse", "edge_f1", "ctc_det", "ctc_lnk", "ctc_tra",
                             "chota", "wall_s", "flops", "peak_mb")
"""Every number a case records (a measure that does not apply is absent, not zero)."""


@dataclass(frozen=True)
class Case:
    """Scenario ``scenario`` simulated with ``simulation`` (seed included), tracked by
    ``tracker`` with ``tracker_params``; ``variant`` names a swept setting (the tables
    show the tracker as ``tracker[variant]``; "" for the tracker's defaults);
    ``traccuracy`` adds traccuracy's measures (seconds to minutes a case)."""

    scenario: str
    tracker: str
    seed: int
    simulation: dict[str, Any]
    tracker_params: dict[str, Any] = field(default_factory=dict)
    priors: str = "known"
    variant: str = ""
    traccuracy: bool = True

    @property
    def label(self) -> str:
        return f"{self.tracker}[{self.variant}]" if self.variant else self.tracker

    @property
    def key(self) -> str:
        parts = [self.scenario, self.tracker, self.seed, self.simulation,
                 self.tracker_params, self.priors]
        if not self.traccuracy:      # a case without traccuracy's measures is another case
            parts.append("no traccuracy")
        text = json.dumps(parts, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        return f"{self.scenario}-{self.tracker}-s{self.seed}-{digest}"


def tracker_params(name: str, sim: SimulationParams, overrides: dict[str, Any],
                   priors: str = "known"
                   ) -> LAPParams | MHTParams | TransformerParams | HybridParams:
    """The parameters ``name`` runs with on a simulation of ``sim``.

    ``priors="known"`` gives the MHT the simulation's own noise levels (the paper's
    setting), so that a default prior never decides the comparison; ``"estimated"``
    leaves them to the tracker.  ``overrides`` come last.
    """
    if name not in TRACKERS or name == "oracle":
        raise MPTError(f"unknown tracker {name!r} (known: {', '.join(TRACKERS)})")
    entry = tracker(name)
    base: dict[str, Any] = dict(known_priors(sim)) if entry.priors and priors == "known" else {}
    return entry.make(**{**base, **overrides})


def oracle_tracks(truth: Tracks, detections: Detections) -> Tracks:
    """Each particle's detected vertices at the measured positions of its detections."""
    took = truth.detection >= 0
    rows = truth.detection[took]
    return Tracks(truth.track_id[took], truth.frame[took], detections.coords[rows], rows)


def run_case(case: Case) -> dict[str, Any]:
    """Simulate, track and evaluate ``case``; a tracker's refusal is recorded as
    ``error`` (its message), never raised, so one refusal does not stop a sweep."""
    sim_params = SimulationParams.from_dict(case.simulation)
    record: dict[str, Any] = {"scenario": case.scenario, "tracker": case.label,
                              "seed": case.seed}
    t0 = time.perf_counter()
    sim = simulate(sim_params)
    record["simulate_s"] = time.perf_counter() - t0
    record["detections"] = len(sim.detections)
    if case.tracker == "oracle":
        record["label"] = "oracle (true association)"
        tracks = oracle_tracks(sim.truth, sim.detections)
    else:
        try:
            params = tracker_params(case.tracker, sim_params, case.tracker_params, case.priors)
            with PeakMemory() as peak:
                result = track(sim.detections, params)
        except MPTError as exc:
            record["error"] = str(exc)
            return record
        tracks = result.tracks
        record.update(label=result.label, wall_s=result.wall_s, flops_source=result.flops.source,
                      device=result.device, estimated=result.info.get("estimated", {}))
        if "exact" in result.info:        # never silently inexact
            record.update(exact=bool(result.info["exact"]),
                          bounded_clusters=int(result.info.get("bounded_clusters", 0)),
                          capped_owners=int(result.info.get("capped_owners", 0)))
        if result.flops.source != "none":  # a library that cannot be counted has no figure
            record["flops"] = result.flops.value
        if peak.mb is not None:
            record["peak_mb"] = peak.mb
    t0 = time.perf_counter()
    summary = evaluate(tracks, sim.truth, traccuracy=case.traccuracy).summary()
    record["evaluate_s"] = time.perf_counter() - t0
    record.update({k: summary[k] for k in MEASURES if k in summary})
    return record


def _rss_bytes() -> int | None:
    """Resident set size of this process now (Linux ``/proc``), or None elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class PeakMemory:
    """Peak growth of the process's resident memory during a ``with`` block, in MiB
    (``mb``; None where ``/proc`` is missing), sampled every 5 ms by a thread.

    Why not tracemalloc: it slows Python code several-fold, which would distort the wall
    times recorded beside it; and ``ru_maxrss`` is a high-water mark of the whole process
    life, not of one case.  Sampling can miss a spike shorter than 5 ms.  The figure is the
    process's: with several threads per worker process (the default local cluster) it
    includes what concurrent cases allocated; ``--processes`` or ``--workers 1`` make it
    per case.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.mb: float | None = None
        self._stop = threading.Event()
        self._start = self._peak = 0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            rss = _rss_bytes()
            if rss is not None:
                self._peak = max(self._peak, rss)

    def __enter__(self) -> PeakMemory:
        start = _rss_bytes()
        if start is not None:
            self._start = self._peak = start
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._start:
            self._stop.set()
            self._thread.join()
            end = _rss_bytes() or 0
            self.mb = (max(self._peak, end) - self._start) / 2**20
