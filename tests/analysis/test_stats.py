"""Track statistics: hand-computed MSD, gaps, units, and D / alpha on simulated motion."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from napari_mpt.analysis.stats import COLUMNS, track_statistics, write_stats
from napari_mpt.cli import main
from napari_mpt.core.data import Tracks
from napari_mpt.core.errors import InputError, ParameterError
from napari_mpt.core.params import SimulationParams, StatsParams
from napari_mpt.io import write_tracks
from napari_mpt.simulation.simulate import simulate_arrays


def brownian_tracks(particles: int, frames: int, mu: float, sigma: float, drift=(), seed=0,
                    ndim: int = 2) -> Tracks:
    """Measured positions of the simulator as tracks (identity known, no linking)."""
    params = SimulationParams(particles=particles, frames=frames, process_noise=mu,
                              measurement_noise=sigma, drift=drift, seed=seed, ndim=ndim)
    _, meas = simulate_arrays(params)
    t, n, d = meas.shape
    return Tracks(np.tile(np.arange(n), t), np.repeat(np.arange(t), n), meas.reshape(-1, d))


# one track seen in frames 0, 1, 3, 4 (frame 2 missing) at (y, x):
GAPPY = Tracks([7, 7, 7, 7], [0, 1, 3, 4], np.array([[0, 0], [0, 1], [0, 3], [2, 3]]))


def test_msd_by_hand_with_a_gap():
    s = track_statistics(GAPPY, max_lag=5, min_length=1)
    # lag 1: (0->1) 1, (3->4) 4; lag 2: (1->3) 4; lag 3: (0->3) 9, (1->4) 8; lag 4: (0->4) 13
    np.testing.assert_allclose(s.msd[0, :4], [2.5, 4.0, 8.5, 13.0])
    assert np.isnan(s.msd[0, 4])
    np.testing.assert_array_equal(s.msd_count[0], [2, 1, 2, 1, 0])
    assert s["n_points"][0] == 4 and s["start_frame"][0] == 0 and s["end_frame"][0] == 4
    # link speeds 1/1, 2/2 (across the gap), 2/1
    assert s["mean_speed"][0] == pytest.approx(4 / 3)


def test_fit_by_hand():
    # weighted line through (1, 2.5) w2, (2, 4) w1, (3, 8.5) w2, (4, 13) w1 with fit_lags=4:
    # S=6, Sx=14, Sy=39, Sxx=40, Sxy=116 -> slope (6*116-14*39)/(6*40-14^2) = 150/44
    s = track_statistics(GAPPY, max_lag=5, min_length=1, fit_lags=4)
    slope = 150 / 44
    assert s["D"][0] == pytest.approx(slope / 4)
    assert s["msd_offset"][0] == pytest.approx((39 - slope * 14) / 6)
    assert np.isnan(s["loc_error"][0])          # negative offset: no localisation error
    # two lags: the line through (1, 2.5) and (2, 4) -> D = 1.5 / 4, offset 1 = 4 sigma^2
    s2 = track_statistics(GAPPY, max_lag=5, min_length=1, fit_lags=2)
    assert s2["D"][0] == pytest.approx(1.5 / 4)
    assert s2["loc_error"][0] == pytest.approx(0.5)


def test_straight_line_gives_alpha_2_and_speed():
    # constant velocity (3, 4) px/frame: MSD(n) = 25 n^2 exactly
    f = np.arange(20)
    s = track_statistics(Tracks(np.zeros(20), f, np.column_stack([3.0 * f, 4.0 * f])))
    np.testing.assert_allclose(s.msd[0, :19], 25.0 * np.arange(1, 20) ** 2)
    assert s["alpha"][0] == pytest.approx(2.0)
    assert s["mean_speed"][0] == pytest.approx(5.0)


@pytest.mark.parametrize("sigma", [0.0, 1.0, 3.0])
def test_D_of_brownian_tracks_is_mu2_over_2(sigma):
    """50 tracks x 1000 frames: D within 3 % of mu^2/2 px^2/frame, with and without
    localisation noise (10 seeds: ensemble D spread 0.5 %, 0.6 %, 1.2 % for sigma 0, 1, 3;
    the naive MSD(1)/4 would be mu^2/2 + sigma^2, 9x too large at sigma=3)."""
    mu = 1.5
    s = track_statistics(brownian_tracks(50, 1000, mu, sigma))
    ens = s.ensemble()
    assert ens.D == pytest.approx(mu**2 / 2, rel=0.03)
    assert np.median(s["D"]) == pytest.approx(mu**2 / 2, rel=0.03)
    assert ens.alpha == pytest.approx(1.0, abs=0.05)
    assert np.median(s["alpha"]) == pytest.approx(1.0, abs=0.05)
    if sigma > 0:   # the offset is 2 d sigma^2: the fit recovers sigma
        assert ens.loc_error == pytest.approx(sigma, rel=0.05)
    else:
        assert abs(ens.offset) < 0.05 * mu**2


def test_D_in_3d():
    s = track_statistics(brownian_tracks(20, 1000, 1.0, 0.5, ndim=3))
    assert s.ndim == 3
    assert s.ensemble().D == pytest.approx(0.5, rel=0.03)


def test_directed_motion_has_alpha_near_2():
    s = track_statistics(brownian_tracks(10, 300, 0.3, 0.2, drift=(3.0, 4.0)))
    assert np.all(s["alpha"] > 1.9)
    assert s.ensemble().alpha == pytest.approx(2.0, abs=0.05)
    assert np.median(s["mean_speed"]) == pytest.approx(5.0, rel=0.1)


def test_gaps_change_nothing_on_average():
    """Dropping a third of the vertices at random keeps D (displacements by frame)."""
    full = brownian_tracks(30, 1000, 1.5, 1.0)
    rng = np.random.default_rng(1)
    keep = rng.random(len(full)) > 0.33
    gappy = Tracks(full.track_id[keep], full.frame[keep], full.coords[keep])
    d_full, d_gap = track_statistics(full).ensemble().D, track_statistics(gappy).ensemble().D
    assert d_gap == pytest.approx(d_full, rel=0.03)
    assert d_gap == pytest.approx(1.125, rel=0.04)
    # by row, lag 1 would mix lags 1, 2, 3...: MSD(1) would be far above 2d(D + sigma^2)
    assert track_statistics(gappy).ensemble().msd[0] == pytest.approx(4 * (1.125 + 1.0), rel=0.05)


def test_units():
    px, dt = 0.1, 0.05
    base = track_statistics(GAPPY, min_length=1)
    phys = track_statistics(GAPPY, pixel_size=px, frame_interval=dt, min_length=1)
    assert (base.units.D, phys.units.D) == ("px^2/frame", "um^2/s")
    assert phys["D"][0] == pytest.approx(base["D"][0] * px**2 / dt)
    assert phys["mean_speed"][0] == pytest.approx(base["mean_speed"][0] * px / dt)
    assert phys["msd_offset"][0] == pytest.approx(base["msd_offset"][0] * px**2)
    assert phys["duration"][0] == pytest.approx(4 * dt)
    assert phys["alpha"][0] == pytest.approx(base["alpha"][0])
    np.testing.assert_allclose(phys.tau[:3], [dt, 2 * dt, 3 * dt])
    only_px = track_statistics(GAPPY, pixel_size=px, min_length=1)
    assert only_px.units.D == "um^2/frame"


def test_min_length_and_short_tracks():
    t = Tracks([1, 1, 2, 2, 2, 3], [0, 1, 0, 1, 2, 5], np.arange(12.0).reshape(6, 2))
    s = track_statistics(t, min_length=1)
    np.testing.assert_array_equal(s["track_id"], [1, 2, 3])
    assert np.isnan(s["D"][0]) and np.isnan(s["mean_speed"][2])   # one lag / no link
    assert np.isfinite(s["D"][1])
    np.testing.assert_array_equal(track_statistics(t, min_length=3)["track_id"], [2])
    # the ensemble of a subset pools that subset's displacements only
    ens = s.ensemble(np.array([False, True, False]))
    assert ens.n_tracks == 1 and ens.count[0] == 2


def test_bad_input():
    with pytest.raises(InputError, match="two vertices in frame 1"):
        track_statistics(Tracks([1, 1, 1], [0, 1, 1], np.zeros((3, 2))), min_length=1)
    with pytest.raises(InputError, match="non-finite position in frame 1"):
        track_statistics(Tracks([1, 1], [0, 1], np.array([[0, 0], [np.nan, 0]])), min_length=1)
    with pytest.raises(ParameterError, match="fit_lags"):
        StatsParams(fit_lags=1)


def test_write_stats_opens_in_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    s = track_statistics(brownian_tracks(3, 50, 1.0, 0.5))
    write_stats(tmp_path / "s.csv", s)
    df = pd.read_csv(tmp_path / "s.csv")
    assert list(df.columns) == [*COLUMNS, "flags"]
    np.testing.assert_allclose(df["D"], s["D"])
    assert df["track_id"].tolist() == [0, 1, 2]
    assert s.to_pandas().shape == (3, len(COLUMNS) + 1)


def test_analyze_cli(tmp_path, capsys):
    tracks = tmp_path / "tracks.csv"
    write_tracks(tracks, brownian_tracks(20, 500, 1.5, 1.0))
    out, png = tmp_path / "stats.csv", tmp_path / "msd.png"
    assert main(["analyze", str(tracks), "--pixel-size", "0.1", "--frame-interval", "0.5",
                 "--out", str(out), "--plot", str(png), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tracks"] == 20 and summary["units"]["D"] == "um^2/s"
    # 1.125 px^2/frame = 1.125 * 0.01 / 0.5 um^2/s
    assert summary["ensemble"]["D"] == pytest.approx(0.0225, rel=0.05)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 and {"track_id", "n_points", "D", "alpha", "mean_speed"} <= set(rows[0])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_cli_errors(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("track_id,frame,y,x\n1,0,0,0\n1,zero,1,1\n")
    out = tmp_path / "stats.csv"
    assert main(["analyze", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "line 3" in err
    assert not out.exists()
    assert main(["analyze", str(bad), "--out", str(out), "--fit-lags", "1"]) == 2
    assert "fit_lags" in capsys.readouterr().err
