"""Exact means proven: the detection-level MHT (misses, clutter, births, deaths) with a
window covering the whole sequence against brute-force enumeration of every global
hypothesis.

The brute force is written independently and plainly: frame by frame, every live track
takes a gated detection, is missed (while it may be) or ends, every other detection is a
false alarm or starts a track; each track runs its own textbook Kalman filter (numpy
inverses and log-determinants, not the tracker's code), or with the switching model a
textbook bank of them, one per mode, with the hidden Markov model's forward weights.  The
MHT's output is scored by the same plain scorer, checked to be a legal hypothesis, and
must reach the maximum.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mht_brute_force import (
    Rules,
    brute_force,
    score_of,
    successors,
)
from mht_brute_force import brute_scene as _scene
from mht_brute_force import cases as _cases
from mht_brute_force import params as _params

from napari_mpt.trackers.mht import track_mht


@pytest.mark.parametrize(("n", "T", "seed", "motion", "gap"), _cases())
def test_whole_window_mht_is_the_brute_force_optimum(n, T, seed, motion, gap):
    det, _ = _scene(n, T, seed)
    params = _params(motion, T - 1, gap)
    rules = Rules(det, params)
    best, count = brute_force(rules)
    result = track_mht(det, params)
    assert result.info["bounded_clusters"] == 0
    got = score_of(rules, result.tracks)
    assert got == pytest.approx(best, rel=1e-9, abs=1e-9), f"{count} hypotheses"
    assert result.info["score"] == pytest.approx(best, rel=1e-9, abs=1e-9)
    # the integer program (HiGHS) alone: a one-node search budget hands every cluster to it
    by_milp = track_mht(det, params.replace(search_budget=1))
    assert by_milp.info["bounded_clusters"] == 0
    assert score_of(rules, by_milp.tracks) == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_brute_force_test_can_fail():
    """The reference discriminates: a K = 1 window (greedy commits) is beaten somewhere."""
    worse = 0
    for n, T, seed, motion, gap in _cases():
        det, _ = _scene(n, T, seed)
        params = _params(motion, 1, gap)
        rules = Rules(det, params)
        best, _ = brute_force(rules)
        worse += score_of(rules, track_mht(det, params).tracks) < best - 1e-9
    assert worse > 0


def test_the_integer_program_is_used_in_these_cases():
    """With a one-node search budget, some clusters above really went to HiGHS."""
    used = 0
    for n, T, seed, motion, gap in _cases():
        det, _ = _scene(n, T, seed)
        params = _params(motion, T - 1, gap, search_budget=1)
        used += track_mht(det, params).info["milp_clusters"]
    assert used > 0


def sliding_brute_force(rules: Rules, K: int) -> list[list[int]]:
    """The module docstring's commit rule of :mod:`napari_mpt.trackers.mht.detection_level`, with every
    window solved by brute force: the best hypothesis over frames ``f0..f1`` from the
    committed tracks; then frame ``f0``'s decisions are committed (all of the window's in
    the last one).  Returns the committed tracks' detections."""
    T = len(rules.frames)
    committed: list[dict] = []
    c = -1
    while c < T - 1:
        f0 = c + 1
        f1 = min(c + K, T - 1) if c >= 0 else min(K, T - 1)
        best: list = [-math.inf, None]

        def frame(f: int, tracks: list, f1: int = f1, best: list = best) -> None:
            if f == f1 + 1:
                s = sum(t["score"] for t in tracks)
                if s > best[0]:
                    best[0], best[1] = s, tracks
                return
            for nxt in successors(rules, f, tracks):
                frame(f + 1, nxt)

        frame(f0, committed)
        hyp = best[1]
        assert hyp is not None
        if f1 == T - 1:
            return sorted(t["dets"] for t in hyp)
        by_start = {t["dets"][0]: t for t in hyp}
        f0_rows = set(rules.rows[f0].tolist())
        nxt = []
        for tr in committed:  # each track's decision in frame f0
            if tr["alive"]:
                pred, w = rules.predict(tr)
                took = f0_rows & set(by_start[tr["dets"][0]]["dets"])
                if rules.outside(pred):
                    tr = {**tr, "alive": False}
                elif took:
                    tr = rules.link(tr, pred, w, took.pop())
                else:
                    tr = rules.miss(tr, pred, w)
            nxt.append(tr)
        nxt += [rules.start(f0, r) for r in sorted(f0_rows & by_start.keys())]
        committed = nxt
        c = f0
    return sorted(t["dets"] for t in committed)


def _sliding_cases() -> list[tuple[int, int, int, int, str, int]]:
    """Scenes of 7 to 11 detections over 5 or 6 frames, windows of K = 1, 2 and 3."""
    out = []
    for n, T in ((2, 6), (3, 5)):
        seeds = [s for s in range(500 + 100 * n, 560 + 100 * n)
                 if 7 <= len(_scene(n, T, s)[0]) <= 11]
        for i, seed in enumerate(seeds[:6]):
            motion, gap = (("constant-velocity", 1), ("random-walk", 2), ("switching", 1))[i % 3]
            frames = int(np.ptp(_scene(n, T, seed)[0].frame)) + 1
            out.append((n, T, seed, min(1 + i % 3, frames - 2), motion, gap))
    return out


@pytest.mark.parametrize(("n", "T", "seed", "K", "motion", "gap"), _sliding_cases())
def test_sliding_window_mht_commits_what_brute_force_windows_commit(n, T, seed, K, motion,
                                                                     gap):
    """Branches kept across windows, commits and compaction (napari_mpt.trackers.mht.detection_level):
    with windows shorter than the sequence, the MHT's tracks are those of solving every
    window by brute force under the same commit rule."""
    det, _ = _scene(n, T, seed)
    params = _params(motion, K, gap)
    expected = sliding_brute_force(Rules(det, params), K)
    result = track_mht(det, params)
    assert result.info["bounded_clusters"] == 0 and result.info["windows"] > 1
    got = sorted(result.tracks.detection[result.tracks.track_id == i].tolist()
                 for i in np.unique(result.tracks.track_id))
    assert got == expected


@pytest.mark.slow
def test_the_switching_bank_is_neither_of_its_filters():
    """The switching cases above test a model of its own: in each of them its best
    hypothesis scores differently from the random walk's and the constant velocity's
    alone, wherever any track beats all false alarms."""
    differ = 0
    for n, T, seed, motion, gap in _cases():
        if motion != "switching":
            continue
        det, _ = _scene(n, T, seed)
        bank, _ = brute_force(Rules(det, _params("switching", T - 1, gap)))
        for single in ("random-walk", "constant-velocity"):
            params = _params(single, T - 1, gap).replace(velocity_noise=0.4)
            alone, _ = brute_force(Rules(det, params))
            assert bank == alone == 0.0 or abs(bank - alone) > 1e-6
            differ += abs(bank - alone) > 1e-6
    assert differ >= 4
