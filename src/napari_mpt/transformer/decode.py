"""Autoregressive decoding over a whole sequence, with the caches that make it cheap.

Per sequence the encoder runs once per sliding window, and the cross-attention keys and
values of every window's memory are computed once.  Step ``t`` then costs one token per
slot per layer: its keys and values go into a ring buffer of the last ``K_D`` steps
(decoder self-attention over a sliding window, exactly the band the training mask
allows), and it attends to the memory of the window ``t`` is most central in.  The same
arithmetic as :meth:`TrackerTransformer.forward`, one step at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .encoding import features, rotary_tables, rotate
from .model import MAX_LAG, TrackerTransformer, attend, aug_key, aug_query

StepHook = Callable[[int, int], None]


class Decoding:
    """Per-batch state of a decoding: window memories, cross keys/values, caches.

    Built once per batch of sequences (encoder windows and cross-attention keys/values
    computed here); :meth:`step` then advances every sequence by one frame.
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
        self.shape = (b, n, dim, kd, nh, hd, ka)

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
        self.read_keys = [x.contiguous() for x in rk.unbind(1)]
        self.read_vals = [x.contiguous() for x in mem_pos.reshape(b, w, s_len, dim).unbind(1)]
        steps = torch.arange(t_len, device=dev)
        key_frames = frame_of_key.to(dev).reshape(w, s_len)[torch.as_tensor(which, device=dev)]
        self.lag = (steps[:, None] - key_frames).abs().clamp(max=MAX_LAG)   # (T, S) lags

        self.cos_q, self.sin_q = (a.to(dev) for a in rotary_tables(torch.arange(t_len), cfg))
        # self-attention bias per layer: -inf on ring slots not yet written, own-slot bonus
        same = (torch.arange(n)[:, None] == torch.arange(n).repeat(kd)[None, :]).float().to(dev)
        ring = torch.arange(kd).repeat_interleave(n).to(dev)
        self.biases = []
        for layer in model.decoder:
            bonus = layer.same_slot[:, None, None] * same                  # (H, N, K_D*N)
            self.biases.append([bonus.masked_fill((ring > step)[None, None, :], float("-inf"))
                                for step in range(min(kd, t_len))])
        self.gammas = [(layer.self_attn.gamma(), layer.cross_attn.gamma())
                       for layer in model.decoder]
        self.cache_k = [torch.zeros(b, nh, kd, n, ka, device=dev) for _ in model.decoder]
        self.cache_v = [torch.zeros(b, nh, kd, n, hd, device=dev) for _ in model.decoder]

    def step(self, t: int, u: torch.Tensor) -> torch.Tensor:
        """Estimates at frame ``t`` (B, N, D) from the previous ones ``u`` (the anchors,
        frame 0's detections, at ``t = 0``)."""
        model = self.model
        b, n, _, kd, nh, hd, ka = self.shape
        perm = model.perm
        r = t % kd
        x = model.dec_in(features(u, model.freqs))
        if t == 0:
            x = x + model.anchor
        wt = self.which[t]
        cq, sq = self.cos_q[t], self.sin_q[t]
        for li, layer in enumerate(model.decoder):
            a = layer.self_attn
            h = layer.norm1(x)
            q = aug_query(rotate(a.split(a.q(h)), cq, sq, perm), u, self.gammas[li][0])
            k, v = a.keys_values(h)
            self.cache_k[li][:, :, r] = aug_key(rotate(k, cq, sq, perm), u)
            self.cache_v[li][:, :, r] = v
            bias = self.biases[li][min(t, kd - 1)]
            x = x + a.merge(attend(q, self.cache_k[li].view(b, nh, kd * n, ka),
                                   self.cache_v[li].view(b, nh, kd * n, hd), bias))
            c = layer.cross_attn
            h = layer.norm2(x)
            q = aug_query(rotate(c.split(c.q(h)), cq, sq, perm), u, self.gammas[li][1])
            ks, vs = self.cross_kv[li]
            x = x + c.merge(attend(q, ks[wt], vs[wt], None))
            x = x + layer.ffn(layer.norm3(x))
        h = model.dec_norm(x)
        scores = torch.matmul(model.readout_query(h, u), self.read_keys[wt].transpose(-1, -2))
        scores = scores + model.read_lag(h)[:, :, self.lag[t]]
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
