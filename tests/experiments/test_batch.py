"""``napari-mpt batch`` on a few small files with a local Dask cluster: per-file outputs
equal to what the single commands give, one combined table, resumable, a bad file
recorded without stopping the others, an existing cluster through --scheduler."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from datafiles import TRACKMATE

from napari_mpt import api
from napari_mpt.cli import main
from napari_mpt.core.errors import InputError
from napari_mpt.experiments.batch import find_inputs, folder_names
from napari_mpt.io import read_tracks, write_detections, write_movie

pytest.importorskip("dask.distributed")
pytest.importorskip("trackpy")
TRACKMATE_XML = TRACKMATE / "trackmate_tracks_with_gap_closing.xml"


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    sims = {}
    for seed in (1, 2):
        sim = api.simulate(api.SimulationParams(particles=8, frames=12, field_of_view=80,
                                                detection_probability=0.9, seed=seed))
        write_detections(folder / f"cell{seed}.csv", sim.detections)
        sims[f"cell{seed}"] = sim
    (folder / "cell1.trackmate.xml").write_bytes(TRACKMATE_XML.read_bytes())
    (folder / "notes.txt").write_text("not an input")
    return folder, sims


def batch(*args: str) -> int:
    return main(["batch", *args, "--method", "trackpy", "--min-length", "2", "--no-progress",
                 "--workers", "2"])


def test_batch_writes_per_file_outputs_and_one_table_and_resumes(inputs, tmp_path, capsys):
    folder, sims = inputs
    out = tmp_path / "out"
    assert batch(str(folder), "--out", str(out)) == 0
    summary = rows(out / "batch.csv")
    assert [Path(r["file"]).name for r in summary] == [
        "cell1.csv", "cell1.trackmate.xml", "cell2.csv"]           # notes.txt is no input
    assert all(not r["error"] for r in summary)
    # each file's tracks are what `track` gives on it
    for name, sim in sims.items():
        written = read_tracks(out / name / "tracks.csv")
        res = api.track(sim.detections, api.TrackpyParams())
        np.testing.assert_array_equal(written.track_id, res.tracks.track_id)
        np.testing.assert_array_equal(written.detection, res.tracks.detection)
        assert (out / name / "summary.json").is_file()
    # TrackMate's file keeps its calibration
    assert (out / "cell1.trackmate" / "tracks.csv").is_file()
    tm = next(r for r in summary if r["file"].endswith(".xml"))
    assert tm["detections"] == "134" and tm["time_unit"] == "s"
    # the combined table: every file's statistics with a file column
    combined = rows(out / "statistics.csv")
    for r in summary:
        own = rows(Path(r["out"]) / "statistics.csv")
        mine = [c for c in combined if c["file"] == r["file"]]
        assert len(mine) == len(own) > 0
        assert [m["D"] for m in mine] == [o["D"] for o in own]
    capsys.readouterr()

    # a second run reuses every file and rewrites nothing of theirs
    before = {p: p.stat().st_mtime_ns for p in out.rglob("tracks.csv")}
    assert batch(str(folder), "--out", str(out)) == 0
    assert "(0 run, 3 reused)" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("tracks.csv")} == before
    # other settings run again; so does a file whose outputs were removed
    (out / "cell2" / "tracks.csv").unlink()
    assert batch(str(folder / "cell2.csv"), "--out", str(out)) == 0
    assert "(1 run, 0 reused)" in capsys.readouterr().out
    assert batch(str(folder / "cell*.csv"), "--out", str(out), "--memory", "2") == 0
    assert "(2 run, 0 reused)" in capsys.readouterr().out


def test_a_bad_file_is_recorded_and_the_others_finish(inputs, tmp_path, capsys):
    folder, _ = inputs
    bad = folder / "broken.csv"
    bad.write_text("frame,y\n")
    out = tmp_path / "out"
    assert batch(str(folder / "*.csv"), "--out", str(out)) == 1
    err = capsys.readouterr().err
    assert f"napari-mpt: error: {bad}: " in err
    summary = {Path(r["file"]).name: r for r in rows(out / "batch.csv")}
    assert summary["broken.csv"]["error"].startswith(str(bad))
    assert not summary["cell1.csv"]["error"] and not summary["cell2.csv"]["error"]
    # mended, it alone runs again
    write_detections(bad, api.simulate(api.SimulationParams(frames=5, seed=3)).detections)
    assert batch(str(folder / "*.csv"), "--out", str(out)) == 0
    assert "(1 run, 2 reused)" in capsys.readouterr().out


def test_an_existing_cluster_through_scheduler(inputs, tmp_path, capsys):
    from dask.distributed import LocalCluster

    folder, _ = inputs
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        assert batch(str(folder / "cell2.csv"), "--out", str(tmp_path / "o"),
                     "--scheduler", cluster.scheduler_address) == 0
    assert "1 of 1 file(s) done" in capsys.readouterr().out


def test_inputs_are_found_once_and_named_apart(inputs, tmp_path):
    folder, _ = inputs
    found = find_inputs([str(folder), str(folder / "cell1.csv")])
    assert [p.name for p in found] == ["cell1.csv", "cell1.trackmate.xml", "cell2.csv"]
    assert folder_names(found) == ["cell1", "cell1.trackmate", "cell2"]
    assert folder_names([Path("a/x.csv"), Path("b/x.csv"), Path("x.tif")]) == ["x", "x-2", "x-3"]
    with pytest.raises(InputError, match=r"nothing\*\.tif: names no movie"):
        find_inputs([str(tmp_path / "nothing*.tif")])


@pytest.mark.slow
def test_movies_are_detected_tracked_and_analyzed(tmp_path, capsys):
    from napari_mpt.core.params import MovieParams
    from napari_mpt.simulation.movie import render_movie

    folder = tmp_path / "movies"
    for seed in (1, 2):
        sim = api.simulate(api.SimulationParams(particles=6, frames=10, field_of_view=64,
                                                seed=seed))
        write_movie(folder / f"m{seed}.tif", render_movie(sim, MovieParams(snr=7), frames=10))
    out = tmp_path / "out"
    assert batch(str(folder), "--out", str(out), "--tracks-format", "geff") == 0
    for seed in (1, 2):
        det = rows(out / f"m{seed}" / "detections.csv")
        assert 40 <= len(det) <= 80                      # 6 spots x 10 frames, give or take
        assert read_tracks(out / f"m{seed}" / "tracks.geff").ndim == 2
