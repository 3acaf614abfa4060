"""Per-track motility features that TrackMate and single-particle-tracking users read, and
the step lengths.

* **confinement_ratio**: net distance (first to last vertex) / total distance travelled
  (the sum of the links' lengths): TrackMate's CONFINEMENT_RATIO (Meijering et al.,
  Methods Enzymol. 504, 2012); what celltrackR calls straightness.  1: a straight path.
* **straightness**: the mean cosine of the angle between successive links (directional
  persistence): 1 straight, about 0 Brownian, negative when steps reverse (confinement,
  or localisation noise on a slow particle).  Unlike the confinement ratio it does not
  fall with track length for Brownian motion, so long and short tracks compare.
* **radius_of_gyration**: ``sqrt(mean |r - mean r|^2)`` over the track's vertices: the
  size of the region it explored.
* **mean_speed** (in :mod:`.stats`): the mean of the links' speeds (TrackMate's
  TRACK_MEAN_SPEED).
* **step lengths**: the lengths of the one-frame links (a link over a gap is longer and
  is left out), pooled over tracks: for Brownian motion in ``d`` dimensions a chi
  distribution of ``d`` degrees of freedom with scale ``sqrt(MSD(1) / d)``.

All in numpy on the sorted ``(track_id, frame)`` rows, one pass, no loop over tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MOTILITY = ("confinement_ratio", "straightness", "radius_of_gyration")
"""Per-track columns computed here."""

MAX_BINS = 60


def _per_track(inv: np.ndarray, n: int, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.bincount(inv[rows], weights=values, minlength=n)


def motility(track_index: np.ndarray, n_tracks: int, coords: np.ndarray) -> dict[str, np.ndarray]:
    """The :data:`MOTILITY` columns of ``n_tracks`` tracks whose vertices are ``coords``
    (sorted by track, then frame) with ``track_index`` (0..n_tracks-1) per row; NaN where a
    track is too short (one vertex, or fewer than two links for ``straightness``)."""
    inv, n, x = track_index, n_tracks, coords
    counts = np.bincount(inv, minlength=n)
    link = np.flatnonzero(inv[1:] == inv[:-1])              # row i -> row i + 1
    step = x[link + 1] - x[link]
    length = np.sqrt((step**2).sum(axis=1))
    path = _per_track(inv, n, length, link)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n else np.zeros(0, np.int64)
    last = first + counts - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        net = np.sqrt(((x[np.maximum(last, 0)] - x[first]) ** 2).sum(axis=1)) if n else np.zeros(0)
        confinement = np.where((counts > 1) & (path > 0), net / np.where(path > 0, path, 1.0), np.nan)
        # successive links of one track, both of non-zero length
        pair = np.flatnonzero(inv[link[1:]] == inv[link[:-1]])
        a, b = pair, pair + 1
        ok = (length[a] > 0) & (length[b] > 0)
        a, b = a[ok], b[ok]
        cos = (step[a] * step[b]).sum(axis=1) / (length[a] * length[b])
        pairs = np.bincount(inv[link[a]], minlength=n)
        straight = np.where(pairs > 0, np.bincount(inv[link[a]], weights=cos, minlength=n)
                            / np.maximum(pairs, 1), np.nan)
        centre = np.column_stack([np.bincount(inv, weights=x[:, j], minlength=n)
                                  for j in range(x.shape[1])]) / np.maximum(counts, 1)[:, None]
        spread = ((x - centre[inv]) ** 2).sum(axis=1)
        rg = np.where(counts > 0, np.sqrt(np.bincount(inv, weights=spread, minlength=n)
                                          / np.maximum(counts, 1)), np.nan)
    return {"confinement_ratio": confinement, "straightness": straight, "radius_of_gyration": rg}


def step_lengths(track_index: np.ndarray, frame: np.ndarray, coords: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of the links between consecutive frames of one track (sorted rows), and the
    track index of each (a gap in a track is no step: its length is not one frame's).

    Examples
    --------
    >>> import numpy as np
    >>> track = np.array([0, 0, 0, 1, 1])
    >>> frame = np.array([0, 1, 3, 0, 1])
    >>> xy = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 5.0], [9.0, 9.0], [9.0, 10.0]])
    >>> lengths, of_track = step_lengths(track, frame, xy)
    >>> lengths.tolist(), of_track.tolist()
    ([5.0, 1.0], [0, 1])
    """
    i = np.flatnonzero((track_index[1:] == track_index[:-1]) & (frame[1:] - frame[:-1] == 1))
    return np.sqrt(((coords[i + 1] - coords[i]) ** 2).sum(axis=1)), track_index[i]


@dataclass(frozen=True, eq=False)
class StepHistogram:
    """Histogram of step lengths, and the chi distribution a Brownian motion of the same
    ``MSD(1)`` would give (its density at the bin centres, scaled to counts)."""

    edges: np.ndarray
    counts: np.ndarray
    brownian: np.ndarray
    median: float
    ndim: int

    def summary(self) -> dict[str, Any]:
        return {"edges": [float(e) for e in self.edges], "counts": [int(c) for c in self.counts],
                "median": float(self.median) if np.isfinite(self.median) else None,
                "steps": int(self.counts.sum())}


def step_histogram(steps: np.ndarray, ndim: int) -> StepHistogram:
    """Histogram of ``steps`` from 0 to the largest (numpy's ``auto`` bins, at most
    :data:`MAX_BINS`), with the Brownian expectation of the same mean square step."""
    from scipy.stats import chi

    steps = np.asarray(steps, dtype=np.float64)
    if not len(steps):
        return StepHistogram(np.zeros(1), np.zeros(0, np.int64), np.zeros(0), float("nan"), ndim)
    top = float(steps.max()) or 1.0
    edges = np.histogram_bin_edges(steps, bins="auto", range=(0.0, top))
    if len(edges) - 1 > MAX_BINS:
        edges = np.linspace(0.0, top, MAX_BINS + 1)
    counts, _ = np.histogram(steps, bins=edges)
    scale = float(np.sqrt(np.mean(steps**2) / ndim))
    centre = 0.5 * (edges[1:] + edges[:-1])
    brownian = (chi.pdf(centre, ndim, scale=scale) * len(steps) * np.diff(edges)
                if scale > 0 else np.zeros(len(centre)))
    return StepHistogram(edges, counts, brownian, float(np.median(steps)), ndim)
