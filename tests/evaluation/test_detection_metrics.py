"""Detection metrics against hand-computed counts, distances and scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from napari_mpt.cli import main
from napari_mpt.core.data import Detections, Tracks
from napari_mpt.core.errors import InputError, ParameterError
from napari_mpt.evaluation.detections import evaluate_detections, match_frame
from napari_mpt.io import write_detections, write_tracks

# frame 0: truth (0, 0) and (10, 10); detections (0.3, 0.4) at 0.5 px, (10, 11.5) at 1.5 px
# and (50, 50), spurious.  frame 1: truth (5, 5), nothing detected.  frame 2: a detection
# and no truth.
DET = Detections(np.array([0, 0, 0, 2]), np.array([[0.3, 0.4], [10.0, 11.5], [50.0, 50.0],
                                                   [3.0, 3.0]]))
TRUTH = Tracks(np.array([0, 1, 0]), np.array([0, 0, 1]), np.array([[0.0, 0.0], [10.0, 10.0],
                                                                   [5.0, 5.0]]))


def test_hand_computed_scores():
    s = evaluate_detections(DET, TRUTH)
    assert (s.tp, s.fp, s.fn) == (2, 2, 1)
    assert s.precision == pytest.approx(2 / 4)
    assert s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(4 / 7)                      # 2 tp / (2 tp + fp + fn)
    assert s.rmse == pytest.approx(math.sqrt((0.25 + 2.25) / 2))   # 1.1180
    frames = s.per_frame()
    assert frames[0]["tp"] == 2 and frames[0]["fp"] == 1 and frames[0]["fn"] == 0
    assert frames[0]["precision"] == pytest.approx(2 / 3) and frames[0]["recall"] == 1.0
    assert frames[1]["recall"] == 0.0 and math.isnan(frames[1]["precision"])
    assert frames[2]["fp"] == 1 and math.isnan(frames[2]["recall"])
    assert math.isnan(frames[1]["rmse"])


def test_gate_is_inclusive_and_tighter_gates_lose_matches():
    assert evaluate_detections(DET, TRUTH, max_distance=1.5).tp == 2
    s = evaluate_detections(DET, TRUTH, max_distance=1.0)
    assert (s.tp, s.fp, s.fn) == (1, 3, 2) and s.rmse == pytest.approx(0.5)


def test_one_to_one_matching_is_optimal_not_greedy():
    # truth A=(0,0), B=(0,2.5); detections d1=(0,1.2), d2=(0,-0.9).  Greedy nearest pairs
    # d1 with A (1.2 < 1.3) and leaves d2 3.4 px from B: one match.  The assignment pairs
    # d2-A (0.9) and d1-B (1.3): two matches.
    i, j = match_frame(np.array([[0.0, 1.2], [0.0, -0.9]]), np.array([[0.0, 0.0], [0.0, 2.5]]), 2.0)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_more_matches_beat_a_smaller_total_distance():
    # d1 = (0, 0) sits on A = (0, 0) and is 1.9 px from B = (-1.9, 0); d2 = (1, 1.7) is
    # sqrt(1 + 2.89) = 1.972 px from A and sqrt(8.41 + 2.89) = 3.362 px from B.  The least
    # total distance, d1-A + d2-B = 3.362 < 1.9 + 1.972, keeps one pair within 2 px; the
    # gate-first cost keeps two: d1-B and d2-A.
    det = np.array([[0.0, 0.0], [1.0, 1.7]])
    truth = np.array([[0.0, 0.0], [-1.9, 0.0]])
    i, j = match_frame(det, truth, 2.0)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (1, 0)]


def test_arrays_and_3d():
    det = (np.array([0, 0]), np.array([[1.0, 1.0, 1.0], [9.0, 9.0, 9.0]]))
    truth = (np.array([0]), np.array([[1.0, 2.0, 3.0]]))       # sqrt(0 + 1 + 4) = 2.236 px
    assert evaluate_detections(det, truth).tp == 0
    assert evaluate_detections(det, truth, 2.5).rmse == pytest.approx(math.sqrt(5))


def test_bad_input():
    with pytest.raises(ParameterError, match="max_distance"):
        evaluate_detections(DET, TRUTH, max_distance=0)
    with pytest.raises(InputError, match="3-D"):
        evaluate_detections(DET, (np.array([0]), np.array([[1.0, 2.0, 3.0]])))
    with pytest.raises(InputError, match="NaN"):
        evaluate_detections((np.array([0]), np.array([[np.nan, 1.0]])), TRUTH)


def test_cli_evaluate_detections(tmp_path, capsys):
    write_detections(tmp_path / "det.csv", DET)
    write_tracks(tmp_path / "truth.csv", TRUTH)
    assert main(["evaluate-detections", str(tmp_path / "det.csv"), str(tmp_path / "truth.csv"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["precision"] == pytest.approx(0.5) and out["recall"] == pytest.approx(2 / 3)
    assert out["f1"] == pytest.approx(4 / 7) and out["rmse"] == pytest.approx(1.1180, abs=1e-4)
    assert out["per_frame"]["0"]["tp"] == 2
    assert main(["evaluate-detections", str(tmp_path / "det.csv"), str(tmp_path / "truth.csv"),
                 "--max-distance", "1"]) == 0
    assert "tp 1" in capsys.readouterr().out


def test_cli_evaluate_detections_bad_file(tmp_path, capsys):
    (tmp_path / "det.csv").write_text("frame,y\n0,1\n")
    write_tracks(tmp_path / "truth.csv", TRUTH)
    assert main(["evaluate-detections", str(tmp_path / "det.csv"), str(tmp_path / "truth.csv")]) == 2
    err = capsys.readouterr().err
    assert "det.csv" in err and "missing column 'x'" in err
