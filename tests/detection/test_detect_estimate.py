"""The settings a movie chooses (polarity, spot size, threshold), on simulated movies with
known truth and on the shipped crop of trackpy's bulk-water movie."""

from __future__ import annotations

import numpy as np
import pytest
from datafiles import BULK_WATER_CROP
from scipy.ndimage import gaussian_filter

from napari_mpt.core.params import DetectParams, MovieParams
from napari_mpt.detection.detect import detect
from napari_mpt.detection.estimate import FLOOR, estimate_settings, threshold_from
from napari_mpt.evaluation.detections import evaluate_detections
from napari_mpt.io import read_movie
from napari_mpt.simulation.movie import render_movie

SAMPLE = BULK_WATER_CROP


def spots_movie(frames=6, n=60, size=128, snr=7.0, sigma=1.3, seed=5):
    rng = np.random.default_rng(seed)
    truth = (np.repeat(np.arange(frames), n), rng.uniform(4, size - 4, (frames * n, 2)))
    movie = render_movie(truth, MovieParams(snr=snr, size=(size, size), psf_sigma=sigma,
                                            seed=seed + 1))
    return movie, truth


def test_threshold_from_counts_decoys():
    # 100 spots at quality 20-40 above a background whose peaks reach 8 on both sides
    rng = np.random.default_rng(0)
    background = rng.uniform(0, 8, 2000)
    target = np.concatenate([rng.uniform(0, 8, 2000), rng.uniform(20, 40, 100)])
    thr = threshold_from(target, background)
    # every spot passes, and of the background only the few peaks above every decoy
    assert 7.9 < thr < 20 and np.all(target[2000:] > thr)
    assert (target[:2000] > thr).sum() <= 10
    # only shot noise: the floor
    assert threshold_from(rng.uniform(0, 3, 500), rng.uniform(0, 3, 500)) == FLOOR
    # nothing above the background: only what no decoy reached passes
    assert threshold_from(np.array([3.0, 9.0]), np.array([10.0])) == 10.0


def test_estimated_threshold_on_shot_noise_finds_every_spot_and_nothing_else():
    movie, truth = spots_movie(snr=4.0)
    settings = estimate_settings(movie)
    assert settings.estimated == ("polarity", "spot_sigma", "threshold")
    assert settings.polarity == "bright" and settings.threshold < 1.5 * FLOOR
    score = evaluate_detections(detect(movie, settings=settings), truth)
    assert score.precision >= 0.99 and score.recall >= 0.95
    # a movie of noise alone: (almost) nothing
    noise = np.random.default_rng(1).poisson(10.0, (10, 128, 128)).astype(np.uint16)
    assert len(detect(noise)) <= 2


def test_estimated_threshold_rises_over_a_textured_background():
    # spots on a smooth random texture as strong as they are: a fixed threshold of 5
    # noise sd takes the texture's blobs for spots, the estimated one does not
    movie, truth = spots_movie()
    rng = np.random.default_rng(9)
    texture = np.stack([gaussian_filter(rng.standard_normal((128, 128)), 1.6)
                        for _ in range(len(movie))]) * 30.0
    movie = movie + texture.astype(np.float32)
    settings = estimate_settings(movie)
    fixed = evaluate_detections(detect(movie, settings=settings.with_threshold(FLOOR)), truth)
    ours = evaluate_detections(detect(movie, settings=settings), truth)
    assert settings.threshold > 2 * FLOOR
    assert fixed.precision < 0.6
    assert ours.precision >= 0.98 and ours.recall >= 0.9


@pytest.mark.parametrize("sigma", [1.3, 2.5])
def test_spot_size_is_estimated(sigma):
    movie, _ = spots_movie(n=40, sigma=sigma)
    settings = estimate_settings(movie)
    assert settings.sigmas == pytest.approx((sigma, sigma), rel=0.08)
    assert settings.evidence["spot_sigma"]["fitted_spots"] >= 40


def test_polarity_dtype_and_camera_offset_change_nothing():
    movie, truth = spots_movie(frames=3)
    on = DetectParams(multi_emitter="on")       # auto would leave it out for dark spots
    bright = detect(movie, on)
    variants = {
        "dark uint16": (4000 - movie.astype(np.int64)).astype(np.uint16),
        "offset 1000": movie.astype(np.uint16) + np.uint16(1000),
        "float scaled": movie.astype(np.float32) * 3.7 - 50.0,
        "uint8": np.clip(movie, 0, 255).astype(np.uint8),
    }
    for name, m in variants.items():
        settings = estimate_settings(m)
        assert settings.polarity == ("dark" if name.startswith("dark") else "bright"), name
        det = detect(m, on, settings=settings)
        assert len(det) == len(bright), name
        np.testing.assert_allclose(det.coords, bright.coords, atol=2e-3, err_msg=name)
        assert evaluate_detections(det, truth).recall >= 0.95, name
    dark = detect(variants["dark uint16"])
    # the background in image units, the amplitude the depth below it
    assert np.median(dark.features["background"]) > 3900
    assert np.all(dark.features["amplitude"] > 0)


@pytest.mark.slow
def test_3d_movie_estimates_its_z_size():
    rng = np.random.default_rng(3)
    c = np.column_stack([rng.uniform(5, 15, 16), rng.uniform(5, 43, 16), rng.uniform(5, 43, 16)])
    truth = (np.repeat([0, 1], 16), np.concatenate([c, c + 0.3]))
    movie = render_movie(truth, MovieParams(snr=10.0, size=(20, 48, 48), psf_sigma_z=2.6, seed=4))
    settings = estimate_settings(movie)
    assert settings.sigmas == pytest.approx((2.6, 1.3, 1.3), rel=0.12)
    assert "spot_sigma_z" in settings.estimated


@pytest.mark.slow
def test_real_sample_beads_against_trackpy():
    # the shipped crop of trackpy's bulk-water movie, with the defaults only: dark beads,
    # at least 95 % of trackpy's confident features (diameter 11, minmass 200, invert)
    # within 1.5 px, no more than 1.15 times its minmass-20 count (trackpy skips
    # features within 5 px of the edges: so are ours here)
    trackpy = pytest.importorskip("trackpy")
    movie = read_movie(SAMPLE)
    assert movie.data.shape == (120, 256, 256) and movie.data.dtype == np.uint8
    assert movie.calibration.scale(2) == pytest.approx((1 / 24, 100 / 285, 100 / 285))
    settings = estimate_settings(movie.data)
    assert settings.polarity == "dark" and 1.8 < settings.sigmas[-1] < 2.6
    assert settings.estimated == ("polarity", "spot_sigma", "threshold")
    frames = [0, 40, 80, 119]
    det = detect(movie.data[frames], settings=settings)
    for k, t in enumerate(frames):
        ref = trackpy.locate(movie.data[t], 11, invert=True, minmass=20)
        confident = ref.loc[ref["mass"] >= 200, ["y", "x"]].to_numpy()
        ours = det.coords[det.frame == k]
        d = np.linalg.norm(confident[:, None] - ours[None], axis=-1).min(axis=1)
        assert (d <= 1.5).mean() >= 0.95, t
        inside = np.all((ours >= 5) & (ours <= 250), axis=1)
        assert inside.sum() <= 1.15 * len(ref), t


@pytest.mark.slow
def test_trackpy_engine_takes_the_same_settings():
    # trackpy.locate with the estimated polarity and size, kept by the same quality
    # threshold: its features, and trackpy's columns beside the quality
    trackpy = pytest.importorskip("trackpy")
    movie = read_movie(SAMPLE).data[:3]
    params = DetectParams(engine="trackpy")
    settings = estimate_settings(movie, params)
    det = detect(movie, params, settings=settings)
    assert {"quality", "mass", "size", "ecc", "signal"} <= set(det.features)
    assert det.features["quality"].min() > settings.threshold
    ref = trackpy.locate(movie[0], 11, invert=True, minmass=200)[["y", "x"]].to_numpy()
    ours = det.coords[det.frame == 0]
    d = np.linalg.norm(ref[:, None] - ours[None], axis=-1).min(axis=1)
    assert (d < 1e-6).mean() >= 0.95              # the very features trackpy finds
