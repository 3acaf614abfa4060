"""The napari layer conversions, reader and writer functions, without a viewer or Qt."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mht_cases import scene

pytest.importorskip("napari")

from datafiles import ROOT
from napari.layers import Points, Tracks

from napari_mpt import api
from napari_mpt.core.data import Tracks as Tracks_
from napari_mpt.core.errors import InputError
from napari_mpt.io import read_detections, read_tracks, write_detections, write_tracks
from napari_mpt.napari import layers as L
from napari_mpt.napari.reader import csv_kind, get_reader, read_csv, read_paths, truth_path_for
from napari_mpt.napari.runs import (
    COLUMNS,
    RunRecord,
    detections_key,
    format_table,
    run_label,
    seconds,
    settings_of,
)
from napari_mpt.napari.sample_data import EXAMPLES, SAMPLE_DIR, brownian_pair, example
from napari_mpt.napari.writer import write_tracks_layer


def _sim(**kw):
    return api.simulate(api.SimulationParams(**{"frames": 40, **kw}))


def test_points_layer_round_trips_detection_rows():
    sim = _sim(seed=3)
    data, kwargs, kind = L.detections_layer(sim.detections, "d")
    det = L.detections_from_points(Points(data, **{k: v for k, v in kwargs.items()
                                                   if k != "metadata"}))
    assert kind == "points"
    np.testing.assert_array_equal(det.frame, sim.detections.frame)
    np.testing.assert_allclose(det.coords, sim.detections.coords)


@pytest.mark.parametrize(("data", "needle"), [
    (np.zeros((4, 2)), "no time axis"),
    (np.column_stack([[0.5, 1, 2], np.zeros((3, 2))]), "not a whole frame number"),
    (np.zeros((3, 5)), "expected (t, y, x)"),
])
def test_points_without_usable_time_axis_are_refused_with_the_layer_named(data, needle):
    with pytest.raises(InputError, match="layer 'spots'") as err:
        L.detections_from_points(Points(data, name="spots"))
    assert needle in str(err.value)


def test_link_error_tracks_are_the_scores_errors_two_vertices_each():
    sim = _sim(seed=7, measurement_noise=6.0)
    res = api.track(sim.detections, api.MHTParams(lookback=1, measurement_noise=1.0))
    score = api.evaluate(res.tracks, sim.truth)
    assert score.errors, "this noisy pair must produce link errors"
    data, feats = L.link_error_data(score)
    layer = Tracks(data, features=feats)
    ids = np.unique(layer.data[:, 0])
    assert len(ids) == len(score.errors)
    for i, e in zip(ids, score.errors, strict=True):
        rows = layer.data[layer.data[:, 0] == i]
        assert rows[:, 1].tolist() == [e.frame_from, e.frame_to]
        np.testing.assert_allclose(rows[0, 2:], e.start)
        np.testing.assert_allclose(rows[1, 2:], e.end)
    kinds = np.asarray(layer.features["error_type"])[::2]
    assert int((kinds == L.FP).sum()) == score.fp
    assert int((kinds == L.FN).sum()) == score.fn
    # every error is its own track, so it can be coloured by type
    layer.colormaps_dict = L.error_colormaps()
    layer.color_by = "error_type"
    assert layer.color_by == "error_type"


def test_no_errors_means_no_error_layer_data():
    sim = _sim(seed=0, measurement_noise=0.0)
    score = api.evaluate(sim.truth, sim.truth)
    assert score.fp == score.fn == 0
    assert L.link_error_data(score) is None


def test_set_tracks_updates_data_then_features():
    sim = _sim(seed=1)
    data, kwargs, _ = L.truth_layer(sim.truth, "t")
    layer = Tracks(data, features=kwargs["features"])
    other = _sim(seed=2, frames=20).truth
    L.set_tracks(layer, other.napari_data(), L.tracks_features(other))
    np.testing.assert_allclose(layer.data, other.napari_data())
    np.testing.assert_array_equal(layer.features["detection"], other.detection)


def test_reader_sorts_files_into_points_tracks_or_not_ours(tmp_path):
    sim = _sim(seed=4)
    write_detections(tmp_path / "run_detections.csv", sim.detections)
    write_tracks(tmp_path / "run_truth.csv", sim.truth)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert csv_kind(str(tmp_path / "run_detections.csv")) == "detections"
    assert csv_kind(str(tmp_path / "run_truth.csv")) == "tracks"
    # a CSV in no layout is claimed, to be refused with the reason (not "refused the file"):
    # one line shown, nothing added (napari's null layer, not an exception it would show
    # with a stack trace)
    assert "other.csv: missing column 'frame'" in refused(get_reader(str(tmp_path / "other.csv")),
                                                          tmp_path / "other.csv")
    with pytest.raises(InputError, match="missing column 'frame'"):
        read_paths(str(tmp_path / "other.csv"))
    # napari's own CSV layout goes to napari's reader; other files are not ours
    (tmp_path / "napari_points.csv").write_text("index,axis-0,axis-1\n0,1.5,2.5\n")
    (layer,) = get_reader(str(tmp_path / "napari_points.csv"))(str(tmp_path / "napari_points.csv"))
    np.testing.assert_allclose(layer[0], [[1.5, 2.5]])
    assert layer[2] == "points"
    assert get_reader(str(tmp_path / "x.txt")) is None
    (tmp_path / "other.xml").write_text("<a/>")
    assert get_reader(str(tmp_path / "other.xml")) is None
    assert truth_path_for(tmp_path / "run_detections.csv") == tmp_path / "run_truth.csv"

    layers = get_reader(str(tmp_path / "run_detections.csv"))(str(tmp_path / "run_detections.csv"))
    kinds = [t[2] for t in layers]
    assert sorted(kinds) == ["points", "tracks"]
    points = next(t for t in layers if t[2] == "points")
    truth = next(t for t in layers if t[2] == "tracks")
    assert points[1]["metadata"]["napari_mpt"]["pair"] == truth[1]["metadata"]["napari_mpt"]["pair"]
    np.testing.assert_allclose(points[0][:, 1:], sim.detections.coords)
    np.testing.assert_allclose(truth[0], sim.truth.napari_data())

    # dropping both files gives the truth once, as the detections' truth
    both = get_reader([str(tmp_path / "run_detections.csv"), str(tmp_path / "run_truth.csv")])
    assert len(both([str(tmp_path / "run_detections.csv"), str(tmp_path / "run_truth.csv")])) == 2


def refused(reader, path) -> str:
    """What napari's reader ``reader`` said of ``path``, which it added nothing from."""
    from napari.utils.notifications import notification_manager

    before = len(notification_manager.records)
    assert reader(str(path)) == [(None,)]
    (said,) = notification_manager.records[before:]
    return str(said.message)


def test_reader_names_the_bad_line(tmp_path):
    path = tmp_path / "bad_detections.csv"
    path.write_text("frame,y,x\n0,1,2\n1,oops,3\n")
    assert "line 3" in refused(get_reader(str(path)), path)


def test_writer_round_trip_with_features(tmp_path):
    sim = _sim(seed=5)
    res = api.track(sim.detections, api.MHTParams(lookback=2))
    score = api.evaluate(res.tracks, sim.truth)
    data, feats = L.result_layer_data(res.tracks, score)
    layer = Tracks(data, features=feats, name="MHT K=2")
    written = write_tracks_layer(str(tmp_path / "out"), *layer.as_layer_data_tuple()[:2])
    assert written == [str(tmp_path / "out.csv")]
    back = read_tracks(written[0])
    np.testing.assert_allclose(back.napari_data(), layer.data)
    np.testing.assert_array_equal(back.detection, res.tracks.detection)
    np.testing.assert_array_equal(back.features["wrong_link"], score.wrong_link.astype(int))
    with open(written[0], newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:4] == ["track_id", "frame", "y", "x"]
    # and the plugin reads it back as a Tracks layer
    (_tdata, tkw, kind), = read_csv(written[0])
    assert kind == "tracks"
    np.testing.assert_array_equal(tkw["features"]["wrong_link"], score.wrong_link.astype(int))


def test_shipped_examples_match_their_truth():
    assert (ROOT / "sample_data" / "README.txt").is_file()
    for name in EXAMPLES:
        layers = example(name)
        assert [t[2] for t in layers] == ["tracks", "points"]
        det = read_detections(SAMPLE_DIR / f"{name}_detections.csv")
        truth = read_tracks(SAMPLE_DIR / f"{name}_truth.csv")
        # the truth's detection column points at the detection rows of its particles
        assert np.all(det.frame[truth.detection] == truth.frame)
        assert len(det) == len(truth)
    assert [t[2] for t in brownian_pair()] == ["points", "tracks"]


def test_run_records_format_what_the_core_returned():
    sim = _sim(seed=6, measurement_noise=4.0)
    params = api.MHTParams(lookback=3)
    res = api.track(sim.detections, params)
    score = api.evaluate(res.tracks, sim.truth, traccuracy=True)
    key = detections_key(L.points_data(sim.detections.frame, sim.detections.coords))
    rec = RunRecord.from_result(key, params, res, score)
    summary = score.summary()
    assert rec.label == "MHT K=3"
    assert rec.cells()[:11] == (f"{score.jaccard:.4f}", f"{summary['association_jaccard']:.4f}",
                                f"{summary['alpha']:.4f}", f"{summary['beta']:.4f}",
                                str(score.tp), str(score.fp), str(score.fn),
                                *(f"{summary[k]:.4f}" for k in ("edge_f1", "ctc_lnk", "ctc_tra",
                                                                "chota")))
    assert rec.cells()[COLUMNS.index("time")] == f"{res.wall_s:.2f} s"
    assert f"{res.flops.value:,} ({res.flops.source})" in rec.readout()
    assert f"TP {score.tp}  FP {score.fp}  FN {score.fn}" in rec.readout()
    table = format_table([rec])
    assert table.splitlines()[0].split()[:4] == ["run", "JC", "assoc", "JC"]
    assert table.splitlines()[1].split()[:3] == ["MHT", "K=3", f"{score.jaccard:.4f}"]
    # without a truth every measure is absent: "—", never a zero
    bare = RunRecord.from_result(key, params, res, None)
    assert bare.cells()[:11] == ("—",) * 11
    assert "link Jaccard: — (no ground-truth layer" in bare.readout()


def test_run_labels_say_what_differs():
    base = settings_of(api.MHTParams(lookback=8))

    def rec(label: str, **changes) -> RunRecord:
        return RunRecord("k", label, "MHT", "", 0.0, 0, "none", "cpu", base_label="MHT K=8",
                         settings={**base, **changes})

    nu1 = rec("MHT K=8", measurement_noise=1.0)
    assert run_label("MHT K=8", nu1.settings, []) == "MHT K=8"
    assert run_label("MHT K=8", {**base, "measurement_noise": 5.0}, [nu1]) == "MHT K=8 ν'=5"
    nu5 = rec("MHT K=8 ν'=5", measurement_noise=5.0)
    rw = {**base, "measurement_noise": 5.0, "motion_model": "random-walk"}
    assert run_label("MHT K=8", rw, [nu1, nu5]) == "MHT K=8 random-walk ν'=5"
    assert run_label("MHT K=8", nu1.settings, [nu1, nu5]) == "MHT K=8"   # same settings
    assert run_label("MHT K=4", nu1.settings, [nu1, nu5]) == "MHT K=4"   # other label
    smooth = {**base, "measurement_noise": 1.0, "smooth": True}
    assert run_label("MHT K=8", smooth, [nu1]) == "MHT K=8 smooth"
    assert seconds(0.153) == "0.15 s" and seconds(1234.0) == "1234 s"


def test_manifest_is_valid():
    npe2 = Path(sys.executable).with_name("npe2")
    out = subprocess.run([str(npe2), "validate", "napari-mpt"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (ROOT / "src" / "napari_mpt" / "napari.yaml").resolve() == (ROOT / "napari.yaml")


def test_demo_command_registers_without_importing_napari_qt_or_torch():
    code = ("import argparse, sys; from napari_mpt.napari import demo; "
            "p = argparse.ArgumentParser(); demo.register(p.add_subparsers()); "
            "a = p.parse_args(['demo', '--screenshot', 'x.png']); assert a.func is demo.run_demo; "
            "print(sorted(m for m in ('napari', 'torch', 'qtpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_estimated_parameters_are_shown_with_the_values_used():
    from types import SimpleNamespace

    from napari_mpt.napari.runs import describe_params

    # what the MHT returns when it chose its model and estimated its priors from the data
    chosen = {"lookback": 3, "motion_model": "switching", "process_noise": 1.52,
              "measurement_noise": 4.9, "directed_share": 0.25}
    result = SimpleNamespace(params=chosen, info={"estimated": chosen})
    assert describe_params(api.MHTParams(), "cpu", result) == (
        "K=3 est., switching est., eta'=1.52 est., nu'=4.9 est., directed 25% est., exact")
    given = api.MHTParams(lookback=3, process_noise=2.0, measurement_noise=1.0,
                          motion_model="random-walk")
    assert describe_params(given, "cpu") == "K=3, random-walk, eta'=2, nu'=1, exact"
    base = settings_of(api.MHTParams())
    earlier = [RunRecord("k", "MHT K=8", "MHT", "", 0.0, 0, "none", "cpu", base_label="MHT K=8",
                         settings={**base, "measurement_noise": 1.0})]
    assert run_label("MHT K=8", {**base, "measurement_noise": None}, earlier) == "MHT K=8 ν'=est."


def test_an_inexact_run_says_so_in_the_readout_and_the_table():
    from napari_mpt.napari.runs import RunRecord

    det, _ = scene(30, 12, p_d=0.8, clutter=5.0, fov=60.0, seed=5)
    tight = api.MHTParams(lookback=4, memory_budget_mb=1.0)
    res = api.track(det, tight)
    rec = RunRecord.from_result("k", tight, res, None)
    assert "MHT not exact" in rec.readout() and "--memory-budget-mb" in rec.readout()
    cell = dict(zip(COLUMNS, rec.cells(), strict=True))["exact"]
    assert cell.startswith("no: ") and "capped" in cell
    fine = api.track(det, api.MHTParams(lookback=1))
    ok = RunRecord.from_result("k", api.MHTParams(lookback=1), fine, None)
    assert dict(zip(COLUMNS, ok.cells(), strict=True))["exact"] == "yes"
    assert "not exact" not in ok.readout()
    lap = api.track(det, api.LAPParams())
    assert dict(zip(COLUMNS, RunRecord.from_result("k", api.LAPParams(), lap, None).cells(),
                    strict=True))["exact"] == "—"


def test_step_histogram_numbers():
    from napari_mpt.napari.step_histogram import reference_lines, step_lengths

    t = Tracks_([0, 0, 0, 1, 1], [0, 1, 3, 0, 1], [[0, 0], [3, 4], [3, 5], [9, 9], [9, 10]])
    # the tracks' steps as the statistics measure them (5 and 1 px; the gap left out)
    assert step_lengths(t).tolist() == [5.0, 1.0]
    det, _ = scene(10, 8, p_d=1.0, clutter=0.0, fov=60.0, seed=2)
    lap = api.track(det, api.LAPParams(max_link_distance=6.0, gap_closing_frames=1))
    assert reference_lines(lap)["link distance"] == 6.0 and "gap distance" in reference_lines(lap)
    assert reference_lines(api.track(det, api.MHTParams(lookback=1))) == {}
