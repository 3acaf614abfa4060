"""Track-oriented MHT for real detections: misses, false alarms, births and deaths.

The formulation (Reid 1979; Blackman and Popoli 1999; Kim et al. 2015), with the choices
the literature leaves open made explicit:

* Frames are every integer from the first to the last detection's frame (empty frames
  included).  The field of view is the bounding box of all detections (sides >= 1 px),
  area/volume ``A``.
* A track is a Kalman filter (the motion model of :mod:`napari_mpt.motion`, its own
  covariance, since misses make covariances differ) started at a detection with state
  ``(z, 0)`` and covariance ``P0``.  Its score is a log-likelihood ratio against "all of
  its detections are false alarms":
  - start: ``ln(lambda_B / lambda_FA)``; in the first frame every track is new, so there
    ``lambda_B`` is replaced by the density of particles that frame shows,
    ``lambda_0 = max(n_0 / A - lambda_FA, lambda_B)``;
  - each later frame, in order: if the predicted position is outside the field of view by
    more than the gate radius ``sqrt(link_gate * trace S)`` (so no detection could be in
    its gate), the track has left and ends (nothing added, now or later); else it takes one
    detection ``z`` with ``d^2 = y^T S^-1 y <= link_gate`` (``y`` the innovation, ``S``
    its covariance), adding ``ln P_D - ln lambda_FA - ln|2 pi S|/2 - d^2/2``; or it is
    missed, adding ``ln(1 - P_D)``, allowed while it has had fewer than ``max_gap``
    consecutive misses; a track already missed ``max_gap`` times in a row that is not
    detected ends there (nothing added).
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
  ``info`` instead of exact.  The search trees persist across windows: after a commit the
  subtree under the committed decision stays valid and is only extended by the new frame,
  and so does each owner's list of branches (only the new frame's nodes are visited).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from ..flops import FlopCounter, matmul
from ..kalman import covariance_step, det, det_flops, gauss_jordan_inverse, step_covariance_flops
from ..motion import MotionModel
from .select import Owner, SelectStats, select

MISS, END = -1, -2
PD_CAP = 1.0 - 1e-9
FA_FLOOR = 1e-12
COV_CACHE = 100_000  # distinct covariances kept (a few MiB); cleared when exceeded
_NONE = np.empty(0, dtype=np.int64)
PROGRESS_UNITS = 100  # progress steps per frame
PROGRESS_EVERY_S = 0.25  # within a window, at most this often
NODE_BYTES = 600  # a node: state, two covariances, bookkeeping (measured: ~550 B for s = 4)


KEEP_LEAVES = True  # False: walk every tree from its root each window (the tests' reference)
COV_KEY_BITS = 20  # low mantissa bits a covariance's key ignores (relative 2^-32)


def cov_key(P: np.ndarray) -> bytes:
    """The key under which covariances share one step (cache and batch).

    Why not exact bits: a track's covariance is a function of its pattern of detections
    and misses since its start, and patterns that differ long ago give covariances that
    differ only in their last bits (the recursion converges geometrically, not in finitely
    many steps), so on long sequences exact keys made the batches of
    :meth:`Scene.expand_all` ever smaller (about 8 x slower per frame after 100 frames of
    1000 particles than after 20).  Entries equal after their lowest :data:`COV_KEY_BITS`
    mantissa bits are cleared (relative difference < 2^-32, far below a localisation
    error's) share the step of the first one seen; the recursion is contractive, so the
    difference shrinks at every later step instead of adding up."""
    return (np.ascontiguousarray(P).view(np.uint64) >> COV_KEY_BITS).tobytes()


@dataclass(eq=False, slots=True)
class Node:
    """One frame of one branch: the track's state after frame ``frame`` (slots: hundreds of
    thousands are made per window in dense scenes)."""

    parent: Node | None
    frame: int                     # frame index (0 .. T-1)
    det: int                       # position in the frame's detections, MISS, or END
    x: np.ndarray
    P: np.ndarray
    Pp: np.ndarray | None          # predicted covariance into this frame (smoothing)
    misses: int
    score: float
    ended: bool = False
    children: list[Node] | None = None
    row: int = -1                  # the detection's row in the table (det >= 0)
    # an owner root's branches as of the last window (see :func:`branches`)
    leaves: tuple[list[tuple[Node, tuple[int, ...]]], Node, list[Node]] | None = None


@dataclass
class Scene:
    """Per-frame detections and everything a window needs about the data and the model."""

    model: MotionModel
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
    trees: list[cKDTree | None] = field(default_factory=list)
    nodes: int = 0
    # candidate filter (the hybrid, napari_mpt.hybrid): None, or f(node, t, candidates)
    # -> the candidates in frame t that node's branch may take (before gating)
    allowed: Any = None
    _cov: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]] = \
        field(default_factory=dict)

    def __post_init__(self) -> None:
        d = self.model.ndim
        self.ln_miss = math.log(1.0 - self.p_d)
        self.ln_det = math.log(self.p_d) - math.log(self.lam_fa) - 0.5 * d * math.log(2 * math.pi)
        self.trees = [cKDTree(z) if len(z) else None for z in self.coords]

    def start_score(self, t: int) -> float:
        lam = self.lam_0 if t == 0 else self.lam_b
        return math.log(lam / self.lam_fa) if lam > 0 else -math.inf

    def birth(self, t: int, j: int) -> Node:
        m = self.model
        x = m.initial_states(self.coords[t][j : j + 1])[0]
        self.nodes += 1
        return Node(None, t, j, x, m.P0, None, 0, self.start_score(t), row=int(self.rows[t][j]))

    def _covariance(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                  np.ndarray, float, float]:
        """Covariance step from ``P``, gate radius and score constant, computed once per
        distinct ``P``: covariances depend only on a track's pattern of detections and
        misses since its start, so a window holds few distinct ones (cached, and counted
        once, as executed)."""
        key = cov_key(P)
        hit = self._cov.get(key)
        if hit is not None:
            return hit
        m = self.model
        d, s = m.ndim, m.state_dim
        P_new, Sinv, K, Pp = covariance_step(m, P)
        S = m.H @ Pp @ m.H.T + m.R  # as covariance_step computes it (counted there)
        radius = math.sqrt(self.gate * float(np.trace(S)))  # trace >= largest eigenvalue
        const = self.ln_det - 0.5 * math.log(float(det(S)))
        self.counter.add(step_covariance_flops(s, d) + d + 1 + det_flops(d) + 2)
        if len(self._cov) > COV_CACHE:
            self._cov.clear()
        hit = self._cov[key] = (P_new, Sinv, K, Pp, radius, const)
        return hit

    def candidates(self, nodes: list[Node], t: int, pos: np.ndarray, radius: float
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The detections of frame ``t`` each node's branch may take before gating: those
        within ``radius`` of its predicted position ``pos`` (one k-d tree query for all),
        filtered by :attr:`allowed` when set; returned flat (node by node, each node's in
        ascending order) with the count per node.  The one place where a node's candidates
        are gathered."""
        tree = self.trees[t]
        if tree is None or not len(nodes):
            return _NONE, np.zeros(len(nodes), dtype=np.int64)
        found = tree.query_ball_point(pos, radius, return_sorted=True)
        if self.allowed is not None:
            found = [sorted(self.allowed(n, t, c)) if c else c
                     for n, c in zip(nodes, found, strict=True)]
        lens = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        flat = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=int(lens.sum()))
        return flat, lens

    def expand_all(self, nodes: list[Node]) -> None:
        """Set the children of every node in ``nodes`` (see the module docstring): for each
        node, one child per gated detection of the next frame (ascending), then the miss
        (or end) child, last; or a single end child when it has left the field of view.

        Batched: nodes that share the next frame and the covariance (the same pattern of
        detections and misses) share ``S^-1``, the gain and the gate, so their predictions,
        gating distances, updates and scores are a few numpy operations per group instead
        of a few per node (the same arithmetic, counted the same way)."""
        m, add = self.model, self.counter.add
        d, s = m.ndim, m.state_dim
        groups: dict[tuple[int, bytes], list[Node]] = {}
        keys: dict[int, bytes] = {}  # by id: a group's children share one covariance object
        for n in nodes:
            key = keys.get(id(n.P))
            if key is None:
                key = keys[id(n.P)] = cov_key(n.P)
            groups.setdefault((n.frame + 1, key), []).append(n)
        for (t, _), grp in groups.items():
            P, misses = grp[0].P, grp[0].misses
            P_new, Sinv, K, Pp, radius, const = self._covariance(P)
            Xp = m.predict_mean(np.stack([n.x for n in grp]))
            add(len(grp) * m.predict_mean_flops())
            pos = Xp[:, :d]
            out = np.any(pos < self.lo - radius, axis=1) | np.any(pos > self.hi + radius, axis=1)
            inside = np.flatnonzero(~out)
            J, lens = self.candidates([grp[i] for i in inside], t, pos[inside], radius)
            owner = np.repeat(inside, lens)
            Y = self.coords[t][J] - pos[owner]
            d2 = ((Y @ Sinv) * Y).sum(-1)
            add(len(J) * (d + matmul(1, d, d) + matmul(1, d, 1)))
            ok = d2 <= self.gate
            Xc = Xp[owner[ok]] + Y[ok] @ K.T
            score = np.fromiter((n.score for n in grp), dtype=np.float64, count=len(grp))
            child_score = (score[owner[ok]] + const - 0.5 * d2[ok]).tolist()
            add(int(ok.sum()) * (3 + matmul(s, d, 1) + s))
            child_owner = owner[ok].tolist()
            child_det = J[ok].tolist()
            child_row = self.rows[t][J[ok]].tolist()
            k = 0
            miss = misses < self.max_gap
            n_kids = len(child_det)
            for i, n in enumerate(grp):
                xp = Xp[i]
                if out[i]:  # left the field of view: its gate no longer reaches it
                    n.children = [Node(n, t, END, xp, n.P, None, n.misses, n.score, True)]
                    self.nodes += 1
                    continue
                kids = []
                while k < n_kids and child_owner[k] == i:
                    kids.append(Node(n, t, child_det[k], Xc[k], P_new, Pp, 0, child_score[k],
                                     row=child_row[k]))
                    k += 1
                if miss:
                    kids.append(Node(n, t, MISS, xp, Pp, Pp, misses + 1, n.score + self.ln_miss))
                else:
                    kids.append(Node(n, t, END, xp, Pp, Pp, misses, n.score, True))
                self.nodes += len(kids)
                n.children = kids
            add(int(miss) * len(inside))


Branches = tuple[list[Node], list[tuple[int, ...]], Node, bool]


def branches(scene: Scene, roots: list[tuple[Node, tuple[int, ...]]], last: int, cap: int,
             tick: Any = None) -> list[Branches]:
    """For each ``(root, ids)``: every branch of the root's tree through frame ``last``
    (level by level), the detection rows each one takes (after ``ids``), the all-miss one
    among them, and whether it was capped: more than ``cap`` at a level keeps the best
    ``cap - 1`` and the all-miss one (bounded).  A branch cut stays cut in later windows,
    and its owner counts as capped while a cut branch is below its root.
    All trees advance a level together so that their unexpanded nodes are expanded in one
    batch (:meth:`Scene.expand_all`); ``tick(levels_done)`` is called after each level.

    A root that was an owner in the last window starts from the branches it had then
    (:attr:`Node.leaves`, kept by this function and carried to a track's new root by
    :func:`_reroot`) instead of walking its tree again from the top: only the last
    frame's nodes are expanded.  The branches, their order and the all-miss one are those
    of the walk from the top."""
    n_roots = len(roots)
    done: list[list[tuple[Node, tuple[int, ...]]]] = [[] for _ in roots]
    null = [r for r, _ in roots]
    level: list[list[tuple[Node, tuple[int, ...]]]] = [[] for _ in roots]
    cut: list[list[Node]] = [[] for _ in roots]  # each tree's branches cut by the cap
    for i, (r, ids) in enumerate(roots):
        if r.leaves is None or not KEEP_LEAVES:
            level[i].append((r, ids))
            continue
        entries, null[i], cut[i] = r.leaves
        dn, lv = done[i], level[i]
        for e in entries:  # the ends and the frontier, in the order of the walk
            n = e[0]
            if n.ended or n.frame >= last:
                dn.append(e)
            else:
                lv.append(e)
    active = [i for i in range(n_roots) if level[i]]
    depth = 0
    while active:
        scene.expand_all([n for i in active for n, _ in level[i]
                          if n.children is None and not n.ended and n.frame < last])
        still = []
        for i in active:
            nxt: list[tuple[Node, tuple[int, ...]]] = []
            dn = done[i]
            for n, ids in level[i]:
                if n.ended or n.frame >= last:
                    dn.append((n, ids))
                    continue
                kids = n.children
                assert kids is not None
                for kid in kids:
                    nxt.append((kid, (*ids, kid.row) if kid.det >= 0 else ids))
                if n is null[i]:
                    null[i] = kids[-1]  # the miss (or end) child is always last
            if len(nxt) + len(dn) > cap:
                keep = max(cap - len(dn), 1)
                nxt.sort(key=lambda e: -e[0].score)
                top = nxt[: keep - 1]
                nl = null[i]
                if not any(e[0] is nl for e in top):
                    top += [e for e in nxt if e[0] is nl]
                cut[i] = [*cut[i], *(e[0] for e in nxt[keep - 1:] if e[0] is not nl)]
                nxt = top
            level[i] = nxt
            if nxt:
                still.append(i)
        active = still
        depth += 1
        if tick is not None:
            tick(depth)
    for (r, _), dn, nl, c in zip(roots, done, null, cut, strict=True):
        r.leaves = (dn, nl, c)
    return [([n for n, _ in dn], [ids for _, ids in dn], null[i], bool(cut[i]))
            for i, dn in enumerate(done)]


def _reroot(root: Node, child: Node) -> None:
    """Carry ``root``'s branches (:attr:`Node.leaves`) to ``child``, the track's decision
    just committed: the branches through ``child``, without its detection row, and its
    all-miss branch (the last child at every level, as the walk from the top finds it)."""
    kept, root.leaves = root.leaves, None
    if kept is None or child.ended:
        return
    entries, null, cut = kept

    def below(n: Node) -> Node | None:  # the ancestor of n just below root
        while n.parent is not None and n.parent is not root:
            n = n.parent
        return n if n.parent is root else None

    strip = child.det >= 0
    mine = [(n, ids[1:] if strip else ids) for n, ids in entries if below(n) is child]
    if below(null) is not child:
        null = child
        while null.children:
            null = null.children[-1]
    child.leaves = (mine, null, [n for n in cut if below(n) is child])


def path(leaf: Node, root: Node | None) -> list[Node]:
    """Nodes from just below ``root`` (or from the top, if None) down to ``leaf``."""
    out = []
    n: Node | None = leaf
    while n is not None and n is not root:
        out.append(n)
        n = n.parent
    out.reverse()
    return out


@dataclass
class Track:
    nodes: list[Node]              # committed, birth first; misses included, END excluded
    live: bool = True

    @property
    def root(self) -> Node:
        return self.nodes[-1]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector paused (and resumed only if it was running): a
    dense window makes hundreds of thousands of nodes, and the collector's passes over
    them took about 45 % of the run.  Nothing waits on it: discarded subtrees have their
    parent/child cycles broken (:func:`_drop`), so reference counting frees them at once.
    Callers that keep committed tracks past :func:`run` should drop them inside the pause
    too, or the collector's first pass afterwards walks every one of their nodes."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run(scene: Scene, K: int, max_branches: int, search_budget: int, memory_bytes: float,
        progress: Any = None) -> tuple[list[Track], dict[str, Any]]:
    """:func:`_windows` with the garbage collector paused (:func:`paused_gc`)."""
    with paused_gc():
        return _windows(scene, K, max_branches, search_budget, memory_bytes, progress)


def _select_tick(tick: Callable[[int, float], None], f0: int, part: float) -> None:
    tick(f0, 0.7 + 0.29 * part)


def _drop(node: Node, keep: Node | None = None) -> None:
    """Discard ``node``'s subtree (all of its descendants but ``keep``'s): clear every
    ``children`` list in it, so that no parent/child cycle is left for the collector."""
    stack = [c for c in node.children or () if c is not keep]
    node.children = node.leaves = None
    while stack:
        n = stack.pop()
        n.leaves = None
        if n.children:
            stack.extend(n.children)
            n.children = None


def _windows(scene: Scene, K: int, max_branches: int, search_budget: int, memory_bytes: float,
             progress: Any = None) -> tuple[list[Track], dict[str, Any]]:
    """Slide the window over the scene; returns every committed track and statistics.

    ``progress(done, total)`` (a :class:`~napari_mpt.runtime.RunControl`'s ``step``, which
    also raises when the user cancels) counts :data:`PROGRESS_UNITS` per frame: it is
    called after every window (``done`` = committed frames x units) and, on windows that
    take long (thousands of particles), also between the levels of the trees and before
    the selection, at most every :data:`PROGRESS_EVERY_S`, so that the bar moves and Cancel
    is honoured at least about once a second."""
    T = len(scene.coords)
    last_call = [time.perf_counter()]

    def tick(f0: int, part: float) -> None:
        if progress is not None and time.perf_counter() - last_call[0] >= PROGRESS_EVERY_S:
            progress(PROGRESS_UNITS * f0 + min(int(part * PROGRESS_UNITS), PROGRESS_UNITS - 1),
                     PROGRESS_UNITS * T)
            last_call[0] = time.perf_counter()
    tracks: list[Track] = []
    births: dict[tuple[int, int], Node] = {}
    stats = SelectStats()
    info: dict[str, Any] = {"windows": 0, "capped_owners": 0, "score": 0.0, "peak_nodes": 0}
    c = -1
    while c < T - 1:
        f0 = c + 1
        f1 = min(c + K, T - 1) if c >= 0 else min(K, T - 1)
        final = f1 == T - 1
        live = [tr for tr in tracks if tr.live]
        n_births = sum(len(z) for z in scene.coords[f0 : f1 + 1])
        owners_count = max(1, len(live) + n_births)
        cap = int(max(2, min(max_branches, memory_bytes / NODE_BYTES / owners_count
                             / max(1, f1 - f0 + 1))))
        owners: list[Owner] = []
        refs: list[tuple[Any, Node, list[Node]]] = []
        roots: list[tuple[Node, tuple[int, ...]]] = [(tr.root, ()) for tr in live]
        keys: list[tuple[int, int]] = []
        for t in range(f0, f1 + 1):
            if scene.start_score(t) == -math.inf:
                continue
            for j in range(len(scene.coords[t])):
                root = births.get((t, j))
                if root is None:
                    root = births[(t, j)] = scene.birth(t, j)
                roots.append((root, (root.row,)))
                keys.append((t, j))
        found = branches(scene, roots, f1, cap,
                         lambda level, f0=f0, n=f1 - f0 + 2: tick(f0, 0.6 * min(1.0, level / n)))
        tick(f0, 0.7)
        for tr, (lv, ids, null, capped) in zip(live, found, strict=False):
            info["capped_owners"] += capped
            kept = sorted((e for e in zip(lv, ids, strict=True) if e[0].score >= null.score),
                          key=lambda e: -e[0].score)
            owners.append(Owner(True, [(n.score - tr.root.score, z) for n, z in kept],
                                capped=capped))
            refs.append((tr, tr.root, [n for n, _ in kept]))
        for key, (root, _), (lv, ids, _, capped) in zip(keys, roots[len(live):],
                                                         found[len(live):], strict=True):
            info["capped_owners"] += capped
            kept = sorted((e for e in zip(lv, ids, strict=True) if e[0].score > 0),
                          key=lambda e: -e[0].score)
            if kept:
                owners.append(Owner(False, [(n.score, z) for n, z in kept], capped=capped))
                refs.append((key, root, [n for n, _ in kept]))
        select(owners, search_budget, stats, functools.partial(_select_tick, tick, f0))
        started: set[int] = set()
        for o, (who, root, keep) in zip(owners, refs, strict=True):
            if o.choice < 0:
                continue
            leaf = keep[o.choice]  # options are in keep's order (select sorts stably)
            if final:
                root.leaves = None  # no later window: break the leaves' cycles
            if isinstance(who, Track):
                steps = path(leaf, root)
                _reroot(root, steps[0])
                _drop(root, keep=steps[0])  # the other branches of the committed root are gone
            elif final or who[0] == f0:
                steps = path(leaf, root) if final else []  # committed: its start at f0 only
                who = Track([root])
                if root.leaves is not None:  # a track's branches leave out its root's row
                    entries, nl, cp = root.leaves
                    root.leaves = ([(n, ids[1:]) for n, ids in entries], nl, cp)
                tracks.append(who)
                started.add(id(root))
            else:
                continue  # a new track later in the window: decided again next window
            for n in steps if final else steps[:1]:
                if n.det == END:
                    who.live = False
                    break
                who.nodes.append(n)
            if final:
                who.live = False
                for a, b in pairwise([root, *steps]):  # cut each step's other branches
                    _drop(a, keep=b)
            if not who.live:
                _drop(who.nodes[-1])
        for key in [k for k in births if final or k[0] == f0]:
            if id(births[key]) not in started:
                _drop(births[key])
            del births[key]
        info["peak_nodes"] = max(info["peak_nodes"], scene.nodes)
        scene.nodes = _count_nodes(tracks, births)
        info["windows"] += 1
        c = f1 if final else f0
        if progress is not None:
            progress(PROGRESS_UNITS * (c + 1), PROGRESS_UNITS * T)
            last_call[0] = time.perf_counter()
    info["score"] = sum(tr.nodes[-1].score for tr in tracks)
    info.update(exact_clusters=stats.exact, bounded_clusters=stats.bounded,
                largest_cluster=stats.largest, selection_nodes=stats.nodes,
                milp_clusters=stats.milp, lp_integral_clusters=stats.lp,
                lp_fixed_branches=stats.fixed)
    return tracks, info


def _count_nodes(tracks: list[Track], births: dict[tuple[int, int], Node]) -> int:
    total = 0
    stack = [tr.root for tr in tracks if tr.live] + list(births.values())
    while stack:
        n = stack.pop()
        total += 1
        if n.children:
            stack.extend(n.children)
    return total


def smooth_track(model: MotionModel, nodes: list[Node], counter: FlopCounter) -> list[np.ndarray]:
    """Rauch-Tung-Striebel smoothed states of one committed track (misses included)."""
    s = model.state_dim
    xs = [n.x for n in nodes]
    out = xs.copy()
    for k in range(len(nodes) - 2, -1, -1):
        Pp = nodes[k + 1].Pp
        assert Pp is not None
        inv, inv_flops = gauss_jordan_inverse(Pp)
        C = nodes[k].P @ model.F.T @ inv
        out[k] = xs[k] + C @ (out[k + 1] - model.predict_mean(xs[k]))
        counter.add(2 * matmul(s, s, s) + inv_flops + model.predict_mean_flops() + s
                    + matmul(s, s, 1) + s)
    return out
