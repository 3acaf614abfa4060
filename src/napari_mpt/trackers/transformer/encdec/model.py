"""The encoder-decoder transformer of the paper's Fig. 1, written with explicit matmuls.

The encoder reads the detections of ``K_E`` frames (one token per detection: Fourier
features of its coordinates; its frame enters through rotary time).  The decoder has one
query per output slot and step; step ``t`` reads the previous ``K_D`` outputs of every
slot (self-attention) and the encoder memory (cross-attention) and predicts the slot's
state at frame ``t``: a readout attention weighs the encoder's detections (near in time and
space) and the estimate is their weighted mean plus a learned correction.  A pointer head
scores the detections of frame ``t`` for the slot (a training signal only).

Attention is ``softmax(q k^T / sqrt(d_h) - gamma_h |p_q - p_k|^2 + bias) v`` with plain
matmuls, never ``scaled_dot_product_attention``, so fvcore counts its FLOPs.  This module
holds the weights and the parallel (teacher-forced) pass used in training; the step-wise
pass with caches is :mod:`.decode`, built from the same pieces.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..common.layers import Stack
from .config import ModelConfig
from .encoding import feature_freqs, features, rotary_perm, rotary_tables, rotate

ATTENTION_CHUNK = 1_500_000
"""Encoder windows are run in groups whose attention scores hold about this many floats."""

MAX_LAG = 32
"""The readout's learned time bias has one value per frame lag 0..MAX_LAG (shared beyond)."""


def lag_index(steps: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Frame lags ``|step - frame|`` (L, S), capped at MAX_LAG: indices into ``read_lag``."""
    return (steps[:, None] - frames[None, :]).abs().clamp(max=MAX_LAG)


def compete(scores: torch.Tensor, slot_dim: int) -> torch.Tensor:
    """Slots compete for detections: add each slot's log-share of a detection (softmax
    over the slots) to its score, so a detection another slot claims strongly is
    discounted (one Sinkhorn-like step; keeps two slots from following one particle)."""
    return scores + scores.log_softmax(slot_dim)


def _inv_softplus(y: float) -> float:
    return math.log(math.expm1(y))


def encoder_windows(frames: int, lookback: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Sliding encoder windows over ``frames``: their starts, the window each frame is
    decoded with (the one where it sits most centrally) and the window length.

    ``T <= K_E``: one window, the whole sequence.  Otherwise windows of ``K_E`` frames
    every ``ceil(K_E / 2)`` frames (each frame is read by about two windows, so the
    encoder's cost grows linearly with K_E), the last one ending on the last frame.
    """
    if frames <= lookback:
        return np.zeros(1, dtype=np.int64), np.zeros(frames, dtype=np.int64), frames
    stride = (lookback + 1) // 2
    starts = list(range(0, frames - lookback + 1, stride))
    if starts[-1] != frames - lookback:
        starts.append(frames - lookback)
    s = np.asarray(starts, dtype=np.int64)
    t = np.arange(frames)[:, None]
    margin = np.minimum(t - s[None, :], s[None, :] + lookback - 1 - t)   # <0: outside
    return s, np.argmax(margin, axis=1).astype(np.int64), lookback


class Attention(nn.Module):
    """Projections of one attention block and its per-head distance widths."""

    def __init__(self, cfg: ModelConfig, gamma0: tuple[float, float] = (0.05, 4.0)):
        super().__init__()
        d, h = cfg.d_model, cfg.heads
        self.heads, self.head_dim = h, cfg.head_dim
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)
        g = np.geomspace(gamma0[1], gamma0[0], h) if h > 1 else np.array([1.0])
        self.gamma_raw = nn.Parameter(torch.tensor([_inv_softplus(float(x)) for x in g]))

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d) -> (B, H, L, hd)."""
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.kv(x).chunk(2, dim=-1)
        return self.split(k), self.split(v)

    def gamma(self) -> torch.Tensor:
        return F.softplus(self.gamma_raw)[:, None, None]

    def merge(self, a: torch.Tensor) -> torch.Tensor:
        """(B, H, L, hd) -> output projection of (B, L, d)."""
        b, _, n, _ = a.shape
        return self.out(a.transpose(1, 2).reshape(b, n, -1))


def aug_query(q: torch.Tensor, pos: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """``[q / sqrt(hd), 2 g p, -g |p|^2, -g]`` per head: dotted with :func:`aug_key` it
    gives ``q k / sqrt(hd) - g |p - p_k|^2``, the distance bias inside the one matmul."""
    b, h, n, hd = q.shape
    p = pos.unsqueeze(1)
    pp = (pos * pos).sum(-1, keepdim=True).unsqueeze(1)
    return torch.cat([q * hd ** -0.5, (2.0 * gamma) * p, -gamma * pp,
                      (-gamma).expand(b, h, n, 1)], dim=-1)


def aug_key(k: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """``[k, p, 1, |p|^2]`` per head, the partner of :func:`aug_query`."""
    b, h, n, _ = k.shape
    p = pos.unsqueeze(1).expand(b, h, n, pos.shape[-1])
    pp = (pos * pos).sum(-1, keepdim=True).unsqueeze(1).expand(b, h, n, 1)
    return torch.cat([k, p, torch.ones_like(pp), pp], dim=-1)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None
           ) -> torch.Tensor:
    """``softmax(q k^T + bias) v`` with augmented ``q``/``k`` (distance bias included)."""
    s = torch.matmul(q, k.transpose(-1, -2))
    if bias is not None:
        s = s + bias
    return torch.matmul(s.softmax(-1), v)


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.up = nn.Linear(cfg.d_model, cfg.ff)
        self.down = nn.Linear(cfg.ff, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.relu(self.up(x)))


class EncoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.ffn = FeedForward(cfg)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                perm: torch.Tensor) -> torch.Tensor:
        a = self.attn
        h = self.norm1(x)
        q = aug_query(rotate(a.split(a.q(h)), cos, sin, perm), pos, a.gamma())
        k, v = a.keys_values(h)
        k = aug_key(rotate(k, cos, sin, perm), pos)
        x = x + a.merge(attend(q, k, v, None))
        return x + self.ffn(self.norm2(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.self_attn = Attention(cfg)
        self.same_slot = nn.Parameter(torch.zeros(cfg.heads))   # logit bonus for own history
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.cross_attn = Attention(cfg)
        self.norm3 = nn.LayerNorm(cfg.d_model)
        self.ffn = FeedForward(cfg)


class TrackerTransformer(nn.Module):
    """Weights plus the teacher-forced pass; see the module docstring."""

    freqs: torch.Tensor     # buffers, declared for the type checker
    perm: torch.Tensor

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.register_buffer("freqs", feature_freqs(cfg), persistent=False)
        self.register_buffer("perm", rotary_perm(cfg), persistent=False)
        self.enc_in = nn.Linear(cfg.n_features, d)
        self.dec_in = nn.Linear(cfg.n_features, d)
        self.anchor = nn.Parameter(torch.zeros(d))
        self.encoder = Stack(EncoderLayer(cfg) for _ in range(cfg.encoder_layers))
        self.enc_norm = nn.LayerNorm(d)
        self.decoder = Stack(DecoderLayer(cfg) for _ in range(cfg.decoder_layers))
        self.dec_norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.ndim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.ptr_q = nn.Linear(d, d)
        self.ptr_k = nn.Linear(d, d)
        self.ptr_gamma_raw = nn.Parameter(torch.tensor(_inv_softplus(1.0)))
        self.read_q = nn.Linear(d, d)
        self.read_k = nn.Linear(d, d)
        self.read_gamma_raw = nn.Parameter(torch.tensor(_inv_softplus(1.0)))
        self.read_lag = nn.Linear(d, MAX_LAG + 1)      # query-dependent time kernel
        nn.init.zeros_(self.read_lag.weight)
        with torch.no_grad():
            self.read_lag.bias.copy_(-0.3 * torch.arange(MAX_LAG + 1, dtype=torch.float32))

    # -- encoder -----------------------------------------------------------------------
    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Memory ``(B, K*N, d)`` of windows ``z`` (B, K, N, D) (normalised coordinates).

        Tokens are frame-major (token ``k*N + j`` is detection ``j`` of the k-th frame);
        times are window-local, which is exact because only time differences matter.
        """
        b, kw, n, dim = z.shape
        pos = z.reshape(b, kw * n, dim)
        cos, sin = rotary_tables(torch.arange(kw).repeat_interleave(n), self.cfg)
        cos, sin = cos.to(z.device), sin.to(z.device)
        x = self.enc_in(features(pos, self.freqs))
        for layer in self.encoder:
            x = layer(x, pos, cos, sin, self.perm)
        return self.enc_norm(x)

    def window_memory(self, z: torch.Tensor) -> tuple[torch.Tensor, np.ndarray, np.ndarray, int]:
        """Encode every sliding window of ``z`` (B, T, N, D): memory (B, W, K*N, d)."""
        b, t, n, dim = z.shape
        starts, which, kw = encoder_windows(t, self.cfg.encoder_lookback)
        idx = torch.as_tensor(starts[:, None] + np.arange(kw)[None, :], device=z.device)
        zw = z[:, idx].reshape(b * len(starts), kw, n, dim)        # (B*W, K, N, D)
        # a few windows at a time: their attention matrices stay in cache (2x faster)
        chunk = max(1, ATTENTION_CHUNK // (self.cfg.heads * (kw * n) ** 2))
        mem = torch.cat([self.encode(zw[i:i + chunk]) for i in range(0, len(zw), chunk)])
        return mem.reshape(b, len(starts), kw * n, -1), starts, which, kw

    # -- teacher-forced decoder (training) ---------------------------------------------
    def forward(self, z: torch.Tensor, inputs: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel decoder pass.

        ``z`` (B, T, N, D): normalised detections (slot p's anchor is ``z[:, 0, p]``);
        ``inputs`` (B, T, N, D): what step t reads as the slot's previous state (the
        anchor at t = 0).  Returns the estimates (B, T, N, D) and pointer logits
        (B, T, N, N) over the detections of each frame.
        """
        cfg = self.cfg
        b, t, n, dim = z.shape
        dev = z.device
        mem, starts, which, kw = self.window_memory(z)
        w = len(starts)
        s_len = kw * n
        # decoder tokens, step-major: token t*N + p
        l_len = t * n
        pos = inputs.reshape(b, l_len, dim)
        x = self.dec_in(features(pos, self.freqs))
        first = torch.zeros(l_len, 1, device=dev)
        first[:n] = 1.0
        x = x + first * self.anchor
        step = torch.arange(t, device=dev).repeat_interleave(n)
        slot = torch.arange(n, device=dev).repeat(t)
        cos_q, sin_q = (a.to(dev) for a in rotary_tables(step.cpu(), cfg))
        # self-attention: keys s with t - K_D < s <= t; a per-head bonus for the own slot
        lag = step[:, None] - step[None, :]
        allowed = (lag >= 0) & (lag < cfg.decoder_lookback)
        window_bias = torch.zeros(l_len, l_len, device=dev).masked_fill(~allowed, float("-inf"))
        same = (slot[:, None] == slot[None, :]).float()
        # cross-attention: query at step t sees only the memory of its window which[t]
        mem_flat = mem.reshape(b, w * s_len, -1)
        frame_of_key = torch.as_tensor(
            (starts[:, None] + np.arange(kw).repeat(n)[None, :]).reshape(-1), device=dev)
        win_of_key = torch.arange(w, device=dev).repeat_interleave(s_len)
        which_t = torch.as_tensor(which, device=dev)[step]
        cross_bias = torch.zeros(l_len, w * s_len, device=dev).masked_fill(
            which_t[:, None] != win_of_key[None, :], float("-inf"))
        cos_k, sin_k = (a.to(dev) for a in rotary_tables(frame_of_key.cpu(), cfg))
        zw = z[:, torch.as_tensor(starts[:, None] + np.arange(kw)[None, :], device=dev)]
        mem_pos = zw.reshape(b, w * s_len, dim)
        for layer in self.decoder:
            a = layer.self_attn
            h = layer.norm1(x)
            q = aug_query(rotate(a.split(a.q(h)), cos_q, sin_q, self.perm), pos, a.gamma())
            k, v = a.keys_values(h)
            k = aug_key(rotate(k, cos_q, sin_q, self.perm), pos)
            bias = window_bias + layer.same_slot[:, None, None] * same
            x = x + a.merge(attend(q, k, v, bias))
            c = layer.cross_attn
            h = layer.norm2(x)
            q = aug_query(rotate(c.split(c.q(h)), cos_q, sin_q, self.perm), pos, c.gamma())
            k, v = c.keys_values(mem_flat)
            k = aug_key(rotate(k, cos_k, sin_k, self.perm), mem_pos)
            x = x + c.merge(attend(q, k, v, cross_bias))
            x = x + layer.ffn(layer.norm3(x))
        h = self.dec_norm(x)
        # readout: a weighted mean of the detections near in time and space, plus a
        # learned correction
        rq = self.readout_query(h, pos)
        rk = self.readout_keys(mem_flat, mem_pos)
        lags = lag_index(step, frame_of_key).expand(b, -1, -1)
        scores = torch.matmul(rq, rk.transpose(-1, -2)) + torch.gather(self.read_lag(h), 2, lags)
        scores = compete(scores.reshape(b, t, n, -1), 2).reshape(b, t * n, -1)
        est = torch.matmul((scores + cross_bias).softmax(-1), mem_pos) + self.head(h)
        # pointer over the detections of frame t, in the memory of window which[t]
        tok = torch.as_tensor(which[:, None] * s_len + (np.arange(t) - starts[which])[:, None]
                              * n + np.arange(n)[None, :], device=dev)   # (T, N)
        keys = self.pointer_keys(mem_flat[:, tok.reshape(-1)], z.reshape(b, t * n, dim))
        keys = keys.reshape(b, t, n, -1)
        q = self.pointer_query(h, pos).reshape(b, t, n, -1)
        logits = compete(torch.matmul(q, keys.transpose(-1, -2)), 2)   # (B, T, slot, det)
        return est.reshape(b, t, n, dim), logits

    # -- readout and pointer heads ------------------------------------------------------
    def readout_keys(self, mem: torch.Tensor, zpos: torch.Tensor) -> torch.Tensor:
        """Augmented readout keys of memory tokens ``mem`` (B, L, d) at ``zpos`` (B, L, D)."""
        return aug_key(self.read_k(mem).unsqueeze(1), zpos).squeeze(1)

    def readout_query(self, h: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Readout query: learned score minus ``gamma |previous - detection|^2``; with a
        bias per frame lag (``read_lag(h)``, so the query sets its own time kernel: sharp
        at low noise, wide at high noise) its softmax over the encoder's detections weighs
        a smoother: the estimate is the weighted mean of those detections plus a learned
        correction, so it cannot wander away from them."""
        g = F.softplus(self.read_gamma_raw).reshape(1, 1, 1)
        return aug_query(self.read_q(h).unsqueeze(1), pos, g).squeeze(1)

    def pointer_keys(self, mem: torch.Tensor, zpos: torch.Tensor) -> torch.Tensor:
        """Augmented pointer keys of memory tokens ``mem`` (B, L, d) at ``zpos`` (B, L, D)."""
        return aug_key(self.ptr_k(mem).unsqueeze(1), zpos).squeeze(1)

    def pointer_query(self, h: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Pointer query: which detection of frame ``t`` is the slot's (a training
        signal, cross-entropy against the true detection; unused at inference)."""
        g = F.softplus(self.ptr_gamma_raw).reshape(1, 1, 1)
        return aug_query(self.ptr_q(h).unsqueeze(1), pos, g).squeeze(1)
