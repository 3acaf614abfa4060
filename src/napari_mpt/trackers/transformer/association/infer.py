"""Tracking with the association transformer: windows -> averaged scores -> linking.

Windows of ``window`` frames every ``stride`` frames (default ``window - gap``) are
scored; a token's forward softmax (its candidates in the next ``gap`` frames and "no
link") is read only from windows that hold all of those frames (or end the sequence),
its backward one alike, and each pair's probabilities are averaged over those windows;
a link's score then averages the forward view (from the window where the earlier
detection starts) and the backward view (from the window where the later one ends).
Windows are run in groups of about :data:`TOKEN_BUDGET` tokens so memory stays flat
whatever the length; ``control`` gets a step per group (and may cancel between groups).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ....core.data import Detections, Tracks
from ....core.errors import CheckpointError
from ....core.params import TransformerParams
from ....core.results import RunControl, TrackingResult
from ..common.threads import torch_threads
from .graph import NeighbourCache, build, sequence, token_groups, window_starts
from .link import link
from .model import AssociationTransformer, graph_tensors

TOKEN_BUDGET = 4_000
"""Tokens per forward pass (at least one window): the gathered (tokens x neighbours x
d) tensors stay a few MB, which measured 1.5-2x faster on the CPU than 40 000 tokens."""


def _accumulate(keys: list[np.ndarray], vals: list[np.ndarray], n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``vals`` per distinct key: (keys, means)."""
    if not keys:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    k = np.concatenate(keys)
    v = np.concatenate(vals)
    uk, inv = np.unique(k, return_inverse=True)
    return uk, np.bincount(inv, weights=v) / np.bincount(inv)


def scores(model: AssociationTransformer, detections: Detections,
           control: RunControl | None = None) -> dict[str, Any]:
    """Averaged pair probabilities of ``detections``: the Sequence, pairs ``(i, j)`` in its
    index with ``pf``/``pb``, the backward no-link probability per detection, tokens run."""
    cfg = model.cfg
    seq = sequence(detections, cfg.features)
    n = len(seq.rows)
    dev = next(model.parameters()).device
    cache = NeighbourCache(seq, cfg.neighbours)
    starts = window_starts(seq.frames, cfg.window, cfg.window_stride)
    groups = token_groups(starts, seq, cfg.window, TOKEN_BUDGET)
    fk: list[np.ndarray] = []
    fv: list[np.ndarray] = []
    bk: list[np.ndarray] = []
    bv: list[np.ndarray] = []
    nbk: list[np.ndarray] = []
    nbv: list[np.ndarray] = []
    tokens = 0
    threads = 1 if dev.type == "cpu" else torch.get_num_threads()
    with torch.inference_mode(), torch_threads(threads):
        for gi, grp in enumerate(groups):
            g = build(seq, cache, grp, cfg.window, cfg.gap, cfg.coord_scale)
            tokens += g.tokens
            if g.tokens == 0:
                continue
            logits, none = model(*graph_tensors(g, dev))
            logits, none = logits.float().cpu(), none.float().cpu()
            mask, dt = torch.as_tensor(g.mask), torch.as_tensor(g.dt)
            for sign, col, ok in ((1, 0, g.fwd_ok), (-1, 1, g.bwd_ok)):
                cand = mask & (dt * sign >= 1) & (dt * sign <= cfg.gap)
                lg = torch.cat([logits.masked_fill(~cand, float("-inf")), none[:, col:col + 1]], 1)
                p = lg.softmax(1).numpy()
                rows = np.flatnonzero(ok)
                m_idx, s_idx = np.nonzero(cand.numpy()[rows])
                m_idx = rows[m_idx]
                me, other = g.det[m_idx], g.det[g.nbr[m_idx, s_idx]]
                early, late = (me, other) if sign == 1 else (other, me)
                (fk if sign == 1 else bk).append(early * n + late)
                (fv if sign == 1 else bv).append(p[m_idx, s_idx])
                if sign == -1:
                    nbk.append(g.det[rows])
                    nbv.append(p[rows, -1])
            if control is not None:
                control.step(gi + 1, len(groups))
    kf, pf = _accumulate(fk, fv, n)
    kb, pb = _accumulate(bk, bv, n)
    keys = np.union1d(kf, kb)
    pf_all = np.zeros(len(keys))
    pb_all = np.zeros(len(keys))
    pf_all[np.searchsorted(keys, kf)] = pf
    pb_all[np.searchsorted(keys, kb)] = pb
    none_b = np.ones(n)
    kn, vn = _accumulate(nbk, nbv, n)
    none_b[kn] = vn
    return {"seq": seq, "i": keys // n, "j": keys % n, "pf": pf_all, "pb": pb_all,
            "none_b": none_b, "tokens": tokens, "windows": len(starts)}


def association_probability(sc: dict[str, Any]) -> np.ndarray:
    """Each scored pair's ``(pf + pb) / 2``: the mean of the forward probability that j is
    i's next detection and the backward one that i is j's previous detection (the
    hybrid's link score too)."""
    return 0.5 * (sc["pf"] + sc["pb"])


def link_confidences(sc: dict[str, Any], tid: np.ndarray) -> np.ndarray:
    """Per detection (Sequence index): the association probability of the link its track
    arrives at it by, NaN where its track starts."""
    seq = sc["seq"]
    n = len(seq.rows)
    order = np.lexsort((seq.frame, tid))
    same = tid[order][1:] == tid[order][:-1]
    src, dst = order[:-1][same], order[1:][same]
    keys = sc["i"] * n + sc["j"]                      # sorted: scores() builds them so
    at = np.searchsorted(keys, src * n + dst)
    found = at < len(keys)
    found[found] = keys[at[found]] == (src * n + dst)[found]
    out = np.full(n, np.nan)
    out[dst[found]] = association_probability(sc)[at[found]]
    return out


def tracks_from_scores(detections: Detections, sc: dict[str, Any], gap: int) -> Tracks:
    """Tracks linked from the scores, each vertex with its ``link_confidence``
    (:func:`link_confidences`)."""
    seq = sc["seq"]
    tid = link(seq.frame, seq.frames, gap, sc["i"], sc["j"], sc["pf"], sc["pb"], sc["none_b"])
    return Tracks(tid, detections.frame[seq.rows], detections.coords[seq.rows], seq.rows,
                  {"link_confidence": link_confidences(sc, tid)})


def track_association(detections: Detections, params: TransformerParams,
                      model: AssociationTransformer, config: dict[str, Any], device: str,
                      note: str | None, control: RunControl | None = None) -> TrackingResult:
    """Track ``detections`` (any number per frame) with a loaded association model."""
    from .flops import association_flops

    if detections.ndim != model.cfg.ndim:
        raise CheckpointError(f"{config['path']}: the association model was built for "
                              f"{model.cfg.ndim}D coordinates but the data is "
                              f"{detections.ndim}D")
    t0 = time.perf_counter()
    sc = scores(model, detections, control)
    tracks = tracks_from_scores(detections, sc, model.cfg.gap)
    wall = time.perf_counter() - t0
    cfg = model.cfg
    info: dict[str, Any] = {
        "checkpoint": params.checkpoint, "checkpoint_path": config["path"],
        "kind": "association", "window": cfg.window, "gap": cfg.gap,
        "neighbours": cfg.neighbours, "windows": sc["windows"], "tokens": sc["tokens"],
        "candidate_pairs": len(sc["i"]),
    }
    if note:
        info["device_note"] = note
    return TrackingResult(tracks=tracks, method="transformer", label=params.label(),
                          params=params.to_dict(), wall_s=wall,
                          flops=association_flops(model, sc["tokens"]), device=device, info=info)
