"""Exact means proven: the detection-level MHT (misses, clutter, births, deaths) with a
window covering the whole sequence against brute-force enumeration of every global
hypothesis.

The brute force is written independently and plainly: frame by frame, every live track
takes a gated detection, is missed (while it may be) or ends, every other detection is a
false alarm or starts a track; each track runs its own textbook Kalman filter (numpy
inverses and log-determinants, not the tracker's code).  The MHT's output is scored by the
same plain scorer, checked to be a legal hypothesis, and must reach the maximum.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from mht_cases import scene

from napari_mpt import MHTParams
from napari_mpt.trackers.mht import track_mht
from napari_mpt.trackers.mht.motion import motion_model


class Rules:
    def __init__(self, det, params: MHTParams):
        self.m = motion_model(params, det.ndim)
        self.frames = np.arange(det.frame.min(), det.frame.max() + 1)
        self.rows = [np.flatnonzero(det.frame == f) for f in self.frames]
        self.z = det.coords
        self.lo, self.hi = det.coords.min(0), det.coords.max(0)
        area = float(np.prod(np.maximum(self.hi - self.lo, 1.0)))
        self.pd, self.fa, self.b = (params.detection_probability, params.clutter_density,
                                    params.birth_density)
        self.b0 = max(len(self.rows[0]) / area - self.fa, self.b)
        self.gap, self.gate = params.max_gap, params.link_gate

    def start(self, f: int, row: int):
        x = np.zeros(self.m.state_dim)
        x[: self.z.shape[1]] = self.z[row]
        lam = self.b0 if f == 0 else self.b
        return {"x": x, "P": self.m.P0.copy(), "misses": 0, "alive": True,
                "score": math.log(lam / self.fa), "dets": [row]}

    def predict(self, tr):
        m = self.m
        x = m.F @ tr["x"]
        P = m.F @ tr["P"] @ m.F.T + m.Q
        return x, P

    def outside(self, x, P) -> bool:
        """Outside the detections' bounding box by more than the gate's radius."""
        m = self.m
        r = math.sqrt(self.gate * float(np.trace(m.H @ P @ m.H.T + m.R)))
        p = x[: self.z.shape[1]]
        return bool(np.any(p < self.lo - r) or np.any(p > self.hi + r))

    def link(self, tr, x, P, row):
        """(new track, or None when outside the gate)."""
        m = self.m
        S = m.H @ P @ m.H.T + m.R
        y = self.z[row] - m.H @ x
        Si = np.linalg.inv(S)
        d2 = float(y @ Si @ y)
        if d2 > self.gate:
            return None
        K = P @ m.H.T @ Si
        _, logdet = np.linalg.slogdet(2 * np.pi * S)
        gain = math.log(self.pd) - math.log(self.fa) - 0.5 * logdet - 0.5 * d2
        return {"x": x + K @ y, "P": (np.eye(len(x)) - K @ m.H) @ P, "misses": 0,
                "alive": True, "score": tr["score"] + gain, "dets": tr["dets"] + [row]}

    def miss(self, tr, x, P):
        if tr["misses"] >= self.gap:  # ends
            return {**tr, "alive": False}
        return {"x": x, "P": P, "misses": tr["misses"] + 1, "alive": True,
                "score": tr["score"] + math.log(1 - self.pd), "dets": tr["dets"]}


def successors(rules: Rules, f: int, tracks: list):
    """Every way the hypothesis ``tracks`` goes on through frame ``f``: each live track
    takes one of its gated detections, is missed (while it may be) or ends, and every
    other detection is a false alarm or starts a track."""
    rows = rules.rows[f].tolist()
    live, preds = [], []
    out = []
    for tr in tracks:
        if not tr["alive"]:
            out.append(tr)
            continue
        x, P = rules.predict(tr)
        if rules.outside(x, P):
            out.append({**tr, "alive": False})
        else:
            live.append(tr)
            preds.append((x, P))
    # every track: one of its gated detections, or None (missed / ends)
    options = []
    for tr, (x, P) in zip(live, preds, strict=True):
        opts = [(None, rules.miss(tr, x, P))]
        for r in rows:
            new = rules.link(tr, x, P, r)
            if new is not None:
                opts.append((r, new))
        options.append(opts)
    for combo in itertools.product(*options):
        used = [r for r, _ in combo if r is not None]
        if len(set(used)) < len(used):
            continue
        free = [r for r in rows if r not in used]
        for starts in itertools.product((False, True), repeat=len(free)):
            born = [rules.start(f, r) for r, s in zip(free, starts, strict=True) if s]
            yield out + [t for _, t in combo] + born


def brute_force(rules: Rules) -> tuple[float, int]:
    """Best total score over every global hypothesis, and how many there were."""
    best = -math.inf
    count = 0

    def frame(f: int, tracks: list) -> None:
        nonlocal best, count
        if f == len(rules.frames):
            count += 1
            best = max(best, sum(t["score"] for t in tracks))
            return
        for nxt in successors(rules, f, tracks):
            frame(f + 1, nxt)

    frame(0, [])
    return best, count


def score_of(rules: Rules, tracks) -> float:
    """Score of the MHT's tracks under the plain rules; asserts the hypothesis is legal."""
    total = 0.0
    used: set[int] = set()
    for tid in np.unique(tracks.track_id):
        sel = tracks.track_id == tid
        frames = (tracks.frame[sel] - rules.frames[0]).tolist()
        dets = tracks.detection[sel].tolist()
        assert not used & set(dets), "a detection used twice"
        used |= set(dets)
        tr = rules.start(frames[0], dets[0])
        by_frame = dict(zip(frames, dets, strict=True))
        for f in range(frames[0] + 1, len(rules.frames)):
            if not tr["alive"]:
                break
            x, P = rules.predict(tr)
            if rules.outside(x, P):
                tr = {**tr, "alive": False}
            elif f in by_frame:
                new = rules.link(tr, x, P, by_frame[f])
                assert new is not None, f"track {tid} links outside the gate"
                tr = new
            else:
                tr = rules.miss(tr, x, P)
        assert tr["dets"] == dets, f"track {tid} is not a legal track (gap or end)"
        total += tr["score"]
    return total


def _cases() -> list[tuple[int, int, int, str, int]]:
    """For each size, the first seeds whose scene has 5 to 8 detections (the brute force
    grows about tenfold per extra detection), in both motion models."""
    out = []
    for n, T in ((2, 5), (3, 4), (4, 4)):
        seeds = [s for s in range(100 * n, 100 * n + 60) if 5 <= len(_scene(n, T, s)[0]) <= 8]
        for i, seed in enumerate(seeds[:6]):
            motion, gap = (("constant-velocity", 1), ("random-walk", 2))[i % 2]
            out.append((n, T, seed, motion, gap))
    return out


def _scene(n: int, T: int, seed: int):
    return scene(n, T, p_d=0.8, clutter=0.6, fov=14.0, step=1.5, noise=0.6, seed=seed)


@pytest.mark.parametrize(("n", "T", "seed", "motion", "gap"), _cases())
def test_whole_window_mht_is_the_brute_force_optimum(n, T, seed, motion, gap):
    det, _ = _scene(n, T, seed)
    params = MHTParams(lookback=T - 1, motion_model=motion, process_noise=1.5,
                       measurement_noise=0.6, detection_probability=0.8,
                       clutter_density=0.6 / 14.0**2, birth_density=0.2 / 14.0**2,
                       max_gap=gap, link_gate=16.0)
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
        params = MHTParams(lookback=1, motion_model=motion, process_noise=1.5,
                           measurement_noise=0.6, detection_probability=0.8,
                           clutter_density=0.6 / 14.0**2, birth_density=0.2 / 14.0**2,
                           max_gap=gap, link_gate=16.0)
        rules = Rules(det, params)
        best, _ = brute_force(rules)
        worse += score_of(rules, track_mht(det, params).tracks) < best - 1e-9
    assert worse > 0


def test_the_integer_program_is_used_in_these_cases():
    """With a one-node search budget, some clusters above really went to HiGHS."""
    used = 0
    for n, T, seed, motion, gap in _cases():
        det, _ = _scene(n, T, seed)
        params = MHTParams(lookback=T - 1, motion_model=motion, process_noise=1.5,
                           measurement_noise=0.6, detection_probability=0.8,
                           clutter_density=0.6 / 14.0**2, birth_density=0.2 / 14.0**2,
                           max_gap=gap, link_gate=16.0, search_budget=1)
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
                x, P = rules.predict(tr)
                took = f0_rows & set(by_start[tr["dets"][0]]["dets"])
                if rules.outside(x, P):
                    tr = {**tr, "alive": False}
                elif took:
                    tr = rules.link(tr, x, P, took.pop())
                else:
                    tr = rules.miss(tr, x, P)
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
            motion, gap = (("constant-velocity", 1), ("random-walk", 2))[i % 2]
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
    params = MHTParams(lookback=K, motion_model=motion, process_noise=1.5,
                       measurement_noise=0.6, detection_probability=0.8,
                       clutter_density=0.6 / 14.0**2, birth_density=0.2 / 14.0**2,
                       max_gap=gap, link_gate=16.0)
    expected = sliding_brute_force(Rules(det, params), K)
    result = track_mht(det, params)
    assert result.info["bounded_clusters"] == 0 and result.info["windows"] > 1
    got = sorted(result.tracks.detection[result.tracks.track_id == i].tolist()
                 for i in np.unique(result.tracks.track_id))
    assert got == expected
