"""Detections -> the association model's inputs: windows, tokens, neighbour lists.

Numpy and scipy only.  A sequence's frames are renumbered 0..T-1 from its first to its
last frame (a frame without detections stays, empty).  Window ``s`` holds every detection
of frames ``s .. s+W-1``; each token's neighbour list is, for every frame b of its window,
its ``K`` nearest detections of frame b (``scipy.spatial.cKDTree``; fewer when the frame
has fewer, the rest masked), so a window of M tokens has ``M x W K`` neighbour slots, and
the work is linear in the number of detections.  A frame pair's nearest neighbours are
computed once and reused by every window that holds both frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ....core.data import Detections
from ....core.errors import InputError


@dataclass
class Sequence:
    """One sequence's detections, sorted by frame: ``rows`` are rows of the Detections
    table, ``frame`` 0..T-1 (renumbered), ``coords`` px, ``feats`` standardised."""

    rows: np.ndarray          # (n,) detection-table rows, in frame order
    frame: np.ndarray         # (n,) 0..T-1
    coords: np.ndarray        # (n, D)
    feats: np.ndarray         # (n, F)
    first_frame: int
    frames: int
    bounds: np.ndarray        # (T + 1,) detections of frame t: bounds[t]:bounds[t+1]

    def of_frame(self, t: int) -> slice:
        return slice(int(self.bounds[t]), int(self.bounds[t + 1]))


def sequence(detections: Detections, features: tuple[str, ...] = ()) -> Sequence:
    """A :class:`Sequence` of ``detections``; InputError for NaN coordinates, a missing
    feature column, or fewer than two frames."""
    src = detections.source
    if len(detections) == 0:
        raise InputError(src, "no detections")
    bad = ~np.all(np.isfinite(detections.coords), axis=1)
    if bad.any():
        raise InputError(src, "NaN or infinite coordinates", row=int(np.flatnonzero(bad)[0]))
    order = np.argsort(detections.frame, kind="stable")
    frame = detections.frame[order]
    first, last = int(frame[0]), int(frame[-1])
    if last == first:
        raise InputError(src, f"need at least 2 frames to track, got 1 (frame {first})")
    cols = []
    for name in features:
        if name not in detections.features:
            have = ", ".join(detections.features) or "none"
            raise InputError(src, f"the checkpoint reads the per-detection feature {name!r}, "
                             f"which the detections lack (they have: {have})")
        v = detections.features[name][order]
        if not np.all(np.isfinite(v)):
            raise InputError(src, f"feature {name!r} has NaN or infinite values")
        cols.append((v - v.mean()) / (v.std() or 1.0))
    feats = np.stack(cols, axis=1) if cols else np.zeros((len(order), 0))
    rel = frame - first
    t = last - first + 1
    bounds = np.searchsorted(rel, np.arange(t + 1), side="left")
    return Sequence(order, rel, detections.coords[order], feats, first, t, bounds)


@dataclass
class Graph:
    """The inputs of a group of windows, tokens concatenated window after window.

    ``nbr[m, b*K + k]`` is the token of the k-th nearest detection of window frame b to
    token m (valid where ``mask``); ``dt`` its frame minus m's.  ``fwd_ok[m]``: every
    frame m could link to (up to ``gap`` later) is in this window, or the window ends the
    sequence, so a softmax over m's forward candidates is complete; ``bwd_ok`` alike
    backwards.
    """

    det: np.ndarray       # (M,) index into the Sequence
    offset: np.ndarray    # (M,) frame offset in the window
    nbr: np.ndarray       # (M, S) token index (0 where masked)
    mask: np.ndarray      # (M, S) bool
    dt: np.ndarray        # (M, S) frame difference (neighbour - token)
    relin: np.ndarray     # (M, S, R) float32
    fwd_ok: np.ndarray    # (M,) bool
    bwd_ok: np.ndarray    # (M,) bool
    feats: np.ndarray     # (M, F) float32

    @property
    def tokens(self) -> int:
        return int(self.det.shape[0])


class NeighbourCache:
    """The K nearest detections of frame b to each detection of frame a, per (a, b)."""

    def __init__(self, seq: Sequence, k: int):
        self.seq, self.k = seq, k
        self._trees: dict[int, cKDTree | None] = {}
        self._knn: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def tree(self, b: int) -> cKDTree | None:
        if b not in self._trees:
            pts = self.seq.coords[self.seq.of_frame(b)]
            self._trees[b] = cKDTree(pts) if len(pts) else None
        return self._trees[b]

    def knn(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Local indices (n_a, K) into frame b (-1: none) and their validity."""
        key = (a, b)
        if key not in self._knn:
            pts = self.seq.coords[self.seq.of_frame(a)]
            n_b = int(self.seq.bounds[b + 1] - self.seq.bounds[b])
            idx = np.full((len(pts), self.k), -1, dtype=np.int64)
            tree = self.tree(b)
            if tree is not None and len(pts):
                kk = min(self.k, n_b)
                _, j = tree.query(pts, k=kk)
                idx[:, :kk] = np.asarray(j, dtype=np.int64).reshape(len(pts), kk)
            self._knn[key] = (idx, idx >= 0)
            if len(self._knn) > 64 * self.k:          # windows move forward: drop old pairs
                for old in [p for p in self._knn if min(p) < min(a, b) - 64]:
                    del self._knn[old]
        return self._knn[key]


def window_starts(frames: int, window: int, stride: int = 1) -> np.ndarray:
    """Windows of ``window`` frames every ``stride`` frames, the last one ending on the
    last frame; one shorter window if T < window."""
    last = max(0, frames - window)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return np.asarray(starts, dtype=np.int64)


def build(seq: Sequence, cache: NeighbourCache, starts: np.ndarray, window: int, gap: int,
          scale: float) -> Graph:
    """The :class:`Graph` of windows ``starts`` (all tokens of all of them, concatenated)."""
    k, t_all = cache.k, seq.frames
    wl = min(window, t_all)
    s_width = window * k
    parts: dict[str, list[np.ndarray]] = {n: [] for n in
                                          ("det", "offset", "nbr", "mask", "dt", "fwd", "bwd")}
    base = 0
    for s in starts.tolist():
        frames = range(s, s + wl)
        sizes = [int(seq.bounds[f + 1] - seq.bounds[f]) for f in frames]
        first_tok = np.concatenate([[0], np.cumsum(sizes)]) + base
        for oa, a in enumerate(frames):
            n_a = sizes[oa]
            if n_a == 0:
                continue
            nbr = np.zeros((n_a, s_width), dtype=np.int64)
            mask = np.zeros((n_a, s_width), dtype=bool)
            dt = np.zeros((n_a, s_width), dtype=np.int64)
            for ob, b in enumerate(frames):
                idx, ok = cache.knn(a, b)
                cols = slice(ob * k, (ob + 1) * k)
                nbr[:, cols] = np.where(ok, idx + first_tok[ob], 0)
                mask[:, cols] = ok
                dt[:, cols] = b - a
            parts["det"].append(np.arange(seq.bounds[a], seq.bounds[a + 1]))
            parts["offset"].append(np.full(n_a, oa))
            parts["nbr"].append(nbr)
            parts["mask"].append(mask)
            parts["dt"].append(dt)
            parts["fwd"].append(np.full(n_a, oa + gap <= wl - 1 or s + wl == t_all))
            parts["bwd"].append(np.full(n_a, oa - gap >= 0 or s == 0))
        base = int(first_tok[-1])
    d = seq.coords.shape[1]
    if base == 0:
        z = np.zeros((0, s_width), dtype=np.int64)
        return Graph(np.zeros(0, np.int64), np.zeros(0, np.int64), z, z.astype(bool), z,
                     np.zeros((0, s_width, d + 2 * window), np.float32), np.zeros(0, bool),
                     np.zeros(0, bool), np.zeros((0, seq.feats.shape[1]), np.float32))
    det = np.concatenate(parts["det"])
    nbr = np.concatenate(parts["nbr"])
    mask = np.concatenate(parts["mask"])
    dt = np.concatenate(parts["dt"])
    relin = rel_features(seq.coords, det, nbr, mask, dt, window, scale)
    return Graph(det, np.concatenate(parts["offset"]), nbr, mask, dt, relin,
                 np.concatenate(parts["fwd"]), np.concatenate(parts["bwd"]),
                 seq.feats[det].astype(np.float32))


def rel_features(coords: np.ndarray, det: np.ndarray, nbr: np.ndarray, mask: np.ndarray,
                 dt: np.ndarray, window: int, scale: float) -> np.ndarray:
    """``[dp / scale, |dp| / scale, one-hot(dt + W - 1)]`` per neighbour slot (zero where
    masked): the only way positions enter the model, so it is translation invariant."""
    m, s = nbr.shape
    d = coords.shape[1]
    dp = (coords[det[nbr]] - coords[det][:, None, :]) / scale          # (M, S, D)
    out = np.zeros((m, s, d + 1 + 2 * window - 1), dtype=np.float32)
    out[..., :d] = dp
    out[..., d] = np.sqrt((dp * dp).sum(-1))
    np.put_along_axis(out[..., d + 1:], (dt + window - 1)[..., None], 1.0, axis=-1)
    out[~mask] = 0.0
    return out


def token_groups(starts: np.ndarray, seq: Sequence, window: int, budget: int
                 ) -> list[np.ndarray]:
    """Windows split into groups of at most about ``budget`` tokens (memory stays flat)."""
    wl = min(window, seq.frames)
    sizes = seq.bounds[np.minimum(starts + wl, seq.frames)] - seq.bounds[starts]
    groups: list[np.ndarray] = []
    cur: list[int] = []
    total = 0
    for s, n in zip(starts.tolist(), sizes.tolist(), strict=True):
        if cur and total + n > budget:
            groups.append(np.asarray(cur, dtype=np.int64))
            cur, total = [], 0
        cur.append(s)
        total += n
    if cur:
        groups.append(np.asarray(cur, dtype=np.int64))
    return groups
