"""How to track: one parameter class per tracker (MHT, transformer, LAP, trackpy, hybrid)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from ..errors import ParameterError
from .base import _f, _Validated
from .simulation import SimulationParams

MOTION_MODELS: tuple[str, ...] = ("auto", "random-walk", "constant-velocity", "switching")


MHT_MODES: tuple[str, ...] = ("exact", "exhaustive")


DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class MHTParams(_Validated):
    """Multiple Hypothesis Tracker with lookback K (paper III-B), for detections with misses,
    clutter, births and deaths (issue 10).

    ``None`` ("estimate") for the noise, detection, clutter and birth fields means: estimated
    from the detections by :func:`napari_mpt.trackers.mht.estimate.estimate_parameters` (documented
    there); the values used are returned in ``TrackingResult.info["estimated"]``.
    """

    lookback: int | None = _f(
        None, "lookback window K: association steps enumerated jointly; estimate: the "
        "smallest K after which one more step changes under 1 % of the links on a sample of "
        "the data, within the time budget", lo=1, hi=64, estimate=int)
    motion_model: str = _f(
        "auto", "Kalman motion model: random-walk (Brownian), constant-velocity (directed), "
        "switching (a track moves either way and switches: a filter per mode, weighed by "
        "how well each predicts); auto: the one that fits a first linking pass best (Bayesian "
        "information criterion)", choices=MOTION_MODELS)
    process_noise: float | None = _f(
        None, "process noise prior eta' (px per frame): the Brownian step's std per axis; "
        "estimate: fitted to a first linking pass (maximum likelihood of the motion model)",
        lo=1e-9, estimate=float)
    measurement_noise: float | None = _f(
        None, "measurement noise prior nu' (px): the localisation error's std per axis; "
        "estimate: fitted with the process noise", lo=1e-9, estimate=float)
    velocity_prior: float | None = _f(
        None, "std of a new track's velocity per axis (px/frame), constant-velocity and "
        "switching models; estimate: fitted with the noises", lo=0.0, estimate=float)
    velocity_noise: float | None = _f(
        None, "std per axis of the velocity's change per frame (px/frame per frame), "
        "constant-velocity and switching models (0: a constant drift, the paper's); "
        "estimate: fitted with the noises", lo=0.0, estimate=float)
    directed_share: float | None = _f(
        None, "switching model: long-run share of frames a track moves directed (the rest "
        "Brownian); estimate: fitted with the noises", lo=1e-6, hi=1.0 - 1e-6,
        estimate=float)
    switch_probability: float | None = _f(
        None, "switching model: a track leaves a mode of long-run share s with probability "
        "2 q (1 - s) per frame (q itself at equal shares; at most 1/2, so that is at most "
        "1); estimate: fitted with the noises", lo=1e-6, hi=0.5, estimate=float)
    time_budget_s: float = _f(
        10.0, "what an estimated lookback may cost: the largest K the rule picks is kept "
        "to a predicted run time within this (an explicit lookback is always used)", lo=0.1)
    mode: str = _f("exact", "exact: shared filters + branch and bound; exhaustive: score every "
                   "hypothesis with its own filters (the paper's cost model)", choices=MHT_MODES)
    smooth: bool = _f(
        False, "report Rauch-Tung-Striebel smoothed positions of the chosen tracks instead of "
        "the filtered ones the paper reports (same associations)")
    gate: float = _f(
        50.0, "squared-Mahalanobis gate used only to split N > 2 particles into independent "
        "clusters (equal-count data, no misses or clutter)", lo=1.0)
    max_hypotheses: int = _f(
        50_000_000, "refuse a window (cluster) with more hypotheses than this, up front "
        "(exhaustive mode)", lo=1)
    detection_probability: float | None = _f(
        None, "probability P_D that a particle is detected in a frame; estimate: from the "
        "one-frame gaps of a nearest-neighbour linking pass (1 when every frame has the same "
        "number of detections)", lo=1e-6, hi=1.0, estimate=float)
    clutter_density: float | None = _f(
        None, "spurious detections per px^D per frame (lambda_FA); estimate: unlinked "
        "detections per frame and area (0 when every frame has the same count)", lo=0.0,
        estimate=float)
    birth_density: float | None = _f(
        None, "new tracks per px^D per frame (lambda_B); estimate: tracks that start after "
        "the first frame per frame and area (0 when every frame has the same count)", lo=0.0,
        estimate=float)
    max_gap: int = _f(2, "a track ends after this many consecutive missed frames", lo=0,
                      hi=1000)
    link_gate: float = _f(
        20.0, "squared-Mahalanobis gate of a detection continuing a track (detection-level "
        "tracking; exactness is within this gate)", lo=1.0)
    max_branches: int = _f(
        2_000, "per track and window: at most this many branches (detection-or-miss "
        "sequences); a track with more keeps its best ones and its cluster is flagged "
        "bounded", lo=1)
    search_budget: int = _f(
        200, "per cluster and window: nodes of the branch-and-bound selection before the "
        "cluster goes to the integer program (HiGHS, exact; bounded and flagged only if it "
        "cannot prove optimality within --milp-time-limit)", lo=1)
    milp_time_limit: float = _f(
        10.0, "per cluster and window: seconds HiGHS's integer program may take to prove an "
        "optimum; past it the best hypothesis found is taken and the cluster flagged "
        "bounded (raise it with the lookback on dense data)", lo=0.01)
    memory_budget_mb: float = _f(
        2048.0, "peak memory of the hypothesis trees (MiB); beyond it branches are capped "
        "(bounded, flagged) instead of running out of memory", lo=1.0)
    link_confidence: bool = _f(
        False, "also give each link's confidence (detection-level search): its score margin "
        "to the best hypothesis without it, every committed link re-solved without it; "
        "exact, and 3 to 10 x the search's time, so off unless asked (the links' "
        "link_confidence is then empty)")

    method = "mht"

    def label(self) -> str:
        extra = "" if self.mode == "exact" else " exhaustive"
        extra += " smoothed" if self.smooth else ""
        k = "auto" if self.lookback is None else self.lookback
        return f"MHT K={k}{extra}"


@dataclass(frozen=True)
class TransformerParams(_Validated):
    """Inference with a trained encoder-decoder transformer (paper III-C)."""

    checkpoint: str = _f("transformer_150_30", "shipped checkpoint name or path to a .pt file")
    device: str = _f("auto", "torch device", choices=DEVICES)
    batch_size: int = _f(64, "sequences inferred together", lo=1, hi=65536)

    method = "transformer"

    def label(self) -> str:
        from pathlib import Path

        return Path(self.checkpoint).stem


PRIOR_FLOOR = 1e-3
"""Smallest noise prior handed to the MHT (px): a simulation with sigma = 0 or mu = 0 would
give a singular Kalman innovation.  1e-3 px is far below any localisation error."""


class Priors(TypedDict):
    process_noise: float
    measurement_noise: float
    detection_probability: float
    clutter_density: float
    birth_density: float


def known_priors(sim: SimulationParams) -> Priors:
    """The MHT priors that equal the simulation's own noise (the paper's Fig. 2(a) setting:
    eta' = mu, nu' = sigma), floored at :data:`PRIOR_FLOOR`, and its own detection model:
    P_D, clutter and births per frame spread over the field of view (per px^D)."""
    volume = sim.field_of_view**sim.ndim
    return {"process_noise": max(sim.process_noise, PRIOR_FLOOR),
            "measurement_noise": max(sim.measurement_noise, PRIOR_FLOOR),
            "detection_probability": max(sim.detection_probability, 1e-6),
            "clutter_density": sim.clutter / volume,
            "birth_density": sim.birth_rate / volume}


PAPER_FILTER: dict[str, Any] = {"motion_model": "constant-velocity", "velocity_prior": 1.5,
                                "velocity_noise": 0.0}
"""The paper's Kalman filter (section III-B): constant velocity, v0 = 1.5 px/frame, no
velocity noise; the MHT's defaults would choose the model and estimate both.  With
:func:`known_priors` it is the paper's Fig. 2(a) MHT."""


@dataclass(frozen=True)
class LAPParams(_Validated):
    """Frame-to-frame LAP linking with gap closing, through the ``laptrack`` library (the
    u-track / TrackMate family: Jaqaman et al., Nature Methods 2008); no splitting or
    merging, so every track is a chain of detections."""

    max_link_distance: float = _f(
        0.0, "largest distance (px) a particle may move between consecutive frames; 0: "
        "estimate from the data (1.25 x the 99.5 % quantile of the real steps of a first "
        "linking pass, so the fast steps of a mixed population are covered)", lo=0.0)
    gap_closing_frames: int = _f(
        1, "most consecutive frames a particle may go undetected and still be linked "
        "across (0: no gap closing)", lo=0, hi=1000)
    gap_closing_distance: float = _f(
        0.0, "largest distance (px) bridged by a gap-closing link; 0: estimate from the "
        "data (the link distance's rule on a first linking pass's displacements over gap "
        "frames + 1 frames)", lo=0.0)

    method = "lap"

    def label(self) -> str:
        d = f"d={self.max_link_distance:g}" if self.max_link_distance else "d=auto"
        return f"LAP {d} gap={self.gap_closing_frames}"

    def describe(self) -> str:
        gap = (f"gap distance {self.gap_closing_distance:g}" if self.gap_closing_distance
               else "gap distance auto")
        d = f"{self.max_link_distance:g}" if self.max_link_distance else "auto"
        return f"max link distance {d}, gap frames {self.gap_closing_frames}, {gap}"


@dataclass(frozen=True)
class TrackpyParams(_Validated):
    """Crocker-Grier nearest-neighbour linking through ``trackpy.link`` (Crocker & Grier,
    J. Colloid Interface Sci. 1996; Allan et al., trackpy): what most microscopists link
    with.  Each particle takes at most one detection per frame; ``memory`` lets it vanish
    for a few frames and come back."""

    search_range: float = _f(
        0.0, "largest distance (px) a particle may move between frames; 0: estimate from "
        "the data as LAP's link distance is estimated (see --max-link-distance)", lo=0.0)
    memory: int | None = _f(
        None, "frames a particle may vanish and still keep its track; estimate: the "
        "fewest frames m with (1 - P_D)^(m+1) <= 0.2 %, P_D the detection probability "
        "estimated as for the MHT (0 when every frame has the same number of detections)",
        lo=0, hi=1000, estimate=int)
    adaptive_stop: float = _f(
        0.0, "where a subnetwork of candidates is too large for trackpy to solve, its "
        "search range shrinks (x 0.95 per try) down to this (px); 0: a tenth of the "
        "search range", lo=0.0)

    method = "trackpy"

    def label(self) -> str:
        d = f"d={self.search_range:g}" if self.search_range else "d=auto"
        m = "auto" if self.memory is None else str(self.memory)
        return f"trackpy {d} memory={m}"

    def describe(self) -> str:
        d = f"{self.search_range:g}" if self.search_range else "auto"
        m = "auto" if self.memory is None else str(self.memory)
        return f"search range {d}, memory {m}"


@dataclass(frozen=True)
class HybridParams(MHTParams):
    """The MHT + association-transformer hybrid (:mod:`napari_mpt.trackers.hybrid`): the
    transformer's link scores prune the MHT's hypotheses, the MHT's exact search decides
    among what remains.  Every MHT field means what it means for the MHT (priors
    estimated alike); the fields below say which links may enter its trees.

    A link from detection i (frame t) to j (frame t + g, g <= the model's gap) enters
    only if its score ``(pf + pb) / 2`` (forward and backward probabilities, averaged
    over windows) is at least ``min_score`` or j is among i's ``top_links`` best-scored
    successors; links over longer gaps, births, misses and ends are not pruned.
    """

    checkpoint: str = _f("association", "association-transformer checkpoint whose scores "
                         "prune the MHT's links (shipped name or path to a .pt file)")
    device: str = _f("auto", "torch device of the scoring", choices=DEVICES)
    min_score: float = _f(
        0.05, "keep a link whose transformer score (mean of its forward and backward "
        "probabilities) is at least this (0 keeps every gated link: the MHT itself)",
        lo=0.0, hi=1.0)
    top_links: int = _f(
        2, "also keep each detection's this many best-scored successors, whatever their "
        "score", lo=1, hi=1000)
    first_pass: str = _f(
        "transformer", "first linking pass the MHT's estimated parameters come from: the "
        "transformer's mutually best links scoring at least 1/2, or mutual nearest "
        "neighbours (the MHT's own)", choices=("transformer", "nearest"))

    method = "hybrid"

    def _check(self) -> None:
        if self.mode != "exact":
            raise ParameterError("mode", "the hybrid prunes the exact search's trees; "
                                 "exhaustive scoring has none: use mode='exact'")

    def label(self) -> str:
        return "Hybrid" + super().label()[len("MHT"):]

    def describe(self) -> str:
        from pathlib import Path

        k = "auto" if self.lookback is None else self.lookback
        return (f"K={k}, {self.motion_model}, {Path(self.checkpoint).stem} "
                f"score>={self.min_score:g} or top {self.top_links}, {self.device}")


TrackerParams = MHTParams | TransformerParams | LAPParams | TrackpyParams | HybridParams
