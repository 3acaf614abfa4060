"""Multi-emitter fitting: close pairs resolved, isolated spots untouched, no spots from
noise, and the pieces (renderer, joint fit) exact against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt.core.errors import ParameterError
from napari_mpt.core.params import DetectParams, MovieParams
from napari_mpt.detection.detect import detect, detect_frame
from napari_mpt.detection.multi import cluster_pixels, fit_clusters
from napari_mpt.evaluation.detections import evaluate_detections
from napari_mpt.imaging.render import render
from napari_mpt.simulation.movie import render_movie

# the multi-emitter step at a known spot size: a frame holding one merged pair would make
# its own size estimate the pair's width
ON, OFF = DetectParams(spot_sigma=1.3), DetectParams(spot_sigma=1.3, multi_emitter="off")


def spots_frame(shape, centres, amp, bg=10.0, sigma=1.3, seed=0):
    """Poisson counts of bg + amp * exp(-|p - c|^2 / 2 sigma^2) (pixel centres at integer
    coordinates)."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    lam = np.full(shape, bg, dtype=np.float64)
    for c in centres:
        lam += amp * np.exp(-0.5 * (((grid - np.asarray(c)) / sigma) ** 2).sum(-1))
    return np.random.default_rng(seed).poisson(lam).astype(np.float64)


def matched(found, truth, tol):
    """Number of true positions with a detection within ``tol`` px."""
    d = np.linalg.norm(np.asarray(found)[:, None, :] - np.asarray(truth)[None], axis=-1)
    return int((d.min(axis=0) <= tol).sum()) if len(found) else 0


@pytest.mark.parametrize(("angle", "seed"), [(0.0, 0), (np.pi / 4, 1), (np.pi / 3, 2)])
def test_two_spots_2p5_px_apart_are_resolved_only_with_multi_emitter(angle, seed):
    # peak 200 photons on 10 (ISBI SNR 13.8): one peak of the filtered frame for both
    centre = np.array([20.3, 19.6])
    half = 1.25 * np.array([np.sin(angle), np.cos(angle)])
    truth = [centre - half, centre + half]
    frame = spots_frame((40, 40), truth, amp=200.0, seed=seed)

    def near(spots):
        return spots.coords[np.linalg.norm(spots.coords - centre, axis=1) < 4.0]

    single, multi = near(detect_frame(frame, OFF)), near(detect_frame(frame, ON))
    assert len(single) == 1 and matched(single, truth, 0.3) == 0
    assert len(multi) == 2 and matched(multi, truth, 0.3) == 2


def test_isolated_spot_keeps_its_single_spot_fit():
    # an isolated spot beside a close pair, which the multi-emitter step does refit
    truth = [(12.4, 40.7), (40.2, 12.0), (40.2, 14.5)]
    frame = spots_frame((56, 56), truth, amp=150.0, seed=3)
    single, multi = detect_frame(frame, OFF), detect_frame(frame, ON)
    i = int(np.argmin(np.linalg.norm(single.coords - truth[0], axis=1)))
    j = int(np.argmin(np.linalg.norm(multi.coords - truth[0], axis=1)))
    np.testing.assert_allclose(multi.coords[j], single.coords[i], atol=1e-6, rtol=0)
    for k in single.features:
        assert multi.features[k][j] == pytest.approx(single.features[k][i], abs=1e-6, rel=0)
    assert len(multi) == 3 and len(single) == 2          # and the pair was resolved


@pytest.mark.parametrize("seed", range(4))
def test_no_spot_is_added_in_noise(seed):
    # a threshold of 3.5 noise sd lets the detector pick a few noise peaks (8 on average
    # here), which the multi-emitter step then works on; it must not add to them
    noise = spots_frame((128, 128), [], amp=0.0, seed=seed)
    low = {"threshold": 3.5, "spot_sigma": 1.3}
    single = detect_frame(noise, DetectParams(multi_emitter="off", **low))
    multi = detect_frame(noise, DetectParams(**low))
    assert len(single) > 0 and len(multi) == len(single)
    # nor next to isolated bright spots, where the residual of a fit is largest (the
    # single-spot detector itself finds spurious peaks on the flanks of spots this bright)
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(12, 120, 16), np.arange(12, 120, 16), indexing="ij"),
                    -1).reshape(-1, 2) + rng.uniform(-0.5, 0.5, (49, 2))
    for amp in (60.0, 150.0):
        frame = spots_frame((128, 128), grid, amp=amp, seed=seed)
        assert len(detect_frame(frame, ON)) == len(detect_frame(frame, OFF)) >= 49


def test_multi_emitter_parameters_are_validated():
    with pytest.raises(ParameterError, match="residual_rounds"):
        DetectParams(residual_rounds=-1)
    with pytest.raises(ParameterError, match="residual_rounds"):
        DetectParams(residual_rounds=6)
    with pytest.raises(ParameterError, match="multi_emitter"):
        DetectParams(multi_emitter="yes")
    assert DetectParams().multi_emitter == "auto" and DetectParams().residual_rounds == 1
    assert DetectParams().joint_fits("bright") and not DetectParams().joint_fits("dark")
    assert DetectParams(multi_emitter="on").joint_fits("dark")
    assert not DetectParams(multi_emitter="off").joint_fits("bright")


def test_joint_fits_alone_refit_close_pairs_without_adding_spots():
    # two peaks 3.5 px apart: each single fit is pulled by the other's light
    truth = [(20.0, 18.25), (20.0, 21.75)]
    frame = spots_frame((40, 40), truth, amp=1000.0, bg=10.0, seed=4)
    joint = detect_frame(frame, DetectParams(spot_sigma=1.3, residual_rounds=0))
    single = detect_frame(frame, OFF)
    assert len(joint) == len(single) == 2

    def err(spots):
        return np.linalg.norm(spots.coords[:, None] - np.array(truth)[None], axis=-1).min(axis=0)

    assert err(joint).max() < err(single).max()
    assert err(joint).max() < 0.05


def test_render_is_the_sum_of_gaussians():
    c, a = np.array([[0.3, 5.2], [7.7, 7.9], [3.2, 0.0]]), np.array([1.0, 2.0, 3.0])
    yy, xx = np.mgrid[:8, :9]
    want = sum(ai * np.exp(-0.5 * (((yy - ci[0]) / 1.3) ** 2 + ((xx - ci[1]) / 1.1) ** 2))
               for ci, ai in zip(c, a, strict=True))
    np.testing.assert_allclose(render((8, 9), c, a, np.array([1.3, 1.1])), want, atol=1e-4)


def test_joint_fit_of_a_noiseless_pair_is_exact():
    truth, amps = np.array([[20.2, 18.9], [21.1, 21.2]]), np.array([80.0, 50.0])
    frame = 7.0 + render((40, 40), truth, amps, np.array([1.3, 1.3]))
    centres = np.array([[[20, 19], [21, 21]]])
    pix, weight = cluster_pixels((40, 40), centres, np.ones((1, 2), bool), np.array([3, 3]))
    values = frame[pix[..., 0], pix[..., 1]] * weight
    fit = fit_clusters(pix, weight, values, np.array([5.0]), np.array([[60.0, 60.0]]),
                       centres.astype(float), np.ones((1, 2), bool), np.array([1.3, 1.3]))
    # a pixel union of 2 windows, 7 x 7 each, overlapping
    assert 49 < weight.sum() < 98 and fit.ok.all()
    np.testing.assert_allclose(fit.coords[0], truth, atol=2e-3)
    np.testing.assert_allclose(fit.amplitude[0], amps, rtol=1e-3)
    assert fit.background[0] == pytest.approx(7.0, abs=0.05)


@pytest.mark.slow
def test_dense_movie_recall_and_rmse_improve():
    # 250 spots in 256 x 256 (the density of 1000 in 512 x 512), ISBI SNR 4
    rng = np.random.default_rng(7)
    truth = (np.repeat(np.arange(3), 250), rng.uniform(0, 256, (750, 2)))
    movie = render_movie(truth, MovieParams(snr=4.0, size=(256, 256), seed=8))
    # at the threshold this test was built at (estimated, it is 7.2 here: the rings of
    # neighbouring spots add up to background-like peaks)
    single = evaluate_detections(detect(movie, OFF.replace(threshold=5.0)), truth)
    multi = evaluate_detections(detect(movie, ON.replace(threshold=5.0)), truth)
    assert multi.recall > single.recall + 0.02
    assert multi.rmse < single.rmse - 0.04
    assert multi.precision >= 0.99
