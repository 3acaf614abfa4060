"""Parameters a user does not have to guess: P_D, lambda_FA, lambda_B and the two noises
estimated from the detections themselves.

The estimator (documented here because the defaults of :class:`MHTParams` depend on it):

1. *Field of view*: the bounding box of all detections; its area (volume in 3-D) ``A``,
   each side at least 1 px.
2. *Linking pass*: between consecutive frames, mutual nearest neighbours closer than
   ``R``, the median distance from a detection to its nearest neighbour in the same frame
   (so a link is never longer than the typical spacing; ``R`` is infinite when no frame
   holds two detections).  Mutual nearest neighbours are what a careful person would link
   by eye; they are not the tracker, only a source of statistics.
3. *Noises*: with displacements ``v_t = z_{t+1} - z_t`` of the links (the median
   displacement, a global drift, subtracted), a random walk observed with noise gives
   ``Var v = eta^2 + 2 sigma^2`` and, for two consecutive links of the same chain,
   ``Cov(v_t, v_{t+1}) = -sigma^2`` (the shared localisation error of the middle
   detection).  Averaged over the axes: ``sigma^2 = -cov`` and ``eta^2 = var - 2 sigma^2``,
   each floored at 1 % of ``var`` (a negative estimate means "too small to measure").
   Links to spurious detections are outliers: displacements further than 4 robust
   standard deviations (from the median absolute deviation) from the median are left out
   before the plain moments are taken.
   Fewer than 10 consecutive link pairs: the paper's values eta' = 1.5, nu' = 1 are used.
4. *Detections, clutter, births*: when every frame holds the same number of detections
   (clean data: no evidence of misses, clutter, births or deaths), ``P_D = 1`` and
   ``lambda_FA = lambda_B = 0``, which is the paper's model and takes the paper's exact
   path.  Otherwise a chain that ends at frame t and a chain that starts at t + 2 within
   ``R`` of its end are one particle missed once (greedy, each end and start used once);
   with ``L`` links and ``G`` such one-frame gaps, ``P_D = L / (L + G)`` (a particle seen
   at t is seen at t+1 with probability P_D, missed once then seen with (1-P_D) P_D),
   clipped to [0.05, 0.999].  Detections with no link and no gap are spurious:
   ``lambda_FA = max(n, 0.5) / (T A)``; chains of two or more detections that start after
   the first frame and are not the far side of a gap are births:
   ``lambda_B = max(n, 0.5) / ((T - 1) A)`` (the 0.5 floors say "less than one seen").
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

PAPER_PROCESS_NOISE = 1.5
PAPER_MEASUREMENT_NOISE = 1.0
MIN_PAIRS = 10


def field_of_view(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """Bounding box ``(lo, hi)`` of all detections and its area/volume (sides >= 1 px)."""
    allc = np.concatenate([f for f in frames if len(f)])
    lo, hi = allc.min(0), allc.max(0)
    return lo, hi, float(np.prod(np.maximum(hi - lo, 1.0)))


def _stacked(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """All detections with the frame index as an extra leading coordinate, scaled by
    ``big`` (more than any distance within the data), so one k-d tree answers every
    per-frame query: a neighbour in another frame is at least ``big`` away.  Also returns
    each detection's frame and the plain coordinates (frame-major, as concatenated)."""
    t = np.repeat(np.arange(len(frames)), [len(z) for z in frames])
    allc = np.concatenate([z for z in frames if len(z)])
    big = 4.0 * float(np.ptp(allc, axis=0).sum()) + 1.0
    return np.column_stack([t * big, allc]), t, big, allc


def _spacing(tree: cKDTree, points: np.ndarray, big: float) -> float:
    d, _ = tree.query(points, k=2)
    same = d[:, 1] < big
    return float(np.median(d[same, 1])) if same.any() else np.inf


def _links(tree: cKDTree, points: np.ndarray, t: np.ndarray, big: float, radius: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Over all detections (frame-major indices): ``nxt[i]`` the detection of the next frame
    linked to detection i (or -1), ``prv[j]`` the reverse.  Vectorised over every frame at
    once: the whole estimator costs about as much as one tracking window."""
    fwd, back = points.copy(), points.copy()
    fwd[:, 0] += big
    back[:, 0] -= big
    df, jf = tree.query(fwd)       # nearest in the next frame (if within big)
    _, jb = tree.query(back)       # nearest in the previous frame
    n = len(points)
    idx = np.arange(n)
    jc = np.minimum(jf, n - 1)
    ok = (df < big) & (df <= radius) & (t[jc] == t + 1) & (jb[jc] == idx)
    nxt = np.full(n, -1)
    prv = np.full(n, -1)
    nxt[ok] = jf[ok]
    prv[jf[ok]] = idx[ok]
    return nxt, prv


def _noises(allc: np.ndarray, nxt: np.ndarray) -> tuple[float, float, int]:
    i = np.flatnonzero(nxt >= 0)   # frame-major: the order of a per-frame pass
    j = nxt[i]
    v = allc[j] - allc[i]
    ok2 = nxt[j] >= 0
    i2, j2 = i[ok2], j[ok2]
    k2 = nxt[j2]
    pairs = len(i2)
    if pairs < MIN_PAIRS:
        return PAPER_PROCESS_NOISE, PAPER_MEASUREMENT_NOISE, pairs
    mean = np.median(v, axis=0)
    a = (allc[j2] - allc[i2]) - mean
    b = (allc[k2] - allc[j2]) - mean
    # links to spurious detections are outliers: keep displacements within 4 robust
    # standard deviations, then take plain moments (efficient on clean data)
    lim = 4.0 * np.sqrt(_robust_var(v - mean))
    v = v[np.all(np.abs(v - mean) <= lim, axis=1)]
    ok = np.all(np.abs(a) <= lim, axis=1) & np.all(np.abs(b) <= lim, axis=1)
    if ok.sum() < MIN_PAIRS:
        return PAPER_PROCESS_NOISE, PAPER_MEASUREMENT_NOISE, int(ok.sum())
    var = float(((v - mean) ** 2).mean())
    cov = float((a[ok] * b[ok]).mean())
    sigma2 = max(-cov, 0.01 * var)
    eta2 = max(var - 2 * sigma2, 0.01 * var)
    return float(np.sqrt(eta2)), float(np.sqrt(sigma2)), pairs


def _robust_var(x: np.ndarray) -> float:
    """Variance per axis, averaged, from the median absolute deviation (a Gaussian's MAD is
    0.6745 sigma): links to spurious detections are outliers that would inflate it."""
    mad = np.median(np.abs(x - np.median(x, axis=0)), axis=0)
    return float(np.mean((mad / 0.6744897501960817) ** 2))


def _gaps(frames: list[np.ndarray], nxt: np.ndarray, prv: np.ndarray,
          radius: float) -> tuple[int, np.ndarray]:
    """One-frame gaps (chain end at t, chain start at t + 2 nearby); ``closed`` marks the
    detections on either side of one (frame-major indices)."""
    start = np.concatenate([[0], np.cumsum([len(z) for z in frames])])
    closed = np.zeros(len(nxt), dtype=bool)
    n = 0
    for t in range(len(frames) - 2):
        ends = np.flatnonzero(nxt[start[t]:start[t + 1]] < 0)
        starts = np.flatnonzero(prv[start[t + 2]:start[t + 3]] < 0)
        if not len(ends) or not len(starts):
            continue
        d, j = cKDTree(frames[t + 2][starts]).query(frames[t][ends])
        used: set[int] = set()
        for e in np.argsort(d, kind="stable"):
            if d[e] > radius or int(j[e]) in used:
                continue
            used.add(int(j[e]))
            closed[start[t] + ends[e]] = True
            closed[start[t + 2] + starts[j[e]]] = True
            n += 1
    return n, closed


def estimate_parameters(frames: list[np.ndarray]) -> dict[str, Any]:
    """Estimates for every frame's ``(n_t, D)`` detections (empty frames included, in
    order); see the module docstring.  Returns the five parameters and the statistics
    they came from."""
    T = len(frames)
    _, _, area = field_of_view(frames)
    points, t, big, allc = _stacked(frames)
    tree = cKDTree(points)
    radius = _spacing(tree, points, big)
    nxt, prv = _links(tree, points, t, big, radius)
    eta, sigma, pairs = _noises(allc, nxt)
    links = int((nxt >= 0).sum())
    out: dict[str, Any] = {"process_noise": eta, "measurement_noise": sigma,
                           "link_radius": radius, "links": links, "link_pairs": pairs,
                           "area": area}
    counts = [len(z) for z in frames]
    if len(set(counts)) == 1:
        out.update(detection_probability=1.0, clutter_density=0.0, birth_density=0.0,
                   clean=True)
        return out
    gaps, closed = _gaps(frames, nxt, prv, radius)
    p_d = float(np.clip(links / max(links + gaps, 1), 0.05, 0.999))
    alone = (nxt < 0) & (prv < 0) & ~closed
    spurious = int(alone.sum())
    births = int(((prv < 0) & (nxt >= 0) & ~closed & (t > 0)).sum())
    out.update(detection_probability=p_d,
               clutter_density=max(spurious, 0.5) / (T * area),
               birth_density=max(births, 0.5) / (max(T - 1, 1) * area),
               clean=False, gaps=gaps, spurious=spurious, births=births)
    return out
