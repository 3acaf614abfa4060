"""Simulated movies: the ISBI SNR, the spot model, TIFF files and their axes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tifffile

from napari_mpt.core.errors import InputError, ParameterError
from napari_mpt.core.params import MovieParams, SimulationParams
from napari_mpt.io import read_movie, write_movie
from napari_mpt.simulation.movie import SNR_PRESETS, movie_preset, render_movie, write_simulation_movie
from napari_mpt.simulation.simulate import simulate


@pytest.mark.parametrize(("snr", "peak"), [(1, 13.70), (2, 18.63), (4, 32.97), (7, 67.52)])
def test_amplitude_is_the_isbi_snr_with_noise_at_the_peak(snr, peak):
    # A / sqrt(10 + A) = SNR  ->  A = (SNR^2 + SNR sqrt(SNR^2 + 40)) / 2, by hand:
    # SNR 1: (1 + sqrt 41)/2 = 3.70; 2: 2 + sqrt 44 = 8.63; 4: 8 + 2 sqrt 56 = 22.97;
    # 7: 24.5 + 3.5 sqrt 89 = 57.52 (the challenge's 13.7 / 18.6 / 33 / 67.5 peaks)
    p = movie_preset(f"snr{snr}")
    assert p.snr == SNR_PRESETS[f"snr{snr}"]
    assert p.background + p.amplitude() == pytest.approx(peak, abs=0.01)
    a = p.amplitude()
    assert a / math.sqrt(p.background + a) == pytest.approx(snr)


def test_measured_snr_of_a_rendered_spot():
    # one spot on a pixel centre, 3000 Poisson frames: (mean peak - background) / std(peak)
    frames = 3000
    pos = (np.arange(frames), np.tile([[10.0, 12.0]], (frames, 1)))
    movie = render_movie(pos, MovieParams(snr=4.0, size=(21, 25), seed=3))
    assert movie.shape == (frames, 21, 25) and movie.dtype == np.uint16
    peak = movie[:, 10, 12].astype(float)
    corner = movie[:, :3, :3].astype(float)
    assert corner.mean() == pytest.approx(10.0, abs=0.1)        # background
    assert (peak.mean() - 10.0) / peak.std() == pytest.approx(4.0, rel=0.05)
    # one pixel off the centre: 10 + A exp(-1 / (2 * 1.3^2)) = 10 + 22.97 * 0.7438 = 27.08
    assert movie[:, 11, 12].mean() == pytest.approx(27.08, rel=0.02)


def test_sub_pixel_spot_is_centred_where_it_was_put():
    pos = (np.zeros(1), np.array([[20.3, 15.6]]))
    mean = render_movie(pos, MovieParams(snr=50.0, background=0.0, size=(40, 40)),
                        frames=1).astype(float)[0]
    yy, xx = np.mgrid[:40, :40]
    assert (mean * yy).sum() / mean.sum() == pytest.approx(20.3, abs=0.05)
    assert (mean * xx).sum() / mean.sum() == pytest.approx(15.6, abs=0.05)


def test_3d_movie_and_anisotropic_psf():
    pos = (np.array([0, 1]), np.array([[5.0, 10.0, 10.0], [5.0, 10.0, 10.0]]))
    p = MovieParams(snr=200.0, background=0.0, psf_sigma=1.0, psf_sigma_z=2.0, size=(11, 21, 21))
    movie = render_movie(pos, p)
    assert movie.shape == (2, 11, 21, 21)
    m = movie[0].astype(float)
    assert np.unravel_index(m.argmax(), m.shape) == (5, 10, 10)
    # wider along z: two px away in z is brighter than two px away in x
    assert m[7, 10, 10] > m[5, 10, 12]


def test_empty_frames_are_background_and_size_comes_from_the_simulation():
    sim = simulate(SimulationParams(particles=3, frames=4, field_of_view=32.0, seed=1))
    movie = render_movie(sim, MovieParams(snr=4.0))
    assert movie.shape == (4, 32, 32)
    blank = render_movie((np.array([0]), np.array([[5.0, 5.0]])), MovieParams(size=(8, 8)),
                         frames=3)
    assert blank.shape == (3, 8, 8)
    assert 5 <= blank[1:].mean() <= 15


def test_too_large_a_movie_is_refused_up_front():
    sim = simulate(SimulationParams(particles=3, frames=100, ndim=3, seed=1))   # 512 px cube
    with pytest.raises(ParameterError, match=r"size.*GiB"):
        render_movie(sim)


def test_movie_files_are_memory_mapped(tmp_path):
    write_movie(tmp_path / "m.tif", np.zeros((3, 8, 8), np.uint16))
    assert isinstance(read_movie(tmp_path / "m.tif").data, np.memmap)


def test_movie_params_validation():
    with pytest.raises(ParameterError, match="size"):
        MovieParams(size=(10.0,))
    with pytest.raises(ParameterError, match="size"):
        MovieParams(size=(10.5, 10.0))
    with pytest.raises(ParameterError, match="snr"):
        MovieParams(snr=-1.0)
    with pytest.raises(InputError, match="snr3"):
        movie_preset("snr3")


def test_write_simulation_movie_and_read_it_back(tmp_path):
    sim = simulate(SimulationParams(particles=5, frames=6, field_of_view=48.0, seed=2))
    path = write_simulation_movie(sim, tmp_path, MovieParams(snr=7.0, seed=1))
    assert path == tmp_path / "movie.tif"
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].axes == "TYX"
    movie = read_movie(path).data
    assert movie.shape == (6, 48, 48)
    np.testing.assert_array_equal(movie, render_movie(sim, MovieParams(snr=7.0, seed=1)))
    assert not list(tmp_path.glob(".*tmp"))            # nothing half-written left


def test_3d_round_trip(tmp_path):
    movie = np.arange(2 * 3 * 8 * 9, dtype=np.uint16).reshape(2, 3, 8, 9)
    write_movie(tmp_path / "m.tif", movie)
    np.testing.assert_array_equal(read_movie(tmp_path / "m.tif").data, movie)


def test_imagej_stack_of_slices_reads_as_time(tmp_path):
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((5, 16, 16), np.uint16), imagej=True)
    assert read_movie(tmp_path / "s.tif").data.shape == (5, 16, 16)


GRAY = {"photometric": "minisblack"}


@pytest.mark.parametrize(("array", "kwargs", "message"), [
    (np.zeros((16, 16), np.uint16), {}, "single 2-D image"),
    (np.zeros((5, 16, 16, 3), np.uint8), {}, "colour samples"),
    (np.zeros((5, 16, 16, 3), np.uint8), GRAY, "RGB"),
    (np.zeros((3, 4, 16, 16), np.uint16), {**GRAY, "metadata": {"axes": "ZTYX"}},
     "time axis must come first"),
    (np.zeros((4, 2, 16, 16), np.uint16), {**GRAY, "metadata": {"axes": "TCYX"}}, "channels"),
])
def test_bad_movie_files_name_the_file(tmp_path, array, kwargs, message):
    path = tmp_path / "bad.tif"
    tifffile.imwrite(path, array, **kwargs)
    with pytest.raises(InputError, match=message) as err:
        read_movie(path)
    assert str(path) in str(err.value)


def test_not_a_tiff_and_missing_file(tmp_path):
    junk = tmp_path / "junk.tif"
    junk.write_text("not an image")
    with pytest.raises(InputError, match="cannot read the file as TIFF"):
        read_movie(junk)
    with pytest.raises(InputError, match="file not found"):
        read_movie(tmp_path / "nope.tif")


# --- calibration, large movies, any pixel type ------------------------------------------
def test_imagej_calibration_round_trips(tmp_path):
    from napari_mpt.core.calibration import Calibration

    cal = Calibration((0.35, 0.35), 0.04, "µm", "s")
    write_movie(tmp_path / "m.tif", np.zeros((3, 8, 9), np.uint16), cal)
    movie = read_movie(tmp_path / "m.tif")
    assert movie.calibration.space_unit == "micrometer" and movie.calibration.time_unit == "second"
    assert movie.calibration.scale(2) == pytest.approx((0.04, 0.35, 0.35))
    assert movie.metadata()["pixel_size"] == pytest.approx([0.35, 0.35])
    cal3 = Calibration((1.2, 0.2, 0.2), 2.0, "micrometer", "second")
    write_movie(tmp_path / "z.tif", np.zeros((2, 4, 8, 9), np.uint16), cal3, compress=True)
    assert read_movie(tmp_path / "z.tif").calibration.scale(3) == pytest.approx((2.0, 1.2, 0.2, 0.2))
    # none stated: pixels and frames
    write_movie(tmp_path / "n.tif", np.zeros((3, 8, 9), np.uint16))
    assert not read_movie(tmp_path / "n.tif").calibration.known


def test_ome_calibration_is_read(tmp_path):
    path = tmp_path / "m.ome.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 9), np.uint16), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.108, "PhysicalSizeY": 0.108,
                               "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm",
                               "TimeIncrement": 0.05, "TimeIncrementUnit": "s"})
    cal = read_movie(path).calibration
    assert cal.scale(2) == pytest.approx((0.05, 0.108, 0.108))
    assert cal.units(2) == ("second", "micrometer", "micrometer")


def test_large_movies_stay_on_disk_and_detect_the_same(tmp_path):
    from napari_mpt.core.params import MovieParams
    from napari_mpt.detection.detect import detect

    rng = np.random.default_rng(0)
    truth = (np.repeat(np.arange(4), 10), rng.uniform(5, 43, (40, 2)))
    movie = render_movie(truth, MovieParams(snr=7.0, size=(48, 48), seed=1))
    write_movie(tmp_path / "plain.tif", movie)
    write_movie(tmp_path / "zlib.tif", movie, compress=True)
    mapped = read_movie(tmp_path / "plain.tif", in_memory_bytes=0).data
    lazy = read_movie(tmp_path / "zlib.tif", in_memory_bytes=0).data
    assert isinstance(mapped, np.memmap)
    assert type(lazy).__module__.startswith("dask")            # read frame by frame
    assert isinstance(read_movie(tmp_path / "zlib.tif").data, np.ndarray)
    want = detect(movie)
    for data in (mapped, lazy):
        got = detect(data)
        np.testing.assert_array_equal(got.frame, want.frame)
        np.testing.assert_allclose(got.coords, want.coords, atol=1e-6)


def test_empty_and_non_numeric_movies_are_refused(tmp_path):
    from napari_mpt.io import check_movie_axes

    with pytest.raises(InputError, match="no frames"):
        check_movie_axes(np.zeros((0, 16, 16)), "empty")
    with pytest.raises(InputError, match="integers or floats"):
        check_movie_axes(np.zeros((3, 16, 16), complex), "complex")
