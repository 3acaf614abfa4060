"""Motility features (confinement ratio, straightness, radius of gyration, step lengths) and
the flags on fit values the data cannot support."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_stats import brownian_tracks

from napari_mpt.analysis.flags import Reason
from napari_mpt.analysis.motility import MOTILITY, step_histogram
from napari_mpt.analysis.stats import track_statistics, write_stats
from napari_mpt.cli import main
from napari_mpt.core.data import Tracks
from napari_mpt.io import write_tracks


def brute_force(tracks: Tracks) -> dict[int, dict[str, float]]:
    """The motility features track by track, by their definitions, in plain Python."""
    out = {}
    for tid in np.unique(tracks.track_id):
        x = tracks.coords[tracks.track_id == tid]
        steps = [x[i + 1] - x[i] for i in range(len(x) - 1)]
        lengths = [float(np.linalg.norm(s)) for s in steps]
        path = sum(lengths)
        net = float(np.linalg.norm(x[-1] - x[0]))
        cos = [float(steps[i] @ steps[i + 1]) / (lengths[i] * lengths[i + 1])
               for i in range(len(steps) - 1) if lengths[i] > 0 and lengths[i + 1] > 0]
        centre = x.mean(axis=0)
        out[int(tid)] = {
            "confinement_ratio": net / path if len(x) > 1 and path > 0 else np.nan,
            "straightness": float(np.mean(cos)) if cos else np.nan,
            "radius_of_gyration": float(np.sqrt(np.mean([(p - centre) @ (p - centre) for p in x]))),
        }
    return out


@pytest.mark.parametrize("seed", range(4))
def test_motility_is_its_definition_on_random_tracks(seed):
    rng = np.random.default_rng(seed)
    n = 400
    tid = rng.integers(0, 40, n)
    frame = rng.permutation(n)                        # distinct frames: no duplicates per track
    coords = rng.normal(0, 3, (n, 2 + seed % 2))
    coords[rng.random(n) < 0.1] = 0.0                 # some repeated positions: zero-length steps
    tracks = Tracks(tid, frame, coords)
    s = track_statistics(tracks, min_length=1)
    expected = brute_force(tracks)
    for name in MOTILITY:
        np.testing.assert_allclose(s[name], [expected[int(t)][name] for t in s["track_id"]],
                                   rtol=1e-10, atol=1e-12, err_msg=name)


def test_motility_by_hand():
    # an L: (0,0) -> (0,3) -> (4,3): path 7, net 5, one right angle
    L = Tracks([1, 1, 1], [0, 1, 2], np.array([[0, 0], [0, 3], [4, 3]], dtype=float))
    s = track_statistics(L, min_length=1)
    assert s["confinement_ratio"][0] == pytest.approx(5 / 7)
    assert s["straightness"][0] == pytest.approx(0.0)
    # there and back: net 0, the steps reverse
    back = Tracks([2, 2, 2], [0, 1, 2], np.array([[0, 0], [2, 0], [0, 0]], dtype=float))
    s = track_statistics(back, min_length=1)
    assert s["confinement_ratio"][0] == 0 and s["straightness"][0] == pytest.approx(-1.0)
    assert s["radius_of_gyration"][0] == pytest.approx(np.sqrt(8 / 9))
    # a straight line in physical units: ratios stay, the radius scales
    line = Tracks([3] * 5, range(5), np.column_stack([np.zeros(5), np.arange(5.0)]))
    s = track_statistics(line, min_length=1, pixel_size=0.5)
    assert s["confinement_ratio"][0] == 1 and s["straightness"][0] == pytest.approx(1.0)
    assert s["radius_of_gyration"][0] == pytest.approx(0.5 * np.sqrt(2.0))
    assert s.units.of("radius_of_gyration") == "um"


def test_brownian_straightness_and_steps():
    """Brownian steps without noise are uncorrelated (straightness ~ 0), and the one-frame
    step lengths follow the chi distribution of 2 degrees of freedom (Rayleigh)."""
    s = track_statistics(brownian_tracks(40, 500, 1.0, 0.0))
    assert abs(np.mean(s["straightness"])) < 0.02
    hist = s.step_histogram()
    assert hist.counts.sum() == 40 * 499 == len(s.steps)
    assert hist.median == pytest.approx(np.sqrt(2 * np.log(2)), rel=0.03)   # Rayleigh, scale 1
    # the Brownian curve follows the counts: within 5 % of the steps overall
    assert np.abs(hist.counts - hist.brownian).sum() < 0.05 * hist.counts.sum()
    # localisation noise makes successive steps anti-correlated, rho = -sigma^2 / (mu^2 +
    # 2 sigma^2) = -1/3 per axis; for 2-D Gaussian steps E[cos] = pi/4 rho 2F1(1/2, 1/2; 2; rho^2)
    from scipy.special import hyp2f1

    noisy = track_statistics(brownian_tracks(40, 500, 1.0, 1.0))
    rho = -1 / 3
    expected = np.pi / 4 * rho * hyp2f1(0.5, 0.5, 2, rho**2)
    assert np.mean(noisy["straightness"]) == pytest.approx(expected, abs=0.01)
    # a mask keeps only those tracks' steps
    assert s.step_histogram(s["track_id"] < 10).counts.sum() == 10 * 499


def test_step_lengths_skip_gaps():
    t = Tracks([0, 0, 0, 1, 1], [0, 1, 3, 0, 1], np.array([[0, 0], [0, 1], [0, 9], [0, 0], [3, 4]],
                                                          dtype=float))
    s = track_statistics(t, min_length=1)
    np.testing.assert_allclose(np.sort(s.steps), [1.0, 5.0])      # 1 -> 3 skips a frame
    assert step_histogram(np.zeros(0), 2).summary()["steps"] == 0


def test_flags_short_negative_and_offset():
    rng = np.random.default_rng(0)
    # a stuck particle seen 30 times: the MSD is flat noise, D <= 0 for most seeds
    stuck = Tracks(np.zeros(30), np.arange(30), rng.normal(0, 1, (30, 2)))
    # a straight fast track of 12 points: D fine for the fit, alpha too short (< 20)
    f = np.arange(12.0)
    fast = Tracks(np.ones(12), f, np.column_stack([2 * f, f]))
    both = Tracks(np.concatenate([stuck.track_id, fast.track_id]),
                  np.concatenate([stuck.frame, fast.frame]),
                  np.concatenate([stuck.coords, fast.coords]))
    s = track_statistics(both, min_length=1)
    if s["D"][0] <= 0:
        assert s.flags["D"][0] == Reason.NOT_GROWING and s.flags["alpha"][0] == Reason.NOT_GROWING
        assert "does not grow" in s.why("D", 0)
    assert s.flags["D"][1] == Reason.OK and s.supported("D")[1]
    assert s.flags["alpha"][1] == Reason.SHORT and not s.supported("alpha")[1]
    assert "12 points" in s.why("alpha", 1) and "alpha_min_points" in s.why("alpha", 1)
    # straight line: the linear D fit's intercept is negative -> no localisation error
    assert s.flags["loc_error"][1] == Reason.NEGATIVE_OFFSET and np.isnan(s["loc_error"][1])
    assert s.why("mean_speed", 1) == ""
    # thresholds are parameters
    s2 = track_statistics(both, min_length=1, alpha_min_points=12, fit_min_points=13)
    assert s2.flags["alpha"][1] == Reason.OK and s2.flags["D"][1] == Reason.SHORT
    assert "13 (fit_min_points)" in s2.why("D", 1)


def test_flags_on_short_brownian_tracks():
    """The issue's case: short tracks of a real run gave negative D and alpha of -0.48 and
    2.94.  Every such value is flagged, and no supported D is negative."""
    rng = np.random.default_rng(1)
    lengths = rng.integers(4, 40, 300)
    tid = np.repeat(np.arange(300), lengths)
    frame = np.concatenate([np.arange(n) for n in lengths])
    steps = rng.normal(0, 1, (len(tid), 2))
    coords = np.concatenate([np.cumsum(steps[tid == i], axis=0) for i in range(300)])
    coords += rng.normal(0, 1.0, coords.shape)
    s = track_statistics(Tracks(tid, frame, coords), min_length=1)
    D, alpha, n = s["D"], s["alpha"], s["n_points"]
    assert (D < 0).sum() > 5 and ((alpha < 0) | (alpha > 2)).sum() > 5   # what the fits return
    assert not np.any(s.supported("D") & (D <= 0))
    assert not np.any(s.supported("alpha") & (n < 20))
    assert np.all(s.supported("D") == ((n >= 10) & (D > 0)))
    summary = s.summary()
    assert summary["median_D"] == pytest.approx(np.median(D[s.supported("D")]))
    assert summary["flagged"]["D"] == int((~s.supported("D")).sum())


def test_csv_and_json_carry_features_and_flags(tmp_path, capsys):
    tracks = brownian_tracks(6, 15, 1.0, 0.5)
    path, out = tmp_path / "t.csv", tmp_path / "s.csv"
    write_tracks(path, tracks)
    assert main(["analyze", str(path), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert set(MOTILITY) <= set(rows[0]) and "flags" in rows[0]
    assert all("alpha:short" in r["flags"] for r in rows)        # 15 points < 20
    assert summary["flagged"]["alpha"] == 6 and summary["median"]["alpha"] is None
    assert summary["steps"]["steps"] == 6 * 14 and len(summary["steps"]["edges"]) == \
        len(summary["steps"]["counts"]) + 1
    assert summary["median"]["confinement_ratio"] is not None
    assert summary["units"]["powerlaw_A"] == "px^2/frame^n"
    s = track_statistics(tracks)
    write_stats(tmp_path / "again.csv", s)
    assert (tmp_path / "again.csv").read_text() == out.read_text()


def test_analyze_reads_units_from_a_calibrated_file(tmp_path, capsys):
    """A TrackMate XML's calibration (0.2 um, 0.5 s) gives analyze its units; an option
    given overrides it."""
    from napari_mpt.core.calibration import Calibration

    tracks = brownian_tracks(5, 30, 1.0, 0.3)
    path, out = tmp_path / "t.trackmate.xml", tmp_path / "s.csv"
    write_tracks(path, tracks, Calibration((0.2, 0.2), 0.5, "micrometer", "second"))
    assert main(["analyze", str(path), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["units"]["D"] == "um^2/s" and summary["units_from_file"] == [
        "frame_interval", "pixel_size"]
    assert summary["params"]["pixel_size"] == 0.2 and summary["params"]["frame_interval"] == 0.5
    plain = track_statistics(tracks, min_length=3)
    assert summary["ensemble"]["D"] == pytest.approx(plain.ensemble().D * 0.04 / 0.5)
    assert main(["analyze", str(path), "--out", str(out), "--json", "--pixel-size", "0.1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["params"]["pixel_size"] == 0.1 and summary["units_from_file"] == ["frame_interval"]
