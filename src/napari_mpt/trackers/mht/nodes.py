"""The MHT's search trees as arrays: one row per node, one row per distinct covariance.

Why arrays and not one object per node: a window of a dense scene (1000 particles, 50
spurious spots per frame) makes about 65 000 nodes, and with an object per node the
run's time went to making, walking and freeing them (about 60 % of it).  Here a node is
a row of a few arrays, expanded, gated, scored, selected and freed a whole level at a
time with numpy.  Nothing links a node to its parent or children: each branch of a
window keeps its nodes frame by frame (:class:`Branches`), which is all the commit rule
needs, and the table is compacted to the nodes still referenced after every window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.flops import FlopCounter
from .kalman import covariance_step, det, det_flops, step_covariance_flops
from .motion import MotionModel

MISS, END = -1, -2


def cov_key(P: np.ndarray, bits: int) -> bytes:
    """The key under which covariances share one row (and so one step).

    Why not exact bits: a track's covariance is a function of its pattern of detections
    and misses since its start, and patterns that differ long ago give covariances that
    differ only in their last bits (the recursion converges geometrically, not in finitely
    many steps), so on long sequences exact keys made ever more distinct covariances
    (about 8 x more work per frame after 100 frames of 1000 particles than after 20).
    Entries equal after their lowest ``bits`` mantissa bits are cleared (20 by default,
    :class:`~.detection_level.Tuning`: relative difference < 2^-32, far below a
    localisation error's) share the row of the first one seen; the recursion is
    contractive, so the difference shrinks at every later step instead of adding up."""
    return (np.ascontiguousarray(P).view(np.uint64) >> bits).tobytes()


def _grown(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` with room for ``n`` rows (capacity doubled), contents kept."""
    if len(a) >= n:
        return a
    out = np.empty((max(n, 2 * len(a)), *a.shape[1:]), dtype=a.dtype)
    out[: len(a)] = a
    return out


class Covariances:
    """Distinct covariances (by :func:`cov_key`) and, computed once per row when first
    needed, their predict/update step: the next covariance after a detection, the
    predicted one (also the next after a miss), ``S^-1``, the gain, the gate radius and
    the score constant ``ln P_D - ln lambda_FA - ln|2 pi S|/2``.  Counted once each, as
    executed."""

    def __init__(self, model: MotionModel, gate: float, ln_det: float, counter: FlopCounter,
                 bits: int = 20):
        self.model, self.gate, self.ln_det, self.counter = model, gate, ln_det, counter
        d, s = model.ndim, model.state_dim
        self.mats: list[np.ndarray] = []
        self.index: dict[bytes, int] = {}
        self.bits = bits  # of cov_key
        self.stepped = np.zeros(64, dtype=bool)
        self.nxt = np.zeros(64, dtype=np.int64)
        self.pp = np.zeros(64, dtype=np.int64)
        self.Sinv = np.zeros((64, d, d))
        self.K = np.zeros((64, s, d))
        self.radius = np.zeros(64)
        self.const = np.zeros(64)

    def __len__(self) -> int:
        return len(self.mats)

    def id(self, P: np.ndarray) -> int:
        key = cov_key(P, self.bits)
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.mats)
            self.mats.append(P)
            n = len(self.mats)
            if n > len(self.stepped):
                self.stepped = _grown(self.stepped, n)
                self.nxt, self.pp = _grown(self.nxt, n), _grown(self.pp, n)
                self.Sinv, self.K = _grown(self.Sinv, n), _grown(self.K, n)
                self.radius, self.const = _grown(self.radius, n), _grown(self.const, n)
            self.stepped[i] = False
        return i

    def compact(self, keep: np.ndarray) -> np.ndarray:
        """Keep only the rows ``keep`` (ascending); return the map old row -> new row (-1:
        dropped).  A kept row whose step leads to a dropped row loses its step (computed,
        and counted, again if needed).  Why: the distinct covariances of a run grow with
        its length (about 420 a frame at 1000 particles), most of them of branches long
        discarded."""
        n = len(self.mats)
        remap = np.full(n + 1, -1, dtype=np.int64)  # index -1 maps "none" to -1
        remap[keep] = np.arange(len(keep))
        st = self.stepped[:n][keep]
        nxt = remap[np.where(st, self.nxt[:n][keep], -1)]
        pp = remap[np.where(st, self.pp[:n][keep], -1)]
        self.stepped = st & (nxt >= 0) & (pp >= 0)
        self.nxt, self.pp = nxt, pp
        self.Sinv, self.K = self.Sinv[keep], self.K[keep]
        self.radius, self.const = self.radius[keep], self.const[keep]
        self.mats = [self.mats[i] for i in keep.tolist()]
        self.index = {cov_key(m, self.bits): i for i, m in enumerate(self.mats)}
        return remap

    def stack(self, ids: np.ndarray) -> np.ndarray:
        return np.stack([self.mats[i] for i in ids.tolist()])

    def ensure(self, ids: np.ndarray) -> None:
        """Compute the step of every row in ``ids`` that has none yet."""
        todo = np.unique(ids[~self.stepped[ids]])
        if not len(todo):
            return
        m, add = self.model, self.counter.add
        d, s = m.ndim, m.state_dim
        for i in todo.tolist():
            P_new, Sinv, K, Pp = covariance_step(m, self.mats[i])
            S = m.H @ Pp @ m.H.T + m.R  # as covariance_step computes it (counted there)
            add(step_covariance_flops(s, d) + d + 1 + det_flops(d) + 2)
            nxt, pp = self.id(P_new), self.id(Pp)  # may grow the arrays: assign after
            self.nxt[i], self.pp[i] = nxt, pp
            self.Sinv[i], self.K[i] = Sinv, K
            self.radius[i] = math.sqrt(self.gate * float(np.trace(S)))  # >= largest eigenvalue
            self.const[i] = self.ln_det - 0.5 * math.log(float(det(S)))
            self.stepped[i] = True


class NodeTable:
    """Every node of the live search trees, one row each: the frame, the detection
    (position in the frame, :data:`MISS` or :data:`END`) and its table row, the state
    (every mode's, side by side), per mode the covariance rows (:class:`Covariances`)
    after and predicted into the frame (-1: none, a root) and the log-weight, the
    consecutive misses, the score, whether the branch ended there, and the row and frame
    of the branch's latest detection (the hybrid's pruning key)."""

    FIELDS = ("frame", "det", "row", "x", "cov", "covp", "lw", "misses", "score", "ended",
              "last_row", "last_frame")

    def __init__(self, state_width: int, modes: int = 1):
        self.n = 0
        self.frame = np.zeros(0, dtype=np.int64)
        self.det = np.zeros(0, dtype=np.int64)
        self.row = np.zeros(0, dtype=np.int64)
        self.x = np.zeros((0, state_width))
        self.cov = np.zeros((0, modes), dtype=np.int64)
        self.covp = np.zeros((0, modes), dtype=np.int64)
        self.lw = np.zeros((0, modes))
        self.misses = np.zeros(0, dtype=np.int64)
        self.score = np.zeros(0)
        self.ended = np.zeros(0, dtype=bool)
        self.last_row = np.zeros(0, dtype=np.int64)
        self.last_frame = np.zeros(0, dtype=np.int64)

    def add(self, **cols: np.ndarray) -> np.ndarray:
        """Append nodes (one array per field, same length); return their ids."""
        k = len(cols["frame"])
        a, b = self.n, self.n + k
        for name in self.FIELDS:
            arr = _grown(getattr(self, name), b)
            arr[a:b] = cols[name]
            setattr(self, name, arr)
        self.n = b
        return np.arange(a, b, dtype=np.int64)

    def compact(self, keep: np.ndarray) -> np.ndarray:
        """Keep only the nodes ``keep`` (ascending ids); return the map old id -> new id
        (-1: freed)."""
        remap = np.full(self.n + 1, -1, dtype=np.int64)  # index -1 maps "none" to -1
        remap[keep] = np.arange(len(keep))
        for name in self.FIELDS:
            arr = getattr(self, name)
            setattr(self, name, arr[keep])
        self.n = len(keep)
        return remap


@dataclass
class Branches:
    """Branches of the window's search trees, grouped by owner (ascending), each owner's
    in the order of a level-by-level walk of its tree: the owner, the node in each frame
    of the window (column ``k`` is frame ``f0 + k``; -1 before the owner's start or after
    its end), the last node, and how many detections it takes after the owner's start
    (0: the owner's all-miss branch)."""

    own: np.ndarray
    hn: np.ndarray
    leaf: np.ndarray
    ndet: np.ndarray

    @staticmethod
    def empty(width: int) -> Branches:
        z = np.zeros(0, dtype=np.int64)
        return Branches(z, np.zeros((0, width), dtype=np.int64), z.copy(), z.copy())

    def __len__(self) -> int:
        return len(self.own)

    def take(self, idx: np.ndarray) -> Branches:
        return Branches(self.own[idx], self.hn[idx], self.leaf[idx], self.ndet[idx])

    def join(self, other: Branches) -> Branches:
        return Branches(np.concatenate([self.own, other.own]),
                        np.concatenate([self.hn, other.hn]),
                        np.concatenate([self.leaf, other.leaf]),
                        np.concatenate([self.ndet, other.ndet]))

    def reframe(self, drop: int, add: int) -> Branches:
        """Columns shifted to a window ``drop`` frames later with ``add`` more at the end."""
        hn = self.hn[:, drop:]
        if add:
            hn = np.concatenate([hn, np.full((len(hn), add), -1, dtype=np.int64)], axis=1)
        return Branches(self.own, hn, self.leaf, self.ndet)

    def remap(self, remap: np.ndarray) -> Branches:
        return Branches(self.own, remap[self.hn], remap[self.leaf], self.ndet)
