"""The best global hypothesis of a window: one branch per track, each detection used once.

Owners are live tracks (they must take exactly one branch; their all-miss branch uses no
detection, so a choice always exists) and candidate new tracks (one per detection of the
window; they take at most one branch, none meaning "no new track here").  A detection in
no chosen branch is a false alarm (log-likelihood ratio 0).  Maximising the summed branch
scores is a weighted set packing problem (NP-hard in general), solved here

* per independent cluster: owners linked by a shared detection, directly or through
  others (union-find); clusters share no detection, so their optima add up;
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
* bounded only when HiGHS does not prove optimality within :data:`MILP_TIME_LIMIT_S`: the
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
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

MILP_TIME_LIMIT_S = 10.0
SMALL_CLUSTER = 12  # owners; larger clusters skip the branch and bound
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
    nodes: int = 0
    sizes: list[int] = field(default_factory=list)


def _flat(owners: list[Owner]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Options per owner, detections per option, and every option's detections in one
    array (owners in order, options in order): one pass of Python, the rest numpy."""
    per_owner = np.fromiter(map(len, (o.options for o in owners)), np.int64, len(owners))
    dets = [d for o in owners for _, d in o.options]
    per_option = np.fromiter(map(len, dets), np.int64, len(dets))
    flat = np.fromiter(chain.from_iterable(dets), np.int64, int(per_option.sum()))
    return per_owner, per_option, flat


def _first_seen(flat: np.ndarray) -> tuple[np.ndarray, int]:
    """Each value's rank in order of first appearance, and the number of distinct values."""
    _, first, inv = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.reshape(-1)], len(first)


def clusters(owners: list[Owner]) -> list[list[int]]:
    """Indices of owners grouped by shared detections (connected components of the
    owner-detection graph), groups in order of their first owner, owners ascending."""
    n = len(owners)
    if n == 0:
        return []
    per_owner, per_option, flat = _flat(owners)
    det, n_det = _first_seen(flat)
    who = np.repeat(np.repeat(np.arange(n), per_owner), per_option)
    graph = coo_matrix((np.ones(len(flat)), (who, n + det)), shape=(n + n_det, n + n_det))
    _, label = connected_components(graph, directed=False)
    label = label[:n]
    order = np.argsort(label, kind="stable")
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    groups = [g.tolist() for g in np.split(order, cuts)]
    groups.sort(key=lambda g: g[0])
    return groups


def _solve(group: list[Owner], budget: int) -> tuple[float, list[int], bool, int]:
    """Best choices for one cluster; returns (score, choice per owner, exact, nodes)."""
    n = len(group)
    best_of = [max(0.0, o.options[0][0]) if not o.required else o.options[0][0] for o in group]
    rest = [0.0] * (n + 1)
    for i in range(n - 1, -1, -1):
        rest[i] = rest[i + 1] + best_of[i]
    best = -math.inf
    best_choice = [-1] * n
    choice = [-1] * n
    used: set[int] = set()
    nodes = 0
    stopped = False

    def dfs(i: int, score: float) -> None:
        nonlocal best, best_choice, nodes, stopped
        if i == n:
            if score > best:
                best, best_choice = score, choice.copy()
            return
        o = group[i]
        for k, (s, dets) in enumerate(o.options):
            if stopped:
                return
            if score + s + rest[i + 1] <= best:
                break  # options are sorted: no later one can do better
            if not used.isdisjoint(dets):
                continue
            nodes += 1
            if nodes > budget and best > -math.inf:
                stopped = True
                return
            used.update(dets)
            choice[i] = k
            dfs(i + 1, score + s)
            used.difference_update(dets)
            choice[i] = -1
        if not o.required and not stopped and score + rest[i + 1] > best:
            nodes += 1
            dfs(i + 1, score)

    dfs(0, 0.0)
    dfs = None  # type: ignore[assignment]  # break the closure's cycle: the MHT pauses the collector
    return best, best_choice, not stopped, nodes


def select(owners: list[Owner], budget: int, stats: SelectStats,
           tick: Callable[[float], None] | None = None) -> float:
    """Set ``owner.choice`` for every owner to the best global hypothesis; return its score.
    ``tick(fraction)`` (progress and Cancel) is called after the relaxation and after each
    integer program."""
    total = 0.0
    for o in owners:
        o.options.sort(key=lambda opt: -opt[0])
    hard: list[tuple[list[Owner], float, list[int]]] = []  # for HiGHS, with the search's best
    for idx in clusters(owners):
        group = [owners[i] for i in idx]
        stats.largest = max(stats.largest, len(group))
        if len(group) == 1:  # no competitor: the best branch (or none, if optional and < 0)
            o = group[0]
            take = o.required or o.options[0][0] > 0
            o.choice = 0 if take else -1
            total += o.options[0][0] if take else 0.0
            _tally(stats, group, True)
            continue
        ch: list[int]
        if len(group) > SMALL_CLUSTER:  # the search rarely finishes there: straight to HiGHS
            score, ch, exact, nodes = -math.inf, [], False, 0
        else:
            score, ch, exact, nodes = _solve(group, budget)
        stats.nodes += nodes
        if not exact:
            hard.append((group, score, ch))
            continue
        _tally(stats, group, True)
        for o, c in zip(group, ch, strict=True):
            o.choice = c
        total += score
    relaxed = _relaxation([g for g, _, _ in hard]) if hard else []
    for n_done, ((group, score, ch), lp) in enumerate(zip(hard, relaxed, strict=True)):
        if tick is not None:
            tick(n_done / len(hard))
        stats.milp += 1
        if isinstance(lp, list):
            stats.lp += 1
            score, ch, exact = _score(group, lp), lp, True
        else:
            ub = None
            if lp is not None:  # fractional: fix what the relaxation rules out, keep its rounding
                ub, inc = lp
                stats.fixed += int((ub == 0).sum())
                if _score(group, inc) > score or not ch:
                    score, ch = _score(group, inc), inc
            score2, ch2, exact = _milp(group, ub)
            if ch2 and (exact or not ch or score2 > score):
                score, ch = score2, ch2
            if not ch:  # HiGHS found nothing in time: the search's best (greedy at worst)
                score, ch, _, nodes = _solve(group, budget)
                stats.nodes += nodes
        _tally(stats, group, exact)
        for o, c in zip(group, ch, strict=True):
            o.choice = c
        total += score
    return total


def _tally(stats: SelectStats, group: list[Owner], exact: bool) -> None:
    """Count a solved cluster: exact only if its selection was and no owner's branches
    were capped."""
    if exact and not any(o.capped for o in group):
        stats.exact += 1
    else:
        stats.bounded += 1


def _score(group: list[Owner], choice: list[int]) -> float:
    return sum(o.options[c][0] for o, c in zip(group, choice, strict=True) if c >= 0)


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


def _program(groups: list[list[Owner]]) -> Program:
    owners = [o for g in groups for o in g]
    per_owner, per_option, flat = _flat(owners)
    n_owners, n_cols = len(owners), int(per_owner.sum())
    score = np.fromiter((sc for o in owners for sc, _ in o.options), np.float64, n_cols)
    det, n_det = _first_seen(flat)
    col_row = np.repeat(np.arange(n_owners), per_owner)
    cols = np.arange(n_cols)
    rows = np.concatenate([col_row, n_owners + det])
    cidx = np.concatenate([cols, np.repeat(cols, per_option)])
    A = csr_matrix((np.ones(len(rows)), (rows, cidx)), shape=(n_owners + n_det, n_cols))
    lo = np.concatenate([np.fromiter((o.required for o in owners), np.float64, n_owners),
                         np.zeros(n_det)])
    sizes = np.fromiter((len(g) for g in groups), np.int64, len(groups))
    col_group = np.repeat(np.repeat(np.arange(len(groups)), sizes), per_owner)
    first_owner = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner_in_group = col_row - first_owner[col_group]
    first_col = np.concatenate([[0], np.cumsum(per_owner)[:-1]])
    option = cols - first_col[col_row]
    return Program(score, A, lo, col_group, owner_in_group, option)


def _relaxation(groups: list[list[Owner]]) -> list[list[int] | tuple[np.ndarray, list[int]] | None]:
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
    prog = _program(groups)
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
    who, opt = prog.owner.tolist(), prog.option.tolist()
    out: list[list[int] | tuple[np.ndarray, list[int]] | None] = []
    for gi, group in enumerate(groups):
        a, b = int(start[gi]), int(start[gi + 1])
        if not frac[a:b].any():
            ch = [-1] * len(group)
            for j in np.flatnonzero(x[a:b] > 0.5).tolist():
                ch[who[a + j]] = opt[a + j]
            if _feasible(group, ch):
                out.append(ch)
                continue
        inc = _rounding(group, list(zip(who[a:b], opt[a:b], strict=True)), x[a:b], score[a:b])
        if inc is None:
            out.append(None)
            continue
        z_lp = float(score[a:b] @ x[a:b])
        margin = LP_FIX_MARGIN * (1.0 + abs(z_lp) + len(group))  # HiGHS's tolerances, summed
        ub = np.where(z_lp - reduced[a:b] < _score(group, inc) - margin, 0.0, 1.0)
        out.append((ub, inc))
    return out


def _rounding(group: list[Owner], cols: list[tuple[int, int]], x: np.ndarray,
              score: np.ndarray) -> list[int] | None:
    """Greedy hypothesis from a relaxed solution: branches by decreasing value, then score,
    each taken if its owner is free and its detections are; a track left without one takes
    its best branch still free (its all-miss branch uses no detection); None if none is."""
    choice = [-1] * len(group)
    used: set[int] = set()
    for j in np.lexsort((-score, -x)).tolist():
        i, k = cols[j]
        if choice[i] < 0 and used.isdisjoint(group[i].options[k][1]):
            choice[i] = k
            used.update(group[i].options[k][1])
    for i, o in enumerate(group):
        if o.required and choice[i] < 0:
            free = [k for k, (_, d) in enumerate(o.options) if used.isdisjoint(d)]
            if not free:
                return None
            choice[i] = free[0]
            used.update(o.options[free[0]][1])
    return choice


def _feasible(group: list[Owner], choice: list[int]) -> bool:
    """Every track has a branch, no detection is used twice (a rounded relaxation checked)."""
    used: set[int] = set()
    for o, c in zip(group, choice, strict=True):
        if c < 0:
            if o.required:
                return False
            continue
        for z in o.options[c][1]:
            if z in used:
                return False
            used.add(z)
    return True


def _milp(group: list[Owner], ub: np.ndarray | None = None) -> tuple[float, list[int], bool]:
    """The cluster as an integer program, with per-branch upper bounds ``ub`` (0: fixed out;
    default 1); returns (score, choices, proven optimal)."""
    prog = _program([group])
    n_rows = prog.A.shape[0]
    res = milp(-prog.score, constraints=LinearConstraint(prog.A, prog.lo, np.ones(n_rows)),
               integrality=np.ones(len(prog.score)), bounds=Bounds(0, 1 if ub is None else ub),
               options={"mip_rel_gap": 0.0, "time_limit": MILP_TIME_LIMIT_S})
    if res.x is None:
        return -math.inf, [], False
    choice = [-1] * len(group)
    total = 0.0
    for j in np.flatnonzero(res.x > 0.5).tolist():
        i, k = int(prog.owner[j]), int(prog.option[j])
        choice[i] = k
        total += group[i].options[k][0]
    return total, choice, res.status == 0
