"""A small private generator of detection-level scenes for the MHT tests: particles that
are born and die, are missed, plus spurious detections (the project's simulator with
misses and clutter is built elsewhere; these tests must not wait for it)."""

from __future__ import annotations

import numpy as np

from napari_mpt.core.data import Detections, Tracks


def scene(particles: int, frames: int, *, p_d: float = 0.85, clutter: float = 0.5,
          fov: float = 20.0, step: float = 1.5, noise: float = 0.5, lifetimes: bool = True,
          ndim: int = 2, seed: int = 0) -> tuple[Detections, Tracks]:
    """Random walks in a ``fov``-wide box, each alive in a random sub-interval of frames
    (``lifetimes``), detected with probability ``p_d`` with Gaussian noise, plus Poisson
    clutter (``clutter`` detections per frame, uniform in the box)."""
    rng = np.random.default_rng(seed)
    frame, coords, tid, tframe, tpos, tdet = [], [], [], [], [], []
    for p in range(particles):
        a, b = (sorted(rng.integers(0, frames, 2)) if lifetimes else (0, frames - 1))
        x = rng.uniform(0.2 * fov, 0.8 * fov, ndim)
        for t in range(a, b + 1):
            if t > a:
                x = x + rng.normal(0, step, ndim)
            det = -1
            if rng.random() < p_d:
                det = len(frame)
                frame.append(t)
                coords.append(x + rng.normal(0, noise, ndim))
            tid.append(p)
            tframe.append(t)
            tpos.append(x.copy())
            tdet.append(det)
    for t in range(frames):
        for _ in range(rng.poisson(clutter)):
            frame.append(t)
            coords.append(rng.uniform(0, fov, ndim))
    order = rng.permutation(len(frame))
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    det = Detections(np.asarray(frame)[order], np.asarray(coords).reshape(-1, ndim)[order],
                     source="generated")
    tdet_arr = np.asarray(tdet)
    tdet_arr = np.where(tdet_arr >= 0, inv[np.maximum(tdet_arr, 0)], -1)
    truth = Tracks(np.asarray(tid), np.asarray(tframe), np.asarray(tpos).reshape(-1, ndim),
                   tdet_arr)
    return det, truth


def links(tracks: Tracks) -> set[tuple[int, int]]:
    """(detection, next detection of the same track) pairs, across gaps."""
    out = set()
    for tid in np.unique(tracks.track_id):
        d = tracks.detection[tracks.track_id == tid]
        d = d[d >= 0]
        out.update(zip(d[:-1].tolist(), d[1:].tolist(), strict=True))
    return out


def link_jaccard(tracks: Tracks, truth: Tracks) -> float:
    a, b = links(tracks), links(truth)
    return len(a & b) / max(len(a | b), 1)


PAPER_CV = {"motion_model": "constant-velocity", "velocity_prior": 1.5, "velocity_noise": 0.0}
"""The paper's constant-velocity filter (v0 = 1.5 px/frame, no velocity noise): the
defaults would choose the model and estimate both; the exactness tests fix them."""
PAPER_VELOCITY = {k: v for k, v in PAPER_CV.items() if k != "motion_model"}
"""The paper's velocity settings alone, for tests that pick the motion model."""
