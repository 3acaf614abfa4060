"""The analytic FLOP count, checked against counts made by hand."""

from __future__ import annotations

import numpy as np
from mht_cases import PAPER_CV

from napari_mpt import MHTParams
from napari_mpt.core.flops import FlopCounter, measured, papi_status
from napari_mpt.trackers.mht.kalman import kalman_step_flops, step_covariance_flops
from napari_mpt.trackers.mht.tracker import _run


def test_one_kalman_step_matches_a_hand_count():
    # Constant velocity in 2D: s = 4 states, d = 2 measured.  (m,k)@(k,n) = m*n*(2k-1).
    cov = (
        (16 * 7 + 16 * 7 + 16)     # P' = F P F^T + Q: two 4x4x4 products + 16 adds = 240
        + (8 * 7 + 4 * 7 + 4)      # S = H P' H^T + R: (2x4)(4x4), (2x4)(4x2), + 4   = 88
        + 8                        # 2x2 inverse: det (3), 1/det (1), 4 products     = 8
        + (8 * 7 + 8 * 3)          # K = P' H^T S^-1: (4x4)(4x2), (4x2)(2x2)        = 80
        + (16 * 3 + 16 + 16 * 7)   # P = (I - K H) P': (4x2)(2x4), 16 subs, 4x4x4    = 176
    )
    mean = (4 * 7) + (2 * 7 + 2) + (4 * 3 + 4) + (2 * 3 + 3)  # F x; z - H x; x + K y; y'S^-1 y
    assert step_covariance_flops(4, 2) == cov == 592
    assert kalman_step_flops(4, 2) == cov + mean == 661


def test_exact_mht_count_of_one_step_matches_a_hand_count():
    # Two tracks, one association step (T = 2), K = 1, constant velocity 2D.
    coords = np.array([[[0.0, 0.0], [10.0, 0.0]], [[0.5, 0.2], [9.6, 0.1]]])
    counter = FlopCounter()
    _run(coords, MHTParams(lookback=1, **PAPER_CV), counter, None)
    schedule = 592                          # one shared covariance step
    expand = (2 * 2                         # predict 2 means (x + v: 2 adds each)
              + 4 * 2                       # 4 innovations of 2 components
              + 4 * (1 * 2 * 3)             # 4 (y^T S^-1): (1x2)(2x2)
              + 4 * 3                       # 4 dot products of length 2
              + 2 * 1)                      # 2 permutations, 1 add each
    bound = (4                              # sum of the 2 root states (4 adds)
             + 2 + 2 + 2                    # predict the sum; sum the 2 detections; innovation
             + 1 * 2 * 3 + 3 + 1            # e^T S^-1 e, divided by n
             + 4 * 3 + 4                    # update the sum: K e + x
             + 1)                           # suffix sum of the window's bounds
    search = 2 * 2                          # partial + cost + bound for both children
    update = 2 * 4 * 3 + 2 * 4              # (2x2)(2x4) gain product + 8 adds
    assert counter.total == schedule + expand + bound + search + update == 715


def test_source_is_reported():
    ok, why = papi_status()
    _, count = measured(lambda c: c.add(5))
    assert count.source == ("papi" if ok else "analytic")
    if not ok:
        assert count.value == 5 and why in count.detail
