"""FLOPs of a whole inference (encoder windows + autoregressive decoding), three ways.

* :func:`count_flops` — fvcore (the paper's [14]) on a trace of :func:`.decode.decode`.
  The reported figure.  fvcore counts a multiply-add as one, so it is doubled; its
  layer-norm handle is switched off so that, like ``FlopCounterMode`` and the closed
  form, only matrix products count (softmax, norms, activations, the rotary and
  Fourier features are elementwise and left out, fvcore's convention).  Attention is
  written as explicit ``matmul`` so fvcore sees it; with ``scaled_dot_product_attention``
  or PyTorch's fused transformer path it would count 0 for it.
* :func:`torch_counter_flops` — ``torch.utils.flop_counter.FlopCounterMode``.
* :func:`closed_form_flops` — the formula below, from the sizes alone.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from ....core.results import FlopCount
from ..common.tracing import TRACE_LOCK, fvcore_macs
from .config import ModelConfig
from .decode import DecodeGraph, PrepareGraph, StepGraph, decode
from .model import MAX_LAG, TrackerTransformer, encoder_windows

_CACHE: dict[tuple[Any, ...], FlopCount] = {}


def _example(cfg: ModelConfig, frames: int, batch: int, particles: int | None = None
             ) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    n = cfg.particles if particles is None else particles
    return torch.randn(batch, frames, n, cfg.ndim, generator=g)


def _cpu(model: TrackerTransformer) -> TrackerTransformer:
    if next(model.parameters()).device.type == "cpu":
        return model
    return copy.deepcopy(model).cpu()


def count_flops(model: TrackerTransformer, frames: int, batch: int = 1,
                whole: bool = False, particles: int | None = None) -> FlopCount:
    """fvcore FLOPs (multiply and add counted as two) of tracking ``batch`` sequences of
    ``frames`` frames; cached per architecture and length (the count depends on neither
    the weights nor the data).

    By default fvcore counts the per-sequence part (encoder windows, cross keys/values)
    and one decoding step, times ``frames`` (every step multiplies matrices of the same
    shapes); ``whole=True`` traces the entire unrolled decoding instead (same number,
    slower: about 3 s at T = 150).  ``particles``: N of the data (default: the N the
    checkpoint was trained on; a checkpoint runs on any N).
    """
    cfg = model.cfg
    n = cfg.particles if particles is None else particles
    key = (tuple(sorted((k, str(v)) for k, v in cfg.to_dict().items())), frames, batch, whole, n)
    if key in _CACHE:
        return _CACHE[key]
    with TRACE_LOCK:      # torch.jit.trace is not thread-safe (see TRACE_LOCK)
        if key not in _CACHE:
            _CACHE[key] = _count(model, cfg, frames, batch, whole, n)
    return _CACHE[key]


def _count(model: TrackerTransformer, cfg: ModelConfig, frames: int, batch: int,
           whole: bool, n: int) -> FlopCount:
    cpu = _cpu(model)
    z = _example(cfg, frames, batch, n)
    if whole:
        macs, by_op = fvcore_macs(DecodeGraph(cpu), (z,))
        how = "whole decoding traced"
    else:
        prep, by_prep = fvcore_macs(PrepareGraph(cpu), (z,))
        step, by_step = fvcore_macs(StepGraph(cpu, z), (z[:, 0],))
        macs = prep + frames * step
        by_op = {k: by_prep.get(k, 0) + frames * by_step.get(k, 0)
                 for k in set(by_prep) | set(by_step)}
        how = "encoder + T x one decoding step"
    ops = ", ".join(f"{k} {2 * v:,}" for k, v in sorted(by_op.items()))
    detail = (f"fvcore multiply-adds x 2 ({how}) for T={frames}, N={n}, "
              f"K_E={cfg.encoder_lookback}, K_D={cfg.decoder_lookback}, d={cfg.d_model}: "
              f"{ops}; matrix products only (norms, softmax, activations uncounted)")
    return FlopCount(2 * macs, "fvcore", detail)


def torch_counter_flops(model: TrackerTransformer, frames: int, batch: int = 1) -> int:
    """The same inference counted by ``torch.utils.flop_counter.FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _cpu(model)
    z = _example(model.cfg, frames, batch)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        decode(model, z)
    return int(counter.get_total_flops())


def closed_form_flops(cfg: ModelConfig, frames: int, batch: int = 1,
                      particles: int | None = None) -> int:
    """2 x the multiply-adds of every matrix product of one inference, from the sizes.

    Encoder, per window of ``S = K N`` tokens and per layer: projections ``4 S d^2``,
    scores ``H S^2 (d_h + D + 2)`` (the distance bias rides in the product as ``D + 2``
    extra columns), weighted values ``H S^2 d_h``, feed-forward ``2 S d f``.  Decoder, per
    step (N tokens) and layer: projections ``6 N d^2`` (self q/k/v/out, cross q/out),
    self-attention over the ``K_D N`` cached tokens, cross-attention over ``S`` memory
    tokens, feed-forward; plus the cross keys/values ``2 S d^2`` per window and layer.
    """
    n = cfg.particles if particles is None else particles
    dim, d, h = cfg.ndim, cfg.d_model, cfg.heads
    hd, ff, nf = cfg.head_dim, cfg.ff, cfg.n_features
    ka = hd + dim + 2
    starts, _, kw = encoder_windows(frames, cfg.encoder_lookback)
    w, s = len(starts), kw * n
    enc = s * nf * d + cfg.encoder_layers * (
        4 * s * d * d + h * s * s * ka + h * s * s * hd + 2 * s * d * ff)
    cross_kv = cfg.decoder_layers * 2 * s * d * d + s * d * d       # + readout keys
    m = cfg.decoder_lookback * n
    readout = n * d * d + n * d * (MAX_LAG + 1) + n * s * (d + dim + 2) + n * s * dim
    step = n * nf * d + n * d * dim + readout + cfg.decoder_layers * (
        6 * n * d * d + h * n * m * (ka + hd) + h * n * s * (ka + hd) + 2 * n * d * ff)
    return 2 * batch * (w * (enc + cross_kv) + frames * step)
