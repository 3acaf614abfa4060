"""How detections, estimates and time become numbers the network reads.

* Space: coordinates are made relative to a per-sequence reference (the centroid of the
  first frame's detections) and divided by ``coord_scale`` px; a token is this vector
  plus sin/cos of it at fixed wavelengths (Fourier features), so a linear layer can
  express "near x" as well as "at x".
* Time: rotary embeddings (RoPE) on part of every query and key.  A score then depends
  only on the frame *difference*, so a model runs unchanged on sequences of any length
  and on sliding windows, and nothing depends on the absolute frame number.
* Distance: every attention adds ``-gamma_h * |p_query - p_key|^2`` (a learned width per
  head) to its logits, an explicit "look near where I am" bias that makes the model
  learn data association from few sequences.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .config import ModelConfig


def reference_points(coords: np.ndarray) -> np.ndarray:
    """Per-sequence origin: centroid of frame 0's detections. ``coords`` (B, T, N, D)."""
    return coords[:, 0].mean(axis=1)


def normalise(coords: np.ndarray, ref: np.ndarray, scale: float) -> np.ndarray:
    """``(coords - ref) / scale`` with ``ref`` (B, D) broadcast over frames and slots."""
    return (coords - ref[:, None, None, :]) / scale


def feature_freqs(cfg: ModelConfig) -> torch.Tensor:
    """Angular frequencies (per normalised unit) of the Fourier features."""
    return torch.tensor([2.0 * math.pi * cfg.coord_scale / w for w in cfg.wavelengths],
                        dtype=torch.float32)


def features(u: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """``(..., D)`` normalised positions -> ``(..., D * (1 + 2 M))`` input features."""
    ang = u.unsqueeze(-1) * freqs
    return torch.cat([u, ang.sin().flatten(-2), ang.cos().flatten(-2)], dim=-1)


def rotary_tables(times: torch.Tensor, cfg: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """``cos``/``sin`` tables ``(L, head_dim)`` for frame numbers ``times`` (L,).

    The first ``2 P`` dimensions of a head rotate in pairs ``(i, i + P)`` at the period's
    angular speed; the others pass through (cos 1, sin 0).  The sign of rotate-half is
    folded into ``sin`` so that ``rot(x) = x * cos + x[..., perm] * sin``.
    """
    hd, p = cfg.head_dim, len(cfg.time_periods)
    omega = torch.tensor([2.0 * math.pi / per for per in cfg.time_periods], dtype=torch.float64)
    ang = times.to(torch.float64)[:, None] * omega[None, :]
    cos = torch.ones(len(times), hd, dtype=torch.float64)
    sin = torch.zeros(len(times), hd, dtype=torch.float64)
    if p:
        cos[:, :p] = ang.cos()
        cos[:, p:2 * p] = ang.cos()
        sin[:, :p] = -ang.sin()
        sin[:, p:2 * p] = ang.sin()
    return cos.float(), sin.float()


def rotary_perm(cfg: ModelConfig) -> torch.Tensor:
    """Index that swaps the two halves of the rotated part of a head."""
    hd, p = cfg.head_dim, len(cfg.time_periods)
    idx = list(range(hd))
    idx[:p], idx[p:2 * p] = list(range(p, 2 * p)), list(range(p))
    return torch.tensor(idx, dtype=torch.long)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, perm: torch.Tensor
           ) -> torch.Tensor:
    """Apply RoPE to ``x`` (..., L, head_dim) with tables broadcastable to it."""
    return x * cos + x.index_select(-1, perm) * sin

