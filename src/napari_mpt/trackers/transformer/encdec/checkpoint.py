"""What an encoder-decoder checkpoint holds: its model, the TrainParams it was trained
with, the data its weights fit (the file format itself is :mod:`..common.checkpoint`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ....core.errors import CheckpointError
from ....core.params import TrainParams
from ..common.checkpoint import read, resolve
from .config import ModelConfig
from .model import TrackerTransformer


def build(data: dict[str, Any], source: str) -> tuple[TrackerTransformer, ModelConfig]:
    """The model a checkpoint dict describes, with its weights loaded."""
    cfg = ModelConfig.from_checkpoint(data["model"], source)
    model = TrackerTransformer(cfg)
    state = data["state_dict"]
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state)
                   if not isinstance(state[k], torch.Tensor) or state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing weights {', '.join(missing[:4])}")
        if unexpected:
            parts.append(f"unexpected weights {', '.join(unexpected[:4])}")
        if wrong:
            k = wrong[0]
            got = tuple(state[k].shape) if isinstance(state[k], torch.Tensor) else type(state[k])
            parts.append(f"weight {k} has shape {got}, the configuration needs "
                         f"{tuple(expected[k].shape)}")
        raise CheckpointError(f"{source}: weights do not fit the stored configuration: "
                              + "; ".join(parts))
    model.load_state_dict(state)
    model.eval()
    return model, cfg


def check_fits(cfg: ModelConfig, n: int, ndim: int, source: str) -> None:
    """CheckpointError unless the data has the model's dimensionality.

    Any fixed number of particles is accepted: the weights hold one query per slot, shared
    by all slots (slots are frame 0's detections), so nothing in them depends on N.  The
    ``particles`` a checkpoint records is the N it was trained on, not a limit.
    """
    if n < 1:
        raise CheckpointError(f"{source}: the data has no detections in its first frame")
    if ndim != cfg.ndim:
        raise CheckpointError(f"{source}: the model was built for {cfg.ndim}D coordinates but "
                              f"the data is {ndim}D")


def train_params_of(checkpoint: dict[str, Any] | str | Path) -> TrainParams:
    """The TrainParams a checkpoint (a shipped name, a path, or a dict from :func:`read`)
    was trained with.

    A setting its ``train`` record lacks (written before the setting existed) takes its
    default, which is the value that was hard-coded then; a setting this version does
    not know (written by a newer one) is left out.
    """
    data = checkpoint if isinstance(checkpoint, dict) else read(resolve(checkpoint))
    stored = data.get("train") or {}
    names = set(TrainParams.defaults())
    return TrainParams.from_dict({k: v for k, v in stored.items() if k in names})
