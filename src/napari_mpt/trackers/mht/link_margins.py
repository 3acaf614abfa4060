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
the choice); its cost is one selection of a few owners per committed link.
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

    out_a, out_b, out_m = [], [], []
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
            out_m.append(_best_without(opts, group, choice, i, drop, budget, time_limit))
    return (np.asarray(out_a, dtype=np.int64), np.asarray(out_b, dtype=np.int64),
            np.asarray(out_m, dtype=np.float64))


def _option_hits(opts: Options, dets: np.ndarray) -> np.ndarray:
    """Per option: does it take any of ``dets``?"""
    hit = np.isin(opts.dets, dets).astype(np.int64)
    counts = np.add.reduceat(np.r_[hit, 0], opts.dstart[:-1]) if len(opts.score) else hit
    return (counts > 0) & (np.diff(opts.dstart) > 0)


def _best_without(opts: Options, group: np.ndarray, choice: np.ndarray, i: int,
                  drop: np.ndarray, budget: int, time_limit: float) -> float:
    """How much less than their chosen options the owners around ``i`` score at best
    without the options ``drop`` (flat indices: those making the link): the whole cluster
    ``group`` when it is small, else ``i`` and its competitors with the others' choices
    fixed (module docstring)."""
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
    sub = Options(opts.required[members][left], offsets([len(x) for x in spans]),
                  opts.score[idx], offsets(lens), opts.dets[_ranges(opts.dstart[idx], lens)],
                  opts.capped[members][left])
    _, total = select_options(sub, max(budget, SEARCH_NODES), SelectStats(), None, time_limit)
    now_score = sum(float(opts.score[opts.start[o] + choice[o]]) for o in members.tolist()
                    if choice[o] >= 0)
    return now_score - float(total)


def confidence(margin: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-margin))``, without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(margin, dtype=np.float64)))
