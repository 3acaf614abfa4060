"""The detector's pieces against brute force: band-pass filter, its noise, peaks, pixel
noise, window ownership and the one Levenberg-Marquardt loop."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt.detection.filters import (
    filter_frame,
    filter_noise_sd,
    local_peaks,
    pixel_noise,
    scale_normalised_log,
)
from napari_mpt.detection.fit import SpotFits, fit_spots, own_pixels, positive_width, windows
from napari_mpt.detection.lm import levenberg_marquardt


@pytest.mark.parametrize(("shape", "sigmas"), [((60, 70), (1.7, 1.7)), ((60, 70), (2.5, 2.5)),
                                               ((14, 30, 32), (2.0, 1.6, 1.6))])
def test_band_pass_is_scikit_images_difference_of_gaussians(shape, sigmas):
    from skimage.filters import difference_of_gaussians

    rng = np.random.default_rng(0)
    img = rng.poisson(10.0, shape).astype(np.float32)
    img[tuple(n // 2 for n in shape)] += 300.0
    want = difference_of_gaussians(img, 0.8 * np.array(sigmas), 3.0 * np.array(sigmas))
    got = filter_frame(img + 1000.0, sigmas)             # an offset changes nothing
    assert np.abs(got - want).max() < 2e-3 * np.abs(want).max()


def test_filter_noise_is_exact_at_every_pixel():
    # brute force: the filter is linear, so a pixel's noise variance is the sum of the
    # squares of its weights, i.e. of the filtered unit impulses at that pixel
    shape, sigmas = (21, 26), (1.3, 1.3)
    impulses = np.zeros((shape[0] * shape[1], *shape), np.float32)
    impulses.reshape(len(impulses), -1)[np.arange(len(impulses)), np.arange(len(impulses))] = 1
    # (taking the frame's mean out first changes nothing: the filter removes constants)
    responses = np.stack([filter_frame(x, sigmas) for x in impulses])
    want = np.sqrt((responses ** 2).sum(axis=0))
    np.testing.assert_allclose(filter_noise_sd(shape, sigmas), want, rtol=1e-4)
    assert filter_noise_sd(shape, sigmas)[0, 0] > 1.02 * filter_noise_sd(shape, sigmas)[10, 13]


def test_long_axes_have_the_noise_of_the_short_axis_construction():
    # the noise of a 700 px axis is built from a short one; Monte Carlo agrees
    rng = np.random.default_rng(2)
    shape, sigmas = (40, 700), (2.0, 2.0)
    acc = np.zeros(shape)
    for _ in range(400):
        acc += filter_frame(rng.standard_normal(shape).astype(np.float32), sigmas) ** 2
    ratio = np.sqrt(acc / 400) / filter_noise_sd(shape, sigmas)
    assert abs(ratio.mean() - 1) < 0.01 and np.abs(ratio - 1).max() < 0.2


def test_local_peaks_are_scikit_images():
    from skimage.feature import peak_local_max

    rng = np.random.default_rng(3)
    for shape in [(50, 60), (8, 20, 22)]:
        q = rng.standard_normal(shape).astype(np.float32)
        for thr in (-10.0, 0.5, 2.5):
            for md in (1, 2):
                for border in (0, 2):
                    got = local_peaks(q, thr, md, border)
                    want = peak_local_max(q, min_distance=md, threshold_abs=thr,
                                          exclude_border=border or False)
                    assert set(map(tuple, got)) == set(map(tuple, want)), (shape, thr, md, border)
                    assert np.all(np.diff(q[tuple(got.T)]) <= 0)          # strongest first


def test_pixel_noise_holds_on_quantised_and_spotty_frames():
    rng = np.random.default_rng(4)
    assert pixel_noise(rng.normal(100, 3.0, (200, 200))) == pytest.approx(3.0, rel=0.03)
    # 8-bit frames whose neighbours are mostly equal: the MAD would say 0
    for sd, want in ((0.5, 0.55), (0.3, 1 / np.sqrt(12))):
        quantised = np.round(rng.normal(128, sd, (200, 200)))
        d = np.diff(quantised, axis=-1)
        assert np.median(np.abs(d - np.median(d))) == 0
        assert pixel_noise(quantised) == pytest.approx(want, rel=0.25)
    # bright spots on a tenth of the frame barely move it
    spotty = rng.normal(100, 3.0, (200, 200))
    spotty[::10, :] += 500.0
    assert pixel_noise(spotty) == pytest.approx(3.0, rel=0.1)
    assert pixel_noise(np.full((30, 30), 7.0)) == 0.0


def test_scale_normalised_log_peaks_at_the_spot_sigma():
    yy, xx = np.mgrid[:80, :80]
    for sigma in (1.5, 3.0):
        img = 100.0 * np.exp(-((yy - 40.3) ** 2 + (xx - 39.6) ** 2) / (2 * sigma ** 2))
        scales = tuple(np.geomspace(0.8, 8.0, 40))
        resp = [r[40, 40] for r in scale_normalised_log(img, scales)]
        assert scales[int(np.argmax(resp))] == pytest.approx(sigma, rel=0.07)


def test_own_pixels_against_brute_force():
    rng = np.random.default_rng(0)
    for sig in (np.array([1.3, 1.3]), np.array([2.0, 1.1])):
        peaks = rng.integers(0, 40, (90, 2))
        radius = np.ceil(2 * sig).astype(int)
        offsets = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij"),
                           -1).reshape(-1, 2).astype(float)
        want = np.ones((len(peaks), len(offsets)))
        for a in range(len(peaks)):
            for b in range(len(peaks)):
                if a != b:
                    rel = (peaks[a] - peaks[b])[None, :] + offsets
                    want[a, ((rel / sig) ** 2).sum(1) < ((offsets / sig) ** 2).sum(1)] = 0
        np.testing.assert_array_equal(own_pixels(peaks, offsets, sig), want)


def test_batched_levenberg_marquardt_is_scipys_least_squares():
    from scipy.optimize import least_squares

    rng = np.random.default_rng(6)
    truth = np.column_stack([rng.uniform(12, 18, 40), rng.uniform(12, 18, 40)])
    yy, xx = np.mgrid[:30, :30]
    peaks = np.rint(truth).astype(np.int64)
    radius = np.array([3, 3])
    starts, fits = [], []
    for c, p in zip(truth, peaks, strict=True):
        frame = 10 + 60 * np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / (2 * 1.4 ** 2))
        frame = rng.poisson(frame).astype(np.float32)
        values, weight, offsets = windows(frame, p[None], radius)

        def res(th, values=values, offsets=offsets):
            b, a, my, mx, w = th
            g = np.exp(-((offsets[:, 0] - my) ** 2 + (offsets[:, 1] - mx) ** 2) / (2 * w * w))
            return values[0] - (b + a * g)

        th0 = np.array([10.0, 50.0, 0.1, -0.1, 1.3])
        starts.append((values[0], weight[0], th0))
        fits.append(least_squares(res, th0, method="lm", xtol=1e-12, ftol=1e-12).x)
    values = np.stack([s[0] for s in starts])
    weight = np.stack([s[1] for s in starts])
    theta0 = np.stack([s[2] for s in starts])
    problem = SpotFits(values, weight, radius, np.ones(2))
    scale = np.column_stack([np.full(40, 50.0), np.full(40, 50.0), np.ones((40, 3))])
    got, _ = levenberg_marquardt(problem, theta0, scale, 50, constrain=positive_width)
    # the loop stops at 0.01 px steps; its answer is scipy's to a few thousandths
    np.testing.assert_allclose(got[:, 2:], np.stack(fits)[:, 2:], atol=5e-3)
    np.testing.assert_allclose(got[:, :2], np.stack(fits)[:, :2], rtol=5e-3, atol=0.05)


def test_fit_accepts_spots_smaller_than_the_given_size():
    # a user's spot sigma may be larger than the spots (TrackMate's LoG radius 5 on
    # FakeTracks' spots of 0.7 px): the fit's width may go down to half a pixel
    yy, xx = np.mgrid[:40, :40]
    img = 5 + 200 * np.exp(-((yy - 20.3) ** 2 + (xx - 18.8) ** 2) / (2 * 0.7 ** 2))
    spots = fit_spots(img, np.array([[20, 19]]), (3.5, 3.5))
    assert spots.features["fitted"][0] == 1
    assert spots.features["width"][0] == pytest.approx(0.7, rel=0.01)
    np.testing.assert_allclose(spots.coords[0], [20.3, 18.8], atol=1e-3)
