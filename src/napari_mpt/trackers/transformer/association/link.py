"""From averaged association scores to tracks: a global assignment per frame.

Inputs, per candidate pair (i earlier than j, at most ``gap`` frames apart): ``pf`` the
forward probability that j is i's next detection (softmax over i's candidates and "no
link", averaged over the windows where i's forward candidates are complete) and ``pb`` the
backward probability that i is j's previous detection.

Frame by frame, the rows are the current track ends (last detection at most ``gap``
frames back), the columns the frame's detections.  A row's forward probabilities are
renormalised by the mass it has left (``rem``: it did not link in the frames between), a
link costs ``-log((pf / rem + pb) / 2)``, leaving a row unlinked costs ``-log`` of its
remaining no-link probability and leaving a column unlinked (a birth) ``-log`` of its
backward no-link probability.  The minimum-cost assignment with these births and deaths
is Jaqaman et al.'s (Nat. Methods 2008) augmented matrix, solved by scipy's
``linear_sum_assignment`` on each connected component of the useful links (a link is
useful only if it costs less than the death plus the birth it replaces); components with
one link are taken directly.  Written here because laptrack's linker takes distance
costs from coordinates, not a score per candidate pair.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

EPS = 1e-6
BIG = 1e9


def solve_component(cost: np.ndarray, death: np.ndarray, birth: np.ndarray
                    ) -> list[tuple[int, int]]:
    """Optimal links (row, col) of a dense block with ``inf`` for impossible links."""
    r, c = cost.shape
    big = np.full((r + c, c + r), BIG)
    finite = np.isfinite(cost)
    big[:r, :c] = np.where(finite, cost, BIG)
    big[np.arange(r), c + np.arange(r)] = death
    big[r + np.arange(c), np.arange(c)] = birth
    big[r:, c:] = np.where(finite.T, 0.0, BIG)
    rows, cols = linear_sum_assignment(big)
    return [(int(a), int(b)) for a, b in zip(rows, cols, strict=True)
            if a < r and b < c and finite[a, b]]


def solve_sparse(r_l: np.ndarray, c_l: np.ndarray, cost: np.ndarray, death: np.ndarray,
                 birth: np.ndarray) -> list[tuple[int, int]]:
    """:func:`solve_component` for a large component, on the sparse augmented matrix
    (scipy's ``min_weight_full_bipartite_matching``; a full matching always exists)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    r, c = len(death), len(birth)
    tiny = 1e-12                       # a stored zero would read as "no edge"
    ii = np.concatenate([r_l, np.arange(r), r + np.arange(c), r + c_l])
    jj = np.concatenate([c_l, c + np.arange(r), np.arange(c), c + r_l])
    vv = np.concatenate([cost + tiny, death + tiny, birth + tiny, np.full(len(r_l), tiny)])
    rows, cols = min_weight_full_bipartite_matching(csr_matrix((vv, (ii, jj)),
                                                               shape=(r + c, c + r)))
    return [(int(a), int(b)) for a, b in zip(rows, cols, strict=True) if a < r and b < c]


def link(frame: np.ndarray, frames: int, gap: int, pi: np.ndarray, pj: np.ndarray,
         pf: np.ndarray, pb: np.ndarray, none_b: np.ndarray) -> np.ndarray:
    """Track id of every detection (Sequence index); ``frame`` 0..frames-1 per detection.

    Pairs ``(pi[p], pj[p])`` with probabilities ``pf``, ``pb`` (0 where a direction did
    not score the pair); ``none_b`` each detection's backward no-link probability."""
    n = len(frame)
    track = np.full(n, -1, dtype=np.int64)
    next_id = 0
    rem = np.ones(n)
    is_end = np.zeros(n, dtype=bool)
    order = np.argsort(frame[pj], kind="stable")
    pi, pj, pf, pb = pi[order], pj[order], pf[order], pb[order]
    cuts = np.searchsorted(frame[pj], np.arange(frames + 1))
    start = np.searchsorted(frame, np.arange(frames + 1))
    for f in range(frames):
        cols_f = np.arange(start[f], start[f + 1])
        sl = slice(cuts[f], cuts[f + 1])
        a, b, qf, qb = pi[sl], pj[sl], pf[sl], pb[sl]
        live = is_end[a]
        a, b, qf, qb = a[live], b[live], qf[live], qb[live]
        linked_rows = np.zeros(0, dtype=np.int64)
        linked_cols = np.zeros(0, dtype=np.int64)
        if len(a):
            rows, ra = np.unique(a, return_inverse=True)
            cols, cb = np.unique(b, return_inverse=True)
            fwd = qf / rem[a]
            row_mass = np.bincount(ra, weights=fwd, minlength=len(rows))
            col_mass = np.bincount(cb, weights=qb, minlength=len(cols))
            death = -np.log(np.clip(1.0 - row_mass, EPS, 1.0))
            birth = -np.log(np.clip(np.maximum(1.0 - col_mass, none_b[cols]), EPS, 1.0))
            cost = -np.log(np.clip(0.5 * (fwd + qb), EPS, 1.0))
            # rows that stay open have spent the forward mass they put on this frame
            spent = np.bincount(ra, weights=qf, minlength=len(rows))
            useful = cost < death[ra] + birth[cb]
            sel_r, sel_c = _assign(ra[useful], cb[useful], cost[useful], death, birth)
            linked_rows, linked_cols = rows[sel_r], cols[sel_c]
            rem[rows] = np.maximum(rem[rows] - spent, 1e-3)
        track[linked_cols] = track[linked_rows]
        is_end[linked_rows] = False
        fresh = cols_f[track[cols_f] < 0]
        track[fresh] = next_id + np.arange(len(fresh))
        next_id += len(fresh)
        is_end[cols_f] = True
        old = f - gap
        if old >= 0:
            is_end[start[old]:start[old + 1]] = False
    return track


def _assign(ra: np.ndarray, cb: np.ndarray, cost: np.ndarray, death: np.ndarray,
            birth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal (row, col) links of one frame's useful candidate links.

    Per connected component: a star (one row, or one column) takes its link of largest
    gain ``death + birth - cost`` (exactly optimal: only one of its links can be taken);
    any other component is solved by :func:`solve_component`."""
    if len(ra) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    nr, nc = len(death), len(birth)
    graph = coo_matrix((np.ones(len(ra)), (ra, nr + cb)), shape=(nr + nc, nr + nc))
    _, comp = connected_components(graph, directed=False)
    ec = comp[ra]
    ncomp = int(comp.max()) + 1
    rows_in = np.bincount(comp[np.unique(ra)], minlength=ncomp)
    cols_in = np.bincount(comp[nr + np.unique(cb)], minlength=ncomp)
    star = (rows_in[ec] == 1) | (cols_in[ec] == 1)
    gain = death[ra] + birth[cb] - cost
    order = np.lexsort((-gain, ec))
    first = order[np.r_[True, ec[order][1:] != ec[order][:-1]]]
    first = first[star[first]]
    out_r, out_c = [ra[first]], [cb[first]]
    rest = np.flatnonzero(~star)
    if len(rest):
        ra, cb, cost, ec = ra[rest], cb[rest], cost[rest], ec[rest]
        order = np.argsort(ec, kind="stable")
        ra, cb, cost, ec = ra[order], cb[order], cost[order], ec[order]
        bounds = np.flatnonzero(np.diff(ec)) + 1
        for idx in np.split(np.arange(len(ra)), bounds):
            r_u, r_l = np.unique(ra[idx], return_inverse=True)
            c_u, c_l = np.unique(cb[idx], return_inverse=True)
            if len(r_u) + len(c_u) > 60:
                pairs = solve_sparse(r_l, c_l, cost[idx], death[r_u], birth[c_u])
            else:
                block = np.full((len(r_u), len(c_u)), np.inf)
                block[r_l, c_l] = cost[idx]
                pairs = solve_component(block, death[r_u], birth[c_u])
            for r, c in pairs:
                out_r.append(r_u[r:r + 1])
                out_c.append(c_u[c:c + 1])
    return np.concatenate(out_r), np.concatenate(out_c)
