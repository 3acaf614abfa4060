"""One parameter model for the CLI, the Python API and the widgets.

Each field carries its help text and its accepted range in ``metadata``; the CLI builds
its options from it and the widgets their controls, so a setting means the same thing
everywhere.  Validation happens on construction and raises :class:`ParameterError`
naming the field.
"""

from __future__ import annotations

import math
import os
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, replace
from typing import Any, TypedDict

from .errors import ParameterError

MOTION_MODELS: tuple[str, ...] = ("constant-velocity", "random-walk")
MHT_MODES: tuple[str, ...] = ("exact", "exhaustive")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
SIM_MOTIONS: tuple[str, ...] = ("brownian", "directed", "switching")


def _f(default: Any, help: str, *, lo: float | None = None, hi: float | None = None,
       choices: tuple[str, ...] | None = None, cli: str | None = None,
       estimate: type | None = None) -> Any:
    """A dataclass field whose metadata drives validation, CLI options and widgets.

    ``estimate`` (a number type) marks a field whose default ``None`` means "estimated
    from the data": the CLI accepts a number or the word ``estimate`` for it.
    """
    meta = {"help": help, "min": lo, "max": hi, "choices": choices, "cli": cli,
            "estimate": estimate}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def field_default(f: Field[Any]) -> Any:
    """The default of dataclass field ``f`` (its default or what its factory makes)."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    raise ParameterError(f.name, "has no default")


class _Validated:
    """Mixin: range/choice checks from field metadata, then ``_check`` for cross-field rules."""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            meta = f.metadata
            if meta.get("choices"):
                picks = value if isinstance(value, tuple) else (value,)  # a tuple picks several
                bad = [v for v in picks if v not in meta["choices"]]
                if bad or not picks:
                    raise ParameterError(f.name, f"{(bad or [value])[0]!r} is not one of "
                                         f"{', '.join(meta['choices'])}")
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if isinstance(v, float) and not math.isfinite(v):
                    raise ParameterError(f.name, f"must be a finite number, got {v}")
                if meta.get("min") is not None and v < meta["min"]:
                    raise ParameterError(f.name, f"must be >= {meta['min']}, got {v}")
                if meta.get("max") is not None and v > meta["max"]:
                    raise ParameterError(f.name, f"must be <= {meta['max']}, got {v}")
        self._check()

    def _check(self) -> None:
        """Cross-field rules; subclasses override."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Build from a mapping (params.json, a checkpoint); unknown keys are an error."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ParameterError(unknown[0], f"unknown parameter for {cls.__name__}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)

    def replace(self, **changes: Any):
        return replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: field_default(f) for f in fields(cls)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class SimulationParams(_Validated):
    """Brownian particles with drift, observed with Gaussian noise (paper eq. 2-3), and,
    switched on field by field, the real world: directed and switching motion, missed
    detections, clutter, births, deaths and particles leaving the field of view."""

    particles: int = _f(2, "number of particles N", lo=1, hi=10_000)
    frames: int = _f(150, "number of frames T", lo=2, hi=1_000_000)
    process_noise: float = _f(1.5, "process noise scale mu (std of each Brownian step, px)", lo=0.0)
    measurement_noise: float = _f(1.0, "measurement noise scale sigma (px)", lo=0.0)
    drift: tuple[float, ...] = _f(
        (), "drift per frame (px): ndim values shared by all particles, or "
        "particles*ndim values, one (dy, dx) per particle; empty: no drift")
    separation: float = _f(10.0, "initial distance between the two particles of a pair (px)", lo=0.0)
    field_of_view: float = _f(
        512.0, "side of the square/cube field of view (px): N > 2 particles start, and "
        "births and clutter appear, uniformly in it", lo=1.0)
    ndim: int = _f(2, "spatial dimensions: 2 (y, x) or 3 (z, y, x)", lo=2, hi=3)
    seed: int = _f(0, "random seed", lo=0)
    # Real detections (issue 9).  The defaults switch every one of them off, so the
    # paper's clean world above is unchanged, draw for draw.
    detection_probability: float = _f(
        1.0, "detection probability P_D: each particle is missed independently in each frame "
        "with probability 1 - P_D", lo=0.0, hi=1.0)
    clutter: float = _f(0.0, "mean spurious detections per frame (Poisson, uniform in the "
                        "field of view)", lo=0.0)
    birth_rate: float = _f(0.0, "mean new particles per frame from frame 1 on (Poisson, "
                           "uniform in the field of view)", lo=0.0)
    survival: float = _f(1.0, "per-frame survival probability of a particle (1: none dies)",
                         lo=0.0, hi=1.0)
    motion: str = _f("brownian", "brownian: steps of std mu; directed: plus speed px/frame "
                     "along a per-particle random direction; switching: each particle switches "
                     "between the two with the switch probability", choices=SIM_MOTIONS)
    speed: float = _f(2.0, "speed of directed motion (px per frame)", lo=0.0)
    switch_probability: float = _f(
        0.1, "switching motion: per-frame probability of switching between Brownian and "
        "directed", lo=0.0, hi=1.0)
    end_at_edge: bool = _f(
        False, "a particle that leaves the field of view ends there (its track stops)")

    def _check(self) -> None:
        # empty means no drift in any ndim, so the 2-D and 3-D defaults are one value
        if self.drift and len(self.drift) not in (self.ndim, self.ndim * self.particles):
            raise ParameterError(
                "drift", f"needs {self.ndim} values (shared) or {self.ndim * self.particles} "
                f"(one per particle) for ndim={self.ndim}, got {len(self.drift)}")
        if self.birth_rate > 0 and len(self.drift) == self.ndim * self.particles > self.ndim:
            raise ParameterError(
                "drift", "one drift per particle cannot cover particles born later; give "
                f"{self.ndim} shared values or set birth_rate to 0")

    def is_clean(self) -> bool:
        """True in the paper's world: every particle detected in every frame, no clutter,
        no births or deaths, Brownian motion, nobody leaves."""
        return (self.detection_probability == 1.0 and self.clutter == 0.0
                and self.birth_rate == 0.0 and self.survival == 1.0
                and self.motion == "brownian" and not self.end_at_edge)

    def drift_array(self):
        """Drift as an ``(N, ndim)`` array."""
        import numpy as np

        d = np.asarray(self.drift or (0.0,) * self.ndim, dtype=np.float64).reshape(-1, self.ndim)
        return np.broadcast_to(d, (self.particles, self.ndim)).copy()


ESTIMATE = "estimate"
"""What the CLI and the widgets show for a parameter estimated from the data (``None``)."""


@dataclass(frozen=True)
class MHTParams(_Validated):
    """Multiple Hypothesis Tracker with lookback K (paper III-B), for detections with misses,
    clutter, births and deaths (issue 10).

    ``None`` ("estimate") for the noise, detection, clutter and birth fields means: estimated
    from the detections by :func:`napari_mpt.trackers.mht.estimate.estimate_parameters` (documented
    there); the values used are returned in ``TrackingResult.info["estimated"]``.
    """

    lookback: int = _f(8, "lookback window K: association steps enumerated jointly", lo=1, hi=64)
    motion_model: str = _f("constant-velocity", "Kalman motion model", choices=MOTION_MODELS)
    process_noise: float | None = _f(
        None, "process noise prior eta' (px per frame); estimate: from the displacement "
        "statistics of a nearest-neighbour linking pass", lo=1e-9, estimate=float)
    measurement_noise: float | None = _f(
        None, "measurement noise prior nu' (px); estimate: from the lag-1 covariance of the "
        "displacements of a nearest-neighbour linking pass", lo=1e-9, estimate=float)
    velocity_prior: float = _f(
        1.5, "std of the initial velocity (drift) prior, constant-velocity model only (px/frame)",
        lo=0.0)
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

    method = "mht"

    def __post_init__(self) -> None:
        # widgets and files may hand over text: "estimate"/""/"None" -> None, numbers -> float
        for f in fields(self):
            kind = f.metadata.get("estimate")
            value = getattr(self, f.name)
            if kind is None or not isinstance(value, str):
                continue
            text = value.strip().lower()
            if text in ("", "none", ESTIMATE):
                object.__setattr__(self, f.name, None)
                continue
            try:
                object.__setattr__(self, f.name, kind(text))
            except ValueError:
                raise ParameterError(f.name, f"{value!r} is neither a number nor "
                                     f"'{ESTIMATE}'") from None
        super().__post_init__()

    def label(self) -> str:
        extra = "" if self.mode == "exact" else " exhaustive"
        extra += " smoothed" if self.smooth else ""
        return f"MHT K={self.lookback}{extra}"


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


@dataclass(frozen=True)
class TrainParams(_Validated):
    """How transformer_{T,i} is trained (paper III-C, IV-B): the training data, the
    optimiser and its schedule, and the architecture asked for.

    The architecture fields are the command line's and the checkpoint's record of it;
    :func:`napari_mpt.trackers.transformer.trainer.model_config` turns them into the
    ``ModelConfig`` that validates them (one place: ranges here, cross-field rules there).
    ``encoder_lookback`` is K_E, the encoder window in frames, in both; here 0 stands for
    "as long as the training sequences" (K_E = T), which the ModelConfig holds resolved.
    Every field is stored in the checkpoint's ``train`` record, so a checkpoint says how
    it was made; a record written before a field existed means the field's default (the
    value that was hard-coded then).
    """

    frames: int = _f(150, "sequence length T of the training simulations", lo=2, hi=100_000)
    experiments_per_batch: int = _f(30, "simulated experiments per batch i", lo=1, hi=100_000)
    batches: int = _f(1500, "batches of i experiments: with --epochs 0, one fresh batch per "
                      "optimisation step; else a fixed set visited --epochs times",
                      lo=1, hi=10_000_000)
    process_noise: float = _f(1.5, "simulated process noise mu (px)", lo=0.0)
    measurement_noise: float = _f(1.0, "simulated measurement noise sigma (px), unless "
                                  "--measurement-noise-range is given", lo=0.0)
    measurement_noise_range: tuple[float, ...] = _f(
        (), "LO HI: draw each experiment's sigma uniformly in [LO, HI] (px)", lo=0.0)
    particles: int = _f(2, "number of particles N the model is built for", lo=1, hi=64)
    ndim: int = _f(2, "spatial dimensions: 2 (y, x) or 3 (z, y, x)", lo=2, hi=3)
    separation: float = _f(10.0, "initial distance of a particle pair (px), as in the "
                           "simulator", lo=0.0)
    encoder_lookback: int = _f(0, "encoder window K_E in frames; 0: K_E = T", lo=0, hi=100_000)
    decoder_lookback: int = _f(8, "decoder window K_D: previous outputs it reads", lo=1, hi=1024)
    d_model: int = _f(32, "width of the token embeddings", lo=4, hi=1024)
    heads: int = _f(2, "attention heads (must divide d_model)", lo=1, hi=64)
    ff: int = _f(64, "hidden width of the feed-forward blocks", lo=1, hi=8192)
    encoder_layers: int = _f(2, "encoder layers", lo=1, hi=32)
    decoder_layers: int = _f(1, "decoder layers", lo=1, hi=32)
    learning_rate: float = _f(2e-3, "peak AdamW learning rate (cosine decay)", lo=1e-7, hi=1.0)
    teacher_noise: float = _f(
        0.5, "teacher forcing: the true previous states get Gaussian noise of std "
        "U(0,1)*teacher_noise*(sigma+1), mimicking the errors of decoded estimates", lo=0.0)
    pointer_weight: float = _f(0.5, "weight of the pointer (which detection) cross-entropy "
                               "in the loss; the position MSE has weight 1", lo=0.0)
    resample: float = _f(
        0.0, "scheduled sampling: share of the experiments whose decoder inputs are the "
        "model's own (detached) estimates instead of noisy true states", lo=0.0, hi=1.0)
    save_every: int = _f(100, "write the checkpoint every this many optimisation steps "
                         "(resumable)", lo=1)
    threads: int = _f(1, "torch CPU threads while training (1 is deterministic)", lo=1, hi=256)
    seed: int = _f(0, "seed of the weights and of every simulated batch", lo=0)
    epochs: int = _f(0, "0: every optimisation step draws a fresh batch; E: simulate --batches "
                     "batches once and visit them E times, in a seeded shuffled order", lo=0,
                     hi=1_000_000)
    weight_decay: float = _f(0.01, "AdamW weight decay", lo=0.0)
    grad_clip: float = _f(1.0, "clip the gradient norm to this before each step", lo=1e-12)
    warmup_steps: int = _f(100, "longest linear learning-rate warm-up (steps)", lo=1)
    warmup_fraction: float = _f(0.1, "warm-up length as a share of the steps, capped by "
                                "--warmup-steps (at least 1 step)", lo=0.0, hi=1.0)
    lr_floor: float = _f(0.05, "after the warm-up the learning rate decays on a cosine to "
                         "this share of its peak", lo=0.0, hi=1.0)
    coord_scale: float = _f(10.0, "px per normalised coordinate unit (about the particles' "
                            "initial separation)", lo=1e-6)

    @property
    def steps(self) -> int:
        """Optimisation steps: ``batches``, times ``epochs`` when a fixed set is revisited."""
        return self.batches * max(self.epochs, 1)

    def _check(self) -> None:
        rng = self.measurement_noise_range
        if len(rng) not in (0, 2):
            raise ParameterError("measurement_noise_range", f"needs 2 values LO HI, got {len(rng)}")
        if rng and rng[0] > rng[1]:
            raise ParameterError("measurement_noise_range", f"LO {rng[0]} > HI {rng[1]}")
        if self.encoder_lookback > self.frames:
            raise ParameterError("encoder_lookback", f"K_E={self.encoder_lookback} exceeds the "
                                 f"training sequence length T={self.frames}")


@dataclass(frozen=True)
class StatsParams(_Validated):
    """Track statistics: physical units, the MSD lags and which lags the fits use."""

    pixel_size: float = _f(0.0, "pixel size (um per px); 0: lengths in px", lo=0.0)
    frame_interval: float = _f(0.0, "time between frames (s); 0: time in frames", lo=0.0)
    max_lag: int = _f(100, "longest lag of the MSD curves (frames)", lo=1, hi=100_000)
    fit_lags: int = _f(
        4, "D and the localisation offset are fitted on MSD lags 1..n (few lags are best: "
        "Michalet 2010)", lo=2, hi=100_000)
    alpha_lags: int = _f(10, "alpha is fitted (log-log) on MSD lags 1..n (at most max_lag)", lo=2, hi=100_000)
    min_length: int = _f(3, "tracks with fewer points are left out", lo=1)


@dataclass(frozen=True)
class LAPParams(_Validated):
    """Frame-to-frame LAP linking with gap closing, through the ``laptrack`` library (the
    u-track / TrackMate family: Jaqaman et al., Nature Methods 2008); no splitting or
    merging, so every track is a chain of detections."""

    max_link_distance: float = _f(
        0.0, "largest distance (px) a particle may move between consecutive frames; 0: "
        "estimate from the data (4 x the median distance from a detection to its nearest "
        "detection in the next frame)", lo=0.0)
    gap_closing_frames: int = _f(
        1, "most consecutive frames a particle may go undetected and still be linked "
        "across (0: no gap closing)", lo=0, hi=1000)
    gap_closing_distance: float = _f(
        0.0, "largest distance (px) bridged by a gap-closing link; 0: the link distance "
        "x sqrt(gap frames + 1), as Brownian displacement grows with sqrt(time)", lo=0.0)

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

    method = "hybrid"

    def _check(self) -> None:
        if self.mode != "exact":
            raise ParameterError("mode", "the hybrid prunes the exact search's trees; "
                                 "exhaustive scoring has none: use mode='exact'")

    def label(self) -> str:
        return "Hybrid" + super().label()[len("MHT"):]

    def describe(self) -> str:
        from pathlib import Path

        return (f"K={self.lookback}, {self.motion_model}, {Path(self.checkpoint).stem} "
                f"score>={self.min_score:g} or top {self.top_links}, {self.device}")


TrackerParams = MHTParams | TransformerParams | LAPParams | HybridParams


@dataclass(frozen=True)
class DetectParams(_Validated):
    """Spot detection in a fluorescence movie (:func:`napari_mpt.detection.detect.detect`).

    The defaults suit ISBI-2012-like movies (Gaussian spots of sigma about 1.3 px, Poisson
    noise, SNR 2 and up) without tuning.
    """

    spot_sigma: float = _f(1.3, "spot size: the standard deviation of the spots' Gaussian "
                           "profile in y and x (px)", lo=0.5, hi=20.0)
    spot_sigma_z: float = _f(0.0, "spot size along z for (T, Z, Y, X) movies (px); 0: the same "
                             "as spot_sigma", lo=0.0, hi=20.0)
    threshold: float = _f(5.0, "keep peaks of the filtered frame this many noise standard "
                          "deviations above its median (pixel noise from the median absolute "
                          "deviation of neighbouring-pixel differences)", lo=0.0, hi=1000.0)
    min_distance: int = _f(1, "minimum distance between two spots (px): a spot is the brightest "
                           "point of the filtered frame within this many px", lo=1, hi=100)
    border: int = _f(0, "ignore peaks closer than this to the image edge (px)", lo=0, hi=1000)
    workers: int = _f(0, "frames processed in parallel threads (0: one per CPU core this "
                      "process may use, at most 8)", lo=0, hi=64)
    multi_emitter: bool = _f(True, "fit spots closer than 3.5 spot sigmas jointly and look for "
                             "spots hidden next to brighter ones in the residual (overlapping "
                             "spots in dense frames)")
    residual_rounds: int = _f(1, "multi-emitter fitting: rounds of re-detection in the residual "
                              "(0: joint fits of the detected spots only)", lo=0, hi=5)

    def _check(self) -> None:
        if not isinstance(self.multi_emitter, bool):
            raise ParameterError("multi_emitter", f"must be true or false, got {self.multi_emitter!r}")

    def threads(self) -> int:
        """The number of worker threads: ``workers``, or with 0 one per usable core (at
        most 8).  Two threads halve the wall time on a quiet 2-core machine (README,
        "Speed" of spot detection); under other users' load they cost up to a quarter more."""
        if self.workers:
            return self.workers
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, 8))

    def sigmas(self, ndim: int) -> tuple[float, ...]:
        """Per-axis spot sigma for ``ndim`` spatial axes (napari order)."""
        if ndim == 2:
            return (self.spot_sigma, self.spot_sigma)
        return (self.spot_sigma_z or self.spot_sigma, self.spot_sigma, self.spot_sigma)


@dataclass(frozen=True)
class MovieParams(_Validated):
    """A simulated fluorescence movie: Gaussian spots on a background, Poisson noise.

    ``snr`` follows the ISBI 2012 challenge: the spot's peak above background over the
    standard deviation of the Poisson noise at the peak, ``A / sqrt(background + A)``
    (background 10 gives peaks of 13.7 / 18.6 / 33.0 / 67.5 at SNR 1 / 2 / 4 / 7).
    """

    snr: float = _f(4.0, "signal-to-noise ratio of each spot (ISBI 2012 presets: 1, 2, 4, 7)",
                    lo=0.0, hi=1000.0)
    psf_sigma: float = _f(1.3, "standard deviation of the Gaussian point-spread function in "
                          "y and x (px)", lo=0.3, hi=20.0)
    psf_sigma_z: float = _f(0.0, "PSF standard deviation along z in 3-D movies (px); 0: the "
                            "same as psf_sigma", lo=0.0, hi=20.0)
    background: float = _f(10.0, "background level (photons per pixel)", lo=0.0, hi=1e6)
    size: tuple[float, ...] = _f(
        (), "image size in px, ndim values (y, x) or (z, y, x); empty: the simulation's "
        "field of view", lo=1.0)
    seed: int = _f(0, "seed of the Poisson noise", lo=0)

    def _check(self) -> None:
        if self.size and len(self.size) not in (2, 3):
            raise ParameterError("size", f"needs 2 (y, x) or 3 (z, y, x) values, got {len(self.size)}")
        if any(v != int(v) for v in self.size):
            raise ParameterError("size", f"pixel counts must be whole numbers, got {self.size}")

    def amplitude(self) -> float:
        """Peak above background for ``snr``: solves ``A / sqrt(background + A) = snr``."""
        s = self.snr
        return 0.5 * (s * s + s * math.sqrt(s * s + 4.0 * self.background))


@dataclass(frozen=True)
class AssociationTrainParams(_Validated):
    """How the association transformer is trained (``napari-mpt train --kind association``):
    its architecture, the ranges its simulated training windows are drawn from, and the
    optimiser.  Every field is stored in the checkpoint's ``train`` record.

    Each training window is a fresh simulation of ``window`` frames whose settings are
    drawn uniformly from the ranges below (motion type uniformly among Brownian,
    directed and switching), so one model covers densities, detection probabilities,
    clutter, motion types, step sizes and localisation noise.  Field names shared with
    :class:`TrainParams` mean the same thing and share their command-line option.
    """

    # architecture
    ndim: int = _f(2, "spatial dimensions: 2 (y, x) or 3 (z, y, x)", lo=2, hi=3)
    d_model: int = _f(32, "width of the token embeddings", lo=4, hi=1024)
    heads: int = _f(2, "attention heads (must divide d_model)", lo=1, hi=64)
    ff: int = _f(64, "hidden width of the feed-forward blocks", lo=1, hi=8192)
    layers: int = _f(2, "attention layers", lo=1, hi=16)
    window: int = _f(4, "frames per window (tokens: every detection of these frames)", lo=2,
                     hi=64)
    gap: int = _f(2, "gap closing: links from frame t reach frames t+1..t+gap (< window)",
                  lo=1, hi=63)
    neighbours: int = _f(4, "attention and link candidates: the k nearest detections in "
                         "each frame of the window", lo=1, hi=64)
    coord_scale: float = _f(10.0, "px per normalised coordinate unit", lo=1e-6)
    # training data, drawn per window
    particles_range: tuple[float, ...] = _f((20.0, 200.0), "LO HI particles per window crop",
                                            lo=1.0)
    spacing_range: tuple[float, ...] = _f(
        (8.0, 40.0), "LO HI mean distance between particles (px): the crop's side is "
        "spacing * sqrt(N)", lo=0.1)
    detection_probability_range: tuple[float, ...] = _f((0.7, 1.0), "LO HI P_D", lo=0.0,
                                                        hi=1.0)
    clutter_range: tuple[float, ...] = _f(
        (0.0, 0.25), "LO HI spurious detections per frame as a share of N (at most "
        "max_clutter)", lo=0.0)
    max_clutter: float = _f(50.0, "cap on the mean spurious detections per frame", lo=0.0)
    process_noise_range: tuple[float, ...] = _f((0.2, 3.0), "LO HI Brownian step std mu (px)",
                                                lo=0.0)
    speed_range: tuple[float, ...] = _f((0.5, 5.0), "LO HI directed speed (px/frame)", lo=0.0)
    measurement_noise_range: tuple[float, ...] = _f(
        (0.0, 1.5), "LO HI: draw each experiment's sigma uniformly in [LO, HI] (px)", lo=0.0)
    survival_range: tuple[float, ...] = _f((0.9, 1.0), "LO HI per-frame survival", lo=0.0,
                                           hi=1.0)
    # optimiser
    experiments_per_batch: int = _f(8, "simulated windows per batch i", lo=1, hi=100_000)
    batches: int = _f(3000, "optimisation steps, each on a fresh batch", lo=1, hi=10_000_000)
    learning_rate: float = _f(2e-3, "peak AdamW learning rate (cosine decay)", lo=1e-7, hi=1.0)
    weight_decay: float = _f(0.01, "AdamW weight decay", lo=0.0)
    grad_clip: float = _f(1.0, "clip the gradient norm to this before each step", lo=1e-12)
    warmup_steps: int = _f(100, "longest linear learning-rate warm-up (steps)", lo=1)
    lr_floor: float = _f(0.05, "after the warm-up the learning rate decays on a cosine to "
                         "this share of its peak", lo=0.0, hi=1.0)
    save_every: int = _f(100, "write the checkpoint every this many optimisation steps "
                         "(resumable)", lo=1)
    threads: int = _f(1, "torch CPU threads while training (1 is deterministic)", lo=1, hi=256)
    seed: int = _f(0, "seed of the weights and of every simulated batch", lo=0)
    motions: tuple[str, ...] = _f(
        SIM_MOTIONS, "motion types drawn (uniformly) for the training windows; leave some out "
        "to measure how the model does on motion it never saw", choices=SIM_MOTIONS)
    device: str = _f("cpu", "torch device of the training steps (the batches are simulated on "
                     "the CPU); cuda runs are not bit-reproducible", choices=DEVICES)

    def _check(self) -> None:
        for f in fields(self):
            if f.name.endswith("_range"):
                rng = getattr(self, f.name)
                if len(rng) != 2 or rng[0] > rng[1]:
                    raise ParameterError(f.name, f"needs 2 values LO <= HI, got {list(rng)}")
        if self.gap >= self.window:
            raise ParameterError("gap", f"gap={self.gap} needs window > gap, got window="
                                 f"{self.window}")
        if self.d_model % self.heads:
            raise ParameterError("heads", f"{self.heads} heads do not divide d_model={self.d_model}")
