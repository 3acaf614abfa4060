"""Spot detection: exact on noiseless spots, accurate on noisy ones, clear on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from napari_mpt.cli import main
from napari_mpt.core.errors import Cancelled, InputError, ParameterError
from napari_mpt.core.params import DetectParams, MovieParams
from napari_mpt.core.results import RunControl
from napari_mpt.detection.detect import FEATURES, detect, detect_frame, expected_localisation_error
from napari_mpt.detection.estimate import estimate_settings
from napari_mpt.evaluation.detections import evaluate_detections
from napari_mpt.io import read_detections, write_movie
from napari_mpt.simulation.movie import render_movie


def gaussian_frame(shape, centres, amp=100.0, bg=10.0, sigma=(1.3, 1.3)):
    """The noiseless image model: bg + amp * exp(-|p - c|^2 / 2 sigma^2), pixel centres at
    integer coordinates."""
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    img = np.full(shape, bg, dtype=np.float64)
    for c in centres:
        img += amp * np.exp(-0.5 * (((grid - np.asarray(c)) / np.asarray(sigma)) ** 2).sum(-1))
    return img


def test_noiseless_spots_are_fitted_exactly():
    centres = [(20.3, 31.7), (40.0, 12.45), (8.81, 50.5)]
    frame = gaussian_frame((60, 64), centres, amp=80.0, bg=12.0)
    spots = detect_frame(frame)
    order = np.argsort(spots.coords[:, 0])
    got = spots.coords[order]
    np.testing.assert_allclose(got, sorted(centres), atol=1e-3)
    np.testing.assert_allclose(spots.features["amplitude"], 80.0, rtol=1e-3)
    np.testing.assert_allclose(spots.features["background"], 12.0, atol=0.05)
    np.testing.assert_allclose(spots.features["width"], 1.3, rtol=1e-3)
    assert np.all(spots.features["fitted"] == 1)


def test_noiseless_3d_spot_with_its_own_z_width():
    frame = gaussian_frame((15, 30, 30), [(7.4, 14.2, 15.65)], amp=50.0, bg=5.0,
                           sigma=(2.0, 1.3, 1.3))
    spots = detect_frame(frame, DetectParams(spot_sigma=1.3, spot_sigma_z=2.0))
    np.testing.assert_allclose(spots.coords, [[7.4, 14.2, 15.65]], atol=1e-3)
    assert spots.features["width"][0] == pytest.approx(1.3, rel=1e-3)


def test_3d_movie_finds_every_spot():
    rng = np.random.default_rng(3)
    centres = np.column_stack([rng.uniform(4, 12, 24), rng.uniform(4, 44, 24), rng.uniform(4, 44, 24)])
    keep = [0]
    for i in range(1, len(centres)):                  # spots at least 6 px apart
        if np.min(np.linalg.norm(centres[keep] - centres[i], axis=1)) > 6:
            keep.append(i)
    truth = (np.repeat([0, 1], len(keep)), np.concatenate([centres[keep]] * 2))
    movie = render_movie(truth, MovieParams(snr=7.0, size=(16, 48, 48), psf_sigma_z=2.0))
    det = detect(movie, DetectParams(spot_sigma_z=2.0))
    assert det.ndim == 3
    score = evaluate_detections(det, truth)
    assert score.recall == 1.0 and score.precision == 1.0 and score.rmse < 0.5


def test_spot_at_the_image_edge_is_fitted_from_the_pixels_inside():
    frame = gaussian_frame((30, 30), [(0.6, 14.3)], amp=60.0, bg=10.0)
    spots = detect_frame(frame)
    np.testing.assert_allclose(spots.coords, [[0.6, 14.3]], atol=1e-3)
    assert len(detect_frame(frame, DetectParams(border=2))) == 0


def test_localisation_on_noisy_spots_is_near_the_theoretical_precision():
    # 100 well separated spots at SNR 4 (ISBI), 4 frames: per-axis error close to the
    # Thompson et al. bound for a least-squares fit
    rng = np.random.default_rng(1)
    grid = np.stack(np.meshgrid(np.arange(10, 200, 19), np.arange(10, 200, 19), indexing="ij"),
                    -1).reshape(-1, 2)
    frames, coords = [], []
    for t in range(4):
        frames.append(np.full(len(grid), t))
        coords.append(grid + rng.uniform(-0.5, 0.5, grid.shape))
    truth = (np.concatenate(frames), np.concatenate(coords))
    params = MovieParams(snr=4.0, size=(210, 210), seed=5)
    det = detect(render_movie(truth, params))
    score = evaluate_detections(det, truth)
    assert score.recall == 1.0 and score.precision == 1.0
    bound = expected_localisation_error(params.amplitude(), params.background, 1.3)
    per_axis = score.rmse / np.sqrt(2)
    assert bound < per_axis < 1.6 * bound          # bound = 0.142 px
    assert score.rmse < 0.3
    assert det.features["snr"].mean() > 4.0   # noise near the spot ~ sqrt(background)
    assert np.median(det.features["width"]) == pytest.approx(1.3, rel=0.1)


def test_two_close_spots_are_two_detections():
    frame = gaussian_frame((40, 40), [(20.0, 17.0), (20.0, 23.0)])
    spots = detect_frame(frame)
    np.testing.assert_allclose(np.sort(spots.coords[:, 1]), [17.0, 23.0], atol=0.05)


def test_movie_with_empty_saturated_and_zero_frames():
    movie = np.zeros((4, 32, 32), dtype=np.uint16)
    movie[0] = gaussian_frame((32, 32), [(10.2, 20.7)]).astype(np.uint16)
    movie[1] = 65535                                   # saturated
    movie[3] = 7                                       # flat
    det = detect(movie)
    assert det.counts() == {0: 1}
    np.testing.assert_allclose(det.coords, [[10.2, 20.7]], atol=0.1)
    assert set(det.features) == set(FEATURES)
    empty = detect(np.zeros((3, 16, 16)))
    assert len(empty) == 0 and empty.ndim == 2 and set(empty.features) == set(FEATURES)


@pytest.mark.parametrize(("movie", "message"), [
    (np.zeros((16, 16)), "single 2-D image"),
    (np.zeros((3, 16, 16, 3)), "RGB"),
    (np.zeros((2, 3, 4, 16, 16)), "5 axes"),
])
def test_bad_arrays(movie, message):
    with pytest.raises(InputError, match=message):
        detect(movie, source="mine")


def test_nan_pixels_name_the_frame():
    movie = np.full((3, 16, 16), 10.0)
    movie[2, 4, 4] = np.nan
    with pytest.raises(InputError, match=r"mine: frame 2 has 1 NaN"):
        detect(movie, source="mine")


def test_threads_give_the_same_result_and_progress_is_per_frame():
    rng = np.random.default_rng(0)
    truth = (np.repeat(np.arange(6), 20), rng.uniform(5, 60, (120, 2)))
    movie = render_movie(truth, MovieParams(size=(64, 64), seed=2))
    calls = []
    one = detect(movie, DetectParams(workers=1), RunControl(progress=lambda d, t: calls.append(d)))
    two = detect(movie, DetectParams(workers=2))
    np.testing.assert_array_equal(one.frame, two.frame)
    np.testing.assert_array_equal(one.coords, two.coords)
    assert calls == list(range(7))


def test_workers_zero_means_one_thread_per_usable_core(monkeypatch):
    import os

    assert DetectParams(workers=3).threads() == 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert DetectParams().threads() == 2
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    assert DetectParams(workers=0).threads() == 8
    with pytest.raises(ParameterError, match="workers"):
        DetectParams(workers=-1)


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_stops_the_run(workers):
    movie = np.full((20, 32, 32), 10.0)
    seen = []

    def stop() -> bool:
        seen.append(1)
        return len(seen) > 3

    with pytest.raises(Cancelled):
        detect(movie, DetectParams(workers=workers), RunControl(should_stop=stop))
    assert len(seen) == 4


def test_detect_params_validation():
    with pytest.raises(ParameterError, match="spot_sigma"):
        DetectParams(spot_sigma=0.1)
    with pytest.raises(ParameterError, match="min_distance"):
        DetectParams(min_distance=0)
    with pytest.raises(ParameterError, match="polarity"):
        DetectParams(polarity="grey")
    with pytest.raises(ParameterError, match="engine"):
        DetectParams(engine="imagej")
    with pytest.raises(ParameterError, match="threshold"):
        DetectParams(threshold="high")          # type: ignore[arg-type]  # bad input on purpose
    # "estimate" (as the CLI and the widgets hand it over) means None; given values are used
    assert DetectParams(spot_sigma="estimate", threshold=" 7 ").threshold == 7.0  # type: ignore[arg-type]
    assert DetectParams(spot_sigma="estimate").spot_sigma is None  # type: ignore[arg-type]
    movie = np.random.default_rng(0).poisson(10.0, (2, 8, 24, 24))
    given = DetectParams(polarity="bright", spot_sigma=2.0, spot_sigma_z=3.0, threshold=6.0)
    settings = estimate_settings(movie, given)
    assert settings.sigmas == (3.0, 2.0, 2.0) and settings.threshold == 6.0
    assert settings.polarity == "bright" and settings.estimated == ()


# --- CLI -------------------------------------------------------------------------------
def test_cli_detect_writes_detections_with_features(tmp_path, capsys):
    truth = (np.repeat(np.arange(3), 2), np.tile([[10.3, 12.6], [30.0, 40.2]], (3, 1)))
    write_movie(tmp_path / "movie.tif", render_movie(truth, MovieParams(snr=7.0, size=(48, 56))))
    out = tmp_path / "det.csv"
    assert main(["detect", str(tmp_path / "movie.tif"), "--out", str(out), "--json",
                 "--threshold", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == [2, 2, 2] and report["detections"] == 6
    assert report["frames"] == 3 and report["wall_s"] > 0
    assert report["params"]["threshold"] == 5.0
    det = read_detections(out)
    assert set(FEATURES) <= set(det.features)
    assert evaluate_detections(det, truth).recall == 1.0


@pytest.mark.parametrize(("array", "message"), [
    (np.zeros((16, 16), np.uint16), "single 2-D image"),
    (np.full((2, 16, 16), np.nan, np.float32), "NaN"),
])
def test_cli_detect_bad_movie_is_one_line(tmp_path, capsys, array, message):
    path = tmp_path / "bad.tif"
    tifffile.imwrite(path, array)
    assert main(["detect", str(path), "--out", str(tmp_path / "d.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(path) in err
    assert not (tmp_path / "d.csv").exists()


def test_cli_detect_bad_parameter(tmp_path, capsys):
    write_movie(tmp_path / "m.tif", np.zeros((2, 16, 16), np.uint16))
    assert main(["detect", str(tmp_path / "m.tif"), "--out", str(tmp_path / "d.csv"),
                 "--spot-sigma", "0"]) == 2
    assert "spot_sigma" in capsys.readouterr().err


def test_cli_detect_reports_the_settings_and_refuses_a_threshold_no_spot_passes(tmp_path, capsys):
    truth = (np.repeat(np.arange(3), 2), np.tile([[10.3, 12.6], [30.0, 40.2]], (3, 1)))
    movie = tmp_path / "movie.tif"
    write_movie(movie, render_movie(truth, MovieParams(snr=7.0, size=(48, 56))))
    assert main(["detect", str(movie), "--json"]) == 0          # out: beside the movie
    report = json.loads(capsys.readouterr().out)
    assert report["out"] == str(tmp_path / "movie_spots.csv") and report["detections"] == 6
    settings = report["settings"]
    assert settings["polarity"] == "bright" and settings["estimated"] == [
        "polarity", "spot_sigma", "threshold"]
    assert settings["evidence"]["polarity"]["bright_peaks"] > 0
    # a threshold no spot passes: one line, nothing written (the earlier file untouched)
    before = (tmp_path / "movie_spots.csv").read_bytes()
    assert main(["detect", str(movie), "--threshold", "1e5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no spot passed the threshold 1e+05" in err
    assert (tmp_path / "movie_spots.csv").read_bytes() == before
