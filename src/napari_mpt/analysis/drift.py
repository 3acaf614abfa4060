"""Drift of the whole sample, estimated from the tracks themselves, and its subtraction.

trackpy's ``compute_drift`` semantics: the drift step of frame ``t`` is the mean
displacement, from ``t - 1`` to ``t``, of the particles linked in both frames (links over
a gap do not count), optionally smoothed by a trailing rolling mean over ``smoothing``
frames, and the drift is the running sum of the steps (0 in the first frame).  Written
here in numpy because trackpy's version needs pandas and works in pixels only; tested to
give trackpy's numbers on trackpy's own tracks.  One difference: a frame where no particle
is linked to the frame before has a drift step of 0 (the drift holds), where
``trackpy.subtract_drift`` would leave that one frame uncorrected.

Whether the drift matters is judged against two scales (:attr:`Drift.threshold`): the
localisation noise (the ensemble MSD offset's sigma), and the drift that the particles'
own random steps give by chance (the mean of ``n_t`` random steps is a random walk of
per-frame variance ``s^2 / n_t``; three times the spread it reaches over the movie).  A
drift smaller than either is not worth a warning: below the first it is invisible, below
the second it is indistinguishable from the estimate's own noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.data import Tracks

CHANCE_SIGMAS = 3.0
"""A drift counts as real above this many spreads of the drift estimated from pure noise."""


@dataclass(frozen=True, eq=False)
class Drift:
    """The drift ``offset[k]`` (length units, one column per axis) at ``frame[k]``."""

    frame: np.ndarray        # every frame from the first to the last of the tracks
    offset: np.ndarray       # (frames, ndim) cumulative drift, 0 at the first frame
    pairs: np.ndarray        # particles linked from frame - 1 to frame (0 in the first)
    chance: float            # spread over the movie of a drift estimated from noise alone
    smoothing: int

    @property
    def extent(self) -> float:
        """The largest distance the drift takes the sample from where it started."""
        if not len(self.offset):
            return 0.0
        return float(np.sqrt((self.offset**2).sum(axis=1)).max())

    def threshold(self, loc_error: float) -> float:
        """The extent above which the drift is worth subtracting: larger than the
        localisation noise ``loc_error`` (NaN: unknown, taken as 0) and than chance."""
        noise = loc_error if math.isfinite(loc_error) else 0.0
        return max(noise, CHANCE_SIGMAS * self.chance)

    def at(self, frame: np.ndarray) -> np.ndarray:
        """The drift at each of ``frame`` (frames outside the span hold the end values)."""
        if not len(self.frame):
            return np.zeros((len(frame), self.offset.shape[1] if self.offset.ndim == 2 else 0))
        k = np.clip(np.asarray(frame, dtype=np.int64) - self.frame[0], 0, len(self.frame) - 1)
        return self.offset[k]


def _links(tracks: Tracks) -> np.ndarray:
    """Rows ``i`` whose next row is the same track one frame later."""
    same = tracks.track_id[1:] == tracks.track_id[:-1]
    return np.flatnonzero(same & (tracks.frame[1:] - tracks.frame[:-1] == 1))


def compute_drift(tracks: Tracks, smoothing: int = 0) -> Drift:
    """The drift of ``tracks``, in their units; see the module docstring.  ``smoothing``
    > 0 averages each frame's step with the ``smoothing - 1`` frames before it (trackpy's
    ``rolling(smoothing).mean()``)."""
    ndim = tracks.ndim
    if not len(tracks):
        return Drift(np.zeros(0, np.int64), np.zeros((0, ndim)), np.zeros(0, np.int64), 0.0,
                     smoothing)
    f0, f1 = int(tracks.frame.min()), int(tracks.frame.max())
    n = f1 - f0 + 1
    i = _links(tracks)
    step = tracks.coords[i + 1] - tracks.coords[i]
    k = tracks.frame[i + 1] - f0
    pairs = np.bincount(k, minlength=n)
    sums = np.column_stack([np.bincount(k, weights=step[:, j], minlength=n) for j in range(ndim)])
    has = pairs > 0
    raw = np.where(has[:, None], sums / np.maximum(pairs, 1)[:, None], 0.0)
    mean = raw.copy()
    if smoothing > 1:
        rows = np.flatnonzero(has)       # trackpy smooths over the frames that have steps
        csum = np.vstack([np.zeros((1, ndim)), np.cumsum(mean[rows], axis=0)])
        idx = np.arange(len(rows))
        lo = np.maximum(idx - smoothing + 1, 0)
        mean[rows] = (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)[:, None]
    # chance: each frame's mean step has variance s_t^2 / n_t, s_t^2 the spread of its steps
    spread = np.bincount(k, weights=((step - raw[k])**2).sum(axis=1), minlength=n)
    var = np.where(pairs > 1, spread / np.maximum(pairs - 1, 1) / np.maximum(pairs, 1), 0.0)
    return Drift(np.arange(f0, f1 + 1), np.cumsum(mean, axis=0), pairs,
                 float(np.sqrt(var.sum())), smoothing)


def subtract_drift(tracks: Tracks, drift: Drift) -> Tracks:
    """``tracks`` with the drift (in their units) subtracted from each vertex's position
    in its frame."""
    coords = tracks.coords - drift.at(tracks.frame)
    return Tracks(tracks.track_id, tracks.frame, coords, tracks.detection, tracks.features)
