"""Split tracks into independent clusters by gating, for N > 2 particles.

Over one window, detection ``z`` of frame ``t0 + j`` is *reachable* by a track when its
squared Mahalanobis distance (one-step innovation covariance ``S``) to the track's
prediction, or to a detection the track could reach in frame ``t0 + j - 1``, is below
``gate``: the chain follows every path the track could take through the window, without
the overly wide spread of a many-step prediction.  Tracks that share a reachable
detection, directly or through others, form a cluster; clusters share no detection,
so the window's joint optimum is the union of the clusters' optima.  A cluster whose
detection count differs from its track count in some frame (an ungated detection, say)
cannot be solved alone; all such clusters are merged into one, which is balanced because
every frame holds N detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ...core.flops import matmul
from .kalman import Schedule


@dataclass(frozen=True)
class Cluster:
    tracks: np.ndarray        # track indices, sorted
    dets: list[np.ndarray]    # per window frame: positions of its detections in the frame

    def key(self) -> tuple[int, ...]:
        return tuple(self.tracks.tolist())


def gate_clusters(schedule: Schedule, t0: int, X: np.ndarray, Z: list[np.ndarray],
                  gate: float) -> list[Cluster]:
    """Clusters of the tracks with states ``X`` (N, s) filtered at frame ``t0`` over the
    window frames ``Z`` (each ``(N, d)``)."""
    m = schedule.model
    n, d = Z[0].shape
    L = len(Z)
    rows, cols = [], []
    pos, vel = X[:, :d], (X[:, d:] if m.velocity else None)
    counter = schedule.counter
    reach = None
    for j, Zj in enumerate(Z, start=1):
        pred = pos + j * vel if vel is not None else pos
        if vel is not None:
            counter.add(2 * n * d)
        Sinv = schedule.Sinv[t0 + j]
        Y = Zj[None, :, :] - pred[:, None, :]
        near = ((Y @ Sinv) * Y).sum(-1) < gate               # (track, detection)
        counter.add(n * n * (d + matmul(1, d, d) + 2 * d - 1))
        if reach is not None:                                  # chain through frame j-1
            W = Zj[None, :, :] - Z[j - 2][:, None, :]          # (previous det, det)
            step = ((W @ Sinv) * W).sum(-1) < gate
            counter.add(n * n * (d + matmul(1, d, d) + 2 * d - 1))
            near |= (reach.astype(np.int64) @ step.astype(np.int64)) > 0
        reach = near
        a, b = np.nonzero(reach)
        rows.append(a)
        cols.append(n + (j - 1) * n + b)
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    size = n + L * n
    graph = coo_matrix((np.ones(len(r)), (r, c)), shape=(size, size))
    _, label = connected_components(graph, directed=False)
    track_label = label[:n]
    det_label = label[n:].reshape(L, n)
    balanced, unbalanced = [], []
    for lab in np.unique(label):
        tracks = np.flatnonzero(track_label == lab)
        dets = [np.flatnonzero(det_label[j] == lab) for j in range(L)]
        if len(tracks) and all(len(dj) == len(tracks) for dj in dets):
            balanced.append(Cluster(tracks, dets))
        else:
            unbalanced.append((tracks, dets))
    if unbalanced:
        tracks = np.sort(np.concatenate([u[0] for u in unbalanced]))
        dets = [np.sort(np.concatenate([u[1][j] for u in unbalanced])) for j in range(L)]
        balanced.append(Cluster(tracks, dets))
    balanced.sort(key=lambda cl: int(cl.tracks[0]))
    return balanced
