"""Detections to tracks with a checkpoint of either kind: load it, then hand the data to
its model (the encoder-decoder's or the association transformer's inference)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from ...core.data import Detections, FrameStack, Tracks
from ...core.errors import CheckpointError
from ...core.params import TransformerParams
from ...core.results import RunControl, TrackingResult
from .common.checkpoint import ASSOCIATION
from .common.devices import resolve_device
from .encdec.infer import track_batch, track_encoder_decoder
from .loading import cached_model


def track_transformer(detections: Detections, params: TransformerParams | None = None,
                      control: RunControl | None = None) -> TrackingResult:
    """Track one sequence with a checkpoint: the paper's encoder-decoder (any fixed number
    of detections per frame, slots = frame 0's detections) or, when the checkpoint's kind
    is ``association``, the association transformer (any number per frame)."""
    params = params or TransformerParams()
    device, note = resolve_device(params.device)
    model, config = cached_model(params.checkpoint, device)
    if config.get("kind") == ASSOCIATION:
        from .association.infer import track_association
        from .association.model import AssociationTransformer

        # cached_model is typed for the encoder-decoder (what reproduce reads); the kind
        # recorded in the checkpoint says which class load_checkpoint built
        assoc = cast(AssociationTransformer, model)
        return track_association(detections, params, assoc, config, device, note, control)
    return track_encoder_decoder(detections, params, model, config, device, note, control)


def track_transformer_batch(stacks: Sequence[FrameStack] | np.ndarray,
                            params: TransformerParams | None = None,
                            control: RunControl | None = None) -> list[Tracks]:
    """Tracks of many sequences, decoded ``params.batch_size`` at a time (an
    encoder-decoder checkpoint).

    ``stacks``: FrameStacks (sequences of different lengths are batched by length), or an
    array (B, T, N, D) of detections (then frame numbers are 0..T-1 and detection ids are
    ``t * N + j``).  The result is in the order of ``stacks`` and does not depend on the
    batch size.
    """
    params = params or TransformerParams()
    device, _ = resolve_device(params.device)
    model, config = cached_model(params.checkpoint, device)
    if config.get("kind") == ASSOCIATION:
        raise CheckpointError(f"{config['path']}: an association checkpoint tracks one "
                              "sequence at a time (track_transformer), not fixed-N batches")
    return track_batch(model, stacks, params.batch_size, control, config["path"])
