"""Drift estimated from the tracks (trackpy's compute_drift semantics), its subtraction, the
warning when it is left in, and the power law (trackpy's fit_powerlaw semantics)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_stats import brownian_tracks

from napari_mpt.analysis.drift import compute_drift, subtract_drift
from napari_mpt.analysis.stats import fit_powerlaw, track_statistics
from napari_mpt.cli import main
from napari_mpt.core.data import Tracks
from napari_mpt.io import write_tracks


def drifting(particles: int, frames: int, mu: float, sigma: float,
             seed: int = 0) -> tuple[Tracks, np.ndarray]:
    """Brownian tracks plus a common drift that wanders (a slow sine in y, a ramp in x)."""
    base = brownian_tracks(particles, frames, mu, sigma, seed=seed)
    t = np.arange(frames)
    drift = np.column_stack([20 * np.sin(t / frames * 2 * np.pi), 0.05 * t])
    return Tracks(base.track_id, base.frame, base.coords + drift[base.frame]), drift


def random_tracks(rng: np.random.Generator, n_tracks: int = 30, frames: int = 40) -> Tracks:
    """Tracks of random spans with random gaps and random positions."""
    tid, frame = [], []
    for i in range(n_tracks):
        start = int(rng.integers(0, frames - 3))
        f = np.arange(start, int(rng.integers(start + 2, frames + 1)))
        f = f[rng.random(len(f)) > 0.25] if len(f) > 3 else f
        tid += [i] * len(f)
        frame += f.tolist()
    coords = rng.normal(0, 5, (len(tid), 2)) + np.asarray(frame)[:, None] * [0.3, -0.2]
    return Tracks(tid, frame, coords)


@pytest.mark.slow   # importing trackpy takes seconds
@pytest.mark.parametrize("smoothing", [0, 1, 5])
@pytest.mark.parametrize("seed", range(5))
def test_drift_is_trackpys_on_random_tracks(seed, smoothing):
    tp = pytest.importorskip("trackpy")
    pd = pytest.importorskip("pandas")
    tracks = random_tracks(np.random.default_rng(seed))
    df = pd.DataFrame({"particle": tracks.track_id, "frame": tracks.frame,
                       "y": tracks.coords[:, 0], "x": tracks.coords[:, 1]})
    theirs = tp.compute_drift(df, smoothing=smoothing)
    ours = compute_drift(tracks, smoothing)
    np.testing.assert_allclose(ours.at(theirs.index.to_numpy()), theirs[["y", "x"]].to_numpy(),
                               atol=1e-9)
    assert np.all(ours.at(np.array([tracks.frame.min()])) == 0)
    # subtracting: trackpy's subtract_drift where its drift has the frame
    sub = subtract_drift(tracks, ours)
    tm = tp.subtract_drift(df.copy(), theirs).reset_index(drop=True)
    tm = tm.sort_values(["particle", "frame"])          # our row order
    has = np.isin(tracks.frame, np.concatenate([theirs.index.to_numpy(), [tracks.frame.min()]]))
    np.testing.assert_allclose(sub.coords[has], tm[["y", "x"]].to_numpy()[has], atol=1e-9)


def test_drift_by_hand():
    # two particles; frame 1: steps (1, 0) and (3, 2) -> mean (2, 1); frame 2: one step (0, -1)
    # only (the other track's link 1 -> 3 skips frame 2 and does not count)
    t = Tracks([0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 3],
               np.array([[0, 0], [1, 0], [1, -1], [5, 5], [8, 7], [9, 9]], dtype=float))
    d = compute_drift(t)
    np.testing.assert_array_equal(d.frame, [0, 1, 2, 3])
    np.testing.assert_allclose(d.offset, [[0, 0], [2, 1], [2, 0], [2, 0]])   # frame 3: holds
    np.testing.assert_array_equal(d.pairs, [0, 2, 1, 0])
    assert d.extent == pytest.approx(np.sqrt(5))
    np.testing.assert_allclose(subtract_drift(t, d).coords[-1], [7, 9])


def test_drifting_brownian_tracks_recover_drift_and_D():
    """A wandering drift of 20 px on Brownian tracks with mu = 1 px, sigma = 0.5 px: the
    estimate is within chance of the truth, subtracting it gives back D = mu^2 / 2 and
    alpha = n = 1; left in, alpha and n read superdiffusive and a warning says why."""
    mu, sigma, n, frames = 1.0, 0.5, 200, 300
    tracks, truth = drifting(n, frames, mu, sigma)
    d = compute_drift(tracks)
    # chance: the mean of n steps of variance 2 (mu^2 + 2 sigma^2) summed over the frames
    assert d.chance == pytest.approx(np.sqrt((frames - 1) * 2 * (mu**2 + 2 * sigma**2) / n), rel=0.05)
    err = np.sqrt(((d.offset - (truth - truth[0])) ** 2).sum(axis=1)).max()
    assert err < 3 * d.chance < 20
    kept = track_statistics(tracks)
    fixed = track_statistics(tracks, drift="subtract")
    ens, ens0 = fixed.ensemble(), kept.ensemble()
    assert ens.D == pytest.approx(mu**2 / 2, rel=0.05)
    assert ens.alpha == pytest.approx(1.0, abs=0.05) and ens.n == pytest.approx(1.0, abs=0.05)
    assert ens.A == pytest.approx(2 * 2 * ens.D, rel=0.15)      # A = 2 d D (tau in frames)
    assert ens0.n > 1.2 and ens0.alpha > ens.alpha + 0.03
    warning = kept.drift_warning()
    assert warning is not None and "drift by up to 2" in warning
    assert fixed.drift_warning() is None
    assert fixed.drift.extent == pytest.approx(kept.drift.extent)   # estimated either way


def test_no_warning_without_drift():
    """Drift-free tracks: the estimated drift is the random walk of the particles' mean step,
    larger than the localisation noise but within chance, so no warning."""
    s = track_statistics(brownian_tracks(20, 1000, 1.5, 0.2))
    assert s.drift.extent > s.ensemble().loc_error      # noise alone exceeds sigma here ...
    assert s.drift_warning() is None                     # ... but not chance
    assert s.drift.extent < 3 * s.drift.chance


def test_smoothing_averages_steps():
    t = Tracks([0, 0, 0, 0, 0], [0, 1, 2, 3, 4], np.array([[0], [4], [4], [4], [8]], dtype=float))
    # steps 4, 0, 0, 4 at frames 1-4; trailing means over 2: 4, 2, 0, 2
    np.testing.assert_allclose(compute_drift(t, 2).offset[:, 0], [0, 4, 6, 6, 8])


def test_powerlaw_by_hand():
    tau = np.array([0.5, 1.0, 2.0, 4.0])
    n, A = fit_powerlaw(tau, 3.0 * tau**1.5)
    assert (n, A) == (pytest.approx(1.5), pytest.approx(3.0))
    assert np.isnan(fit_powerlaw(tau[:1], tau[:1])[0])


@pytest.mark.slow
def test_powerlaw_is_trackpys():
    tp = pytest.importorskip("trackpy")
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    msd = np.abs(rng.normal(1, 0.3, 30)) * np.arange(1, 31)
    msd[[4, 9]] = np.nan        # trackpy's fit drops NaN rows, ours too
    series = pd.Series(msd, index=np.arange(1, 31) / 24.0)
    theirs = tp.utils.fit_powerlaw(series.dropna(), plot=False)
    ours = fit_powerlaw(series.index.to_numpy(), msd)
    assert ours == (pytest.approx(theirs["n"].iloc[0]), pytest.approx(theirs["A"].iloc[0]))


def test_analyze_drift_option_and_warning(tmp_path, capsys):
    tracks, _ = drifting(30, 300, 1.0, 0.5)
    path = tmp_path / "tracks.csv"
    write_tracks(path, tracks)
    out = tmp_path / "stats.csv"
    assert main(["analyze", str(path), "--out", str(out), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["drift"]["mode"] == "none" and plain["drift"]["extent"] > 20
    assert len(plain["warnings"]) == 1 and "--drift subtract" in plain["warnings"][0]
    assert main(["analyze", str(path), "--out", str(out), "--json", "--drift", "subtract"]) == 0
    fixed = json.loads(capsys.readouterr().out)
    assert fixed["warnings"] == [] and fixed["drift"]["mode"] == "subtract"
    assert fixed["ensemble"]["powerlaw"]["n"] == pytest.approx(1.0, abs=0.06)
    assert plain["ensemble"]["powerlaw"]["n"] > 1.2
    # the text output warns on stderr
    assert main(["analyze", str(path), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: the tracks drift" in err and "--drift subtract" in err
    with pytest.raises(SystemExit):
        main(["analyze", str(path), "--out", str(out), "--drift", "sideways"])
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


def test_api_analyze_is_the_cli_and_the_core():
    from napari_mpt import api

    tracks, _ = drifting(20, 100, 1.0, 0.5)
    s = api.analyze(tracks, api.StatsParams(drift="subtract", pixel_size=0.2))
    same = track_statistics(tracks, drift="subtract", pixel_size=0.2)
    assert s.ensemble().D == same.ensemble().D and s.units.D == "um^2/frame"
    assert api.analyze(tracks).params == api.StatsParams()
