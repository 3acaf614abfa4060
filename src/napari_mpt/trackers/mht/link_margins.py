"""How sure the MHT is of each link: the score margin to the best hypothesis without it.

When a window commits a link ``a -> b`` (a track's decision in the window's first frame,
or any link of the last window), the window's best global hypothesis scores ``S``; the
best one in which that track does not make that link (every other owner free, ``b``
free to be taken by another track, start a track or be a false alarm) scores ``S'``.
Only the link's cluster changes (clusters share no detection), so ``S'`` is that
cluster's selection again with the track's options that make the link removed.  Scores
are log-likelihood ratios, so ``exp(S - S')`` is how much likelier the best hypothesis
is than the best without the link, and ``1 / (1 + exp(-(S - S')))`` the probability of
the link when only those two hypotheses are weighed: the ``link_confidence`` the tracks
carry.  In [1/2, 1] when the search is exact (the best hypothesis makes the link).

Exact in clusters of up to :data:`~.select.SMALL_CLUSTER` owners.  In a larger cluster,
``S'`` is the best hypothesis without the link that changes only the track and the
owners competing with it (those whose options share a detection with its options; at
most :data:`COMPETITORS`, the ones whose chosen branches compete first), the others
keeping their choice: a hypothesis without the link, so ``S'`` is not overestimated and the margin not
underestimated there.  Re-solving a whole large cluster per link cost 10 x the MHT's own
time on a dense scene (80 particles in 120 x 120 px, K = 3), with a linear program per
link.

A separate module reading what the search already has (the options, their branches and
the choice).  Every committed link of a window is a small selection problem of its own;
they are solved together, as the independent clusters of one selection (each link's
copy of its owners on detections of its own), so that the selection's batched paths
(singletons, enumeration) serve them all: one selection call per link was 6-15 x the
MHT's search time (issue 21's 1000 x 100 scene: 78 s against 5 s).
"""

from __future__ import annotations

import itertools

import numpy as np

from .nodes import Branches, NodeTable
from .select import (
    SMALL_CLUSTER,
    Options,
    SelectStats,
    _ranges,
    clusters,
    offsets,
    select_options,
)

COMPETITORS = 3
"""In a cluster of more than :data:`~.select.SMALL_CLUSTER` owners, the owners
re-solved with the track: at most this many of its competitors."""
SEARCH_NODES = 5_000
"""Branch-and-bound nodes a re-solve may take before it goes to HiGHS (a few owners
settle well within: a linear program per link would cost more than the search)."""


def _rows_of(tab: NodeTable, L: Branches, sel: np.ndarray) -> np.ndarray:
    """Each option's detection row per window frame (-1: none)."""
    hn = L.hn[sel]
    return np.where(hn >= 0, tab.row[np.maximum(hn, 0)], -1)


def _links(start: int, rows: np.ndarray) -> list[tuple[int, int]]:
    """The links of a branch: its taken rows in order, after ``start`` (-1: none)."""
    seq = ([start] if start >= 0 else []) + [int(r) for r in rows if r >= 0]
    return list(itertools.pairwise(seq))


def window_margins(tab: NodeTable, opts: Options, sel: np.ndarray, owners: np.ndarray,
                   choice: np.ndarray, L: Branches, o_track: np.ndarray, o_root: np.ndarray,
                   final: bool, budget: int, time_limit: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The links this window commits (``(a, b)`` detection rows) and their margins
    ``S - S'`` (module docstring)."""
    rows = _rows_of(tab, L, sel)
    is_track = o_track[owners] >= 0
    start = np.where(is_track, tab.last_row[np.where(is_track, o_root[owners], 0)], -1)
    group_of = np.empty(len(opts), dtype=np.int64)
    groups = clusters(opts)
    for k, g in enumerate(groups):
        group_of[g] = k
    owner_of = np.repeat(np.arange(len(opts)), np.diff(opts.start))
    opt_links: dict[int, set[tuple[int, int]]] = {}

    def links_of(j: int) -> set[tuple[int, int]]:
        """Option ``j``'s links (in the last window all of them count; before it, only a
        track's decision in the window's first frame is committed)."""
        if j not in opt_links:
            o = int(owner_of[j])
            opt_links[j] = set(_links(int(start[o]), rows[j] if final else rows[j, :1]))
        return opt_links[j]

    out_a, out_b = [], []
    subs: list[tuple[Options, float]] = []
    for i in np.flatnonzero(choice >= 0).tolist():
        if not (final or is_track[i]):
            continue          # a new track's links are committed in later windows
        made = links_of(int(opts.start[i] + choice[i]))
        if not made:
            continue
        group = groups[group_of[i]]
        # who could make the link: in the last window any owner of the cluster (a track
        # born at its start, say); before it only the track, whose last detection it leaves
        who = group if final else np.array([i])
        candidates = np.concatenate([np.arange(opts.start[o], opts.start[o + 1]) for o in who])
        for link in sorted(made):
            drop = candidates[[link in links_of(int(j)) for j in candidates.tolist()]]
            out_a.append(link[0])
            out_b.append(link[1])
            subs.append(_without(opts, group, choice, i, drop))
    return (np.asarray(out_a, dtype=np.int64), np.asarray(out_b, dtype=np.int64),
            _margins(subs, budget, time_limit))


def _margins(subs: list[tuple[Options, float]], budget: int, time_limit: float
             ) -> np.ndarray:
    """Each sub-problem's score now minus its best: all of them one selection, each on
    detections of its own (its detection numbers, from 0, shifted past the previous
    ones'), so no two share a cluster and each one's optimum is its owners' part of the
    whole."""
    if not subs:
        return np.zeros(0, dtype=np.float64)
    parts = [sub for sub, _ in subs]
    owners = np.fromiter(map(len, parts), np.int64, len(parts))
    shift = offsets([int(sub.dets.max(initial=-1)) + 1 for sub in parts])[:-1]
    merged = Options(
        np.concatenate([sub.required for sub in parts]),
        offsets(np.concatenate([np.diff(sub.start) for sub in parts])),
        np.concatenate([sub.score for sub in parts]),
        offsets(np.concatenate([np.diff(sub.dstart) for sub in parts])),
        np.concatenate([sub.dets + k for sub, k in zip(parts, shift.tolist(), strict=True)]),
        np.concatenate([sub.capped for sub in parts]))
    choice, _ = select_options(merged, max(budget, SEARCH_NODES), SelectStats(), None,
                               time_limit)
    took = choice >= 0
    score = np.zeros(len(choice))
    score[took] = merged.score[merged.start[:-1][took] + choice[took]]
    best = np.add.reduceat(np.r_[score, 0.0], offsets(owners)[:-1])[: len(parts)]
    best[owners == 0] = 0.0
    return np.array([now for _, now in subs], dtype=np.float64) - best


def _option_hits(opts: Options, dets: np.ndarray) -> np.ndarray:
    """Per option: does it take any of ``dets``?"""
    hit = np.isin(opts.dets, dets).astype(np.int64)
    counts = np.add.reduceat(np.r_[hit, 0], opts.dstart[:-1]) if len(opts.score) else hit
    return (counts > 0) & (np.diff(opts.dstart) > 0)


def _without(opts: Options, group: np.ndarray, choice: np.ndarray, i: int,
             drop: np.ndarray) -> tuple[Options, float]:
    """The owners around ``i`` without the options ``drop`` (flat indices: those making
    the link), as a selection problem, and their chosen options' score now: the whole
    cluster ``group`` when it is small, else ``i`` and its competitors with the others'
    choices fixed (module docstring)."""
    members = group
    usable = np.ones(len(opts.score), dtype=bool)
    if len(group) > SMALL_CLUSTER:
        lo, hi = opts.dstart[opts.start[i]], opts.dstart[opts.start[i + 1]]
        shares = _option_hits(opts, np.unique(opts.dets[lo:hi]))
        owner_of = np.repeat(np.arange(len(opts)), np.diff(opts.start))
        chosen = np.full(len(opts), -1, dtype=np.int64)
        took = choice >= 0
        chosen[took] = opts.start[:-1][took] + choice[took]
        now = np.zeros(len(opts), dtype=bool)
        now[took] = shares[chosen[took]]
        ever = np.zeros(len(opts), dtype=bool)
        np.logical_or.at(ever, owner_of, shares)
        rest = [o for o in group.tolist() if o != i]
        ranked = [o for o in rest if now[o]] + [o for o in rest if ever[o] and not now[o]]
        members = np.array([i, *ranked[:COMPETITORS]], dtype=np.int64)
        others = np.setdiff1d(group, members)
        fixed = chosen[others][chosen[others] >= 0]
        taken = (opts.dets[_ranges(opts.dstart[fixed], opts.dstart[fixed + 1] - opts.dstart[fixed])]
                 if len(fixed) else np.zeros(0, dtype=np.int64))
        usable = ~_option_hits(opts, taken)
    usable[drop] = False
    spans = [np.arange(opts.start[o], opts.start[o + 1]) for o in members.tolist()]
    spans = [x[usable[x]] for x in spans]
    left = np.array([len(x) > 0 for x in spans], dtype=bool)  # an owner with none: no track
    spans = [x for x, k in zip(spans, left, strict=True) if k]
    idx = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
    lens = opts.dstart[idx + 1] - opts.dstart[idx]
    dets = opts.dets[_ranges(opts.dstart[idx], lens)]
    sub = Options(opts.required[members][left], offsets([len(x) for x in spans]),
                  opts.score[idx], offsets(lens), dets - dets.min(initial=0),
                  opts.capped[members][left])
    now_score = sum(float(opts.score[opts.start[o] + choice[o]]) for o in members.tolist()
                    if choice[o] >= 0)
    return sub, now_score


def confidence(margin: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-margin))``, without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(margin, dtype=np.float64)))
