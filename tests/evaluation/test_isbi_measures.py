"""ISBI 2012 challenge measures (Chenouard et al. 2014) on cases worked by hand, and the
optimal pairing against brute force."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from napari_mpt.core.data import Tracks
from napari_mpt.evaluation.metrics import isbi_measures


def tracks(rows):
    tid, frame, coords = zip(*rows, strict=True)
    return Tracks(tid, frame, coords)


# true tracks A (id 0) at (0, t) and B (id 1) at (10, t), frames 0-2
TRUTH = tracks([(0, t, (0, t)) for t in range(3)] + [(1, t, (10, t)) for t in range(3)])


def test_hand_case_with_a_short_and_a_spurious_track():
    e = tracks([(5, 0, (0, 0)), (5, 1, (0, 1)), (5, 2, (3, 2)),    # A, 3 px off in frame 2
                (6, 0, (10, 0)), (6, 1, (10, 1)),                  # B, ends a frame early
                (7, 0, (100, 100)), (7, 1, (100, 101))])           # spurious
    s = isbi_measures(e, TRUTH)
    # d(A, 5) = 0 + 0 + 3; d(B, 6) = 0 + 0 + eps (frame 2 only in B); dummies 3 eps each
    assert s.pairs == [(0, 5), (1, 6)]
    assert s.alpha == pytest.approx(1 - 8 / 30)
    assert s.beta == pytest.approx((30 - 8) / (30 + 10))            # spurious: 2 eps
    assert (s.tp_points, s.fn_points, s.fp_points) == (5, 1, 2)
    assert s.jsc == pytest.approx(5 / 8)
    assert (s.paired, s.missed, s.spurious) == (2, 0, 1) and s.jsc_theta == pytest.approx(2 / 3)
    assert s.rmse == pytest.approx(np.sqrt(9 / 5))


def test_pair_with_no_point_inside_the_gate_is_missed_plus_spurious():
    e = tracks([(3, t, (-6, t)) for t in range(3)])  # 6 px from A: all outside 5 px
    s = isbi_measures(e, TRUTH)
    assert s.pairs == [] and (s.paired, s.missed, s.spurious) == (0, 2, 1)
    assert (s.alpha, s.beta, s.jsc, s.jsc_theta) == (0.0, 0.0, 0.0, 0.0)
    assert s.rmse is None and s.fp_points == 3 and s.fn_points == 6


def test_a_fragmented_track_pairs_one_fragment():
    truth = tracks([(0, t, (0, t)) for t in range(4)])
    e = tracks([(1, 0, (0, 0)), (1, 1, (0, 1)), (2, 2, (0, 2)), (2, 3, (0, 3))])
    s = isbi_measures(e, truth)
    # d(A, 1) = d(A, 2) = 2 eps; dummy 4 eps: alpha 1/2, beta (20 - 10) / (20 + 10)
    assert s.alpha == pytest.approx(0.5) and s.beta == pytest.approx(1 / 3)
    assert (s.tp_points, s.fn_points, s.fp_points) == (2, 2, 2) and s.jsc == pytest.approx(1 / 3)
    assert s.jsc_theta == pytest.approx(0.5) and s.rmse == 0.0


def test_one_estimate_between_two_particles_pairs_only_one():
    truth = tracks([(0, 0, (0, 0)), (0, 1, (0, 1)), (1, 0, (2, 0)), (1, 1, (2, 1))])
    e = tracks([(9, 0, (1, 0)), (9, 1, (1, 1))])
    s = isbi_measures(e, truth)
    # either pairing costs 1 + 1 = 2 and the other track its dummy 2 eps = 10
    assert s.alpha == pytest.approx(1 - 12 / 20) and s.beta == pytest.approx(8 / 20)
    assert (s.paired, s.missed, s.spurious) == (1, 1, 0) and s.rmse == pytest.approx(1.0)


def test_perfect_estimates():
    s = isbi_measures(TRUTH, TRUTH)
    assert (s.alpha, s.beta, s.jsc, s.jsc_theta, s.rmse) == (1.0, 1.0, 1.0, 1.0, 0.0)
    assert (s.paired, s.missed, s.spurious) == (2, 0, 0)


def test_gaps_are_scored_with_virtual_points_as_the_challenge_does():
    """Worked by hand: true track A at (0, t), frames 0-4; estimate 5 on it but missed in
    frame 2; spurious estimate 6 in frames 10 and 13 only.  The challenge fills every
    skipped frame with an interpolated virtual point: 5 spans frames 0-4 (its virtual
    point at frame 2 lies on A but never matches) and 6 spans 10-13 (4 frames)."""
    truth = tracks([(0, t, (0, t)) for t in range(5)])
    e = tracks([(5, t, (0, t)) for t in (0, 1, 3, 4)] + [(6, 10, (50, 50)), (6, 13, (50, 53))])
    s = isbi_measures(e, truth)
    # d(A, 5) = 4 x 0 + eps (frame 2); dummy 5 eps = 25; spurious 4 eps = 20 (not 2 eps)
    assert s.pairs == [(0, 5)]
    assert s.alpha == pytest.approx(1 - 5 / 25)
    assert s.beta == pytest.approx((25 - 5) / (25 + 20))
    # TP 4; FN 1 (frame 2); FP: the spurious track's 2 real points (virtual ones are not)
    assert (s.tp_points, s.fn_points, s.fp_points) == (4, 1, 2)
    assert s.jsc == pytest.approx(4 / 7)


def test_a_gap_reaching_past_the_true_track_costs_its_frames():
    """Estimate 1 takes A's frames 0-1 (exact) and one spot at frame 5, after A ends at 3:
    its span 0-5 has virtual points at 2-4, which cost eps in frames 2-3 (where A is) and
    eps in 4-5 (where A is not)."""
    truth = tracks([(0, t, (0, t)) for t in range(4)])
    e = tracks([(1, 0, (0, 0)), (1, 1, (0, 1)), (1, 5, (0, 5))])
    s = isbi_measures(e, truth)
    # d(A, 1) = 0 + 0 + eps + eps + eps + eps = 20 is no better than the dummy (20)
    assert s.pairs == [] and s.alpha == 0.0
    e2 = tracks([(1, 0, (0, 0)), (1, 1, (0, 1)), (1, 2, (0, 2)), (1, 5, (0, 5))])
    s2 = isbi_measures(e2, truth)
    # frames 0-2 match, 3 virtual (eps), 4-5 outside A (eps each): 15 against 20
    assert s2.pairs == [(0, 1)] and s2.alpha == pytest.approx(1 - 15 / 20)
    # FP: frames 4 and 5 lie outside A's span (the virtual one at 4 counts, as the
    # evaluator counts it); FN: frame 3
    assert (s2.tp_points, s2.fn_points, s2.fp_points) == (3, 1, 2)


def test_a_gap_in_the_truth_is_filled_and_can_be_matched():
    truth = tracks([(0, 0, (0, 0)), (0, 2, (0, 2))])      # the truth skips frame 1
    e = tracks([(1, t, (0, t)) for t in range(3)])
    s = isbi_measures(e, truth)
    assert s.alpha == 1.0 and (s.tp_points, s.fn_points, s.fp_points) == (3, 0, 0)


def _reference(e: Tracks, t: Tracks, eps: float):
    """The definitions, directly: every one-to-one pairing of true tracks to estimated
    tracks or dummies, point distances min(d, eps), eps where one track is absent, every
    skipped frame inside a track a virtual point interpolated between its neighbours
    (matched only when the true one is virtual, never when the estimated one is)."""
    def pts(tr, i):
        m = tr.track_id == i
        f, xy = tr.frame[m], tr.coords[m]
        out = {}
        for k in range(len(f)):
            out[int(f[k])] = (xy[k], True)
            if k + 1 < len(f):
                for g in range(int(f[k]) + 1, int(f[k + 1])):
                    share = (g - f[k]) / (f[k + 1] - f[k])
                    out[g] = (xy[k] + share * (xy[k + 1] - xy[k]), False)
        return out

    T = [pts(t, i) for i in np.unique(t.track_id)]
    E = [pts(e, i) for i in np.unique(e.track_id)]

    def dist(a, b):
        total, close, sq, wrong = 0.0, 0, 0.0, 0
        for f in set(a) | set(b):
            if f in a and f in b:
                d = float(np.linalg.norm(a[f][0] - b[f][0]))
                if b[f][1] and d < eps:
                    total += d
                    close += 1
                    sq += d * d
                else:
                    total += eps
                    wrong += b[f][1]
            else:
                total += eps
                wrong += f in b
        return total, close, sq, wrong

    best = None
    slots = list(range(len(E))) + [None] * len(T)
    for choice in set(permutations(slots, len(T))):
        cost = sum(dist(T[k], E[c])[0] if c is not None else eps * len(T[k])
                   for k, c in enumerate(choice))
        if best is None or cost < best[0] - 1e-12:
            best = (cost, choice)
    cost, choice = best
    d0 = eps * sum(len(a) for a in T)
    pairs = [(k, c) for k, c in enumerate(choice) if c is not None and dist(T[k], E[c])[1] > 0]
    used = {c for _, c in pairs}
    spur = eps * sum(len(E[c]) for c in range(len(E)) if c not in used)
    tp = sum(dist(T[k], E[c])[1] for k, c in pairs)
    sq = sum(dist(T[k], E[c])[2] for k, c in pairs)
    fp = (sum(dist(T[k], E[c])[3] for k, c in pairs)
          + sum(sum(real for _, real in E[c].values()) for c in range(len(E)) if c not in used))
    fn = sum(len(a) for a in T) - tp
    return {"alpha": 1 - cost / d0, "beta": (d0 - cost) / (d0 + spur),
            "jsc": tp / (tp + fn + fp), "tp_points": tp, "fn_points": fn, "fp_points": fp,
            "jsc_theta": len(pairs) / (len(T) + len(E) - len(pairs)),
            "rmse": np.sqrt(sq / tp) if tp else None}


def test_pairing_and_measures_equal_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(80):
        def random_tracks(n):
            rows = []
            for i in range(n):
                start, stop = sorted(rng.integers(0, 7, 2))
                base = rng.uniform(0, 8, 2)
                for f in range(start, stop + 1):
                    if f in (start, stop) or rng.random() < 0.7:   # gaps inside
                        rows.append((i, f, base + rng.normal(0, 1.5, 2)))
            return tracks(rows)

        t, e = random_tracks(int(rng.integers(1, 4))), random_tracks(int(rng.integers(1, 4)))
        ours, ref = isbi_measures(e, t), _reference(e, t, 5.0)
        for key, value in ref.items():
            got = getattr(ours, key)
            assert (got is None) if value is None else got == pytest.approx(value), key
