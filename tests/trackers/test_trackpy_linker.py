"""trackpy as a tracker (method ``trackpy``): the same links as ``trackpy.link``, the
search range and memory estimated from the data and reported, settable, cancellable, in
the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mpt import api
from napari_mpt.cli import main
from napari_mpt.core.errors import Cancelled, InputError, ParameterError
from napari_mpt.core.params import TrackpyParams
from napari_mpt.core.results import RunControl
from napari_mpt.io import read_tracks, write_detections
from napari_mpt.trackers.lap import estimate_link_distance
from napari_mpt.trackers.trackpy_linker import MAX_ESTIMATED_MEMORY, MISS_TAIL, memory_for

trackpy = pytest.importorskip("trackpy")


def partition(tracks) -> set[tuple[int, ...]]:
    """Each track as the tuple of detection rows it took, in frame order."""
    return {tuple(tracks.detection[tracks.track_id == t].tolist()) for t in tracks.ids()}


@pytest.fixture(scope="module")
def ragged():
    """Misses, clutter, births and deaths: every frame holds another number of spots."""
    return api.simulate(api.SimulationParams(
        particles=30, frames=25, field_of_view=200, detection_probability=0.8, clutter=3,
        birth_rate=1, survival=0.97, seed=4))


def test_links_are_trackpys_own(ragged):
    """The tracks are exactly the particles ``trackpy.link`` gives on the same table with
    the same settings (the estimated ones, read back from the run's info)."""
    det = ragged.detections
    res = api.track(det, TrackpyParams())
    import pandas as pd

    df = pd.DataFrame({"frame": det.frame, "y": det.coords[:, 0], "x": det.coords[:, 1],
                       "row": np.arange(len(det))})
    trackpy.quiet()
    linked = trackpy.link(df, res.info["search_range"], memory=res.info["memory"],
                          adaptive_stop=res.info["adaptive_stop"])
    theirs = {tuple(g.sort_values("frame")["row"].tolist()) for _, g in linked.groupby("particle")}
    assert partition(res.tracks) == theirs
    assert sorted(res.tracks.detection.tolist()) == list(range(len(det)))   # every spot once
    np.testing.assert_array_equal(res.tracks.coords, det.coords[res.tracks.detection])
    assert res.method == "trackpy" and res.flops.source == "none"


def test_estimates_are_reported_and_settings_override_them(ragged):
    det = ragged.detections
    res = api.track(det, TrackpyParams())
    assert res.info["search_range_estimated"] and res.info["memory_estimated"]
    assert res.info["search_range"] == pytest.approx(estimate_link_distance(det))
    p_d = res.info["detection_probability"]
    assert 0.6 < p_d < 0.95                          # simulated P_D = 0.8 (clutter adds some)
    assert res.info["memory"] == memory_for(p_d) >= 1
    assert res.info["adaptive_stop"] == pytest.approx(0.1 * res.info["search_range"])
    fixed = api.track(det, TrackpyParams(search_range=4.0, memory=0, adaptive_stop=1.0))
    assert not fixed.info["search_range_estimated"] and not fixed.info["memory_estimated"]
    assert (fixed.info["search_range"], fixed.info["memory"], fixed.info["adaptive_stop"]) == (
        4.0, 0, 1.0)
    assert fixed.label == "trackpy d=4 memory=0" and res.label == "trackpy d=auto memory=auto"


def test_memory_is_the_fewest_frames_that_cover_the_runs_of_misses():
    for p_d in (1.0, 0.999, 0.95, 0.9, 0.7, 0.5, 0.2, 0.05):
        brute = next(m for m in range(1000) if (1 - p_d) ** (m + 1) <= MISS_TAIL)
        assert memory_for(p_d) == min(brute, MAX_ESTIMATED_MEMORY), p_d


def test_clean_data_needs_no_memory():
    sim = api.simulate(api.SimulationParams(particles=20, frames=30, seed=1,
                                            process_noise=0.5, measurement_noise=0.3))
    res = api.track(sim.detections, TrackpyParams())
    assert res.info["memory"] == 0 and res.info["detection_probability"] == 1.0
    assert api.evaluate(res.tracks, sim.truth).association.jaccard == 1.0


def test_bad_settings_and_data_are_refused(ragged):
    with pytest.raises(ParameterError, match="memory"):
        TrackpyParams(memory=-1)
    with pytest.raises(ParameterError, match="'soon' is neither a number"):
        TrackpyParams(memory="soon")
    assert TrackpyParams(memory="estimate").memory is None and TrackpyParams(memory="2").memory == 2
    one = api.Detections(np.zeros(3, dtype=int), np.arange(6.0).reshape(3, 2), source="x.csv")
    with pytest.raises(InputError, match=r"x\.csv: need at least 2 frames"):
        api.track(one, TrackpyParams())


def test_progress_and_cancel(ragged):
    seen = []
    api.track(ragged.detections, TrackpyParams(), RunControl(progress=lambda d, t: seen.append((d, t))))
    frames = int(np.ptp(ragged.detections.frame)) + 1
    assert seen[0] == (0, frames) and seen[-1] == (frames, frames)
    with pytest.raises(Cancelled):
        api.track(ragged.detections, TrackpyParams(),
                  RunControl(should_stop=lambda: len(seen) > frames + 3,
                             progress=lambda d, t: seen.append(d)))


def test_cli_track_with_trackpy(ragged, tmp_path, capsys):
    write_detections(tmp_path / "det.csv", ragged.detections)
    assert main(["track", str(tmp_path / "det.csv"), "--method", "trackpy", "--memory", "2",
                 "--out", str(tmp_path / "t.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "trackpy" and out["memory"] == 2 and not out["memory_estimated"]
    assert out["search_range_estimated"] and out["params"]["memory"] == 2
    written = read_tracks(tmp_path / "t.csv")
    assert sorted(written.detection.tolist()) == list(range(len(ragged.detections)))
