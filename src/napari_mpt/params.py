"""One parameter model for the CLI, the Python API and the widgets.

Each field carries its help text and its accepted range in ``metadata``; the CLI builds
its options from it and the widgets their controls, so a setting means the same thing
everywhere.  Validation happens on construction and raises :class:`ParameterError`
naming the field.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, replace
from typing import Any, Literal, TypedDict

from .errors import ParameterError

MotionModelName = Literal["constant-velocity", "random-walk"]
MHTMode = Literal["exact", "exhaustive"]
DeviceName = Literal["auto", "cpu", "cuda"]

MOTION_MODELS: tuple[str, ...] = ("constant-velocity", "random-walk")
MHT_MODES: tuple[str, ...] = ("exact", "exhaustive")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


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
            if meta.get("choices") and value not in meta["choices"]:
                raise ParameterError(f.name, f"{value!r} is not one of {', '.join(meta['choices'])}")
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
    """Brownian particles with drift, observed with Gaussian noise (paper eq. 2-3)."""

    particles: int = _f(2, "number of particles N", lo=1, hi=10_000)
    frames: int = _f(150, "number of frames T", lo=2, hi=1_000_000)
    process_noise: float = _f(1.5, "process noise scale mu (std of each Brownian step, px)", lo=0.0)
    measurement_noise: float = _f(1.0, "measurement noise scale sigma (px)", lo=0.0)
    drift: tuple[float, ...] = _f(
        (), "drift per frame (px): ndim values shared by all particles, or "
        "particles*ndim values, one (dy, dx) per particle; empty: no drift")
    separation: float = _f(10.0, "initial distance between the two particles of a pair (px)", lo=0.0)
    field_of_view: float = _f(
        512.0, "side of the square/cube in which N > 2 particles start (px)", lo=1.0)
    ndim: int = _f(2, "spatial dimensions: 2 (y, x) or 3 (z, y, x)", lo=2, hi=3)
    seed: int = _f(0, "random seed", lo=0)

    def _check(self) -> None:
        # empty means no drift in any ndim, so the 2-D and 3-D defaults are one value
        if self.drift and len(self.drift) not in (self.ndim, self.ndim * self.particles):
            raise ParameterError(
                "drift", f"needs {self.ndim} values (shared) or {self.ndim * self.particles} "
                f"(one per particle) for ndim={self.ndim}, got {len(self.drift)}")

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
    from the detections by :func:`napari_mpt.mht.estimate.estimate_parameters` (documented
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
        2_000, "per cluster and window: nodes of the branch-and-bound selection before the "
        "cluster goes to the integer program (HiGHS, exact; bounded and flagged only if it "
        "cannot prove optimality within 10 s)", lo=1)
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


TrackerParams = MHTParams | TransformerParams

PRIOR_FLOOR = 1e-3
"""Smallest noise prior handed to the MHT (px): a simulation with sigma = 0 or mu = 0 would
give a singular Kalman innovation.  1e-3 px is far below any localisation error."""


class Priors(TypedDict):
    process_noise: float
    measurement_noise: float


def known_priors(sim: SimulationParams) -> Priors:
    """The MHT priors that equal the simulation's own noise (the paper's Fig. 2(a) setting:
    eta' = mu, nu' = sigma), floored at :data:`PRIOR_FLOOR`."""
    return {"process_noise": max(sim.process_noise, PRIOR_FLOOR),
            "measurement_noise": max(sim.measurement_noise, PRIOR_FLOOR)}


@dataclass(frozen=True)
class TrainParams(_Validated):
    """Training transformer_{T,i} on fresh simulations (paper III-C, IV-B); also its
    architecture, so a checkpoint records everything needed to rebuild and retrain it."""

    frames: int = _f(150, "sequence length T of the training simulations", lo=2, hi=100_000)
    experiments_per_batch: int = _f(30, "simulated experiments per batch i", lo=1, hi=100_000)
    batches: int = _f(1500, "optimisation steps, one fresh batch of i experiments each",
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
    save_every: int = _f(100, "write the checkpoint every this many batches (resumable)", lo=1)
    threads: int = _f(1, "torch CPU threads while training (1 is deterministic)", lo=1, hi=256)
    seed: int = _f(0, "seed of the weights and of every simulated batch", lo=0)

    def _check(self) -> None:
        rng = self.measurement_noise_range
        if len(rng) not in (0, 2):
            raise ParameterError("measurement_noise_range", f"needs 2 values LO HI, got {len(rng)}")
        if rng and rng[0] > rng[1]:
            raise ParameterError("measurement_noise_range", f"LO {rng[0]} > HI {rng[1]}")
        if self.encoder_lookback > self.frames:
            raise ParameterError("encoder_lookback", f"K_E={self.encoder_lookback} exceeds the "
                                 f"training sequence length T={self.frames}")
        if self.d_model % self.heads:
            raise ParameterError("heads", f"{self.heads} heads do not divide d_model={self.d_model}")
