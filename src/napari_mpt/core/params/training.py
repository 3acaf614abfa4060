"""How the transformers are trained: the encoder-decoder (:class:`TrainParams`) and the
association transformer (:class:`AssociationTrainParams`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..errors import ParameterError
from .base import _f, _Validated
from .simulation import SIM_MOTIONS
from .trackers import DEVICES


@dataclass(frozen=True)
class TrainParams(_Validated):
    """How transformer_{T,i} is trained (paper III-C, IV-B): the training data, the
    optimiser and its schedule, and the architecture asked for.

    The architecture fields are the command line's and the checkpoint's record of it;
    :func:`napari_mpt.trackers.transformer.model_config` turns them into the
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
        SIM_MOTIONS[:3], "motion types drawn (uniformly) for the training windows; leave some "
        "out to measure how the model does on motion it never saw (the default: the shipped "
        "checkpoint's three; mixture may be added)", choices=SIM_MOTIONS)
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
