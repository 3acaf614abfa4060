"""Tracking scores that work on any data: clean pairs, misses, clutter, births, deaths.

Three families, each documented where it is computed:

- :func:`link_jaccard`: the paper's link Jaccard on positions (section III-D), with an
  optional matching gate so that unequal counts, misses and clutter are handled;
- :func:`association_jaccard`: link Jaccard by detection identity, when the truth names
  the detection each particle produced (scores association alone, not estimates);
- :func:`isbi_measures`: the ISBI 2012 challenge's alpha, beta, JSC, JSC_theta and RMSE
  (Chenouard et al., Nature Methods 2014).

:func:`evaluate` computes every measure that applies and returns an :class:`Evaluation`.

The paper's measure, as :func:`link_jaccard` counts it:

1. In every frame the estimated positions are matched to the true positions by the
   Hungarian algorithm, minimising the summed Euclidean distance.  With a gate, only
   pairs at most ``gate`` apart may match: the matching has the most pairs within the
   gate and, among those, the least summed distance; the others stay unmatched.
2. A predicted link joins consecutive vertices of one estimated track.  It is a true
   positive (TP) when both ends match the same true particle and that particle has the
   link; otherwise a false positive (FP): it joins two different true particles (or an
   unmatched vertex).
3. A true link (consecutive vertices of one true track) that no TP follows is a false
   negative (FN).  ``JC = TP / (TP + FP + FN)``.

"Consecutive" means consecutive vertices of a track, so a track with a gap links across
it; with no gaps these are exactly the frame-to-frame links of the paper.  Without a gate
(the paper) every frame's matching pairs min(n_est, n_true) positions; when that matching
has all its pairs within the gate, the gated matching is the same one, so the gate changes
nothing on clean, well-tracked data.

scipy's solvers are imported where they are used: importing the package (napari does, on
its GUI thread, when a widget docks) then costs no scipy.optimize (0.5-1 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..core.data import Tracks
from ..core.errors import InputError, ParameterError


def _unique(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct values of an integer array, the index of each element's value among
    them, and the counts.  By sorting: numpy's hash-based unique is several times slower
    on the hundreds of thousands of distinct keys of a dense scene."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]] if len(xs) else np.zeros(0, dtype=bool)
    values = xs[new]
    inverse = np.empty(len(x), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    counts = np.diff(np.r_[np.flatnonzero(new), len(xs)])
    return values, inverse, counts


@dataclass(frozen=True)
class LinkError:
    """One wrong link: an FP (a predicted link) or an FN (a true link nobody followed)."""

    kind: Literal["FP", "FN"]
    frame_from: int
    frame_to: int
    start: tuple[float, ...]
    end: tuple[float, ...]
    track_id: int          # estimated track for FP, true particle for FN
    particles: tuple[int, int]  # true particles at the two ends (-1: unmatched)


@dataclass
class LinkScore:
    jaccard: float
    tp: int
    fp: int
    fn: int
    errors: list[LinkError] = field(default_factory=list)
    wrong_link: np.ndarray | None = None   # per vertex of the estimated tracks (their row order)
    matched_particle: np.ndarray | None = None  # per estimated vertex, true particle (-1 none)

    def per_frame(self) -> dict[int, dict[str, int]]:
        """Wrong links counted by the frame the link arrives in."""
        out: dict[int, dict[str, int]] = {}
        for e in self.errors:
            row = out.setdefault(e.frame_to, {"fp": 0, "fn": 0})
            row[e.kind.lower()] += 1
        return dict(sorted(out.items()))

    def summary(self) -> dict:
        return {
            "jaccard": self.jaccard, "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "per_frame": [{"frame": f, **c} for f, c in self.per_frame().items()],
        }


def _pairs_within(a_frame: np.ndarray, a_xy: np.ndarray, b_frame: np.ndarray,
                  b_xy: np.ndarray, gate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)`` of points in the same frame at most ``gate`` apart, with their
    Euclidean distance.  A k-d tree finds them (frames become an extra axis spaced more
    than ``gate`` apart); the distances are recomputed exactly."""
    empty = np.empty(0, dtype=np.int64)
    if len(a_frame) == 0 or len(b_frame) == 0:
        return empty, empty, np.empty(0)
    step = 2.0 * gate + 1.0
    from scipy.spatial import cKDTree

    ta = cKDTree(np.column_stack([a_frame * step, a_xy]))
    tb = cKDTree(np.column_stack([b_frame * step, b_xy]))
    pairs = ta.sparse_distance_matrix(tb, gate, output_type="ndarray")
    i, j = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    same = a_frame[i] == b_frame[j]
    i, j = i[same], j[same]
    diff = a_xy[i] - b_xy[j]
    dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    keep = dist <= gate
    return i[keep], j[keep], dist[keep]


def _gated_matching(n_a: int, n_b: int, i: np.ndarray, j: np.ndarray, dist: np.ndarray,
                    gate: float) -> np.ndarray:
    """Partner in b of every a (-1: none) for the edges ``(i, j, dist)``: most pairs, then
    least summed distance.  Solved exactly per connected component of the edge graph
    (a dense Hungarian on each, non-edges at a cost above any gated sum)."""
    out = np.full(n_a, -1, dtype=np.int64)
    if len(i) == 0:
        return out
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(i)), (i, n_a + j)), shape=(n_a + n_b, n_a + n_b))
    _, label = connected_components(graph, directed=False)
    comp = label[i]
    edges = np.bincount(comp)
    single = edges[comp] == 1                   # one a, one b, one edge within the gate
    out[i[single]] = j[single]
    multi = np.flatnonzero(~single)
    if len(multi) == 0:
        return out
    # local row / column numbers of each edge inside its component, computed at once
    order = multi[np.lexsort((i[multi], comp[multi]))]
    ia = _local_rank(comp[order], i[order])
    by_b = np.lexsort((j[order], comp[order]))
    ib = np.empty(len(order), dtype=np.int64)
    ib[by_b] = _local_rank(comp[order][by_b], j[order][by_b])
    starts = np.r_[0, np.flatnonzero(np.diff(comp[order])) + 1]
    stops = np.r_[starts[1:], len(order)]
    na = np.maximum.reduceat(ia, starts) + 1
    nb = np.maximum.reduceat(ib, starts) + 1
    # a star (one a or one b) matches one pair: its shortest edge
    star = (na == 1) | (nb == 1)
    seg = np.repeat(np.arange(len(starts)), stops - starts)
    in_star = np.flatnonzero(star[seg])
    if len(in_star):
        by = in_star[np.lexsort((dist[order[in_star]], seg[in_star]))]
        best = by[np.r_[True, seg[by][1:] != seg[by][:-1]]]
        out[i[order[best]]] = j[order[best]]
    for s in np.flatnonzero(~star):
        lo, hi = starts[s], stops[s]
        e = order[lo:hi]
        la, lb = ia[lo:hi], ib[lo:hi]
        big = gate * min(na[s], nb[s]) + 1.0    # one more pair beats any distance saved
        cost = np.full((na[s], nb[s]), big)
        cost[la, lb] = dist[e]
        r, c = linear_sum_assignment(cost)
        real = cost[r, c] < big
        ga = np.empty(na[s], dtype=np.int64)
        ga[la] = i[e]
        gb = np.empty(nb[s], dtype=np.int64)
        gb[lb] = j[e]
        out[ga[r[real]]] = gb[c[real]]
    return out


def _local_rank(group: np.ndarray, value: np.ndarray) -> np.ndarray:
    """0, 1, 2... for the distinct values within each group (both sorted, group first)."""
    new = np.r_[True, (group[1:] != group[:-1]) | (value[1:] != value[:-1])]
    rank = np.cumsum(new) - 1
    starts = np.r_[True, group[1:] != group[:-1]]
    return rank - np.maximum.accumulate(np.where(starts, rank, 0))


Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def match_frames(estimated: Tracks, truth: Tracks, gate: float | None = None,
                 _pairs: Pairs | None = None) -> np.ndarray:
    """For each estimated vertex, the true particle it is matched to in its frame (-1: none).

    ``gate=None`` (or infinite): the paper's Hungarian matching per frame (min(n_est,
    n_true) pairs of least summed distance).  A gate: the most pairs at most ``gate``
    apart, then the least summed distance.
    """
    from scipy.optimize import linear_sum_assignment

    if gate is not None and np.isfinite(gate):
        i, j, dist = _pairs if _pairs is not None else _pairs_within(
            estimated.frame, estimated.coords, truth.frame, truth.coords, gate)
        near = dist <= gate
        i, j, dist = i[near], j[near], dist[near]
        partner = _gated_matching(len(estimated), len(truth), i, j, dist, gate)
        return np.where(partner >= 0, truth.track_id[np.maximum(partner, 0)], -1)
    out = np.full(len(estimated), -1, dtype=np.int64)
    est_frames = estimated.frame
    true_frames = truth.frame
    for f in np.unique(est_frames):
        ei = np.flatnonzero(est_frames == f)
        ti = np.flatnonzero(true_frames == f)
        if len(ti) == 0:
            continue
        diff = estimated.coords[ei][:, None, :] - truth.coords[ti][None, :, :]
        cost = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
        r, c = linear_sum_assignment(cost)
        out[ei[r]] = truth.track_id[ti[c]]
    return out


def _links(tracks: Tracks) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (a, b) of consecutive vertices of the same track."""
    same = tracks.track_id[1:] == tracks.track_id[:-1]
    a = np.flatnonzero(same)
    return a, a + 1


def _check_dims(estimated: Tracks, truth: Tracks) -> None:
    if estimated.ndim != truth.ndim:
        raise InputError("tracks", f"tracks are {estimated.ndim}D but the truth is {truth.ndim}D")


def link_jaccard(estimated: Tracks, truth: Tracks, gate: float | None = None,
                 _pairs: Pairs | None = None) -> LinkScore:
    """Score estimated tracks against the truth with the paper's link Jaccard (see the
    module docstring); ``gate`` (px) bounds the distance of a matched pair."""
    _check_dims(estimated, truth)
    match = match_frames(estimated, truth, gate, _pairs)
    ea, eb = _links(estimated)
    ta, tb = _links(truth)
    span = int(max(estimated.frame.max(initial=0), truth.frame.max(initial=0))) + 1
    # a true link is named by its first vertex (particle, frame); its end frame is fixed
    true_key = truth.track_id[ta] * span + truth.frame[ta]
    order = np.argsort(true_key)
    true_key, true_end = true_key[order], truth.frame[tb][order]
    p, q = match[ea], match[eb]
    key = p * span + estimated.frame[ea]
    at = np.minimum(np.searchsorted(true_key, key), max(len(true_key) - 1, 0))
    hit = ((p >= 0) & (p == q) & (len(true_key) > 0)
           & (true_key[at] == key) & (true_end[at] == estimated.frame[eb]))
    # a true link followed twice counts once: the first estimated link (row order) is TP
    first = np.zeros(len(ea), dtype=bool)
    hit_rows = np.flatnonzero(hit)
    keys_hit = key[hit_rows]
    by_key = np.argsort(keys_hit, kind="stable")
    lead = np.r_[True, keys_hit[by_key][1:] != keys_hit[by_key][:-1]] if len(by_key) else []
    first[hit_rows[by_key[lead]]] = True
    followed = np.zeros(len(true_key), dtype=bool)
    followed[at[first]] = True
    tp = int(first.sum())
    fp_rows = np.flatnonzero(~first)
    fp = len(fp_rows)
    wrong = np.zeros(len(estimated), dtype=bool)
    wrong[eb[fp_rows]] = True
    # plain Python values, converted once (tens of thousands of errors on dense scenes)
    a, b = ea[fp_rows], eb[fp_rows]
    errors = [LinkError("FP", fa, fb, tuple(xa), tuple(xb), tid, (pa, pb))
              for fa, fb, xa, xb, tid, pa, pb in zip(
                  estimated.frame[a].tolist(), estimated.frame[b].tolist(),
                  estimated.coords[a].tolist(), estimated.coords[b].tolist(),
                  estimated.track_id[a].tolist(), match[a].tolist(), match[b].tolist(),
                  strict=True)]
    missed = order[~followed]
    a, b = ta[missed], tb[missed]
    errors += [LinkError("FN", fa, fb, tuple(xa), tuple(xb), tid, (tid, tid))
               for fa, fb, xa, xb, tid in zip(
                   truth.frame[a].tolist(), truth.frame[b].tolist(), truth.coords[a].tolist(),
                   truth.coords[b].tolist(), truth.track_id[a].tolist(), strict=True)]
    fn = len(missed)
    denom = tp + fp + fn
    jc = tp / denom if denom else 1.0
    errors.sort(key=lambda e: (e.frame_to, e.kind, e.track_id))
    return LinkScore(jc, tp, fp, fn, errors, wrong, match)


# --- association by detection identity ------------------------------------------------
@dataclass
class AssociationScore:
    """Link Jaccard by detection identity (see :func:`association_jaccard`)."""

    jaccard: float
    tp: int
    fp: int
    fn: int


def detection_links(tracks: Tracks) -> np.ndarray:
    """``(k, 2)`` detection rows joined by a track: consecutive vertices that took a
    detection, skipping vertices that took none, so a link may bridge a gap."""
    took = tracks.detection >= 0
    tid, det = tracks.track_id[took], tracks.detection[took]
    same = tid[1:] == tid[:-1]
    return np.column_stack([det[:-1][same], det[1:][same]])


def same_detection_table(estimated: Tracks, truth: Tracks) -> bool:
    """Whether the detection rows named by ``estimated`` and ``truth`` can be rows of one
    table: a row that both name must lie in the same frame in both.  Tracks of spots found
    again in a movie (``napari-mpt detect``) number their rows afresh, so their rows land in
    other frames than the simulation's and the association measure does not apply."""
    e = estimated.detection >= 0
    t = truth.detection >= 0
    frame_of = dict(zip(truth.detection[t].tolist(), truth.frame[t].tolist(), strict=True))
    shared = [(d, f) for d, f in zip(estimated.detection[e].tolist(),
                                     estimated.frame[e].tolist(), strict=True) if d in frame_of]
    return bool(shared) and all(frame_of[d] == f for d, f in shared)


def association_jaccard(estimated: Tracks, truth: Tracks) -> AssociationScore | None:
    """Link Jaccard by detection identity; None when it does not apply.

    It applies when the truth names the detection each particle produced
    (``truth.detection``, -1 when missed) and the estimated tracks name the detections they
    took; both refer to rows of the same detections table (checked by
    :func:`same_detection_table`).  It scores association alone:
    estimated positions play no part.

    - True links: for each particle, each detection it produced and its next one, skipping
      frames where it was missed, so a link bridging a gap of g frames is true when both
      ends belong to the same particle with no detection of it in between.
    - Predicted links: for each estimated track, each detection it took and the next one it
      took (vertices without a detection, e.g. predictions across a gap, are skipped).
    - TP: a predicted link that is a true link (each true link counts once; a repeat is an
      FP).  FP: every other predicted link, including any that touches clutter.  FN: a true
      link no predicted link follows.  ``JC = TP / (TP + FP + FN)`` (1 when all are 0).
    """
    if not (truth.detection >= 0).any() or not (estimated.detection >= 0).any():
        return None
    if not same_detection_table(estimated, truth):
        return None
    pred, true = detection_links(estimated), detection_links(truth)
    width = int(max(pred.max(initial=0), true.max(initial=0))) + 1
    pred_key = pred[:, 0] * width + pred[:, 1]
    true_key = _unique(true[:, 0] * width + true[:, 1])[0]
    pred_once = _unique(pred_key)[0]
    at = np.minimum(np.searchsorted(true_key, pred_once), max(len(true_key) - 1, 0))
    tp = int(np.count_nonzero(true_key[at] == pred_once)) if len(true_key) else 0
    fp, fn = len(pred_key) - tp, len(true_key) - tp
    denom = tp + fp + fn
    return AssociationScore(tp / denom if denom else 1.0, tp, fp, fn)


# --- ISBI 2012 challenge measures -----------------------------------------------------
ISBI_GATE = 5.0
"""The challenge's gate epsilon (px)."""


@dataclass
class ISBIScore:
    """The ISBI 2012 challenge's measures (see :func:`isbi_measures`); a measure that is
    undefined (no true points; no matched point for the RMSE) is None."""

    alpha: float | None
    beta: float | None
    jsc: float | None
    jsc_theta: float | None
    rmse: float | None
    gate: float
    tp_points: int
    fn_points: int
    fp_points: int
    paired: int
    missed: int
    spurious: int
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (true id, estimated id)


def _track_index(tracks: Tracks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Track ids, the index of each vertex's track among them, and each track's vertices."""
    return _unique(tracks.track_id)


def _spans(tracks: Tracks, of: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last frame of each of the ``n`` tracks (``of``: each vertex's track)."""
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, of, tracks.frame)
    np.maximum.at(last, of, tracks.frame)
    return first, last


def with_virtual_points(tracks: Tracks) -> tuple[Tracks, np.ndarray]:
    """``tracks`` with every frame missing inside a track filled by a point linearly
    interpolated between the track's vertices on either side, as the challenge's
    evaluator does, and a mask of the real (not interpolated) vertices."""
    order = np.lexsort((tracks.frame, tracks.track_id))
    tid, frame, xy = tracks.track_id[order], tracks.frame[order], tracks.coords[order]
    gap = np.diff(frame)
    inside = (tid[1:] == tid[:-1]) & (gap > 1)
    if not inside.any():
        return tracks, np.ones(len(tracks), dtype=bool)
    a = np.flatnonzero(inside)
    n_new = gap[a] - 1
    at = np.repeat(a, n_new)
    k = np.arange(int(n_new.sum())) - np.repeat(np.cumsum(n_new) - n_new, n_new) + 1
    share = (k / gap[at])[:, None]
    new_xy = xy[at] + share * (xy[at + 1] - xy[at])
    all_tid = np.concatenate([tid, tid[at]])
    all_frame = np.concatenate([frame, frame[at] + k])
    all_xy = np.concatenate([xy, new_xy])
    real = np.r_[np.ones(len(tid), dtype=bool), np.zeros(len(at), dtype=bool)]
    srt = np.lexsort((all_frame, all_tid))
    return (Tracks(all_tid[srt], all_frame[srt], all_xy[srt],
                   np.full(len(srt), -1, dtype=np.int64)), real[srt])


def isbi_measures(estimated: Tracks, truth: Tracks, gate: float = ISBI_GATE,
                  _pairs: Pairs | None = None) -> ISBIScore:
    """alpha, beta, JSC, JSC_theta and RMSE of the ISBI 2012 challenge (Chenouard 2014).

    - Gaps: as in the challenge's evaluator, a track is every frame from its first vertex
      to its last; a frame it skips holds a *virtual* point, linearly interpolated between
      the vertices on either side.  An estimated virtual point never matches (it costs
      ``eps`` where the true track exists, and outside it too) but is no spurious point
      either; a true virtual point is a point like any other.
    - Point distance: ``min(||a - b||, eps)`` with the gate ``eps`` (5 px); a frame where
      only one of two tracks exists costs ``eps``.  The distance of two tracks is the sum
      over the frames where either exists; a true track paired with no estimate (a dummy)
      costs ``eps`` per frame.
    - Pairing: each true track is paired with at most one estimated track and vice versa,
      or with a dummy, minimising the summed distance (an exact optimal assignment).  A
      pair counts only when it costs strictly less than the true track's dummy (so it has
      at least one point closer than ``eps``); a pair that merely ties with the dummy (for
      instance one with no point inside the gate) counts as a missed true track plus a
      spurious estimated one, so the result does not depend on how a solver breaks ties.
    - ``alpha = 1 - d(truth, paired) / d(truth, dummies)``, in [0, 1]; ignores spurious
      tracks.  ``beta = (d(truth, dummies) - d(truth, paired)) / (d(truth, dummies) +
      d(spurious, dummies))``, so spurious estimated tracks lower it (beta <= alpha).
    - Points: along paired tracks a frame where both exist and the estimated point is real
      and less than ``eps`` away is a TP point; every other true point is an FN; the FP
      points are, as the evaluator counts them, the paired estimate's frames outside its
      true track's span (virtual ones too) and its real points in the span that miss, and
      every real point of a spurious track; ``JSC = TP / (TP + FN + FP)``.
    - Tracks: ``JSC_theta = paired / (paired + missed + spurious)``.
    - ``RMSE``: root mean square distance over the TP points.
    """
    _check_dims(estimated, truth)
    t_aug, _ = with_virtual_points(truth)
    if len(t_aug) != len(truth):        # true virtual points can be matched: pair them too
        truth, _pairs = t_aug, None
    t_ids, t_of, _ = _track_index(truth)
    e_ids, e_of, e_count = _track_index(estimated)
    nt, ne = len(t_ids), len(e_ids)
    t_first, t_last = _spans(truth, t_of, nt)
    e_first, e_last = _spans(estimated, e_of, ne)
    t_len, e_len = t_last - t_first + 1, e_last - e_first + 1
    # candidate pairs of tracks: they share a frame with points closer than the gate
    vj, vi, dist = _pairs if _pairs is not None else _pairs_within(
        estimated.frame, estimated.coords, truth.frame, truth.coords, gate)
    close = dist < gate
    vi, vj, dist = vi[close], vj[close], dist[close]
    pair_key = t_of[vi] * max(ne, 1) + e_of[vj]
    keys, inv, _ = _unique(pair_key)
    pk, pl = keys // max(ne, 1), keys % max(ne, 1)
    saved = np.bincount(inv, weights=gate - dist, minlength=len(keys))
    n_close = np.bincount(inv, minlength=len(keys))
    sq = np.bincount(inv, weights=dist**2, minlength=len(keys))
    shared = np.maximum(np.minimum(t_last[pk], e_last[pl]) - np.maximum(t_first[pk], e_first[pl])
                        + 1, 0)
    pair_cost = gate * (t_len[pk] + e_len[pl] - shared) - saved
    dummy = gate * t_len.astype(np.float64)

    partner = np.full(nt, -1, dtype=np.int64)     # candidate index paired with each truth
    if len(keys):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import min_weight_full_bipartite_matching

        # rows: true tracks; columns: estimated tracks, then one dummy per true track.
        # +1 on every edge keeps weights positive (every row takes exactly one edge).
        rows = np.concatenate([pk, np.arange(nt)])
        cols = np.concatenate([pl, ne + np.arange(nt)])
        w = np.concatenate([pair_cost, dummy]) + 1.0
        r, c = min_weight_full_bipartite_matching(
            coo_matrix((w, (rows, cols)), shape=(nt, ne + nt)).tocsr())
        col = np.empty(nt, dtype=np.int64)
        col[r] = c
        lookup = {(int(k), int(c)): x for x, (k, c) in enumerate(zip(pk, pl, strict=True))}
        for k in np.flatnonzero(col < ne):
            x = lookup[(int(k), int(col[k]))]
            if pair_cost[x] < dummy[k]:           # a tie with the dummy is no pairing
                partner[k] = x
    paired_t = np.flatnonzero(partner >= 0)
    px = partner[paired_t]
    d_paired = pair_cost[px].sum() + dummy[partner < 0].sum()
    d_dummy = dummy.sum()
    spurious_mask = np.ones(ne, dtype=bool)
    spurious_mask[pl[px]] = False
    d_spurious = gate * e_len[spurious_mask].sum()
    tp = int(n_close[px].sum())
    fn = int(t_len.sum()) - tp
    # paired: frames outside the true span, and real points inside it that miss
    inside = _real_in_span(estimated, e_of, pl[px], t_first[pk[px]], t_last[pk[px]])
    fp = int((e_len[pl[px]] - shared[px]).sum() + inside.sum()) - tp
    fp += int(e_count[spurious_mask].sum())
    paired, missed, spurious = len(px), nt - len(px), int(spurious_mask.sum())
    return ISBIScore(
        alpha=float(1.0 - d_paired / d_dummy) if d_dummy else None,
        beta=float((d_dummy - d_paired) / (d_dummy + d_spurious)) if d_dummy else None,
        jsc=tp / (tp + fn + fp) if tp + fn + fp else None,
        jsc_theta=paired / (paired + missed + spurious) if paired + missed + spurious else None,
        rmse=float(np.sqrt(sq[px].sum() / tp)) if tp else None,
        gate=gate, tp_points=tp, fn_points=fn, fp_points=fp, paired=paired, missed=missed,
        spurious=spurious,
        pairs=[(int(t_ids[k]), int(e_ids[pl[x]])) for k, x in zip(paired_t, px, strict=True)])


def _real_in_span(estimated: Tracks, e_of: np.ndarray, tracks: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray) -> np.ndarray:
    """For each estimated track ``tracks[x]``, how many of its (real) vertices lie in the
    frames ``lo[x] .. hi[x]``."""
    if len(tracks) == 0:
        return np.zeros(0, dtype=np.int64)
    slot = np.full(int(e_of.max()) + 1 if len(e_of) else 0, -1, dtype=np.int64)
    slot[tracks] = np.arange(len(tracks))
    x = slot[e_of]
    mine = x >= 0
    f = estimated.frame[mine]
    xi = x[mine]
    ok = (f >= lo[xi]) & (f <= hi[xi])
    return np.bincount(xi[ok], minlength=len(tracks))


# --- everything that applies ------------------------------------------------------------
@dataclass
class Evaluation(LinkScore):
    """Every measure that applies: the paper's position link Jaccard (the fields of
    :class:`LinkScore`, which the link-errors layer draws), and when they apply the
    association Jaccard and the ISBI measures."""

    gate: float | None = None
    association: AssociationScore | None = None
    isbi: ISBIScore | None = None
    traccuracy: Any = None    # a traccuracy.TraccuracyScore when api.evaluate was asked for it

    def summary(self) -> dict[str, Any]:
        """The ``evaluate --json`` object; a measure that does not apply is absent."""
        out: dict[str, Any] = {"jaccard": self.jaccard, "tp": self.tp, "fp": self.fp,
                               "fn": self.fn}
        if self.gate is not None:
            out["gate"] = self.gate
        if self.association is not None:
            a = self.association
            out.update(association_jaccard=a.jaccard, association_tp=a.tp,
                       association_fp=a.fp, association_fn=a.fn)
        if self.isbi is not None:
            for key in ("alpha", "beta", "jsc", "jsc_theta", "rmse"):
                value = getattr(self.isbi, key)
                if value is not None:
                    out[key] = value
        if self.traccuracy is not None:
            out.update(self.traccuracy.summary())
        out["per_frame"] = [{"frame": f, **c} for f, c in self.per_frame().items()]
        return out


def auto_gate(estimated: Tracks, truth: Tracks) -> float | None:
    """The position link Jaccard's gate when none is given: none (the paper's matching)
    when every frame holds as many estimated as true vertices, the paper's clean world;
    otherwise the ISBI challenge's 5 px, so that a missed particle is not matched to
    clutter far away."""
    fe, _, ce = _unique(estimated.frame)
    ft, _, ct = _unique(truth.frame)
    same = len(fe) == len(ft) and np.array_equal(fe, ft) and np.array_equal(ce, ct)
    return None if same else ISBI_GATE


def evaluate(estimated: Tracks, truth: Tracks, gate: float | str | None = "auto",
             isbi_gate: float = ISBI_GATE) -> Evaluation:
    """Every measure that applies to ``estimated`` against ``truth``.

    ``gate``: the position link Jaccard's matching gate in px, None for none (the paper),
    or ``"auto"`` (:func:`auto_gate`).  ``isbi_gate``: the challenge's epsilon.
    traccuracy's measures (:mod:`.traccuracy`) are added by :func:`napari_mpt.api.evaluate`.
    """
    _check_dims(estimated, truth)
    g = auto_gate(estimated, truth) if gate == "auto" else gate
    if isinstance(g, str):
        raise ParameterError("gate", f"{g!r} is not a distance, None or 'auto'")
    if g is not None and not g > 0:
        raise ParameterError("gate", f"must be > 0 px, got {g}")
    if g is not None and np.isinf(g):
        g = None                                   # an infinite gate is no gate
    if not 0 < isbi_gate < np.inf:
        raise ParameterError("isbi_gate", f"must be a finite distance > 0 px, got {isbi_gate}")
    # one search for the close pairs both matchings need (estimated i, true j, distance)
    pairs = _pairs_within(estimated.frame, estimated.coords, truth.frame, truth.coords,
                          max(g or 0.0, isbi_gate))
    score = link_jaccard(estimated, truth, g, pairs)
    return Evaluation(score.jaccard, score.tp, score.fp, score.fn, score.errors,
                      score.wrong_link, score.matched_particle, gate=g,
                      association=association_jaccard(estimated, truth),
                      isbi=isbi_measures(estimated, truth, isbi_gate, pairs))
