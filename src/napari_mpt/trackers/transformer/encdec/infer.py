"""From detections to tracks with a trained encoder-decoder, on the CPU or a GPU.

Each output slot is a track of estimated positions; in every frame the estimates are
assigned to that frame's detections by a Hungarian assignment on Euclidean distance, so
each vertex also names the detection it sits on.  Many sequences are decoded together
in batches; every sequence is computed independently, so the tracks do not depend on
the batch size.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ....core.data import Detections, FrameStack, Tracks, stack_frames
from ....core.errors import InputError
from ....core.params import TransformerParams
from ....core.results import RunControl, TrackingResult
from ..common.checkpoint import ASSOCIATION_CHECKPOINT
from ..common.threads import torch_threads
from .checkpoint import check_fits
from .decode import decode
from .encoding import normalise, reference_points
from .model import TrackerTransformer


def assign(est: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Per-frame Hungarian: column of the detection each slot takes, ``(B, T, N)``.

    ``est`` and ``coords`` are ``(B, T, N, D)``.  Up to N = 6 every permutation is scored
    at once (vectorised, exact); beyond, scipy's solver runs frame by frame.
    """
    b, t, n, _ = est.shape
    cost = np.sqrt(((est[:, :, :, None, :] - coords[:, :, None, :, :]) ** 2).sum(-1))
    if n <= 6:
        perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)  # (P, N)
        rows = np.arange(n)
        total = cost[:, :, rows[None, :], perms].sum(-1)                    # (B, T, P)
        return perms[np.argmin(total, axis=-1)]
    out = np.empty((b, t, n), dtype=np.int64)
    for i in range(b):
        for f in range(t):
            r, c = linear_sum_assignment(cost[i, f])
            out[i, f, r] = c
    return out


def _groups(stacks: Sequence[FrameStack] | np.ndarray
            ) -> tuple[list[FrameStack], dict[tuple[int, ...], list[int]]]:
    """FrameStacks (an array (B, T, N, D) becomes FrameStacks with frames 0..T-1 and
    detection ids ``t * N + j``) and their indices grouped by (T, N, D)."""
    if isinstance(stacks, np.ndarray):
        arr = np.asarray(stacks, dtype=np.float64)
        if arr.ndim != 4:
            raise InputError("sequences", f"expected an array (B, T, N, D), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InputError("sequences", "NaN or infinite coordinates")
        b, t, n, _ = arr.shape
        stacks = [FrameStack(np.arange(t), arr[i], np.arange(t * n).reshape(t, n))
                  for i in range(b)]
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, s in enumerate(stacks):
        groups.setdefault(tuple(s.coords.shape), []).append(i)
    return list(stacks), groups


def estimate(model: TrackerTransformer, coords: np.ndarray, batch_size: int,
             control: RunControl | None = None, source: str = "checkpoint") -> np.ndarray:
    """Estimated positions ``(B, T, N, D)`` in px for detections ``coords`` (B, T, N, D).

    On the CPU with one torch thread (see :mod:`..common.threads`)."""
    cfg = model.cfg
    check_fits(cfg, coords.shape[2], coords.shape[3], source)
    dev = next(model.parameters()).device
    total_b, t = coords.shape[0], coords.shape[1]
    ref = reference_points(coords)
    zn = normalise(coords, ref, cfg.coord_scale)
    out = np.empty_like(coords)
    steps_total = t * ((total_b + batch_size - 1) // batch_size)
    threads = 1 if dev.type == "cpu" else torch.get_num_threads()
    with torch.inference_mode(), torch_threads(threads):
        for k, start in enumerate(range(0, total_b, batch_size)):
            z = torch.as_tensor(zn[start:start + batch_size], dtype=torch.float32, device=dev)
            hook = None
            if control is not None:
                def hook(done: int, _t: int, base: int = k * t) -> None:
                    control.step(base + done, steps_total)
            est = decode(model, z, hook)
            out[start:start + batch_size] = est.double().cpu().numpy()
    return out * cfg.coord_scale + ref[:, None, None, :]


def _tracks(stack: FrameStack, est: np.ndarray, cols: np.ndarray) -> Tracks:
    det = np.take_along_axis(stack.index, cols, axis=1)
    return Tracks.from_assignment(stack.frames, det, est)


def track_batch(model: TrackerTransformer, stacks: Sequence[FrameStack] | np.ndarray,
                batch_size: int, control: RunControl | None = None,
                source: str = "checkpoint") -> list[Tracks]:
    """Tracks of many sequences, decoded ``batch_size`` at a time (see
    :func:`~napari_mpt.trackers.transformer.track_transformer_batch`)."""
    stacks, groups = _groups(stacks)
    out: list[Tracks | None] = [None] * len(stacks)
    for idx in groups.values():
        arr = np.stack([stacks[i].coords for i in idx])
        est = estimate(model, arr, batch_size, control, source)
        cols = assign(est, arr)
        for j, i in enumerate(idx):
            out[i] = _tracks(stacks[i], est[j], cols[j])
    return out  # type: ignore[return-value]


def fixed_count_stack(detections: Detections, checkpoint: str) -> FrameStack:
    """The detections as a FrameStack for the encoder-decoder (one slot per detection of
    frame 0, the same count in every frame); an InputError that names the model that
    takes any count (the association checkpoint) when the counts differ or frames are
    empty."""
    try:
        return stack_frames(detections)
    except InputError as exc:
        if "needs the same number" not in exc.problem and "have no detections" not in exc.problem:
            raise
        raise InputError(exc.source, f"{exc.problem}. The encoder-decoder checkpoint "
                         f"{Path(checkpoint).stem!r} needs a fixed count; the association "
                         f"model takes any number per frame and empty frames: --checkpoint "
                         f"{ASSOCIATION_CHECKPOINT}", row=exc.row, line=exc.line) from None


def track_encoder_decoder(detections: Detections, params: TransformerParams,
                          model: TrackerTransformer, config: dict[str, Any], device: str,
                          note: str | None, control: RunControl | None = None
                          ) -> TrackingResult:
    """Track one sequence (any fixed number of detections per frame, slots = frame 0's
    detections) with a loaded encoder-decoder."""
    from .flops import count_flops

    stack = fixed_count_stack(detections, params.checkpoint)
    check_fits(model.cfg, stack.n, stack.coords.shape[2], config["path"])
    t0 = time.perf_counter()
    est = estimate(model, stack.coords[None], 1, control)
    cols = assign(est, stack.coords[None])
    tracks = _tracks(stack, est[0], cols[0])
    wall = time.perf_counter() - t0
    flops = count_flops(model, len(stack.frames), particles=stack.n)
    info: dict[str, Any] = {
        "checkpoint": params.checkpoint, "checkpoint_path": config["path"],
        "encoder_lookback": model.cfg.encoder_lookback,
        "decoder_lookback": model.cfg.decoder_lookback,
        "trained_frames": (config.get("train") or {}).get("frames"),
    }
    if note:
        info["device_note"] = note
    if control is not None:
        control.step(len(stack.frames), len(stack.frames))
    return TrackingResult(tracks=tracks, method="transformer", label=params.label(),
                          params=params.to_dict(), wall_s=wall, flops=flops, device=device,
                          info=info)
