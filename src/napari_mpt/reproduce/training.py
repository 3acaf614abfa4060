"""Training the transformers a figure needs but the package does not ship.

Two protocols, both built on :mod:`napari_mpt.transformer.trainer`:

* ``epochs=None`` — the transformer package's own :func:`~napari_mpt.transformer.train`:
  every optimisation step draws a fresh batch of i experiments.  transformer_{T,i} of
  Figs. 3, 4 and 6 use it, with the settings the shipped checkpoints were trained with
  (read from ``transformer_150_30``), so a trained transformer_{16,30} differs from the
  shipped transformer_{150,30} only in T.  So do Fig. 2's transformers, read literally:
  "6 experiments, 1 per batch, 6 batches" is 6 steps on 6 fresh experiments.
* ``epochs=E`` — a fixed data set of ``batches`` batches of i experiments, visited E
  times: Fig. 2's extra curves (not in the paper), the other reading of "trained with 6
  experiments" (as many passes as one likes over the same 6 sequences).

Both are deterministic for a seed (one torch thread) and return the checkpoint as bytes.
"""

from __future__ import annotations

import functools
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..params import TrainParams
    from .checkpoints import ModelSpec

REFERENCE_CHECKPOINT = "transformer_150_30"
"""The shipped checkpoint whose training settings define the package's default protocol."""


FALLBACK_NOISE_RANGE = (0.0, 10.0)
"""sigma range of the training data when no reference checkpoint is shipped: Fig. 3's axis."""


@functools.cache
def reference_params() -> TrainParams:
    """Training settings of the shipped reference checkpoint; without one, TrainParams
    defaults with sigma drawn in :data:`FALLBACK_NOISE_RANGE`."""
    from ..params import TrainParams

    try:
        from ..transformer import checkpoint as ckpt

        path = ckpt.available_checkpoints().get(REFERENCE_CHECKPOINT)
        if path is not None:
            stored = ckpt.read(path).get("train") or {}
            names = set(TrainParams.defaults())
            return TrainParams.from_dict({k: v for k, v in stored.items() if k in names})
    except ImportError:  # pragma: no cover - the transformer package is a dependency
        pass
    return TrainParams(measurement_noise_range=FALLBACK_NOISE_RANGE)


def train_params(model: ModelSpec, seed: int) -> TrainParams:
    """TrainParams of ``model``: the reference protocol with the model's own settings."""
    p = reference_params().replace(
        frames=model.frames, experiments_per_batch=model.per_batch, seed=seed, threads=1,
        encoder_lookback=0 if model.encoder is None else min(model.encoder, model.frames))
    if model.batches is not None:
        p = p.replace(batches=model.batches)
    if model.sigma is not None:
        p = p.replace(measurement_noise=model.sigma, measurement_noise_range=())
    if model.decoder is not None:
        p = p.replace(decoder_lookback=model.decoder)
    return p.replace(save_every=max(p.batches, 1))


def protocol_tag(model: ModelSpec) -> str:
    """8 hex digits identifying every setting ``model`` is trained with."""
    import hashlib
    import json

    from .checkpoints import model_seed

    params = train_params(model, model_seed(model)).to_dict()
    text = json.dumps({"train": params, "epochs": model.epochs}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def train_model(model: ModelSpec, seed: int) -> dict[str, Any]:
    """Train ``model``; returns ``{"blob": checkpoint bytes, "seconds": training time}``."""
    import torch

    torch.set_num_threads(1)
    params = train_params(model, seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="napari-mpt-train-") as tmp:
        out = Path(tmp) / f"{model.name}.pt"
        if model.epochs is None:
            from ..transformer.trainer import train

            train(params, out, progress_bar=False, name=model.name)
        else:
            train_epochs(params, model.epochs, out, model.name)
        blob = out.read_bytes()
    return {"blob": blob, "seconds": time.perf_counter() - t0}


def train_epochs(params: TrainParams, epochs: int, out: Path, name: str) -> None:
    """``params.batches`` fixed batches, each visited ``epochs`` times (shuffled order),
    with the package's optimiser, loss, clipping and learning-rate schedule."""
    import numpy as np
    import torch

    from ..transformer import checkpoint as ckpt
    from ..transformer.model import TrackerTransformer
    from ..transformer.trainer import (
        learning_rate,
        model_config,
        optimisation_step,
        simulate_batch,
    )
    from ..version import __version__

    cfg = model_config(params)
    torch.manual_seed(params.seed)
    model = TrackerTransformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=0.01)
    data = [simulate_batch(params, k) for k in range(params.batches)]
    steps = params.batches * epochs
    schedule = params.replace(batches=steps)
    order_rng = np.random.default_rng([params.seed, 1_000_003])
    model.train()
    losses: list[list[float]] = []
    step = 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        for k in order_rng.permutation(params.batches):
            lr = learning_rate(schedule, step)
            loss, mse, ce = optimisation_step(model, opt, data[int(k)], lr, params.pointer_weight)
            step += 1
            value = float(loss.item())
            if not math.isfinite(value):
                from ..errors import CheckpointError

                raise CheckpointError(f"training {name}: the loss became {value} at step {step}")
            losses.append([step, round(value, 6), round(mse.item(), 6), round(ce.item(), 6), lr])
    model.eval()
    ckpt.save(out, {
        "name": name, "model": cfg.to_dict(), "train": params.to_dict(),
        "package_version": __version__,
        "progress": {"batches_done": params.batches, "elapsed_s": round(
            time.perf_counter() - t0, 3), "finished": True, "loss": losses,
            "loss_columns": ["batch", "loss", "mse", "ce", "lr"], "epochs": epochs,
            "steps": steps},
        "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
    })
