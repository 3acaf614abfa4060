"""RTS smoothing of MHT tracks, against filterpy's smoother."""

from __future__ import annotations

import numpy as np
from filterpy.kalman import KalmanFilter
from mht_cases import PAPER_CV

from napari_mpt import MHTParams, simulate
from napari_mpt.trackers.mht import track_mht
from napari_mpt.trackers.mht.kalman import gauss_jordan_inverse
from napari_mpt.trackers.mht.motion import motion_model


def test_smoothed_tracks_match_filterpy():
    sim = simulate(frames=25, measurement_noise=3.0, seed=4)
    params = MHTParams(lookback=4, process_noise=1.5, measurement_noise=3.0, smooth=True,
                       **PAPER_CV)
    smoothed = track_mht(sim.detections, params)
    filtered = track_mht(sim.detections, params.replace(smooth=False))
    np.testing.assert_array_equal(smoothed.tracks.detection, filtered.tracks.detection)
    assert smoothed.flops.value > filtered.flops.value
    assert smoothed.label == "MHT K=4 smoothed"
    model = motion_model(params, 2)
    det = sim.detections.coords
    for tid in (0, 1):
        rows = smoothed.tracks.detection[smoothed.tracks.track_id == tid]
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.F, kf.H, kf.Q, kf.R, kf.P = model.F, model.H, model.Q, model.R, model.P0.copy()
        kf.x = model.initial_states(det[rows[:1]])[0]
        xs, Ps = [kf.x.copy()], [kf.P.copy()]
        for r in rows[1:]:
            kf.predict()
            kf.update(det[r])
            xs.append(kf.x.copy())
            Ps.append(kf.P.copy())
        ref, _, _, _ = kf.rts_smoother(np.array(xs), np.array(Ps))
        got = smoothed.tracks.coords[smoothed.tracks.track_id == tid]
        np.testing.assert_allclose(got, ref[:, :2], atol=1e-8)
        # and the filtered output is filterpy's filter
        np.testing.assert_allclose(filtered.tracks.coords[filtered.tracks.track_id == tid],
                                   np.array(xs)[:, :2], atol=1e-8)


def test_gauss_jordan_inverse():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    spd = a @ a.T + 0.1 * np.eye(4)
    inv, flops = gauss_jordan_inverse(spd)
    np.testing.assert_allclose(inv @ spd, np.eye(4), atol=1e-10)
    assert flops == 4 * (1 + 2 * 4 + 3 * 4 * 4)
    # a zero block (velocity prior 0) gives the pseudo-inverse on the rest
    blk = np.zeros((4, 4))
    blk[:2, :2] = spd[:2, :2]
    inv, _ = gauss_jordan_inverse(blk)
    np.testing.assert_allclose(inv, np.linalg.pinv(blk), atol=1e-10)


def test_smoothing_with_a_zero_velocity_prior_stays_finite():
    sim = simulate(frames=20, seed=1)
    r = track_mht(sim.detections, MHTParams(velocity_prior=0.0, smooth=True))
    assert np.isfinite(r.tracks.coords).all()
