"""Exact means proven: MHT with K >= T-1 against brute-force enumeration.

The reference scores every one of the N!^(T-1) association sequences with filterpy's
KalmanFilter (an independent implementation), one filter per track, and takes the
sequence with the least summed squared Mahalanobis distance.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter
from mht_cases import PAPER_CV, PAPER_VELOCITY

from napari_mpt import MHTParams, simulate
from napari_mpt.core.data import stack_frames
from napari_mpt.trackers.mht import track_mht
from napari_mpt.trackers.mht.motion import motion_model


def sequence_cost(model, Z: np.ndarray, assign: list[tuple[int, ...]]) -> float:
    """Summed squared Mahalanobis distance of tracks following ``assign`` (filterpy)."""
    T, N, d = Z.shape
    total = 0.0
    for a in range(N):
        kf = KalmanFilter(dim_x=model.state_dim, dim_z=d)
        kf.F, kf.H, kf.Q, kf.R = model.F, model.H, model.Q, model.R
        kf.P = model.P0.copy()
        kf.x = model.initial_states(Z[0, a : a + 1])[0]
        for t in range(1, T):
            kf.predict()
            kf.update(Z[t, assign[t - 1][a]])
            total += float(kf.y @ kf.SI @ kf.y)
    return total


def brute_force(model, Z: np.ndarray) -> tuple[list[tuple[int, ...]], float, float]:
    """Best sequence, its cost and the runner-up's cost."""
    T, N, _ = Z.shape
    perms = list(itertools.permutations(range(N)))
    costs = []
    seqs = list(itertools.product(perms, repeat=T - 1))
    for seq in seqs:
        costs.append(sequence_cost(model, Z, list(seq)))
    order = np.argsort(costs)
    return list(seqs[order[0]]), costs[order[0]], costs[order[1]]


def mht_sequence(result, stack) -> list[tuple[int, ...]]:
    """Per frame t>=1, the within-frame position of the detection each track took."""
    T, N = stack.index.shape
    det = result.tracks.detection.reshape(N, T)  # tracks sorted by (track_id, frame)
    pos = {int(r): j for t in range(T) for j, r in enumerate(stack.index[t])}
    return [tuple(pos[int(det[a, t])] for a in range(N)) for t in range(1, T)]


PAIRS = [(2, 7, s, seed) for s in (0.5, 3.0, 7.0) for seed in range(12)]
TRIPLES = [(3, 4, s, seed) for s in (1.0, 5.0) for seed in range(4)]
CASES = [(*c, mode, "constant-velocity") for c in PAIRS + TRIPLES for mode in ("exact", "exhaustive")]
CASES += [(*c, "exact", "random-walk") for c in PAIRS[::3] + TRIPLES[::2]]


@pytest.mark.parametrize(("n", "T", "sigma", "seed", "mode", "motion"), CASES)
def test_full_window_mht_is_the_brute_force_optimum(n, T, sigma, seed, mode, motion):
    sim = simulate(particles=n, frames=T, measurement_noise=sigma, separation=4.0, seed=seed,
                   field_of_view=30.0)
    params = MHTParams(lookback=T - 1, process_noise=1.5, measurement_noise=max(sigma, 0.1), mode=mode,
                       motion_model=motion, gate=1e12, **PAPER_VELOCITY)
    stack = stack_frames(sim.detections)
    result = track_mht(sim.detections, params)
    model = motion_model(params, 2)
    best, best_cost, runner_up = brute_force(model, stack.coords)
    got = mht_sequence(result, stack)
    got_cost = sequence_cost(model, stack.coords, got)
    assert got_cost == pytest.approx(best_cost, rel=1e-9, abs=1e-9)
    if runner_up - best_cost > 1e-6 * max(1.0, best_cost):  # no near-tie: the same sequence
        assert got == best


def test_brute_force_test_can_fail():
    """The reference really discriminates: a greedy K=1 tracker is beaten somewhere."""
    worse = 0
    for seed in range(12):
        sim = simulate(frames=7, measurement_noise=7.0, separation=4.0, seed=seed)
        params = MHTParams(lookback=1, process_noise=1.5, measurement_noise=7.0, **PAPER_CV)
        stack = stack_frames(sim.detections)
        model = motion_model(params, 2)
        _, best_cost, _ = brute_force(model, stack.coords)
        got = mht_sequence(track_mht(sim.detections, params), stack)
        worse += sequence_cost(model, stack.coords, got) > best_cost + 1e-9
    assert worse > 0
