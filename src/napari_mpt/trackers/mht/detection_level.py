"""Track-oriented MHT for real detections: misses, false alarms, births and deaths.

The formulation (Reid 1979; Blackman and Popoli 1999; Kim et al. 2015), with the choices
the literature leaves open made explicit:

* Frames are every integer from the first to the last detection's frame (empty frames
  included).  The field of view is the bounding box of all detections (sides >= 1 px),
  area/volume ``A``.
* A track is a Kalman filter (the motion model of :mod:`napari_mpt.trackers.mht.motion`, its own
  covariance, since misses make covariances differ) started at a detection with state
  ``(z, 0)`` and covariance ``P0``; with the switching model, a bank of such filters, one
  per mode, with a weight each (:class:`~.motion.MotionBank`).  Its score is a
  log-likelihood ratio against "all of its detections are false alarms":
  - start: ``ln(lambda_B / lambda_FA)``; in the first frame every track is new, so there
    ``lambda_B`` is replaced by the density of particles that frame shows,
    ``lambda_0 = max(n_0 / A - lambda_FA, lambda_B)``;
  - each later frame, in order: if the predicted position is outside the field of view by
    more than the gate radius ``sqrt(link_gate * trace S)`` (so no detection could be in
    its gate; with a bank: every mode's), the track has left and ends (nothing added, now
    or later); else it takes one detection ``z`` with ``d^2 = y^T S^-1 y <= link_gate``
    (``y`` the innovation, ``S`` its covariance; with a bank, in some mode's gate),
    adding ``ln P_D - ln lambda_FA - ln|2 pi S|/2 - d^2/2`` (with a bank, ``ln P_D -
    ln lambda_FA + ln sum_j w_j N(y_j; 0, S_j)`` over the modes j, the weights ``w`` the
    chain's prediction of the last ones, which then become the posterior ones); or it is
    missed, adding ``ln(1 - P_D)`` (the weights predicted only), allowed while it has had
    fewer than ``max_gap`` consecutive misses; a track already missed ``max_gap`` times in
    a row that is not detected ends there (nothing added).
  ``P_D`` is capped at ``1 - 1e-9`` and ``lambda_FA`` floored at ``1e-12`` per px^D so
  that the logarithms are finite (the paper's clean case, P_D = 1 and no clutter or
  births, takes the permutation path of :mod:`.tracker` instead).
* A global hypothesis is a set of tracks in which every detection is used at most once;
  the detections of no track are false alarms (score 0).  Its score is the sum of its
  tracks' scores.
* Window and commit rule (N-scan pruning with N = K): with every decision up to frame ``c``
  committed (``c = -1`` at the start), the window holds frames ``c+1 .. c+K`` (the first
  window frames ``0 .. K``, so that K association steps follow the first frame and
  ``K >= T - 1`` is the whole sequence).  The best global hypothesis of the window is
  found (:mod:`.select`) over the tracks' branches (every gated detection-or-miss sequence
  through the window from the committed state) and the candidate new tracks (one per
  detection of the window, with every branch from it).  If the window reaches the last
  frame, all of it is committed; otherwise only frame ``c+1``: each live track's decision
  there (which detection, a miss, or its end), which of its detections start tracks, and
  that the others are false alarms.  Tracks started later in the window are not committed:
  the next window decides them again with one more frame of evidence.  So with K = 1 a
  track starting after the first frame is committed on its start score alone; use K >= 2
  when births matter.
* Exactness: branches with a lower score than the track's all-miss branch (which uses no
  detection) and new-track branches with score <= 0 can never be in an optimum (swapping
  them for that branch, or for none, frees detections and gains score) and are dropped;
  everything else is searched exactly, within the gate, unless a budget is exceeded:
  ``max_branches`` (per owner and window, best kept, the all-miss branch always) and
  ``memory_budget_mb`` (caps branches so that the trees of a window fit) bound the trees,
  ``search_budget`` the selection; each cluster that hit one is counted as bounded in
  ``info`` instead of exact.  A branch cut by the cap stays cut in later windows, and its
  owner counts as capped while a cut branch is below its root; the all-miss branch is
  never cut.  The search trees persist across windows: after a commit the branches under
  the committed decision stay valid and are only extended by the new frame.
* Storage (:mod:`.nodes`): nodes are rows of arrays and each owner's branches a table of
  their nodes frame by frame, so a window is expanded, gated, scored and committed a
  whole level at a time with numpy; the branches of an owner are kept in the order of a
  level-by-level walk of its tree (children: detections ascending, then the miss), which
  decides ties between equal scores.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ...core.flops import FlopCounter, matmul
from .kalman import gauss_jordan_inverse
from .link_margins import window_margins
from .motion import MotionBank, MotionModel
from .nodes import END, MISS, Branches, Covariances, NodeTable
from .select import Options, SelectStats, offsets, select_options

__all__ = ["END", "MISS", "Scene", "Tuning", "paused_gc", "run"]

PD_CAP = 1.0 - 1e-9
FA_FLOOR = 1e-12
PROGRESS_UNITS = 100  # progress steps per frame
# a node with its share of the branch tables and of the selection's arrays: a run's peak
# traced memory (tracemalloc) over its peak node count was 424-432 B for s = 4
# (vesicle-high with 50 spurious spots per 1000 particles; 300 and 1000 particles, K = 5, 3)
NODE_BYTES = 450


def node_bytes(bank: MotionBank) -> int:
    """:data:`NODE_BYTES` for the bank's state: a wider state or more modes (each a
    state slice, two covariance rows and a weight) add their bytes."""
    return NODE_BYTES + 8 * (sum(bank.widths) - 4) + 24 * (len(bank.models) - 1)
_NONE = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Tuning:
    """How the search keeps its books: not the model, so not user-facing; tests set them
    to make rare events frequent (the defaults are what every run uses)."""

    progress_every_s: float = 0.25
    """Within a window, progress is reported at most this often."""
    cov_rows: int = 20_000
    """Distinct covariances kept before the unreferenced ones are dropped."""
    cov_key_bits: int = 20
    """Low mantissa bits a covariance's key ignores (:func:`.nodes.cov_key`): relative
    2^-32; 0 makes keys exact (positions then differ by < 1e-8 px, tracks not at all)."""


@dataclass
class Scene:
    """Per-frame detections, the motion bank, and the search trees' storage (:mod:`.nodes`)."""

    bank: MotionBank
    coords: list[np.ndarray]       # per frame (n_t, D)
    rows: list[np.ndarray]         # per frame, the detections' rows in the table
    lo: np.ndarray
    hi: np.ndarray
    area: float
    p_d: float
    lam_fa: float
    lam_b: float
    lam_0: float
    max_gap: int
    gate: float
    counter: FlopCounter
    # candidate filter (the hybrid, napari_mpt.trackers.hybrid): None, or
    # f(last_row, gap, candidates) -> mask over the (branch, candidate) pairs: may the
    # branch whose latest detection is table row last_row take, gap frames later, the
    # candidate (a position in its frame)?  Applied before gating.
    allowed: Any = None
    # score added to a branch taking a detection (pinned links, :mod:`.fixed`): None, or
    # f(last_row, row) -> array of additions per (branch, detection) pair
    bonus: Any = None
    # the committed links' score margins (:mod:`.link_margins`), window by window; None:
    # not asked for
    margins: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    smooth: bool = False  # committed nodes keep their covariances (for smoothing)
    tuning: Tuning = Tuning()

    def __post_init__(self) -> None:
        bank = self.bank
        d = bank.ndim
        self.ln_miss = math.log(1.0 - self.p_d)
        self.ln_det = math.log(self.p_d) - math.log(self.lam_fa) - 0.5 * d * math.log(2 * math.pi)
        self.trees = [cKDTree(z) if len(z) else None for z in self.coords]
        self.first = offsets([len(z) for z in self.coords])  # frame t's detections, flat
        self.flat = (np.concatenate([np.asarray(z, dtype=np.float64).reshape(-1, d)
                                     for z in self.coords]))
        self.flat_rows = np.concatenate([np.asarray(r, dtype=np.int64) for r in self.rows])
        ends = offsets(list(bank.widths)).tolist()   # each mode's slice of a node's state
        self.slices = [slice(a, b) for a, b in itertools.pairwise(ends)]
        self.table = NodeTable(sum(bank.widths), len(bank.models))
        self.covs = [Covariances(m, self.gate, self.ln_det, self.counter,
                                 self.tuning.cov_key_bits) for m in bank.models]
        self.P0 = np.array([cv.id(m.P0) for cv, m in zip(self.covs, bank.models, strict=True)])
        self.expanded = self.created = self.link_nodes = 0  # nodes expanded and made

    @property
    def modes(self) -> int:
        return len(self.bank.models)

    def start_score(self, t: int) -> float:
        lam = self.lam_0 if t == 0 else self.lam_b
        return math.log(lam / self.lam_fa) if lam > 0 else -math.inf

    def births(self, t: int) -> np.ndarray:
        """A new track's root at every detection of frame ``t``; their node ids."""
        n = len(self.coords[t])
        rows = self.flat_rows[self.first[t] : self.first[t + 1]]
        full = functools.partial(np.full, n)
        z = self.flat[self.first[t] : self.first[t + 1]]
        return self.table.add(
            frame=full(t), det=np.arange(n), row=rows,
            x=np.hstack([m.initial_states(z) for m in self.bank.models]),
            cov=np.tile(self.P0, (n, 1)), covp=np.full((n, self.modes), -1),
            lw=np.tile(self.bank.log_initial, (n, 1)), misses=full(0),
            score=full(self.start_score(t)), ended=full(False), last_row=rows,
            last_frame=full(t))

    def positions(self, x: np.ndarray, lw: np.ndarray) -> np.ndarray:
        """Estimated positions of states ``x`` (n, W) with mode log-weights ``lw``: the
        weighted mean of the modes' (the one mode's position itself)."""
        d = self.bank.ndim
        if self.modes == 1:
            return x[:, :d]
        w = np.exp(lw)
        return sum(w[:, [j]] * x[:, sl][:, :d] for j, sl in enumerate(self.slices))

    def candidates(self, F: np.ndarray, sel: np.ndarray, t: np.ndarray, pos: np.ndarray,
                   radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The detections each node ``F[i]`` (``i`` in ``sel``) may take in frame
        ``t[i]`` before gating: those within ``radius[i]`` of its predicted position
        ``pos[i]`` (k-d tree queries), filtered by :attr:`allowed` when set.  Returned as
        pairs (node index ``i``, detection position in the frame), grouped by node in
        the order of ``sel``, each node's detections ascending."""
        owners, found = [], []
        for tt in np.unique(t[sel]).tolist():
            tree = self.trees[tt]
            s = sel[t[sel] == tt]
            if tree is None or not len(s):
                continue
            hits = tree.query_ball_point(pos[s], radius[s], return_sorted=True)
            lens = np.fromiter(map(len, hits), dtype=np.int64, count=len(hits))
            owners.append(np.repeat(s, lens))
            found.append(np.fromiter((j for h in hits for j in h), dtype=np.int64,
                                     count=int(lens.sum())))
        if not owners:
            return _NONE, _NONE
        owner, J = np.concatenate(owners), np.concatenate(found)
        if len(owners) > 1:
            order = np.argsort(owner, kind="stable")
            owner, J = owner[order], J[order]
        if self.allowed is not None and len(J):
            tab = self.table
            node = F[owner]
            ok = self.allowed(tab.last_row[node], t[owner] - tab.last_frame[node], J)
            owner, J = owner[ok], J[ok]
        return owner, J

    def expand(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Make the children of the nodes ``F`` (see the module docstring): for each
        node, one child per gated detection of the next frame (ascending), then the miss
        (or end) child, last; or a single end child when it has left the field of view.
        Returns, child by child (grouped by parent in the order of ``F``), the parent's
        index in ``F`` and the child's id.

        All of it at once: every node's covariance row gives its ``S^-1``, gain, gate
        radius and score constant (:class:`.nodes.Covariances`, one table per mode), so
        predictions, gating distances, updates and scores are a few numpy operations for
        the whole level (the arithmetic of one Kalman step per node, mode and detection,
        counted that way; a bank's weights: additions counted, exponentials and
        logarithms not)."""
        tab, add, bank = self.table, self.counter.add, self.bank
        d, M = bank.ndim, self.modes
        nF = len(F)
        t = tab.frame[F] + 1
        c, Xp, pos, radius = [], [], [], []
        out = np.ones(nF, dtype=bool)
        for j, (m, cv, sl) in enumerate(zip(bank.models, self.covs, self.slices, strict=True)):
            cj = tab.cov[F, j]
            cv.ensure(cj)
            xp = m.predict_mean(tab.x[F, sl])
            add(nF * m.predict_mean_flops())
            r = cv.radius[cj]
            out &= (np.any(xp[:, :d] < self.lo - r[:, None], axis=1)
                    | np.any(xp[:, :d] > self.hi + r[:, None], axis=1))
            c.append(cj)
            Xp.append(xp)
            pos.append(xp[:, :d])
            radius.append(r)
        inside = np.flatnonzero(~out)
        owner, J = self.candidates(F, inside, t, pos[0], radius[0])
        if M > 1:  # the union of every mode's ball, each pair once, by node then detection
            more = [self.candidates(F, inside, t, pos[j], radius[j]) for j in range(1, M)]
            key = np.unique(np.concatenate([owner * (len(self.flat) + 1) + J]
                                           + [o * (len(self.flat) + 1) + q for o, q in more]))
            owner, J = key // (len(self.flat) + 1), key % (len(self.flat) + 1)
        g = self.first[t[owner]] + J
        Y, co, d2 = [], [], []
        for j, cv in enumerate(self.covs):
            y = self.flat[g] - pos[j][owner]
            cj = c[j][owner]
            Y.append(y)
            co.append(cj)
            d2.append(np.einsum("pi,pij,pj->p", y, cv.Sinv[cj], y))
        add(M * len(J) * (d + matmul(1, d, d) + matmul(1, d, 1)))
        ok = (np.min(d2, axis=0) if M > 1 else d2[0]) <= self.gate
        pk, g = owner[ok], g[ok]
        score = tab.score[F]
        pinned = (self.bonus(tab.last_row[F[pk]], self.flat_rows[g])
                  if self.bonus is not None else 0.0)
        n_ok = len(pk)
        ci = [cj[inside] for cj in c]
        if M == 1:
            gain = self.covs[0].const[co[0][ok]] - 0.5 * d2[0][ok]
            lw_det = np.zeros((n_ok, 1))
            lw_miss = np.zeros((len(inside), 1))
            add(n_ok * 3)
        else:  # the chain's prediction of the weights, then Bayes' rule per detection
            lw = tab.lw[F]
            lwp = np.logaddexp.reduce(lw[:, :, None] + bank.log_transition[None], axis=1)
            each = np.column_stack([lwp[pk, j] + cv.const[co[j][ok]] - 0.5 * d2[j][ok]
                                    for j, cv in enumerate(self.covs)])
            gain = np.logaddexp.reduce(each, axis=1)
            lw_det = each - gain[:, None]
            lw_miss = lwp[inside]
            add(nF * M * M + n_ok * (4 * M))
        xc = []
        for j, (m, cv) in enumerate(zip(bank.models, self.covs, strict=True)):
            xc.append(Xp[j][pk] + np.einsum("pd,psd->ps", Y[j][ok], cv.K[co[j][ok]]))
            add(n_ok * (matmul(m.state_dim, d, 1) + m.state_dim))
        miss = tab.misses[F[inside]] < self.max_gap
        add(int(miss.sum()))
        outs = np.flatnonzero(out)
        fo = F[outs]
        # children: detections, then the inside nodes' miss/end, then the outside nodes' end
        parent = np.concatenate([pk, inside, outs])
        rows = self.flat_rows[g]
        cols = dict(
            frame=t[parent],
            det=np.concatenate([J[ok], np.where(miss, MISS, END), np.full(len(outs), END)]),
            row=np.concatenate([rows, np.full(len(inside) + len(outs), -1)]),
            x=np.concatenate([np.hstack(xc), np.hstack([x[inside] for x in Xp]),
                              np.hstack([x[outs] for x in Xp])]),
            cov=np.concatenate([
                np.column_stack([cv.nxt[cj[ok]] for cv, cj in zip(self.covs, co, strict=True)]),
                np.column_stack([cv.pp[cj] for cv, cj in zip(self.covs, ci, strict=True)]),
                tab.cov[fo]]),
            covp=np.concatenate([
                np.column_stack([cv.pp[cj[ok]] for cv, cj in zip(self.covs, co, strict=True)]),
                np.column_stack([cv.pp[cj] for cv, cj in zip(self.covs, ci, strict=True)]),
                np.full((len(outs), M), -1)]),
            lw=np.concatenate([lw_det, lw_miss, tab.lw[fo]]),
            misses=np.concatenate([np.zeros(n_ok, dtype=np.int64),
                                   tab.misses[F[inside]] + miss, tab.misses[fo]]),
            score=np.concatenate([score[pk] + gain + pinned,
                                  score[inside] + np.where(miss, self.ln_miss, 0.0),
                                  score[outs]]),
            ended=np.concatenate([np.zeros(n_ok, dtype=bool), ~miss, np.ones(len(outs), bool)]),
            last_row=np.concatenate([rows, tab.last_row[F[inside]], tab.last_row[fo]]),
            last_frame=np.concatenate([t[pk], tab.last_frame[F[inside]], tab.last_frame[fo]]))
        last = np.concatenate([np.zeros(n_ok, dtype=np.int8),
                               np.ones(len(inside) + len(outs), dtype=np.int8)])
        order = np.lexsort((last, parent))  # stable: detections ascending, then the miss
        ids = tab.add(**{k: v[order] for k, v in cols.items()})
        self.expanded += nF
        self.created += len(ids)
        self.link_nodes += n_ok
        return parent[order], ids


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector paused (and resumed only if it was running): a
    dense window makes and frees many objects (owners, options, search closures), and the
    collector's passes over them cost time for nothing; none is left in a cycle
    (tests/trackers/mht/test_mht_memory.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _grow(scene: Scene, L: Branches, C: Branches, f0: int, last: int, cap: int,
          tick: Callable[[int], None]) -> tuple[Branches, Branches]:
    """Extend every branch of ``L`` through frame ``last``, level by level (all owners'
    frontiers expanded together by :meth:`Scene.expand`), keeping each owner's branches
    in walk order: the ones already done, then the new children.  An owner with more
    than ``cap`` branches at a level keeps the best ``cap - 1`` new ones and its all-miss
    one; the others go to ``C`` (cut: never extended again)."""
    tab = scene.table
    depth = 0
    while True:
        lf = L.leaf
        front = ~tab.ended[lf] & (tab.frame[lf] < last)
        if not front.any():
            return L, C
        fi = np.flatnonzero(front)
        pidx, kids = scene.expand(lf[fi])
        prow = fi[pidx]
        hn = L.hn[prow]
        hn[np.arange(len(kids)), tab.frame[kids] - f0] = kids
        grown = Branches(L.own[prow], hn, kids, L.ndet[prow] + (tab.det[kids] >= 0))
        done = L.take(np.flatnonzero(~front))
        both = done.join(grown)
        order = np.argsort(both.own, kind="stable")
        L = both.take(order)
        is_new = order >= len(done)
        seg = np.flatnonzero(np.r_[True, L.own[1:] != L.own[:-1]]) if len(L) else _NONE
        size = np.diff(np.r_[seg, len(L)])
        over = np.flatnonzero((size > cap) & (np.add.reduceat(is_new, seg) > 0)
                              if len(seg) else _NONE)
        if len(over):
            L, cut = _cap(tab, L, seg, size, over, is_new, cap)
            both = C.join(cut)
            C = both.take(np.argsort(both.own, kind="stable"))
        depth += 1
        tick(depth)


def _cap(tab: NodeTable, L: Branches, seg: np.ndarray, size: np.ndarray, over: np.ndarray,
         is_new: np.ndarray, cap: int) -> tuple[Branches, Branches]:
    """The cap of :func:`_grow` on the owners ``over`` (segments of ``L``): the kept
    branches (new ones by decreasing score, the all-miss one last if it was not among
    them) and the cut ones."""
    keep = np.ones(len(L), dtype=bool)
    order = np.arange(len(L))
    cut = []
    for k in over.tolist():
        rows = np.arange(seg[k], seg[k] + size[k])
        new = rows[is_new[rows]]
        n_keep = max(cap - (len(rows) - len(new)), 1)
        srt = new[np.argsort(-tab.score[L.leaf[new]], kind="stable")]
        top = srt[: n_keep - 1]
        null = srt[L.ndet[srt] == 0]
        if len(null) and null[0] not in top:
            top = np.r_[top, null]
        dropped = np.setdiff1d(srt, top)
        cut.append(srt[np.isin(srt, dropped)])
        keep[dropped] = False
        order[new] = np.r_[top, dropped]  # kept ones in their new order, first
    idx = order[keep[order]]
    return L.take(idx), L.take(np.concatenate(cut))


@dataclass
class Committed:
    """The committed nodes of every track, track by track in frame order: the track,
    frame, detection (position in the frame, or :data:`MISS`), state, covariance rows
    per mode (after and predicted into the frame; -1 for a track's first) and mode
    log-weights."""

    track: np.ndarray
    frame: np.ndarray
    det: np.ndarray
    x: np.ndarray
    cov: np.ndarray
    covp: np.ndarray
    lw: np.ndarray
    n_tracks: int


def run(scene: Scene, K: int, max_branches: int, search_budget: int, memory_bytes: float,
        progress: Any = None, time_limit: float = 10.0) -> tuple[Committed, dict[str, Any]]:
    """:func:`_windows` with the garbage collector paused (:func:`paused_gc`)."""
    with paused_gc():
        return _windows(scene, K, max_branches, search_budget, memory_bytes, progress,
                        time_limit)


def _grow_tick(tick: Callable[[int, float], None], f0: int, levels: int, level: int) -> None:
    tick(f0, 0.6 * min(1.0, level / levels))


def _select_tick(tick: Callable[[int, float], None], f0: int, part: float) -> None:
    tick(f0, 0.7 + 0.29 * part)


def _windows(scene: Scene, K: int, max_branches: int, search_budget: int, memory_bytes: float,
             progress: Any = None, time_limit: float = 10.0
             ) -> tuple[Committed, dict[str, Any]]:
    """Slide the window over the scene; returns every committed track and statistics.

    ``progress(done, total)`` (a :class:`~napari_mpt.core.results.RunControl`'s ``step``, which
    also raises when the user cancels) counts :data:`PROGRESS_UNITS` per frame: it is
    called after every window (``done`` = committed frames x units) and, on windows that
    take long (thousands of particles), also between the levels of the trees and before
    the selection, at most every ``scene.tuning.progress_every_s``, so that the bar moves
    and Cancel is honoured at least about once a second.

    Owners are numbered by their birth detection (its index in the flattened frames), so
    sorting by owner puts live tracks first (by start), then the candidate new tracks in
    frame and detection order."""
    T = len(scene.coords)
    tab = scene.table
    last_call = [time.perf_counter()]
    every = scene.tuning.progress_every_s

    def tick(f0: int, part: float) -> None:
        if progress is not None and time.perf_counter() - last_call[0] >= every:
            progress(PROGRESS_UNITS * f0 + min(int(part * PROGRESS_UNITS), PROGRESS_UNITS - 1),
                     PROGRESS_UNITS * T)
            last_call[0] = time.perf_counter()

    led = Ledger.start(scene)
    cov_limit = rows = scene.tuning.cov_rows
    stats = SelectStats()
    info: dict[str, Any] = {"windows": 0, "capped_owners": 0, "score": 0.0, "peak_nodes": 0,
                            "capped_by": []}
    L, C = Branches.empty(0), Branches.empty(0)
    pf0, pf1 = 0, -1
    c = -1
    while c < T - 1:
        f0 = c + 1
        f1 = min(c + K, T - 1) if c >= 0 else min(K, T - 1)
        final = f1 == T - 1
        W = f1 - f0 + 1
        L, C = L.reframe(f0 - pf0, f1 - pf1), C.reframe(f0 - pf0, f1 - pf1)
        L = _with_births(scene, L, f0, range(pf1 + 1, f1 + 1), W)
        pf0, pf1 = f0, f1
        n_births = int(scene.first[f1 + 1] - scene.first[f0])
        owners_count = max(1, int(led.live.sum()) + n_births)
        by_memory = memory_bytes / node_bytes(scene.bank) / owners_count / W
        cap = int(max(2, min(max_branches, by_memory)))
        cut = len(C)
        L, C = _grow(scene, L, C, f0, f1, cap, functools.partial(_grow_tick, tick, f0, W + 1))
        tick(f0, 0.7)
        info["capped_owners"] += len(np.unique(C.own))
        if len(C) > cut:  # which budget cut branches in this window
            why = "memory_budget_mb" if by_memory < max_branches else "max_branches"
            if why not in info["capped_by"]:
                info["capped_by"].append(why)
        opts, sel, owners = _options(scene, L, C, led.o_track, led.o_root)
        choice, _ = select_options(opts, search_budget, stats,
                                   functools.partial(_select_tick, tick, f0), time_limit)
        chosen = np.where(choice >= 0, sel[opts.start[:-1] + np.maximum(choice, 0)], -1)
        if scene.margins is not None:
            scene.margins.append(window_margins(tab, opts, sel, owners, choice, L,
                                                led.o_track, led.o_root, final,
                                                search_budget, time_limit))
        L, C = led.decide(tab, L, C, owners, chosen, f0, final)
        info["peak_nodes"] = max(info["peak_nodes"], tab.n)
        L, C = led.compact(tab, L, C)
        if max(map(len, scene.covs)) > cov_limit:
            cov_limit = max(rows, 2 * _compact_covariances(scene, led.saved))
        info["windows"] += 1
        c = f1 if final else f0
        if progress is not None:
            progress(PROGRESS_UNITS * (c + 1), PROGRESS_UNITS * T)
            last_call[0] = time.perf_counter()
    out = _committed(led.chunks, led.saved, len(led.live), scene)
    info["score"] = out[1]
    info.update(exact_clusters=stats.exact, bounded_clusters=stats.bounded,
                time_limited_clusters=stats.time_limited,
                largest_cluster=stats.largest, selection_nodes=stats.nodes,
                milp_clusters=stats.milp, lp_integral_clusters=stats.lp,
                lp_fixed_branches=stats.fixed)
    return out[0], info


def _with_births(scene: Scene, L: Branches, f0: int, frames: range, W: int) -> Branches:
    """``L`` with a candidate new track at every detection of ``frames`` (its root as its
    one branch), after the others (their owners, the detections' flat indices, are
    larger than every existing owner's)."""
    for t in frames:
        if scene.start_score(t) == -math.inf or not len(scene.coords[t]):
            continue
        ids = scene.births(t)
        hn = np.full((len(ids), W), -1, dtype=np.int64)
        hn[:, t - f0] = ids
        L = L.join(Branches(scene.first[t] + np.arange(len(ids)), hn, ids,
                            np.zeros(len(ids), dtype=np.int64)))
    return L


@dataclass
class Ledger:
    """Owners and tracks across windows: each owner's track (-1: a candidate) and a
    track's last committed node (by owner: the flat index of its birth detection), each
    track's owner and whether it is live, and the committed nodes' data so far."""

    start_of: np.ndarray                 # per owner: its birth frame
    o_track: np.ndarray
    o_root: np.ndarray
    live: np.ndarray
    serial: np.ndarray
    chunks: list[tuple[np.ndarray, np.ndarray]]     # (track, node) committed
    saved: list[dict[str, np.ndarray]]              # their node data

    @staticmethod
    def start(scene: Scene) -> Ledger:
        n = int(scene.first[-1])
        z = np.zeros(0, dtype=np.int64)
        return Ledger(np.repeat(np.arange(len(scene.coords)), np.diff(scene.first)),
                      np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64),
                      np.zeros(0, dtype=bool), z, [], [])

    def commit(self, tab: NodeTable, tracks: np.ndarray, nodes: np.ndarray) -> None:
        self.chunks.append((tracks, nodes))
        self.saved.append({k: getattr(tab, k)[nodes]
                           for k in ("frame", "det", "x", "cov", "covp", "lw", "score")})

    def decide(self, tab: NodeTable, L: Branches, C: Branches, owners: np.ndarray,
               chosen: np.ndarray, f0: int, final: bool) -> tuple[Branches, Branches]:
        """Commit the window's decisions (``chosen``: each owner's branch, a row of ``L``,
        or -1) by the module docstring's rule; return the branches that stay."""
        was_track = self.o_track[owners] >= 0
        # new tracks: chosen candidates starting at f0 (all of them in the last window)
        born = owners[~was_track & (chosen >= 0) & ((self.start_of[owners] == f0) | final)]
        self.o_track[born] = len(self.live) + np.arange(len(born))
        self.live = np.r_[self.live, np.ones(len(born), dtype=bool)]
        self.serial = np.r_[self.serial, born]
        pick = np.flatnonzero(chosen >= 0)
        pick = pick[self.o_track[owners[pick]] >= 0]
        if final:  # every decision of the window: each chosen branch up to its end
            hn = L.hn[chosen[pick]]
            on = (hn >= 0) & (tab.det[hn] != END)
            self.commit(tab, np.repeat(self.o_track[owners[pick]], on.sum(1)), hn[on])
            self.live[:] = False
            return Branches.empty(L.hn.shape[1]), Branches.empty(L.hn.shape[1])
        # frame f0: the tracks' decisions there, and the tracks started there
        tr = pick[was_track[pick]]
        step = L.hn[chosen[tr], 0]
        ends = tab.det[step] == END
        self.live[self.o_track[owners[tr[ends]]]] = False
        go = tr[~ends]
        self.o_root[owners[go]] = step[~ends]
        new = pick[~was_track[pick]]
        self.o_root[owners[new]] = L.hn[chosen[new], 0]
        both = owners[np.r_[go, new]]
        self.commit(tab, self.o_track[both], self.o_root[both])
        L = _kept(tab, L, self.o_track, self.o_root, self.live, self.start_of, f0)
        C = _kept(tab, C, self.o_track, self.o_root, self.live, self.start_of, f0)
        return _uncut(L, C, owners[go])

    def compact(self, tab: NodeTable, L: Branches, C: Branches) -> tuple[Branches, Branches]:
        """Free the nodes that no branch and no live track's root refers to."""
        live = self.serial[self.live]
        roots = self.o_root[live]
        keep = np.unique(np.concatenate([L.hn[L.hn >= 0], C.hn[C.hn >= 0], roots]))
        remap = tab.compact(keep)
        self.o_root[live] = remap[roots]
        return L.remap(remap), C.remap(remap)


def _compact_covariances(scene: Scene, saved: list[dict[str, np.ndarray]]) -> int:
    """Drop the covariance rows no live node refers to, nor a committed one when the
    tracks are to be smoothed (else theirs become -1), mode by mode; return how many are
    kept (in the fullest mode's table)."""
    tab = scene.table
    kept = 0
    for j, cv in enumerate(scene.covs):
        refs = [tab.cov[: tab.n, j], tab.covp[: tab.n, j], scene.P0[[j]]]
        if scene.smooth:
            refs += [d[k][:, j] for d in saved for k in ("cov", "covp")]
        keep = np.unique(np.concatenate(refs))
        keep = keep[keep >= 0]
        remap = cv.compact(keep)
        tab.cov[: tab.n, j] = remap[tab.cov[: tab.n, j]]
        tab.covp[: tab.n, j] = remap[tab.covp[: tab.n, j]]
        for d in saved:
            d["cov"][:, j], d["covp"][:, j] = remap[d["cov"][:, j]], remap[d["covp"][:, j]]
        scene.P0[j] = int(remap[scene.P0[j]])
        kept = max(kept, len(keep))
    return kept


def _options(scene: Scene, L: Branches, C: Branches, o_track: np.ndarray, o_root: np.ndarray
             ) -> tuple[Options, np.ndarray, np.ndarray]:
    """The selection's options from the branches: a track's branches scoring at least its
    all-miss branch (scores relative to its committed root), a candidate new track's
    scoring above 0, each owner's best first (ties in walk order).  Returns the options,
    the branch (row of ``L``) of each option, and each owner of the options."""
    tab = scene.table
    own = L.own
    n = len(own)
    sc = tab.score[L.leaf]
    first = np.r_[True, own[1:] != own[:-1]] if n else np.zeros(0, dtype=bool)
    pos = np.cumsum(first) - 1
    is_track = o_track[own] >= 0
    null = L.ndet == 0
    null_score = np.full(int(first.sum()), np.inf)
    null_score[pos[null]] = sc[null]
    elig = np.where(is_track, sc >= null_score[pos], sc > 0)
    rel = sc - np.where(is_track, tab.score[np.where(is_track, o_root[own], 0)], 0.0)
    order = np.lexsort((-sc, -rel, pos))  # best first, ties in walk order (stable)
    sel = order[elig[order]]
    o_pos = pos[sel]
    ofirst = np.r_[True, o_pos[1:] != o_pos[:-1]] if len(sel) else np.zeros(0, dtype=bool)
    owners = own[sel][ofirst]
    start = np.r_[np.flatnonzero(ofirst), len(sel)].astype(np.int64)
    hn = L.hn[sel]
    r = np.where(hn >= 0, tab.row[np.maximum(hn, 0)], -1)
    taken = r >= 0
    dstart = np.zeros(len(sel) + 1, dtype=np.int64)
    np.cumsum(taken.sum(1), out=dstart[1:])
    opts = Options(o_track[owners] >= 0, start, rel[sel], dstart, r[taken],
                   np.isin(owners, C.own))
    return opts, sel, owners


def _kept(tab: NodeTable, B: Branches, o_track: np.ndarray, o_root: np.ndarray,
          live: np.ndarray, start_of: np.ndarray, f0: int) -> Branches:
    """After committing frame ``f0``: the branches of live tracks through their committed
    node (the detection it took no longer counted) and of candidates starting later."""
    if not len(B):
        return B
    tid = o_track[B.own]
    track = tid >= 0
    alive = np.r_[live, False][np.where(track, tid, len(live))]
    ok = np.where(track, alive & (B.hn[:, 0] == o_root[B.own]),
                  start_of[B.own] > f0)
    out = B.take(np.flatnonzero(ok))
    was = (o_track[out.own] >= 0) & (start_of[out.own] < f0)  # a track before this window
    out.ndet = out.ndet - (was & (tab.det[out.hn[:, 0]] >= 0))
    return out


def _uncut(L: Branches, C: Branches, owners: np.ndarray) -> tuple[Branches, Branches]:
    """Give each of ``owners`` (tracks) its all-miss branch back if the cap had cut it
    (it is their fallback: a track must always have a branch)."""
    have = np.unique(L.own[L.ndet == 0])
    lost = np.setdiff1d(owners, have)
    if not len(lost):
        return L, C
    back = np.isin(C.own, lost) & (C.ndet == 0)
    assert int(back.sum()) == len(lost), "a track's all-miss branch was lost"
    both = L.join(C.take(np.flatnonzero(back)))
    L = both.take(np.argsort(both.own, kind="stable"))
    return L, C.take(np.flatnonzero(~back))


def _committed(chunks: list[tuple[np.ndarray, np.ndarray]], saved: list[dict[str, np.ndarray]],
               n_tracks: int, scene: Scene) -> tuple[Committed, float]:
    """The committed nodes, track by track in frame order, and the summed track scores
    (each track's last committed node's)."""
    if not chunks:
        z = np.zeros(0, dtype=np.int64)
        M = scene.modes
        return Committed(z, z, z, np.zeros((0, sum(scene.bank.widths))),
                         np.zeros((0, M), dtype=np.int64), np.zeros((0, M), dtype=np.int64),
                         np.zeros((0, M)), 0), 0.0
    track = np.concatenate([c[0] for c in chunks])
    data = {k: np.concatenate([d[k] for d in saved]) for k in saved[0]}
    order = np.argsort(track, kind="stable")
    track = track[order]
    data = {k: v[order] for k, v in data.items()}
    lastof = np.r_[track[1:] != track[:-1], True] if len(track) else np.zeros(0, dtype=bool)
    score = float(data["score"][lastof].sum())
    return Committed(track, data["frame"], data["det"], data["x"], data["cov"], data["covp"],
                     data["lw"], n_tracks), score


def smooth_track(model: MotionModel, x: np.ndarray, P: np.ndarray, Pp: np.ndarray,
                 counter: FlopCounter) -> np.ndarray:
    """Rauch-Tung-Striebel smoothed states of one committed track (misses included):
    filtered states ``x`` (n, s), their covariances ``P`` and the predicted ones ``Pp``
    into each frame (``Pp[0]`` unused)."""
    s = model.state_dim
    out = x.copy()
    for k in range(len(x) - 2, -1, -1):
        inv, inv_flops = gauss_jordan_inverse(Pp[k + 1])
        C = P[k] @ model.F.T @ inv
        out[k] = x[k] + C @ (out[k + 1] - model.predict_mean(x[k]))
        counter.add(2 * matmul(s, s, s) + inv_flops + model.predict_mean_flops() + s
                    + matmul(s, s, 1) + s)
    return out
