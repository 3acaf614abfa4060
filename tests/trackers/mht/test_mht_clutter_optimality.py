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

import itertools
import math

import numpy as np
import pytest
from mht_cases import scene

from napari_mpt import MHTParams
from napari_mpt.trackers.mht import track_mht
from napari_mpt.trackers.mht.motion import motion_bank


class Rules:
    def __init__(self, det, params: MHTParams):
        bank = motion_bank(params, det.ndim)
        self.models = bank.models
        self.T = np.exp(bank.log_transition)
        self.w0 = np.exp(bank.log_initial)
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
        filters = []
        for m in self.models:
            x = np.zeros(m.state_dim)
            x[: self.z.shape[1]] = self.z[row]
            filters.append((x, m.P0.copy()))
        lam = self.b0 if f == 0 else self.b
        return {"filters": filters, "w": self.w0.copy(), "misses": 0, "alive": True,
                "score": math.log(lam / self.fa), "dets": [row]}

    def predict(self, tr):
        """Every mode's prediction, and the chain's prediction of the weights."""
        preds = [(m.F @ x, m.F @ P @ m.F.T + m.Q)
                 for m, (x, P) in zip(self.models, tr["filters"], strict=True)]
        return preds, tr["w"] @ self.T

    def outside(self, preds) -> bool:
        """Every mode outside the detections' bounding box by more than its gate's radius."""
        for m, (x, P) in zip(self.models, preds, strict=True):
            r = math.sqrt(self.gate * float(np.trace(m.H @ P @ m.H.T + m.R)))
            p = x[: self.z.shape[1]]
            if not (np.any(p < self.lo - r) or np.any(p > self.hi + r)):
                return False
        return True

    def link(self, tr, preds, w, row):
        """(new track, or None when outside every mode's gate)."""
        filters, like, d2s = [], [], []
        for m, (x, P) in zip(self.models, preds, strict=True):
            S = m.H @ P @ m.H.T + m.R
            y = self.z[row] - m.H @ x
            Si = np.linalg.inv(S)
            d2 = float(y @ Si @ y)
            K = P @ m.H.T @ Si
            _, logdet = np.linalg.slogdet(2 * np.pi * S)
            like.append(-0.5 * logdet - 0.5 * d2)
            d2s.append(d2)
            filters.append((x + K @ y, (np.eye(len(x)) - K @ m.H) @ P))
        if min(d2s) > self.gate:
            return None
        each = np.log(w) + np.array(like)
        total = float(np.log(np.exp(each - each.max()).sum()) + each.max())
        gain = math.log(self.pd) - math.log(self.fa) + total
        return {"filters": filters, "w": np.exp(each - total), "misses": 0, "alive": True,
                "score": tr["score"] + gain, "dets": tr["dets"] + [row]}

    def miss(self, tr, preds, w):
        if tr["misses"] >= self.gap:  # ends
            return {**tr, "alive": False}
        return {"filters": preds, "w": w, "misses": tr["misses"] + 1, "alive": True,
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
        pred, w = rules.predict(tr)
        if rules.outside(pred):
            out.append({**tr, "alive": False})
        else:
            live.append(tr)
            preds.append((pred, w))
    # every track: one of its gated detections, or None (missed / ends)
    options = []
    for tr, (pred, w) in zip(live, preds, strict=True):
        opts = [(None, rules.miss(tr, pred, w))]
        for r in rows:
            new = rules.link(tr, pred, w, r)
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
            pred, w = rules.predict(tr)
            if rules.outside(pred):
                tr = {**tr, "alive": False}
            elif f in by_frame:
                new = rules.link(tr, pred, w, by_frame[f])
                assert new is not None, f"track {tid} links outside the gate"
                tr = new
            else:
                tr = rules.miss(tr, pred, w)
        assert tr["dets"] == dets, f"track {tid} is not a legal track (gap or end)"
        total += tr["score"]
    return total


def _cases() -> list[tuple[int, int, int, str, int]]:
    """For each size, the first seeds whose scene has 5 to 8 detections (the brute force
    grows about tenfold per extra detection), in the three motion models."""
    out = []
    for n, T in ((2, 5), (3, 4), (4, 4)):
        seeds = [s for s in range(100 * n, 100 * n + 60) if 5 <= len(_scene(n, T, s)[0]) <= 8]
        for i, seed in enumerate(seeds[:6]):
            motion, gap = (("constant-velocity", 1), ("random-walk", 2), ("switching", 1))[i % 3]
            out.append((n, T, seed, motion, gap))
    return out


def _params(motion: str, lookback: int, gap: int, **extra) -> MHTParams:
    """The scenes' model, every parameter given (nothing estimated): the switching model
    with a velocity noise, a directed share and a switch probability of its own."""
    return MHTParams(lookback=lookback, motion_model=motion, process_noise=1.5,
                     measurement_noise=0.6, velocity_prior=1.5,
                     velocity_noise=0.4 if motion == "switching" else 0.0,
                     directed_share=0.3, switch_probability=0.2,
                     detection_probability=0.8, clutter_density=0.6 / 14.0**2,
                     birth_density=0.2 / 14.0**2, max_gap=gap, link_gate=16.0, **extra)


def _scene(n: int, T: int, seed: int):
    return scene(n, T, p_d=0.8, clutter=0.6, fov=14.0, step=1.5, noise=0.6, seed=seed)


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
