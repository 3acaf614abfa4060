"""Exhaustive windowed association search: every hypothesis scored, nothing shared.

This is the MHT the paper's cost analysis describes (O(N!^K) per frame): the whole tree of
permutation sequences in the window is expanded level by level, and every track of every
hypothesis runs its own full Kalman filter (state and covariance).  It returns the same
hypothesis as :mod:`.exact` (lexicographically first among exact ties) and exists to
measure the cost of that brute force honestly.
"""

from __future__ import annotations

import numpy as np

from ...core.flops import FlopCounter
from .kalman import kalman_step, kalman_step_flops
from .motion import MotionModel

BYTES_PER_TRACK_STATE = 8  # float64


def exhaustive_bytes(n_perms: int, L: int, n: int, s: int, d: int) -> int:
    """Peak memory of the last level: states, covariances and the step's temporaries."""
    leaves = n_perms**L
    return leaves * n * (6 * s * s + 4 * s + 3 * d * d + 3 * d) * BYTES_PER_TRACK_STATE


def exhaustive_search(model: MotionModel, X0: np.ndarray, P0: np.ndarray, Z: list[np.ndarray],
                      perms: np.ndarray, counter: FlopCounter
                      ) -> tuple[tuple[int, ...], float, list[np.ndarray]]:
    """Best permutation sequence over ``Z`` (one ``(n, d)`` array per frame) from states
    ``X0`` (n, s) with covariance ``P0`` (s, s); returns (path, cost, states along it)."""
    n, s = X0.shape
    n_perms = len(perms)
    X = X0[None]                                          # (M, n, s)
    P = np.broadcast_to(P0, (1, n, s, s))
    cum = np.zeros(1)
    levels = []
    step_flops = kalman_step_flops(s, model.ndim)
    for Zj in Z:
        M = X.shape[0]
        Xc = np.repeat(X, n_perms, axis=0)
        Pc = np.repeat(P, n_perms, axis=0)
        Zc = np.tile(Zj[perms], (M, 1, 1))               # child m*n_perms+k: perms[k]
        X, P, d2 = kalman_step(model, Xc, Pc, Zc)
        cum = np.repeat(cum, n_perms) + d2.sum(-1)
        counter.add(M * n_perms * (n * step_flops + (n - 1) + 1))
        levels.append(X)
    best = int(np.argmin(cum))
    path = []
    rest = best
    for _ in range(len(Z)):
        path.append(rest % n_perms)
        rest //= n_perms
    path.reverse()
    states = []
    idx = 0
    for j, k in enumerate(path):
        idx = idx * n_perms + k
        states.append(levels[j][idx])
    return tuple(path), float(cum[best]), states
