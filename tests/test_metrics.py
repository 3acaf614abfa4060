"""Link Jaccard (paper III-D) on cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt.data import Tracks
from napari_mpt.metrics import link_jaccard

TRUTH = Tracks([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2],
               [[0, 0], [0, 1], [0, 2], [10, 0], [10, 1], [10, 2]])


def est(rows):
    tid, frame, coords = zip(*rows, strict=True)
    return Tracks(tid, frame, coords)


def test_perfect_tracks():
    s = link_jaccard(TRUTH, TRUTH)
    assert (s.tp, s.fp, s.fn, s.jaccard) == (4, 0, 0, 1.0)
    assert s.errors == [] and not s.wrong_link.any()


def test_swap_in_the_last_frame():
    e = est([(0, 0, (0, 0)), (0, 1, (0, 1)), (0, 2, (10, 2)),
             (1, 0, (10, 0)), (1, 1, (10, 1)), (1, 2, (0, 2))])
    s = link_jaccard(e, TRUTH)
    assert (s.tp, s.fp, s.fn) == (2, 2, 2)
    assert s.jaccard == pytest.approx(2 / 6)
    assert s.per_frame() == {2: {"fp": 2, "fn": 2}}
    # the wrong link arrives in frame 2 of both tracks
    assert s.wrong_link.tolist() == [False, False, True, False, False, True]
    fp = [x for x in s.errors if x.kind == "FP"]
    assert {x.particles for x in fp} == {(0, 1), (1, 0)}
    fn = [x for x in s.errors if x.kind == "FN"]
    assert {(x.track_id, x.start, x.end) for x in fn} == {
        (0, (0.0, 1.0), (0.0, 2.0)), (1, (10.0, 1.0), (10.0, 2.0))}


def test_matching_minimises_the_summed_distance():
    # In frame 1 each estimate is nearer the other particle: the Hungarian matching
    # (6+6 vs 4+4) swaps them, so every link is wrong although the tracks look right.
    e = est([(0, 0, (0, 0)), (0, 1, (6, 1)), (0, 2, (0, 2)),
             (1, 0, (10, 0)), (1, 1, (4, 1)), (1, 2, (10, 2))])
    s = link_jaccard(e, TRUTH)
    assert (s.tp, s.fp, s.fn, s.jaccard) == (0, 4, 4, 0.0)
    assert s.matched_particle.tolist() == [0, 1, 0, 1, 0, 1]


def test_a_vertex_with_no_true_particle_makes_a_false_positive():
    e = est([(0, 0, (0, 0)), (0, 1, (0, 1)), (0, 2, (0, 2)), (0, 3, (0, 3)),
             (1, 0, (10, 0)), (1, 1, (10, 1)), (1, 2, (10, 2))])
    s = link_jaccard(e, TRUTH)
    assert (s.tp, s.fp, s.fn) == (4, 1, 0)
    assert s.jaccard == pytest.approx(0.8)


def test_dimension_mismatch_is_a_clear_error():
    three_d = Tracks([0, 0], [0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3D but the truth is 2D"):
        link_jaccard(three_d, TRUTH)
