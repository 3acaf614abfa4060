"""LAP linking through laptrack (method ``lap``): clean scenes, gaps, ragged data, the
estimated link distance, progress/cancel and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mpt import api
from napari_mpt.cli import main
from napari_mpt.core.data import Detections
from napari_mpt.core.errors import Cancelled, InputError, ParameterError
from napari_mpt.core.params import LAPParams
from napari_mpt.core.results import RunControl
from napari_mpt.evaluation.metrics import link_jaccard
from napari_mpt.trackers.lap import estimate_link_distance, link_settings, track_lap

pytest.importorskip("laptrack")


def chains(tracks) -> set[tuple[int, ...]]:
    """Each track as the tuple of detection rows it took, in frame order."""
    return {tuple(tracks.detection[tracks.track_id == t]) for t in tracks.ids()}


def truth_chains(truth, keep=None) -> set[tuple[int, ...]]:
    """The truth's chains, with detections outside ``keep`` (missed spots) left out and
    the rest renumbered to their row in the kept table."""
    new = np.arange(truth.detection.max() + 1) if keep is None else np.full(
        truth.detection.max() + 1, -1)
    if keep is not None:
        new[keep] = np.arange(len(keep))
    out = set()
    for t in truth.ids():
        rows = new[truth.detection[truth.track_id == t]]
        out.add(tuple(int(r) for r in rows if r >= 0))
    return out


@pytest.fixture(scope="module")
def clean():
    # 40 particles in 512 x 512 px (nearest neighbour ~40 px away), Brownian steps and
    # localisation noise of 0.5 px: no two particles come close enough to be confused
    return api.simulate(api.SimulationParams(particles=40, frames=60, process_noise=0.5,
                                             measurement_noise=0.5, seed=2))


def test_clean_low_density_scene_is_linked_perfectly(clean):
    res = api.track(clean.detections, LAPParams())
    assert res.method == "lap" and res.info["link_distance_estimated"]
    assert chains(res.tracks) == truth_chains(clean.truth)
    assert link_jaccard(res.tracks, clean.truth).jaccard == 1.0
    # LAP takes detections as they are: its positions are the detections'
    np.testing.assert_array_equal(res.tracks.coords, clean.detections.coords[res.tracks.detection])
    assert res.flops.value == 0 and res.flops.source == "none" and "laptrack" in res.flops.detail
    assert res.wall_s > 0


def test_gaps_are_closed_with_no_vertex_in_the_gap(clean):
    rng = np.random.default_rng(0)
    det, truth = clean.detections, clean.truth
    # drop 30 detections, never two of one particle within 3 frames, nor at its ends
    missed = set()
    for t in rng.permutation(truth.ids())[:30]:
        rows = truth.detection[truth.track_id == t]
        missed.add(int(rows[rng.integers(1, len(rows) - 1)]))
    keep = np.setdiff1d(np.arange(len(det)), sorted(missed))
    sub = Detections(det.frame[keep], det.coords[keep], source="gappy")
    expected = truth_chains(truth, keep)

    res = api.track(sub, LAPParams(gap_closing_frames=1))
    assert chains(res.tracks) == expected
    assert len(res.tracks) == len(sub)              # a vertex per detection taken, no more
    assert (res.tracks.detection >= 0).all()
    frames = res.tracks.frame
    jumps = np.diff(frames)[np.diff(res.tracks.track_id) == 0]
    assert (jumps == 2).sum() == 30 and set(jumps) == {1, 2}

    # without gap closing each bridged gap splits a track in two
    res0 = api.track(sub, LAPParams(gap_closing_frames=0))
    assert len(res0.tracks.ids()) == len(truth.ids()) + 30


def test_an_empty_frame_in_the_middle_is_bridged():
    # two particles, frame 2 lost entirely
    frame = [0, 0, 1, 1, 3, 3, 4, 4]
    coords = [[0, 0], [50, 50], [1, 0], [50, 51], [3, 0], [50, 53], [4, 0], [50, 54]]
    det = Detections(frame, coords)
    res = track_lap(det, LAPParams(max_link_distance=2.5, gap_closing_frames=1))
    assert chains(res.tracks) == {(0, 2, 4, 6), (1, 3, 5, 7)}
    res = track_lap(det, LAPParams(max_link_distance=2.5, gap_closing_frames=0))
    assert chains(res.tracks) == {(0, 2), (1, 3), (4, 6), (5, 7)}


def test_one_spot_frames_and_clutter_become_short_tracks():
    det = Detections([0, 1, 1, 2], [[0, 0], [1, 0], [90, 90], [2, 0]])
    res = track_lap(det, LAPParams(max_link_distance=3))
    assert chains(res.tracks) == {(0, 1, 3), (2,)}
    assert res.tracks.track_id[res.tracks.detection == 2].tolist() == [1]   # ids by first frame


def test_estimated_link_distance_by_hand():
    # nearest next-frame distances: 1 (0 -> 2) and 2 (1 -> 3); median 1.5, times 4
    det = Detections([0, 0, 1, 1], [[0, 0], [10, 0], [1, 0], [10, 2]])
    assert estimate_link_distance(det) == pytest.approx(6.0)
    s = link_settings(det, LAPParams(gap_closing_frames=3))
    assert s["max_link_distance"] == pytest.approx(6.0)
    assert s["gap_closing_distance"] == pytest.approx(6.0 * 2.0)     # x sqrt(3 + 1)
    s = link_settings(det, LAPParams(max_link_distance=7, gap_closing_distance=9))
    assert (s["max_link_distance"], s["gap_closing_distance"]) == (7, 9)
    assert not s["link_distance_estimated"]
    # no two consecutive frames: laptrack's own default (15 px)
    assert estimate_link_distance(Detections([0, 2], [[0, 0], [1, 1]])) is None
    assert link_settings(Detections([0, 2], [[0, 0], [1, 1]]), LAPParams())[
        "max_link_distance"] == 15.0


def test_progress_and_cancel():
    det = Detections([0, 1], [[0, 0], [1, 0]])
    seen = []
    track_lap(det, LAPParams(), RunControl(progress=lambda d, t: seen.append((d, t))))
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    with pytest.raises(Cancelled):
        track_lap(det, LAPParams(), RunControl(should_stop=lambda: True))


def test_bad_input_and_parameters():
    with pytest.raises(InputError, match="no detections"):
        track_lap(Detections(np.zeros(0, int), np.zeros((0, 2))), LAPParams())
    with pytest.raises(InputError, match="row 1: NaN"):
        track_lap(Detections([0, 1], [[0, 0], [np.nan, 0]]), LAPParams())
    with pytest.raises(ParameterError, match="max_link_distance"):
        LAPParams(max_link_distance=-1)
    assert LAPParams().label() == "LAP d=auto gap=1"
    assert LAPParams(max_link_distance=4).label() == "LAP d=4 gap=1"


def test_cli_lap_on_a_ragged_trackpy_csv(tmp_path, capsys):
    from format_samples import trackpy_csv

    spots = tmp_path / "spots.csv"
    counts = trackpy_csv(spots)
    out = tmp_path / "T.csv"
    assert main(["track", str(spots), "--method", "lap", "--max-link-distance", "6",
                 "--gap-closing-frames", "2", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "lap" and report["flops_source"] == "none"
    assert report["params"] == {"max_link_distance": 6.0, "gap_closing_frames": 2,
                                "gap_closing_distance": 0.0}
    assert report["max_link_distance"] == 6.0
    assert report["gap_closing_distance"] == pytest.approx(6 * 3 ** 0.5)
    header = out.read_text().splitlines()[0].split(",")
    assert header[:6] == ["track_id", "frame", "y", "x", "detection", "particle"]
    assert header[6:] == ["link_confidence", "y_detection", "x_detection"]
    rows = out.read_text().splitlines()[1:]
    assert len(rows) == sum(counts)
    xml = tmp_path / "T.xml"
    assert main(["track", str(spots), "--method", "lap", "--out", str(xml)]) == 0
    assert "TrackContestISBI2012" in xml.read_text()
    assert "LAP d=auto gap=1" in capsys.readouterr().out


def test_cli_lap_on_a_trackmate_export(tmp_path, capsys):
    from format_samples import TM_HEADER, TM_LABELS, TM_ROWS

    spots = tmp_path / "export.csv"
    spots.write_text(TM_HEADER + TM_LABELS + TM_ROWS)
    out = tmp_path / "T.csv"
    assert main(["track", str(spots), "--method", "lap", "--max-link-distance", "2",
                 "--out", str(out), "--json"]) == 0
    json.loads(capsys.readouterr().out)
    from napari_mpt.io import read_tracks

    t = read_tracks(out)
    # spots 10 -> 11 (1.1 px apart) and 13 -> 14 (2 frames, 0.7 px: a gap) are linked;
    # the untracked spot 12 at (50, 40) stays alone
    assert chains(t) == {(0, 1), (2,), (3, 4)}
    np.testing.assert_array_equal(t.features["x_detection"], t.coords[:, 1])
