"""Autoregressive decoding over a whole sequence, with the caches that make it cheap.

Per sequence the encoder runs once per sliding window, and the cross-attention keys and
values of every window's memory are computed once.  Step ``t`` then costs one token per
slot per layer: its keys and values go into a ring buffer of the last ``K_D`` steps
(decoder self-attention over a sliding window, exactly the band the training mask
allows), and it attends to the memory of the window ``t`` is most central in.  The same
arithmetic as :meth:`TrackerTransformer.forward`, one step at a time.

Why the decoder layer is written twice (here and in ``forward``) rather than once for
both passes: a step holds N tokens, so at batch 1 (napari, the CLI) its cost is the
number of small operations, not FLOPs.  :class:`_Layer` fuses the self-attention q/k/v
into one product with 1/sqrt(d_h) folded into the weights and precomputes the
distance-bias coefficients, once per sequence.  Running ``forward``'s layer code step by
step instead (measured on ``transformer_150_30``, T = 150, one thread, best of 12 on the
shared 2-core machine) took 1.35-2.3x as long at batch 1 (155 vs 115 ms per sequence in
the quietest run) and 1.0-1.25x at batch 64, with bit-identical outputs for that
architecture (d_h = 16: the folded scale is a power of two).  The two passes are held
equal by ``tests/trackers/transformer/test_transformer_model.py`` (to 1e-6 in float32 for any d_h).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .encoding import features, rotary_tables, rotate
from .model import MAX_LAG, DecoderLayer, TrackerTransformer, attend, aug_key, compete

StepHook = Callable[[int, int], None]


class _Layer:
    """One decoder layer's weights rearranged for stepping: the self-attention q/k/v in
    one product, 1/sqrt(d_h) folded into the queries, the distance-bias coefficients
    ``[2 g, .., 2 g, -g, -g]`` per head precomputed."""

    def __init__(self, layer: DecoderLayer, dim: int):
        a, c = layer.self_attn, layer.cross_attn
        s = a.head_dim ** -0.5
        self.layer = layer
        self.qkv_w = torch.cat([a.q.weight * s, a.kv.weight])
        self.qkv_b = torch.cat([a.q.bias * s, a.kv.bias])
        self.cq_w, self.cq_b = c.q.weight * s, c.q.bias * s
        self.coef_self = _coef(a.gamma(), dim)
        self.coef_cross = _coef(c.gamma(), dim)


def _coef(gamma: torch.Tensor, dim: int) -> torch.Tensor:
    """(H, 1, D + 2): multiplies ``[p, |p|^2, 1]`` into ``[2 g p, -g |p|^2, -g]``."""
    g = gamma.reshape(-1, 1, 1)
    return torch.cat([(2.0 * g).expand(-1, 1, dim), -g, -g], dim=-1)


class Decoding:
    """Per-batch state of a decoding: window memories, cross keys/values, caches.

    Built once per batch of sequences (encoder windows, cross-attention and readout keys
    computed here); :meth:`step` then advances every sequence by one frame.  Same
    arithmetic as :meth:`TrackerTransformer.forward`, rearranged for few, fused ops.
    """

    def __init__(self, model: TrackerTransformer, z: torch.Tensor):
        cfg = model.cfg
        self.model = model
        b, t_len, n, dim = z.shape
        dev = z.device
        kd = cfg.decoder_lookback
        hd, nh = cfg.head_dim, cfg.heads
        ka = hd + dim + 2                                   # augmented key width
        perm = model.perm
        self.shape = (b, n, dim, kd, nh, hd, ka, cfg.d_model)

        mem, starts, which, kw = model.window_memory(z)                 # (B, W, S, d)
        w, s_len = mem.shape[1], mem.shape[2]
        frame_of_key = torch.as_tensor((starts[:, None] + np.arange(kw).repeat(n)[None, :])
                                       .reshape(-1))
        cos_k, sin_k = (a.to(dev) for a in rotary_tables(frame_of_key, cfg))
        mem_flat = mem.reshape(b, w * s_len, -1)
        widx = torch.as_tensor(starts[:, None] + np.arange(kw)[None, :], device=dev)
        mem_pos = z[:, widx].reshape(b, w * s_len, dim)
        self.cross_kv = []
        for layer in model.decoder:
            k, v = layer.cross_attn.keys_values(mem_flat)
            k = aug_key(rotate(k, cos_k, sin_k, perm), mem_pos)
            self.cross_kv.append((
                [x.contiguous() for x in k.reshape(b, nh, w, s_len, ka).unbind(2)],
                [x.contiguous() for x in v.reshape(b, nh, w, s_len, hd).unbind(2)]))
        self.which = [int(x) for x in which]
        rk = model.readout_keys(mem_flat, mem_pos).reshape(b, w, s_len, -1)
        self.read_keys = [x.transpose(-1, -2).contiguous() for x in rk.unbind(1)]
        self.read_vals = [x.contiguous() for x in mem_pos.reshape(b, w, s_len, dim).unbind(1)]
        steps = torch.arange(t_len, device=dev)
        key_frames = frame_of_key.to(dev).reshape(w, s_len)[torch.as_tensor(which, device=dev)]
        self.lag = (steps[:, None] - key_frames).abs().clamp(max=MAX_LAG)   # (T, S) lags
        self.read_w = model.read_q.weight * cfg.d_model ** -0.5
        self.read_b = model.read_q.bias * cfg.d_model ** -0.5
        self.coef_read = _coef(F.softplus(model.read_gamma_raw), dim).reshape(-1)

        self.cos_q, self.sin_q = (a.to(dev) for a in rotary_tables(torch.arange(t_len), cfg))
        # self-attention bias per layer: -inf on ring slots not yet written, own-slot bonus
        same = (torch.arange(n)[:, None] == torch.arange(n).repeat(kd)[None, :]).float().to(dev)
        ring = torch.arange(kd).repeat_interleave(n).to(dev)
        self.biases = []
        for layer in model.decoder:
            bonus = layer.same_slot[:, None, None] * same                  # (H, N, K_D*N)
            self.biases.append([bonus.masked_fill((ring > step)[None, None, :], float("-inf"))
                                for step in range(min(kd, t_len))])
        self.layers = [_Layer(layer, dim) for layer in model.decoder]
        self.cache_k = [torch.zeros(b, nh, kd, n, ka, device=dev) for _ in model.decoder]
        self.cache_v = [torch.zeros(b, nh, kd, n, hd, device=dev) for _ in model.decoder]
        self.ones = torch.ones(b, n, 1, device=dev)

    def step(self, t: int, u: torch.Tensor) -> torch.Tensor:
        """Estimates at frame ``t`` (B, N, D) from the previous ones ``u`` (the anchors,
        frame 0's detections, at ``t = 0``)."""
        model = self.model
        b, n, _, kd, nh, hd, ka, d = self.shape
        perm = model.perm
        r = t % kd
        x = model.dec_in(features(u, model.freqs))
        if t == 0:
            x = x + model.anchor
        wt = self.which[t]
        cq, sq = self.cos_q[t], self.sin_q[t]
        pp = (u * u).sum(-1, keepdim=True)
        qbase = torch.cat([u, pp, self.ones], dim=-1).unsqueeze(1)       # (B, 1, N, D+2)
        kbase = torch.cat([u, self.ones, pp], dim=-1).unsqueeze(1)
        bias = min(t, kd - 1)
        for li, lp in enumerate(self.layers):
            layer = lp.layer
            h = layer.norm1(x)
            qkv = F.linear(h, lp.qkv_w, lp.qkv_b).view(b, n, 3, nh, hd).transpose(1, 3)
            qk = qkv[:, :, :2]                                           # (B, H, 2, N, hd)
            qk = qk * cq + qk.index_select(-1, perm) * sq
            q = torch.cat([qk[:, :, 0], qbase * lp.coef_self], dim=-1)
            ck, cv = self.cache_k[li], self.cache_v[li]
            ck[:, :, r, :, :hd] = qk[:, :, 1]
            ck[:, :, r, :, hd:] = kbase
            cv[:, :, r] = qkv[:, :, 2]
            a = attend(q, ck.view(b, nh, kd * n, ka), cv.view(b, nh, kd * n, hd),
                       self.biases[li][bias])
            x = x + layer.self_attn.out(a.transpose(1, 2).reshape(b, n, d))
            h = layer.norm2(x)
            q = F.linear(h, lp.cq_w, lp.cq_b).view(b, n, nh, hd).transpose(1, 2)
            q = torch.cat([q * cq + q.index_select(-1, perm) * sq, qbase * lp.coef_cross], -1)
            ks, vs = self.cross_kv[li]
            a = attend(q, ks[wt], vs[wt], None)
            x = x + layer.cross_attn.out(a.transpose(1, 2).reshape(b, n, d))
            x = x + layer.ffn(layer.norm3(x))
        h = model.dec_norm(x)
        q = torch.cat([F.linear(h, self.read_w, self.read_b), qbase[:, 0] * self.coef_read], -1)
        scores = compete(torch.matmul(q, self.read_keys[wt]) + model.read_lag(h)[:, :, self.lag[t]], 1)
        return torch.matmul(scores.softmax(-1), self.read_vals[wt]) + model.head(h)


def decode(model: TrackerTransformer, z: torch.Tensor, hook: StepHook | None = None,
           every: int = 10) -> torch.Tensor:
    """Estimates ``(B, T, N, D)`` for normalised detections ``z`` (B, T, N, D).

    Slot ``p`` starts at detection ``p`` of frame 0 and each step reads the slot's
    previous estimates.  ``hook(done, T)`` is called every ``every`` steps (progress and
    cancellation).
    """
    t_len = z.shape[1]
    state = Decoding(model, z)
    out = torch.empty_like(z)
    u = z[:, 0]
    for t in range(t_len):
        u = state.step(t, u)
        out[:, t] = u
        if hook is not None and (t + 1) % every == 0:
            hook(t + 1, t_len)
    return out


class DecodeGraph(nn.Module):
    """``decode`` as a module, so fvcore (``torch.jit.trace``) can count its FLOPs."""

    def __init__(self, model: TrackerTransformer):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return decode(self.model, z)


class PrepareGraph(nn.Module):
    """The per-sequence part of a decoding (encoder windows, cross keys/values)."""

    def __init__(self, model: TrackerTransformer):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = Decoding(self.model, z)
        # everything the steps read, so the trace keeps (and fvcore counts) all of it
        return (*(x for ks, vs in state.cross_kv for x in (*ks, *vs)), *state.read_keys)


class StepGraph(nn.Module):
    """One steady-state decoding step (every step has the same matrix products)."""

    def __init__(self, model: TrackerTransformer, z: torch.Tensor):
        super().__init__()
        self.model = model
        with torch.no_grad():           # the state enters the trace as constants
            self.state = Decoding(model, z)
        self.t = min(model.cfg.decoder_lookback, z.shape[1] - 1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.state.step(self.t, u)
