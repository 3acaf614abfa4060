"""The detection-level MHT's brute force, written independently and plainly (see
``tests/trackers/mht/test_mht_clutter_optimality.py``): every global hypothesis of a small
scene enumerated frame by frame with textbook Kalman filters, its scorer, and the small
random scenes and fully given parameters the optimality tests of every folder share;
also the brute force's rules with forbidden links and the best score over hypotheses
holding pinned links (the re-solve's tests)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from mht_cases import scene

from napari_mpt import MHTParams
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


def cases() -> list[tuple[int, int, int, str, int]]:
    """For each size, the first seeds whose scene has 5 to 8 detections (the brute force
    grows about tenfold per extra detection), in the three motion models."""
    out = []
    for n, T in ((2, 5), (3, 4), (4, 4)):
        seeds = [s for s in range(100 * n, 100 * n + 60) if 5 <= len(brute_scene(n, T, s)[0]) <= 8]
        for i, seed in enumerate(seeds[:6]):
            motion, gap = (("constant-velocity", 1), ("random-walk", 2), ("switching", 1))[i % 3]
            out.append((n, T, seed, motion, gap))
    return out


def params(motion: str, lookback: int, gap: int, **extra) -> MHTParams:
    """The scenes' model, every parameter given (nothing estimated): the switching model
    with a velocity noise, a directed share and a switch probability of its own."""
    return MHTParams(lookback=lookback, motion_model=motion, process_noise=1.5,
                     measurement_noise=0.6, velocity_prior=1.5,
                     velocity_noise=0.4 if motion == "switching" else 0.0,
                     directed_share=0.3, switch_probability=0.2,
                     detection_probability=0.8, clutter_density=0.6 / 14.0**2,
                     birth_density=0.2 / 14.0**2, max_gap=gap, link_gate=16.0, **extra)


def brute_scene(n: int, T: int, seed: int):
    return scene(n, T, p_d=0.8, clutter=0.6, fov=14.0, step=1.5, noise=0.6, seed=seed)


class FixedRules(Rules):
    """The brute force's rules with forbidden links refused."""

    def __init__(self, det, params, forbidden: set[tuple[int, int]]):
        super().__init__(det, params)
        self.forbidden = forbidden

    def link(self, tr, preds, w, row):
        if (tr["dets"][-1], row) in self.forbidden:
            return None
        return super().link(tr, preds, w, row)


def constrained_best(rules: Rules, pinned: set[tuple[int, int]]) -> float:
    """Best score over the hypotheses that make every pinned link (-inf: none does)."""
    best = -math.inf

    def frame(f: int, tracks: list) -> None:
        nonlocal best
        if f == len(rules.frames):
            made = {(a, b) for t in tracks for a, b in itertools.pairwise(t["dets"])}
            if pinned <= made:
                best = max(best, sum(t["score"] for t in tracks))
            return
        for nxt in successors(rules, f, tracks):
            frame(f + 1, nxt)

    frame(0, [])
    return best
