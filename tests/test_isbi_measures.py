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


def _reference(e: Tracks, t: Tracks, eps: float):
    """The definitions, directly: every one-to-one pairing of true tracks to estimated
    tracks or dummies, point distances min(d, eps), eps where one track is absent."""
    def pts(tr, i):
        m = tr.track_id == i
        return dict(zip(tr.frame[m].tolist(), tr.coords[m], strict=True))

    T = [pts(t, i) for i in np.unique(t.track_id)]
    E = [pts(e, i) for i in np.unique(e.track_id)]

    def dist(a, b):
        total, close, sq = 0.0, 0, 0.0
        for f in set(a) | set(b):
            if f in a and f in b:
                d = float(np.linalg.norm(a[f] - b[f]))
                total += min(d, eps)
                close += d < eps
                sq += d * d if d < eps else 0.0
            else:
                total += eps
        return total, close, sq

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
    n_t, n_e = sum(len(a) for a in T), sum(len(b) for b in E)
    return {"alpha": 1 - cost / d0, "beta": (d0 - cost) / (d0 + spur),
            "jsc": tp / (n_t + n_e - tp),
            "jsc_theta": len(pairs) / (len(T) + len(E) - len(pairs)),
            "rmse": np.sqrt(sq / tp) if tp else None}


def test_pairing_and_measures_equal_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(60):
        def random_tracks(n):
            rows = []
            for i in range(n):
                start, stop = sorted(rng.integers(0, 6, 2))
                base = rng.uniform(0, 8, 2)
                for f in range(start, stop + 1):
                    rows.append((i, f, base + rng.normal(0, 1.5, 2)))
            return tracks(rows)

        t, e = random_tracks(int(rng.integers(1, 4))), random_tracks(int(rng.integers(1, 4)))
        ours, ref = isbi_measures(e, t), _reference(e, t, 5.0)
        for key, value in ref.items():
            got = getattr(ours, key)
            assert (got is None) if value is None else got == pytest.approx(value), key
