"""Training transformer_{T,i}: its batches and loss, for the one loop
(:func:`..common.training.run`), fed by a batch source.

* :class:`FreshBatches` (``epochs=0``, the package's protocol): every optimisation step
  draws a fresh batch of i simulated experiments.
* :class:`RevisitedBatches` (``epochs=E``): ``batches`` batches are simulated once and
  visited E times, in a seeded shuffled order (as many passes as one likes over a fixed
  data set; the other reading of the paper's "trained with 6 experiments").

Deterministic for a seed: the weights start from ``torch.manual_seed(seed)`` and batch
``k`` is simulated from ``numpy.random.default_rng([seed, k])``, so a run resumed from
its last checkpoint continues exactly as if it had never stopped (with one thread).
Every setting of the optimiser and its schedule is a TrainParams field, stored in the
checkpoint; the warm-up lasts ``min(warmup_steps, int(steps * warmup_fraction))`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ....core.errors import CheckpointError
from ....core.params import SimulationParams, TrainParams
from ....simulation.simulate import simulate_arrays
from ..common.training import ProgressHook, Recipe, differences, existing_run, run
from .checkpoint import build, train_params_of
from .config import model_config
from .encoding import normalise, reference_points
from .model import TrackerTransformer

ORDER_STREAM = 1_000_003
"""Second word of the seed of :class:`RevisitedBatches`' visiting order (batch k uses k)."""


@dataclass
class Batch:
    """One training batch, normalised: detections, teacher inputs, truth, targets."""

    z: torch.Tensor        # (B, T, N, D) shuffled detections
    inputs: torch.Tensor   # (B, T, N, D) anchor at t=0, noisy true previous state after
    truth: torch.Tensor    # (B, T, N, D) slot p = the particle of detection p at frame 0
    target: torch.Tensor   # (B, T, N) which detection of frame t is slot p's
    weight: torch.Tensor   # (B,) 1 / (1 + sigma)^2 per experiment, balances the MSE
    own: torch.Tensor | None = None  # (B,) bool: decoder reads its own estimates (resample)


def simulate_batch(params: TrainParams, index: int) -> Batch:
    """Batch ``index`` of a run: i simulations from ``default_rng([seed, index])``."""
    rng = np.random.default_rng([params.seed, index])
    t, n, d = params.frames, params.particles, params.ndim
    scale = params.coord_scale
    lo_hi = params.measurement_noise_range
    zs, truths, targets, sigmas, noise = [], [], [], [], []
    for _ in range(params.experiments_per_batch):
        sigma = float(rng.uniform(lo_hi[0], lo_hi[1])) if lo_hi else params.measurement_noise
        sp = SimulationParams(particles=n, frames=t, process_noise=params.process_noise,
                              measurement_noise=sigma, drift=(0.0,) * d,
                              separation=params.separation, ndim=d)
        truth, meas = simulate_arrays(sp, rng)
        # the same shuffle as simulate.simulate's (kept inline: the slot bookkeeping below
        # needs the permutation itself, which simulate does not return)
        perm = np.argsort(rng.random((t, n)), axis=1)        # detection j shows particle perm[t, j]
        z = np.take_along_axis(meas, perm[:, :, None], axis=1)
        slot_particle = perm[0]                                # slot p follows this particle
        inv = np.argsort(perm, axis=1)                         # inv[t, particle] = detection
        zs.append(z)
        truths.append(truth[:, slot_particle])
        targets.append(inv[:, slot_particle])
        sigmas.append(sigma)
        noise.append(rng.uniform() * params.teacher_noise * (sigma + 1.0))
    z = np.stack(zs)
    truth = np.stack(truths)
    ref = reference_points(z)
    zn = normalise(z, ref, scale)
    tn = normalise(truth, ref, scale)
    jitter = rng.normal(size=tn.shape) * (np.asarray(noise)[:, None, None, None] / scale)
    inputs = np.concatenate([zn[:, :1], (tn + jitter)[:, :-1]], axis=1)
    weight = 1.0 / (1.0 + np.asarray(sigmas)) ** 2
    own = rng.random(len(sigmas)) < params.resample

    def f32(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.float32)

    return Batch(f32(zn), f32(inputs), f32(tn), torch.as_tensor(np.stack(targets)), f32(weight),
                 torch.as_tensor(own))


class BatchSource(Protocol):
    """What the training loop reads: the batch of optimisation step ``step``."""

    def __call__(self, step: int) -> Batch: ...


class FreshBatches:
    """Step k trains on :func:`simulate_batch` ``(params, k)``, never seen before."""

    def __init__(self, params: TrainParams):
        self.params = params

    def __call__(self, step: int) -> Batch:
        return simulate_batch(self.params, step)


class RevisitedBatches:
    """Batches ``0..batches-1`` simulated once; pass e visits them in the e-th
    permutation drawn from ``default_rng([seed, ORDER_STREAM])``."""

    def __init__(self, params: TrainParams):
        self.data = [simulate_batch(params, k) for k in range(params.batches)]
        rng = np.random.default_rng([params.seed, ORDER_STREAM])
        self.order = [int(k) for _ in range(params.epochs) for k in rng.permutation(params.batches)]

    def __call__(self, step: int) -> Batch:
        return self.data[self.order[step]]


def batch_source(params: TrainParams) -> BatchSource:
    """The source ``params.epochs`` asks for."""
    return RevisitedBatches(params) if params.epochs else FreshBatches(params)


def loss_terms(model: TrackerTransformer, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Position MSE (px^2 / (1 + sigma)^2, averaged) and pointer cross-entropy.

    Experiments marked ``own`` first run without gradients and then read the model's own
    estimates as their previous states (parallel scheduled sampling), so training sees
    the kind of errors decoding feeds back, not only Gaussian jitter.
    """
    inputs = batch.inputs
    if batch.own is not None and bool(batch.own.any()):
        with torch.no_grad():
            first, _ = model(batch.z, inputs)
        inputs = inputs.clone()
        inputs[batch.own, 1:] = first[batch.own, :-1]
    est, logits = model(batch.z, inputs)
    err = ((est - batch.truth) ** 2).sum(-1) * model.cfg.coord_scale ** 2   # (B, T, N) px^2
    mse = (err.mean(dim=(1, 2)) * batch.weight).mean()
    n = logits.shape[-1]
    ce = F.cross_entropy(logits.reshape(-1, n), batch.target.reshape(-1))
    return mse, ce


def training_loss(model: TrackerTransformer, batch: Batch, params: TrainParams
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The training loss ``mse + pointer_weight * ce`` and its two parts."""
    mse, ce = loss_terms(model, batch)
    return mse + params.pointer_weight * ce, {"mse": mse, "ce": ce}


IGNORED = ("save_every", "threads")
"""Settings a resumed run may change: they do not change the result."""


def train(params: TrainParams | None = None, out: str | Path | None = None, *,
          resume: bool = False, overwrite: bool = False, progress_bar: bool = True,
          log: str | Path | None = None, on_batch: ProgressHook | None = None,
          name: str | None = None, source: BatchSource | None = None,
          **overrides: Any) -> Path:
    """Train a transformer and write its checkpoint to ``out``; return the path.

    ``params`` (or TrainParams defaults) with ``overrides`` (e.g. ``frames=8,
    experiments_per_batch=30, measurement_noise_range=(0, 10)``).  ``params.steps``
    optimisation steps read their batches from ``source`` (default: the one
    ``params.epochs`` asks for, :func:`batch_source`).  An existing ``out`` is continued
    with ``resume=True`` (same settings required; a setting the checkpoint predates
    counts as its default, the value hard-coded then), replaced with ``overwrite=True``,
    and otherwise refused.  ``log`` writes the loss curve as CSV; ``on_batch(done, total,
    loss)`` is called after every step.  A loss that is not finite stops the run with a
    CheckpointError.  The loop is :func:`..common.training.run`.
    """
    params = (params or TrainParams()).replace(**overrides) if overrides else (
        params or TrainParams())
    if out is None:
        raise CheckpointError("train: no output path given")
    out = Path(out)
    cfg = model_config(params)
    state = existing_run(out, resume, overwrite, lambda st: differences(
        train_params_of(st).to_dict(), params.to_dict(), IGNORED))
    batches = source if source is not None else batch_source(params)
    recipe = Recipe(
        params=params, steps=params.steps, warmup_fraction=params.warmup_fraction,
        record={"name": name or out.stem}, model=cfg.to_dict(),
        new_model=lambda: TrackerTransformer(cfg),
        restore=lambda st, src: build(st, src)[0],
        batch=batches, loss=lambda model, batch: training_loss(model, batch, params),
        parts=("mse", "ce"))
    return run(recipe, out, state, progress_bar=progress_bar, log=log, on_batch=on_batch)
