"""Training transformer_{T,i}: one loop, fed by a batch source.

* :class:`FreshBatches` (``epochs=0``, the package's protocol): every optimisation step
  draws a fresh batch of i simulated experiments.
* :class:`RevisitedBatches` (``epochs=E``): ``batches`` batches are simulated once and
  visited E times, in a seeded shuffled order (as many passes as one likes over a fixed
  data set; the other reading of the paper's "trained with 6 experiments").

Deterministic for a seed: the weights start from ``torch.manual_seed(seed)`` and batch
``k`` is simulated from ``numpy.random.default_rng([seed, k])``, so a run resumed from
its last checkpoint continues exactly as if it had never stopped (with one thread).
Every setting of the optimiser and its schedule is a TrainParams field, stored in the
checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ....core.errors import CheckpointError
from ....core.params import SimulationParams, TrainParams
from ....core.version import __version__
from ....io import atomic_write
from ....simulation.simulate import simulate_arrays
from ..common import checkpoint as ckpt
from ..common.threads import torch_threads
from ..common.training import existing_run
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


def optimiser(model: TrackerTransformer, params: TrainParams) -> torch.optim.AdamW:
    return torch.optim.AdamW(model.parameters(), lr=params.learning_rate,
                             weight_decay=params.weight_decay)


def optimisation_step(model: TrackerTransformer, opt: torch.optim.Optimizer, batch: Batch,
                      lr: float, params: TrainParams
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One clipped AdamW step on ``batch`` at learning rate ``lr``: (loss, mse, ce)."""
    for g in opt.param_groups:
        g["lr"] = lr
    mse, ce = loss_terms(model, batch)
    loss = mse + params.pointer_weight * ce
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), params.grad_clip)
    opt.step()
    return loss, mse, ce


def learning_rate(params: TrainParams, step: int) -> float:
    """Linear warm-up, then cosine decay to ``lr_floor`` of the peak, over ``params.steps``."""
    total = params.steps
    warm = max(1, min(params.warmup_steps, int(total * params.warmup_fraction)))
    if step < warm:
        return params.learning_rate * (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    floor = params.lr_floor
    return params.learning_rate * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * frac)))


def _train_config_mismatch(state: dict[str, Any], params: TrainParams) -> list[str]:
    """Training settings that differ between a checkpoint and this run (save_every and
    threads excluded: they do not change the result; a setting the checkpoint predates
    counts as its default, the value hard-coded then)."""
    stored = train_params_of(state).to_dict()
    mine = params.to_dict()
    out = []
    for f in fields(TrainParams):
        if f.name in ("save_every", "threads"):
            continue
        if stored[f.name] != mine[f.name]:
            out.append(f"{f.name}: checkpoint {stored[f.name]!r}, now {mine[f.name]!r}")
    return out


ProgressHook = Callable[[int, int, float], None]


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
    with ``resume=True`` (same settings required), replaced with ``overwrite=True``, and
    otherwise refused.  ``log`` writes the loss curve as CSV; ``on_batch(done, total,
    loss)`` is called after every step.  A loss that is not finite stops the run with a
    CheckpointError.
    """
    params = (params or TrainParams()).replace(**overrides) if overrides else (
        params or TrainParams())
    if out is None:
        raise CheckpointError("train: no output path given")
    out = Path(out)
    cfg = model_config(params)
    state = existing_run(out, resume, overwrite, lambda st: _train_config_mismatch(st, params))
    total = params.steps
    with torch_threads(params.threads):
        torch.manual_seed(params.seed)
        model = TrackerTransformer(cfg)
        opt = optimiser(model, params)
        losses: list[list[float]] = []
        done, elapsed = 0, 0.0
        if state is not None:
            model, _ = build(state, str(out))
            opt = optimiser(model, params)
            if "optimizer" in state:
                opt.load_state_dict(state["optimizer"])
            prog = state.get("progress") or {}
            done = int(prog.get("batches_done", 0))
            elapsed = float(prog.get("elapsed_s", 0.0))
            losses = [list(r) for r in prog.get("loss", [])]
        batches = source if source is not None else batch_source(params)
        model.train()
        label = name or out.stem

        def payload(finished: bool) -> dict[str, Any]:
            return {
                "name": label, "model": cfg.to_dict(), "train": params.to_dict(),
                "package_version": __version__,
                "progress": {"batches_done": done, "elapsed_s": round(elapsed, 3),
                             "finished": finished, "loss": losses,
                             "loss_columns": ["batch", "loss", "mse", "ce", "lr"]},
                "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
            }

        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=done, desc=f"train {label}", unit="batch",
                       dynamic_ncols=True)
        consistent = True          # weights, optimiser and counters describe `done` steps
        try:
            while done < total:
                t0 = time.perf_counter()
                lr = learning_rate(params, done)
                batch = batches(done)
                consistent = False
                loss, mse, ce = optimisation_step(model, opt, batch, lr, params)
                value = float(loss.item())
                if not math.isfinite(value):
                    raise CheckpointError(f"training {label}: the loss became {value} at step "
                                          f"{done + 1}")
                done += 1
                elapsed += time.perf_counter() - t0
                losses.append([done, round(value, 6), round(mse.item(), 6),
                               round(ce.item(), 6), lr])
                consistent = True
                if done % params.save_every == 0 and done < total:
                    ckpt.save(out, payload(False))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}", ce=f"{ce.item():.3f}")
                if on_batch is not None:
                    on_batch(done, total, value)
        except KeyboardInterrupt:
            if consistent and done < total:
                ckpt.save(out, payload(False))     # resume from exactly here
            raise
        finally:
            if bar is not None:
                bar.close()
        model.eval()
        ckpt.save(out, payload(True))
    if log is not None:
        write_loss_log(log, losses)
    return out


def write_loss_log(path: str | Path, losses: list[list[float]]) -> None:
    """The loss curve as CSV: batch, loss, mse, ce, lr."""
    with atomic_write(path) as fh:
        fh.write("batch,loss,mse,ce,lr\n")
        for row in losses:
            fh.write(",".join(f"{v:g}" for v in row) + "\n")
