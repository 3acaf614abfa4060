"""From a movie to scored tracks on the command line: simulate --movie, detect, track,
evaluate-detections and evaluate, each reading what the previous one wrote."""

from __future__ import annotations

import json

import pytest

from napari_mpt.cli import main


@pytest.mark.slow
def test_movie_to_tracks_on_the_command_line(tmp_path, capsys):
    sim = tmp_path / "sim"
    assert main(["simulate", "--preset", "vesicle-low", "--frames", "12", "--particles", "40",
                 "--field-of-view", "256", "--movie", "--movie-snr", "4", "--out", str(sim)]) == 0
    assert (sim / "movie.tif").is_file()
    params = json.loads((sim / "params.json").read_text())
    assert params["movie"]["snr"] == 4.0
    spots = tmp_path / "spots.csv"
    assert main(["detect", str(sim / "movie.tif"), "--out", str(spots), "--json"]) == 0
    det = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert det["frames"] == 12
    assert main(["evaluate-detections", str(spots), str(sim / "truth.csv"), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    assert score["recall"] > 0.9 and score["precision"] > 0.9
    tracks = tmp_path / "tracks.csv"
    assert main(["track", str(spots), "--method", "lap", "--out", str(tracks)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tracks), str(sim / "truth.csv"), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["alpha"] > 0.7
    # the spots' rows are not the simulation's detection rows: no association score
    assert "association_jaccard" not in ev


def test_a_refused_movie_leaves_no_file(tmp_path, capsys):
    out = tmp_path / "big"
    code = main(["simulate", "--ndim", "3", "--particles", "5", "--frames", "400", "--movie",
                 "--out", str(out)])
    assert code == 2
    assert "napari-mpt: error" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
