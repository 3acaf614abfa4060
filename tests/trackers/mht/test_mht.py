"""MHT behaviour: modes agree, clusters, refusals, clear errors, progress and cancel."""

from __future__ import annotations

import numpy as np
import pytest
from mht_cases import PAPER_CV

from napari_mpt import MHTParams, evaluate, simulate
from napari_mpt.core.data import Detections
from napari_mpt.core.errors import Cancelled, InputError, TooManyHypotheses
from napari_mpt.core.results import RunControl
from napari_mpt.trackers.mht import track_mht


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("K", [1, 3, 6])
def test_exact_and_exhaustive_return_the_same_tracks(seed, K):
    sim = simulate(frames=40, measurement_noise=5.0, seed=seed)
    a = track_mht(sim.detections, MHTParams(lookback=K, measurement_noise=5.0))
    b = track_mht(sim.detections, MHTParams(lookback=K, measurement_noise=5.0, mode="exhaustive"))
    np.testing.assert_array_equal(a.tracks.detection, b.tracks.detection)
    np.testing.assert_allclose(a.tracks.coords, b.tracks.coords, atol=1e-9)
    if K > 1:  # the exhaustive mode pays for every hypothesis
        assert b.flops.value > a.flops.value


def test_full_window_cost_is_never_above_a_shorter_window():
    strictly_better = 0
    for seed in range(10):
        sim = simulate(frames=14, measurement_noise=7.0, separation=4.0, seed=seed)
        costs = {K: track_mht(sim.detections, MHTParams(lookback=K, measurement_noise=7.0)
                              ).info["cost"] for K in (1, 3, 13)}
        assert costs[13] <= min(costs[1], costs[3]) + 1e-9
        strictly_better += costs[13] < costs[1] - 1e-9
    assert strictly_better > 0


def test_tracks_keep_detection_rows_and_filtered_positions():
    sim = simulate(frames=30, measurement_noise=0.5, separation=40.0, seed=2)
    r = track_mht(sim.detections, MHTParams(measurement_noise=0.5))
    t = r.tracks
    assert sorted(t.detection.tolist()) == list(range(60))  # every detection used once
    # track i starts on detection i of frame 0, exactly
    np.testing.assert_array_equal(t.coords[t.frame == 0], sim.detections.coords[t.detection[t.frame == 0]])
    assert evaluate(t, sim.truth).jaccard == 1.0
    assert r.flops.value > 0 and r.flops.source in ("papi", "analytic")


def test_clusters_do_not_change_the_answer_when_the_gate_cuts_nothing():
    sim = simulate(particles=4, frames=25, field_of_view=60.0, measurement_noise=1.0, seed=5)
    clustered = track_mht(sim.detections, MHTParams(lookback=3))
    joint = track_mht(sim.detections, MHTParams(lookback=3, gate=1e12))
    assert joint.info["clusters_max"] == 4
    np.testing.assert_array_equal(clustered.tracks.detection, joint.tracks.detection)


def test_fifty_particles_split_into_small_clusters():
    sim = simulate(particles=50, frames=40, seed=1)
    r = track_mht(sim.detections, MHTParams(lookback=3))
    assert r.info["clusters_max"] < 10
    assert evaluate(r.tracks, sim.truth).jaccard > 0.99


def test_three_d_tracking():
    sim = simulate(ndim=3, drift=(0.0, 0.0, 0.0), frames=40, seed=0)
    r = track_mht(sim.detections, MHTParams(lookback=4))
    assert r.tracks.coords.shape[1] == 3
    assert evaluate(r.tracks, sim.truth).jaccard == 1.0


def test_random_walk_model_tracks():
    sim = simulate(frames=40, seed=0)
    r = track_mht(sim.detections, MHTParams(lookback=4, motion_model="random-walk"))
    assert evaluate(r.tracks, sim.truth).jaccard == 1.0


def test_huge_exhaustive_window_is_refused_up_front():
    sim = simulate(particles=3, frames=30, field_of_view=20.0, seed=0)
    with pytest.raises(TooManyHypotheses, match=r"3!\^16 = 2,821,109,907,456 hypotheses"):
        track_mht(sim.detections, MHTParams(lookback=16, mode="exhaustive", gate=1e12))


def test_huge_clean_cluster_goes_to_the_detection_level_mht_instead_of_a_refusal():
    sim = simulate(particles=9, frames=5, field_of_view=5.0, seed=0)
    r = track_mht(sim.detections, MHTParams(lookback=2, gate=1e12, process_noise=1.5,
                                            measurement_noise=1.0))
    assert r.info["path"] == "detection-level"
    assert r.info["exact_clusters"] + r.info["bounded_clusters"] > 0


def test_ragged_frames_track():
    det = Detections([0, 0, 1, 1, 2, 3, 3], np.arange(14.0).reshape(7, 2), source="spots.csv")
    assert track_mht(det).info["path"] == "detection-level"


def test_nan_and_too_few_frames():
    coords = np.arange(8.0).reshape(4, 2)
    coords[3, 1] = np.nan
    with pytest.raises(InputError, match=r"NaN or infinite coordinates in frame\(s\) 1"):
        track_mht(Detections([0, 0, 1, 1], coords))
    with pytest.raises(InputError, match="at least 2 frames"):
        track_mht(Detections([4, 4], np.zeros((2, 2))))
    with pytest.raises(InputError, match="no detections"):
        track_mht(Detections(np.zeros(0, dtype=int), np.zeros((0, 2))))


def test_progress_and_cancel():
    sim = simulate(frames=30, seed=0)
    seen = []
    track_mht(sim.detections, MHTParams(lookback=4), RunControl(progress=lambda d, t: seen.append((d, t))))
    assert seen[-1] == (29, 29) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        track_mht(sim.detections, MHTParams(lookback=4), RunControl(should_stop=stop))


@pytest.mark.parametrize("n", [2, 3])
def test_centroid_bound_never_exceeds_any_hypothesis(n):
    """The branch-and-bound's lower bound is below the cost of every complete hypothesis."""
    from itertools import product

    from napari_mpt.core.flops import FlopCounter
    from napari_mpt.trackers.mht.exact import ExactSearch, all_permutations
    from napari_mpt.trackers.mht.kalman import Schedule
    from napari_mpt.trackers.mht.motion import motion_model

    rng = np.random.default_rng(n)
    model = motion_model(MHTParams(measurement_noise=4.0, **PAPER_CV), 2)
    L = 4
    for _ in range(5):
        sched = Schedule(model, FlopCounter())
        sched.upto(L)
        perms = all_permutations(n)
        search = ExactSearch(sched, perms, FlopCounter())
        X0 = model.initial_states(rng.normal(0, 5, (n, 2)))
        search.reset(X0)
        Z = [rng.normal(0, 8, (n, 2)) for _ in range(L)]
        bound = search.future_bounds(0, Z)
        costs = []
        for seq in product(range(len(perms)), repeat=L):
            X, total = X0, 0.0
            for t, k in enumerate(seq, start=1):
                Xp = model.predict_mean(X)
                Y = Z[t - 1][perms[k]] - Xp[:, :2]
                total += float(((Y @ sched.Sinv[t]) * Y).sum())
                X = Xp + Y @ sched.K[t].T
            costs.append(total)
        assert bound[0] <= min(costs)
        assert bound[0] > 0.2 * min(costs)  # and it is not vacuous


@pytest.mark.parametrize("d", [1, 2, 3])
def test_closed_form_inverse_one_matrix_and_batched_agree_bit_for_bit(d):
    """The Python-float path for one matrix must give exactly the batched formula's bits
    (the exact search's costs, and so its tie-breaking, depend on them), and both must be
    the inverse."""
    from napari_mpt.trackers.mht.kalman import inv

    rng = np.random.default_rng(d)
    A = rng.normal(size=(200, d, d))
    A = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)
    batched = inv(A)
    one = np.stack([inv(a) for a in A])
    np.testing.assert_array_equal(one, batched)
    np.testing.assert_allclose(batched, np.linalg.inv(A), rtol=1e-9, atol=1e-12)
