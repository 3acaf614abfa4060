"""FLOPs of the association transformer, counted by fvcore.

Every operation of the model is per token (its ``W K`` neighbour slots are a dense,
padded table), so the count is exactly ``tokens x`` the count of one token.  fvcore
traces the model once on a synthetic group of :data:`PROBE_TOKENS` tokens (values do not
change the count) and the per-token figure is cached per architecture.  Attention is
explicit ``matmul``, so fvcore counts it; the neighbour gathers, softmax and norms are
not matrix products and count 0 (fvcore's convention, as for the encoder-decoder).
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from ....core.results import FlopCount
from ..common.tracing import TRACE_LOCK, fvcore_macs
from .model import AssociationTransformer

PROBE_TOKENS = 64
_PER_TOKEN: dict[tuple[Any, ...], tuple[int, dict[str, int]]] = {}


def _probe(model: AssociationTransformer) -> tuple[torch.Tensor, ...]:
    cfg = model.cfg
    m, s = PROBE_TOKENS, cfg.window * cfg.neighbours
    g = torch.Generator().manual_seed(0)
    return (torch.zeros(m, dtype=torch.long), torch.zeros(m, len(cfg.features)),
            torch.randint(0, m, (m, s), generator=g), torch.ones(m, s, dtype=torch.bool),
            torch.randn(m, s, cfg.rel_width, generator=g))


def per_token_macs(model: AssociationTransformer) -> tuple[int, dict[str, int]]:
    """fvcore multiply-adds of one token (total, by operator), cached per architecture."""
    key = tuple(sorted((k, str(v)) for k, v in model.cfg.to_dict().items()))
    if key not in _PER_TOKEN:
        with TRACE_LOCK:
            cpu = model if next(model.parameters()).device.type == "cpu" else copy.deepcopy(
                model).cpu()
            macs, by_op = fvcore_macs(cpu, _probe(cpu))
            _PER_TOKEN[key] = (macs // PROBE_TOKENS,
                               {k: v // PROBE_TOKENS for k, v in by_op.items()})
    return _PER_TOKEN[key]


def association_flops(model: AssociationTransformer, tokens: int) -> FlopCount:
    """FLOPs (multiply and add counted as two) of scoring ``tokens`` window tokens."""
    macs, by_op = per_token_macs(model)
    cfg = model.cfg
    ops = ", ".join(f"{k} {2 * v * tokens:,}" for k, v in sorted(by_op.items()))
    detail = (f"fvcore multiply-adds x 2, {2 * macs:,} per token x {tokens:,} tokens (every "
              f"detection once per window of {cfg.window} frames holding it; "
              f"{cfg.window * cfg.neighbours} neighbours, d={cfg.d_model}, {cfg.layers} "
              f"layers): {ops}; matrix products only (gathers, softmax, norms uncounted); "
              f"linking not counted")
    return FlopCount(2 * macs * tokens, "fvcore", detail)
