"""Rauch-Tung-Striebel smoothing of the committed tracks (an option beyond the paper).

The paper's MHT reports filtered positions, which use only past detections.  The link
Jaccard matches *positions* to the truth frame by frame, so a correct association can
still score a wrong link when noisy filtered positions of two close particles swap in the
matching.  Smoothing uses the whole committed track (the associations do not change);
like the filter, its gain ``C_t = P_t F^T (P^-_{t+1})^-1`` depends on the frame only, so
it is computed once per frame for all tracks.
"""

from __future__ import annotations

import numpy as np

from ...core.flops import FlopCounter, matmul
from .kalman import Schedule, gauss_jordan_inverse


def rts_smooth(schedule: Schedule, states: np.ndarray, counter: FlopCounter) -> np.ndarray:
    """Smoothed states ``(T, N, s)`` from the filtered ``states`` of the committed tracks."""
    m = schedule.model
    T, N, s = states.shape
    out = states.copy()
    for t in range(T - 2, -1, -1):
        inv, inv_flops = gauss_jordan_inverse(schedule.Ppred[t + 1])
        C = schedule.P[t] @ m.F.T @ inv
        pred = m.predict_mean(states[t])
        out[t] = states[t] + (out[t + 1] - pred) @ C.T
        counter.add(2 * matmul(s, s, s) + inv_flops
                    + N * (m.predict_mean_flops() + s + s) + matmul(N, s, s))
    return out
