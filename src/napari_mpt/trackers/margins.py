"""How sure a linker that minimises squared steps is of each link: its cost margin.

LAP (laptrack) and trackpy choose links minimising summed squared step lengths, with a
fixed cost for a track that ends or starts (our LAP: the squared link distance; trackpy:
the squared search range, its "null link").  A link ``a -> b`` (``g`` frames apart) had
alternatives at both ends: ``a`` could have gone to another detection of ``b``'s frame
within the cutoff, or ended; ``b`` could have come from another detection of ``a``'s
frame, or started.  Its *margin* ``m`` is the cost of the cheapest of those alternatives
minus its own (negative when the global solution took it although one end had a cheaper
option alone).

The confidence maps the margin onto [0, 1] with the step model the cost stands for: a
squared step is ``-2 g s^2 ln(likelihood)`` plus a constant for Gaussian steps of
per-axis variance ``s^2`` per frame, so ``exp(m / (2 g s^2))`` is the likelihood ratio of
the link to its best alternative and ``1 / (1 + exp(-m / (2 g s^2)))`` the probability
that the link, not that alternative, is the right one of the two.  ``s^2`` is estimated
from the run's own one-frame links (median squared step over the chi-square median), so
the number needs nothing the user did not give.  What it cannot see: alternatives that
change more than one end at once (the global assignment's own trade-offs).

Written here because neither laptrack nor trackpy reports a per-link margin.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import chi2

from ..core.data import Detections


def step_variance(detections: Detections, links: np.ndarray) -> float:
    """Per-axis variance of one frame's step, from the one-frame links (robust: the
    median squared step over the median of chi-square with D degrees of freedom)."""
    a, b = links[:, 0], links[:, 1]
    one = detections.frame[b] - detections.frame[a] == 1
    d2 = ((detections.coords[b[one]] - detections.coords[a[one]]) ** 2).sum(axis=1)
    if not len(d2) or not np.median(d2) > 0:
        return 1.0
    return float(np.median(d2) / chi2.ppf(0.5, detections.ndim))


def margins(detections: Detections, links: np.ndarray,
            cutoff: Callable[[int], float]) -> np.ndarray:
    """Each link's cost margin (module docstring); ``cutoff(g)``: the largest step a link
    ``g`` frames long may take, whose square is also the cost of ending or starting."""
    links = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    out = np.empty(len(links))
    frame, xy = detections.frame, detections.coords
    rows_of = {int(f): r for f, r in zip(detections.frames(), detections.by_frame(), strict=True)}
    trees: dict[int, cKDTree] = {}
    a, b = links[:, 0], links[:, 1]
    own = ((xy[b] - xy[a]) ** 2).sum(axis=1)
    g = frame[b] - frame[a]
    best = np.array([cutoff(int(x)) ** 2 for x in g])     # end (for a) or start (for b)
    # the nearest other detection of the other end's frame, for each end: the two nearest
    # there within the cutoff, the first that is not the link's own other end
    for me, there, skip in ((a, frame[b], b), (b, frame[a], a)):
        for f, gap in {(int(x), int(y)) for x, y in zip(there, g, strict=True)}:
            sel = np.flatnonzero((there == f) & (g == gap))
            if f not in trees:
                trees[f] = cKDTree(xy[rows_of[f]])
            k = min(2, len(rows_of[f]))
            d, j = trees[f].query(xy[me[sel]], k=[1, 2][:k], distance_upper_bound=cutoff(gap))
            found = np.isfinite(d)
            rows = np.where(found, rows_of[f][np.minimum(j, len(rows_of[f]) - 1)], -1)
            d2 = np.where(found & (rows != skip[sel, None]), d * d, np.inf).min(axis=1)
            best[sel] = np.minimum(best[sel], d2)
    out[:] = best - own
    return out


def margin_confidence(detections: Detections, links: np.ndarray,
                      cutoff: Callable[[int], float]) -> np.ndarray:
    """``link_confidence`` per detection row: the confidence (module docstring) of the
    link arriving at it, NaN where none arrives."""
    links = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    out = np.full(len(detections), np.nan)
    if not len(links):
        return out
    m = margins(detections, links, cutoff)
    g = detections.frame[links[:, 1]] - detections.frame[links[:, 0]]
    z = m / (2.0 * g * step_variance(detections, links))
    out[links[:, 1]] = 0.5 * (1.0 + np.tanh(0.5 * z))     # the logistic, without overflow
    return out
