"""Disagreement between runs and error rates from a reviewed sample (no truth needed)."""

from __future__ import annotations

import numpy as np
import pytest
from chains import tracks

from napari_mpt import api
from napari_mpt.core.data import Tracks
from napari_mpt.core.errors import InputError
from napari_mpt.evaluation.agreement import (
    disagreement,
    disagreement_matrix,
    link_support,
)
from napari_mpt.evaluation.metrics import detection_links
from napari_mpt.evaluation.sampling import estimate_rates, review_order

A = tracks([(0, 0), (1, 2), (2, 4)], [(0, 1), (1, 3), (2, 5)])
B = tracks([(0, 0), (1, 3), (2, 5)], [(0, 1), (1, 2), (2, 4)])   # swapped after frame 0
C = tracks([(0, 0), (1, 2), (2, 4)], [(0, 1), (1, 3)])           # A without its last link


def test_disagreement_lists_each_runs_own_links():
    d = disagreement(A, B)
    assert sorted(map(tuple, d.only_a)) == [(0, 2), (1, 3)]
    assert sorted(map(tuple, d.only_b)) == [(0, 3), (1, 2)]
    assert d.shared == 2 and d.count == 4 and d.share == pytest.approx(4 / 6)
    frame_of = np.array([0, 0, 1, 1, 2, 2])
    assert d.per_frame(frame_of, 3).tolist() == [[0, 0], [2, 2], [0, 0]]
    assert disagreement(A, A).count == 0 and disagreement(A, A).share == 0.0


def test_matrix_and_support_of_three_runs():
    m = disagreement_matrix([A, B, C])
    assert m.shape == (3, 3) and np.allclose(m, m.T) and not m.diagonal().any()
    assert m[0, 2] == pytest.approx(1 / 4)          # C lacks one of A's four links
    s = link_support([A, B, C])
    assert len(s.links) == 6
    contested = {tuple(s.links[i]) for i in s.contested()}
    assert contested == {(0, 2), (1, 3), (0, 3), (1, 2), (3, 5)}  # only (2, 4) has all three


def test_runs_without_detection_rows_are_refused():
    no_rows = Tracks(np.array([0, 0]), np.array([0, 1]), np.zeros((2, 2)))
    with pytest.raises(InputError, match="names no detection rows"):
        disagreement(A, no_rows)


def test_review_order_is_a_permutation_and_interleaves_the_cells():
    s = link_support([A, B, C])
    order = review_order(s, seed=3)
    assert sorted(order.tolist()) == list(range(len(s.links)))
    assert review_order(s, seed=3).tolist() == order.tolist()


def test_a_complete_review_gives_exact_numbers():
    s = link_support([A, B])
    truth = {(0, 2), (2, 4), (1, 3), (3, 5)}                       # A is right
    verdicts = {i: tuple(s.links[i]) in truth for i in range(len(s.links))}
    a, b = estimate_rates(s, verdicts)
    assert a.exact and b.exact
    assert (a.wrong, a.wrong_lo, a.wrong_hi, a.missed, a.jaccard) == (0, 0, 0, 0, 1.0)
    assert (b.wrong, b.wrong_lo, b.wrong_hi) == (2, 2, 2) and b.rate == 0.5
    assert b.missed == 2 and b.jaccard == pytest.approx(2 / 6)


def test_no_review_gives_the_prior_s_wide_interval():
    s = link_support([A, B])
    a, _ = estimate_rates(s, {})
    assert a.reviewed == 0 and not a.exact
    assert a.wrong_lo <= 1 and a.wrong_hi >= 3        # nothing known about its 4 links


def _scene_runs(seed):
    sim = api.simulate(api.SimulationParams(particles=60, frames=25, field_of_view=120.0,
                                            process_noise=2.5, detection_probability=0.9,
                                            clutter=4, seed=seed))
    runs = [api.track(sim.detections, api.LAPParams()).tracks,
            api.track(sim.detections, api.MHTParams(lookback=1)).tracks]
    width = len(sim.detections)
    true_links = detection_links(sim.truth)
    true_keys = set((true_links[:, 0] * width + true_links[:, 1]).tolist())
    return runs, true_keys, width


@pytest.mark.slow
def test_intervals_cover_the_true_error_counts():
    """Over many random review orders of two simulated scenes, the 95 % intervals of
    each run's wrong links (100 reviewed links) hold the true count in at least 90 % of
    the cases (the binomial spread of 240 cases around 95 % is 1.4 %)."""
    hits = total = 0
    for scene in (1, 2):
        runs, true_keys, width = _scene_runs(scene)
        s = link_support(runs)
        right = np.array([a * width + b in true_keys for a, b in s.links])
        truth_wrong = [int((~right[s.made_by[:, r]]).sum()) for r in range(len(runs))]
        assert min(truth_wrong) > 0
        for rep in range(60):
            order = review_order(s, seed=rep)[:100]
            est = estimate_rates(s, {int(i): bool(right[i]) for i in order}, draws=2000,
                                 seed=rep)
            for r, e in enumerate(est):
                hits += e.wrong_lo <= truth_wrong[r] <= e.wrong_hi
                total += 1
    assert hits / total >= 0.90, f"coverage {hits}/{total}"
