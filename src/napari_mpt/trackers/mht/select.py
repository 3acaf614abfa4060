"""The best global hypothesis of a window: one branch per track, each detection used once.

Owners are live tracks (they must take exactly one branch; their all-miss branch uses no
detection, so a choice always exists) and candidate new tracks (one per detection of the
window; they take at most one branch, none meaning "no new track here").  A detection in
no chosen branch is a false alarm (log-likelihood ratio 0).  Maximising the summed branch
scores is a weighted set packing problem (NP-hard in general), solved here

* per independent cluster: owners linked by a shared detection, directly or through
  others (union-find); clusters share no detection, so their optima add up;
* a cluster with at most :data:`ENUMERATE` hypotheses (each owner's options, and none for
  an optional owner, combined; no more than the search budget): every hypothesis scored
  at once with numpy, all such
  clusters of the window together (detections as bits, a conflict where two options'
  bits meet), the best kept, ties to the one the search below would find first (owners
  in turn, each one's options best first, none last); half the clusters of a dense window
  have 8 hypotheses or fewer, where the search's Python overhead was most of its time;
* exactly, by depth-first branch and bound: owners in turn, each owner's branches best
  first, skipping branches that reuse a detection; the bound of a node is its score plus
  every remaining owner's best branch (0 for an optional owner), which can never
  underestimate a completion, so pruning never loses the optimum; ties keep the first
  hypothesis found;
* a cluster of more than :data:`SMALL_CLUSTER` owners, or one that needs more than
  ``budget`` search nodes, goes to HiGHS: first the linear relaxation of all such clusters
  of the window in one call (dual simplex; one variable in [0, 1] per branch, "exactly
  one" rows for tracks, "at most one" rows for new tracks and for detections).  A cluster
  whose relaxed optimum is integral is solved exactly (the relaxation bounds every
  integer solution from above and this one reaches the bound); on these set-packing
  problems that is most of them, at a third of the integer program's time.  The others
  go to the integer program (scipy's ``milp``, HiGHS, relative gap 0: exact), after
  reduced-cost fixing: a branch whose reduced cost ``d`` puts ``z_LP - d`` (an upper bound
  on every hypothesis that takes it) below a hypothesis already found (the rounded
  relaxation) cannot be optimal and is fixed out, which halves the integer programs' time;
* bounded only when HiGHS does not prove optimality within ``time_limit`` seconds: the
  better of its incumbent and the search's (the first descent is the greedy hypothesis)
  is returned and the cluster is counted as bounded.

Why a hand-written search first: ``milp`` costs about a millisecond per call, and a window
of a dense scene has thousands of tiny clusters that the search settles in microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

SMALL_CLUSTER = 12  # owners; larger clusters skip the branch and bound
ENUMERATE = 64  # hypotheses; clusters with at most this many are enumerated at once
LP_INTEGRAL_TOL = 1e-9  # a relaxed variable this close to 0 or 1 counts as integral
LP_FIX_MARGIN = 1e-6  # reduced-cost fixing keeps a branch unless clearly below the incumbent

Option = tuple[float, tuple[int, ...]]  # (score, detection ids)


@dataclass
class Owner:
    required: bool
    options: list[Option]          # sorted best first by the caller or here
    choice: int = -1               # index into options, -1: none (optional owners only)
    capped: bool = False           # its branches were capped (a budget): its cluster is bounded


@dataclass
class SelectStats:
    exact: int = 0
    bounded: int = 0
    milp: int = 0                  # clusters handed to HiGHS (relaxation, then maybe milp)
    lp: int = 0                    # of those, solved by an integral relaxation
    fixed: int = 0                 # branches the relaxation ruled out before a milp
    largest: int = 0               # owners in the largest cluster
    time_limited: int = 0          # integer programs stopped by the time limit unproven
    nodes: int = 0
    sizes: list[int] = field(default_factory=list)


@dataclass
class Options:
    """Every owner's options as flat arrays (the MHT builds them straight from its
    branches): whether each owner is required, its options' span ``start[i]:start[i+1]``
    (best first), each option's score and its detections ``dets[dstart[j]:dstart[j+1]]``,
    and whether the owner's branches were capped."""

    required: np.ndarray
    start: np.ndarray
    score: np.ndarray
    dstart: np.ndarray
    dets: np.ndarray
    capped: np.ndarray

    def __len__(self) -> int:
        return len(self.required)

    @staticmethod
    def of(owners: list[Owner]) -> Options:
        """The flat form of ``owners`` (options in their order)."""
        per_owner = np.fromiter(map(len, (o.options for o in owners)), np.int64, len(owners))
        dets = [d for o in owners for _, d in o.options]
        per_option = np.fromiter(map(len, dets), np.int64, len(dets))
        return Options(np.fromiter((o.required for o in owners), bool, len(owners)),
                       offsets(per_owner),
                       np.fromiter((sc for o in owners for sc, _ in o.options), np.float64,
                                   len(dets)),
                       offsets(per_option),
                       np.fromiter(chain.from_iterable(dets), np.int64, int(per_option.sum())),
                       np.fromiter((o.capped for o in owners), bool, len(owners)))


def offsets(counts: np.ndarray | list[int]) -> np.ndarray:
    """Start of each run of ``counts`` consecutive items, and the total at the end."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """``concatenate([arange(a, a + n) for a, n in zip(starts, lens)])``, vectorised."""
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lens)
    return np.repeat(starts - (ends - lens), lens) + np.arange(total)


def _first_seen(flat: np.ndarray) -> tuple[np.ndarray, int]:
    """Each value's rank in order of first appearance, and the number of distinct values."""
    _, first, inv = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.reshape(-1)], len(first)


def clusters(opts: Options) -> list[np.ndarray]:
    """Owners grouped by shared detections (connected components of the owner-detection
    graph), groups in order of their first owner, owners ascending."""
    n = len(opts)
    if n == 0:
        return []
    det, n_det = _first_seen(opts.dets)
    # the owner -> detection edges in compressed rows straight away (each owner's
    # detections are contiguous): a COO matrix's conversion cost more than the search
    # on small windows
    indptr = np.zeros(n + n_det + 1, dtype=np.int64)
    indptr[1 : n + 1] = opts.dstart[opts.start[1:]]
    indptr[n + 1 :] = len(det)
    graph = csr_matrix((np.ones(len(det)), n + det, indptr), shape=(n + n_det, n + n_det))
    _, label = connected_components(graph, directed=False)
    label = label[:n]
    order = np.argsort(label, kind="stable")
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    groups = np.split(order, cuts)
    groups.sort(key=lambda g: int(g[0]))
    return groups


def _solve(required: list[bool], scores: list[list[float]], masks: list[list[int]],
           budget: int) -> tuple[float, list[int], bool, int]:
    """Best choices for one cluster (each owner's options' scores, best first, and their
    detections as bits of an integer); returns (score, choice per owner, exact, nodes)."""
    n = len(required)
    best_of = [sc[0] if req else max(0.0, sc[0])
               for req, sc in zip(required, scores, strict=True)]
    rest = [0.0] * (n + 1)
    for i in range(n - 1, -1, -1):
        rest[i] = rest[i + 1] + best_of[i]
    best = -math.inf
    best_choice = [-1] * n
    choice = [-1] * n
    nodes = 0
    stopped = False

    def dfs(i: int, score: float, used: int) -> None:
        nonlocal best, best_choice, nodes, stopped
        if i == n:
            if score > best:
                best, best_choice = score, choice.copy()
            return
        after = rest[i + 1]
        for k, (s, m) in enumerate(zip(scores[i], masks[i], strict=True)):
            if stopped:
                return
            if score + s + after <= best:
                break  # options are sorted: no later one can do better
            if used & m:
                continue
            nodes += 1
            if nodes > budget and best > -math.inf:
                stopped = True
                return
            choice[i] = k
            dfs(i + 1, score + s, used | m)
            choice[i] = -1
        if not required[i] and not stopped and score + after > best:
            nodes += 1
            dfs(i + 1, score, used)

    dfs(0, 0.0, 0)
    dfs = None  # type: ignore[assignment]  # break the closure's cycle: the MHT pauses the collector
    return best, best_choice, not stopped, nodes


def _cluster_masks(opts: Options, groups: list[np.ndarray]) -> np.ndarray:
    """Every option's detections as bits within its cluster (``groups``: the clusters;
    options of owners in none of them get 0), as Python integers, so clusters with more
    than 64 detections need no other path."""
    masks = np.zeros(len(opts.score), dtype=object)
    if not groups:
        return masks
    who = np.concatenate(groups)
    n_opt = np.diff(opts.start)
    sel = _ranges(opts.start[who], n_opt[who])
    per_option = opts.dstart[sel + 1] - opts.dstart[sel]
    flat = opts.dets[_ranges(opts.dstart[sel], per_option)]
    group_of = np.repeat(np.repeat(np.arange(len(groups)), [len(g) for g in groups]),
                         n_opt[who])
    det_group = np.repeat(group_of, per_option)
    width = int(flat.max(initial=0)) + 1
    uk, rank = np.unique(det_group * width + flat, return_inverse=True)
    bit = rank - np.searchsorted(uk, det_group * width)          # rank within the cluster
    low = bit < 63
    words = np.zeros(len(sel), dtype=np.int64)                   # the first 63 bits at once
    np.bitwise_or.at(words, np.repeat(np.arange(len(sel)), per_option)[low],
                     np.left_shift(np.int64(1), bit[low]))
    out = words.tolist()
    for j, b in zip(np.repeat(np.arange(len(sel)), per_option)[~low].tolist(),
                    bit[~low].tolist(), strict=True):
        out[j] |= 1 << b                                         # rare: a larger cluster
    masks[sel] = out
    return masks


def _search(opts: Options, group: np.ndarray, masks: np.ndarray, budget: int
            ) -> tuple[float, list[int], bool, int]:
    """:func:`_solve` on cluster ``group`` of ``opts`` (``masks``: :func:`_cluster_masks`)."""
    a, b = opts.start[group].tolist(), opts.start[group + 1].tolist()
    scores = [opts.score[i:j].tolist() for i, j in zip(a, b, strict=True)]
    bits = [masks[i:j].tolist() for i, j in zip(a, b, strict=True)]
    return _solve(opts.required[group].tolist(), scores, bits, budget)


def select(owners: list[Owner], budget: int, stats: SelectStats,
           tick: Callable[[float], None] | None = None, time_limit: float = 10.0) -> float:
    """Set ``owner.choice`` for every owner to the best global hypothesis (options sorted
    best first here, stably); return its score.  See :func:`select_options`."""
    for o in owners:
        o.options.sort(key=lambda opt: -opt[0])
    choice, total = select_options(Options.of(owners), budget, stats, tick, time_limit)
    for o, c in zip(owners, choice.tolist(), strict=True):
        o.choice = c
    return total


def select_options(opts: Options, budget: int, stats: SelectStats,
                   tick: Callable[[float], None] | None = None, time_limit: float = 10.0
                   ) -> tuple[np.ndarray, float]:
    """The best global hypothesis over ``opts`` (each owner's options best first): the
    chosen option per owner (index within the owner's, -1: none) and the score.
    ``tick(fraction)`` (progress and Cancel) is called after the relaxation and after each
    integer program."""
    n = len(opts)
    choice = np.full(n, -1, dtype=np.int64)
    total = 0.0
    hard: list[tuple[np.ndarray, float, list[int]]] = []  # for HiGHS, with the search's best
    groups = clusters(opts)
    sizes = np.fromiter(map(len, groups), np.int64, len(groups))
    if len(groups):
        stats.largest = max(stats.largest, int(sizes.max()))
    single = np.fromiter((int(g[0]) for g, k in zip(groups, sizes.tolist(), strict=True)
                          if k == 1), np.int64)
    if len(single):  # no competitor: the best option (or none, if optional and < 0)
        best = opts.score[opts.start[single]]
        take = opts.required[single] | (best > 0)
        choice[single[take]] = 0
        total += float(best[take].sum())
        capped = opts.capped[single]
        stats.exact += int((~capped).sum())
        stats.bounded += int(capped.sum())
    few = _enumerated(opts, [g for g, k in zip(groups, sizes.tolist(), strict=True) if k > 1],
                      min(ENUMERATE, budget))
    masks = _cluster_masks(opts, [g for g, k in zip(groups, sizes.tolist(), strict=True)
                                  if 1 < k <= SMALL_CLUSTER and int(g[0]) not in few])
    for g, k in zip(groups, sizes.tolist(), strict=True):
        if k == 1:
            continue
        ch: list[int]
        done = few.get(int(g[0]))
        if done is not None:
            score, ch = done
            _tally(stats, opts, g, True)
            choice[g] = ch
            total += score
            continue
        if k > SMALL_CLUSTER:  # the search rarely finishes there: straight to HiGHS
            score, ch, exact, nodes = -math.inf, [], False, 0
        else:
            score, ch, exact, nodes = _search(opts, g, masks, budget)
        stats.nodes += nodes
        if not exact:
            hard.append((g, score, ch))
            continue
        _tally(stats, opts, g, True)
        choice[g] = ch
        total += score
    relaxed = _relaxation(opts, [g for g, _, _ in hard]) if hard else []
    for n_done, ((g, score, ch), lp) in enumerate(zip(hard, relaxed, strict=True)):
        if tick is not None:
            tick(n_done / len(hard))
        stats.milp += 1
        if isinstance(lp, list):
            stats.lp += 1
            score, ch, exact = _score(opts, g, lp), lp, True
        else:
            ub = None
            if lp is not None:  # fractional: fix what the relaxation rules out, keep its rounding
                ub, inc = lp
                stats.fixed += int((ub == 0).sum())
                if _score(opts, g, inc) > score or not ch:
                    score, ch = _score(opts, g, inc), inc
            score2, ch2, exact = _milp(opts, g, ub, time_limit)
            stats.time_limited += not exact
            if ch2 and (exact or not ch or score2 > score):
                score, ch = score2, ch2
            if not ch:  # HiGHS found nothing in time: the search's best (greedy at worst)
                score, ch, _, nodes = _search(opts, g, _cluster_masks(opts, [g]), budget)
                stats.nodes += nodes
        _tally(stats, opts, g, exact)
        choice[g] = ch
        total += score
    return choice, total


def _enumerated(opts: Options, groups: list[np.ndarray], most: int
                ) -> dict[int, tuple[float, list[int]]]:
    """The best hypothesis of every cluster in ``groups`` that has at most ``most`` of
    them (:data:`ENUMERATE`, or the search budget when smaller: each hypothesis counts as
    a search node; and at most 6 owners and 62 detections), by enumerating them all at
    once (module docstring); keyed by the cluster's first owner: its score and choices."""
    n_opt = np.diff(opts.start)
    picks = [g for g in groups if len(g) <= 6
             and int(np.prod(n_opt[g] + ~opts.required[g])) <= most]
    if not picks:
        return {}
    G, k_max = len(picks), max(len(g) for g in picks)
    owners = np.full((G, k_max), -1, dtype=np.int64)
    for i, g in enumerate(picks):
        owners[i, : len(g)] = g
    real = owners >= 0
    own = np.maximum(owners, 0)
    m = np.where(real, n_opt[own] + ~opts.required[own], 1)      # choices per slot
    stride = np.ones_like(m)
    for j in range(k_max - 2, -1, -1):                            # owner 0 most significant
        stride[:, j] = stride[:, j + 1] * m[:, j + 1]
    combos = m.prod(axis=1)
    grp = np.repeat(np.arange(G), combos)
    local = np.arange(int(combos.sum())) - np.repeat(np.cumsum(combos) - combos, combos)
    # every option's detections as bits of its cluster
    who = owners[real]
    sel = _ranges(opts.start[who], n_opt[who])                    # their options
    per_option = opts.dstart[sel + 1] - opts.dstart[sel]
    flat = opts.dets[_ranges(opts.dstart[sel], per_option)]
    det_group = np.repeat(np.repeat(np.nonzero(real)[0], n_opt[who]), per_option)
    width = int(flat.max(initial=0)) + 1
    uk, rank = np.unique(det_group * width + flat, return_inverse=True)
    bit = rank - np.searchsorted(uk, det_group * width)           # rank within the cluster
    too_many = np.bincount(det_group, weights=bit > 61, minlength=G) > 0
    mask_of = np.zeros(len(opts.score), dtype=np.uint64)
    np.bitwise_or.at(mask_of, np.repeat(sel, per_option),
                     np.left_shift(np.uint64(1), np.minimum(bit, 63).astype(np.uint64)))
    total = np.zeros(len(grp))
    acc = np.zeros(len(grp), dtype=np.uint64)
    ok = np.ones(len(grp), dtype=bool)
    chosen = np.full((len(grp), k_max), -1, dtype=np.int64)
    for j in range(k_max):   # owner by owner, adding scores in the search's order
        o = own[grp, j]
        idx = (local // stride[grp, j]) % m[grp, j]
        has = real[grp, j] & (idx < n_opt[o])                     # an option, not none
        at = np.where(has, opts.start[o] + idx, 0)
        bits = np.where(has, mask_of[at], np.uint64(0))
        ok &= (acc & bits) == 0
        acc |= bits
        total = total + np.where(has, opts.score[at], 0.0)
        chosen[:, j] = np.where(has, idx, -1)
    total = np.where(ok, total, -np.inf)
    order = np.lexsort((local, -total, grp))
    lead = order[np.r_[True, grp[order][1:] != grp[order][:-1]]]
    return {int(g[0]): (float(total[r]), chosen[r, : len(g)].tolist())
            for g, r, bad in zip(picks, lead.tolist(), too_many.tolist(), strict=True)
            if not bad}


def _tally(stats: SelectStats, opts: Options, group: np.ndarray, exact: bool) -> None:
    """Count a solved cluster: exact only if its selection was and no owner's branches
    were capped."""
    if exact and not opts.capped[group].any():
        stats.exact += 1
    else:
        stats.bounded += 1


def _score(opts: Options, group: np.ndarray, choice: list[int]) -> float:
    return sum(float(opts.score[opts.start[i] + c])
               for i, c in zip(group.tolist(), choice, strict=True) if c >= 0)


@dataclass
class Program:
    """The set-packing program of some groups of owners: one column per option (group by
    group, owner by owner, options in order), owner rows then detection rows (in order of
    first use)."""

    score: np.ndarray              # per column
    A: csr_matrix
    lo: np.ndarray                 # row lower bounds (1: a track's "exactly one")
    group: np.ndarray              # per column: group, owner within it, option
    owner: np.ndarray
    option: np.ndarray
    col: np.ndarray                # per column: the option's index in the Options


def _program(opts: Options, groups: list[np.ndarray]) -> Program:
    owners = np.concatenate(groups)
    n_owners = len(owners)
    per_owner = opts.start[owners + 1] - opts.start[owners]
    col = _ranges(opts.start[owners], per_owner)
    n_cols = len(col)
    per_option = opts.dstart[col + 1] - opts.dstart[col]
    flat = opts.dets[_ranges(opts.dstart[col], per_option)]
    det, n_det = _first_seen(flat)
    col_row = np.repeat(np.arange(n_owners), per_owner)
    cols = np.arange(n_cols)
    rows = np.concatenate([col_row, n_owners + det])
    cidx = np.concatenate([cols, np.repeat(cols, per_option)])
    A = csr_matrix((np.ones(len(rows)), (rows, cidx)), shape=(n_owners + n_det, n_cols))
    lo = np.concatenate([opts.required[owners].astype(np.float64), np.zeros(n_det)])
    sizes = np.fromiter(map(len, groups), np.int64, len(groups))
    col_group = np.repeat(np.repeat(np.arange(len(groups)), sizes), per_owner)
    first_owner = offsets(sizes)[:-1]
    owner_in_group = col_row - first_owner[col_group]
    option = col - opts.start[owners][col_row]
    return Program(opts.score[col], A, lo, col_group, owner_in_group, option, col)


def _relaxation(opts: Options, groups: list[np.ndarray]
                ) -> list[list[int] | tuple[np.ndarray, list[int]] | None]:
    """Per group, from the linear relaxation of all groups (one HiGHS dual-simplex call: the
    groups share no row, so the joint optimum, duals included, is theirs side by side):

    * its exact optimum (choices) when the relaxed optimum is integral on it;
    * else ``(ub, incumbent)``: the greedy rounding of the relaxed solution (a legal
      hypothesis: a track can always fall back on its all-miss branch) and upper bounds per
      branch (order of :func:`_program`) that are 0 for branches the relaxation rules out
      (reduced-cost fixing: a hypothesis that takes branch j scores at most
      ``z_LP - d_j``, with ``d_j`` its reduced cost; below the incumbent, j cannot be in an
      optimum), so the integer program only decides the rest;
    * None when HiGHS gave no solution.
    """
    prog = _program(opts, groups)
    score, A, lo = prog.score, prog.A, prog.lo
    eq = lo > 0
    try:
        res = linprog(-score, A_ub=A[~eq], b_ub=np.ones(int((~eq).sum())), A_eq=A[eq],
                      b_eq=lo[eq], bounds=(0, 1), method="highs-ds",
                      options={"presolve": False})
    except ValueError:  # pragma: no cover - HiGHS refusing the model: the integer program
        return [None] * len(groups)
    if res.status != 0 or res.x is None:
        return [None] * len(groups)
    x = res.x
    reduced = np.asarray(res.lower.marginals, dtype=np.float64)  # >= 0 at the lower bound
    frac = np.minimum(np.abs(x), np.abs(1.0 - x)) > LP_INTEGRAL_TOL
    start = np.searchsorted(prog.group, np.arange(len(groups) + 1))
    gfrac = np.add.reduceat(frac, start[:-1]) if len(frac) else np.zeros(0)
    who, opt = prog.owner, prog.option
    out: list[list[int] | tuple[np.ndarray, list[int]] | None] = []
    for gi, group in enumerate(groups):
        a, b = int(start[gi]), int(start[gi + 1])
        if not gfrac[gi]:
            ch = np.full(len(group), -1, dtype=np.int64)
            on = a + np.flatnonzero(x[a:b] > 0.5)
            ch[who[on]] = opt[on]
            if _feasible(opts, group, ch):
                out.append(ch.tolist())
                continue
        inc = _rounding(opts, group, prog, a, b, x[a:b], score[a:b])
        if inc is None:
            out.append(None)
            continue
        z_lp = float(score[a:b] @ x[a:b])
        margin = LP_FIX_MARGIN * (1.0 + abs(z_lp) + len(group))  # HiGHS's tolerances, summed
        ub = np.where(z_lp - reduced[a:b] < _score(opts, group, inc) - margin, 0.0, 1.0)
        out.append((ub, inc))
    return out


def _option_dets(opts: Options, j: int) -> list[int]:
    return opts.dets[opts.dstart[j] : opts.dstart[j + 1]].tolist()


def _rounding(opts: Options, group: np.ndarray, prog: Program, a: int, b: int,
              x: np.ndarray, score: np.ndarray) -> list[int] | None:
    """Greedy hypothesis from a relaxed solution: branches by decreasing value, then score,
    each taken if its owner is free and its detections are; a track left without one takes
    its best branch still free (its all-miss branch uses no detection); None if none is."""
    choice = [-1] * len(group)
    used: set[int] = set()
    who, opt, col = prog.owner[a:b].tolist(), prog.option[a:b].tolist(), prog.col[a:b].tolist()
    for j in np.lexsort((-score, -x)).tolist():
        i = who[j]
        if choice[i] < 0:
            dets = _option_dets(opts, col[j])
            if used.isdisjoint(dets):
                choice[i] = opt[j]
                used.update(dets)
    for i, o in enumerate(group.tolist()):
        if opts.required[o] and choice[i] < 0:
            first = int(opts.start[o])
            free = [k for k in range(int(opts.start[o + 1]) - first)
                    if used.isdisjoint(_option_dets(opts, first + k))]
            if not free:
                return None
            choice[i] = free[0]
            used.update(_option_dets(opts, first + free[0]))
    return choice


def _feasible(opts: Options, group: np.ndarray, choice: np.ndarray) -> bool:
    """Every track has a branch, no detection is used twice (a rounded relaxation checked)."""
    if (opts.required[group] & (choice < 0)).any():
        return False
    on = choice >= 0
    j = opts.start[group[on]] + choice[on]
    used = opts.dets[_ranges(opts.dstart[j], opts.dstart[j + 1] - opts.dstart[j])]
    return len(np.unique(used)) == len(used)


def _milp(opts: Options, group: np.ndarray, ub: np.ndarray | None = None,
          time_limit: float = 10.0) -> tuple[float, list[int], bool]:
    """The cluster as an integer program, with per-branch upper bounds ``ub`` (0: fixed out;
    default 1) and HiGHS's time limit; returns (score, choices, proven optimal)."""
    prog = _program(opts, [group])
    n_rows = prog.A.shape[0]
    res = milp(-prog.score, constraints=LinearConstraint(prog.A, prog.lo, np.ones(n_rows)),
               integrality=np.ones(len(prog.score)), bounds=Bounds(0, 1 if ub is None else ub),
               options={"mip_rel_gap": 0.0, "time_limit": time_limit})
    if res.x is None:
        return -math.inf, [], False
    choice = [-1] * len(group)
    total = 0.0
    for j in np.flatnonzero(res.x > 0.5).tolist():
        i, k = int(prog.owner[j]), int(prog.option[j])
        choice[i] = k
        total += float(prog.score[j])
    return total, choice, res.status == 0
