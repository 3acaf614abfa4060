"""The dock widgets, reader, writer and sample data inside a real napari viewer.

Runs under Xvfb (pytest-xvfb).  Every tracker run goes through the Track widget's thread
worker and is checked against the core's own result on the same layer data.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.layers import Points, Tracks
from napari.utils.notifications import notification_manager

from napari_mpt import api
from napari_mpt.io import read_tracks, write_detections
from napari_mpt.napari.layers import FN, FP, detections_from_points, mpt_meta, tracks_from_layer
from napari_mpt.napari.sample_data import SAMPLE_DIR
from napari_mpt.napari.track_widget import TRANSFORMER
from napari_mpt.napari.transformer_controls import FROM_FILE, transformer_installed
from napari_mpt.params import MHTParams, SimulationParams

pytestmark = pytest.mark.gui
needs_transformer = pytest.mark.skipif(not transformer_installed(),
                                       reason="the transformer module is not installed")


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


def dock(viewer, name: str):
    return viewer.window.add_plugin_dock_widget("napari-mpt", name)[1]


def simulate_in(viewer, **params):
    w = dock(viewer, "Simulate")
    for k, v in params.items():
        w.form[k].value = v
    layers = w.run()
    assert len(layers) == 2, w.status.value
    return layers


def snapshot(viewer) -> list[tuple]:
    return [(layer.name, type(layer).__name__, np.array(layer.data, copy=True))
            for layer in viewer.layers]


def assert_unchanged(viewer, before: list[tuple]) -> None:
    after = snapshot(viewer)
    assert [a[:2] for a in after] == [b[:2] for b in before]
    for a, b in zip(after, before, strict=True):
        np.testing.assert_array_equal(a[2], b[2])


def last_message() -> str:
    return str(notification_manager.records[-1].message)


def run_and_wait(qtbot, track, timeout_ms: int = 60_000) -> None:
    assert track.run(), track.status.value
    qtbot.waitUntil(lambda: not track.running, timeout=timeout_ms)


# --- Simulate ------------------------------------------------------------------------
def test_simulate_controls_come_from_the_parameter_model(viewer):
    w = dock(viewer, "Simulate")
    for f in fields(SimulationParams):
        control = w.form[f.name]
        assert control.tooltip == f.metadata["help"]
        if f.metadata.get("min") is not None and hasattr(control, "min"):
            assert control.min == f.metadata["min"]
        if f.metadata.get("max") is not None and hasattr(control, "max"):
            assert control.max == f.metadata["max"]
    assert w.form["particles"].value == SimulationParams().particles == 2


def test_simulating_again_updates_the_two_layers_in_place(viewer):
    points, truth = simulate_in(viewer, frames=30, seed=3, measurement_noise=2.0)
    sim = api.simulate(SimulationParams(frames=30, seed=3, measurement_noise=2.0))
    np.testing.assert_allclose(points.data[:, 1:], sim.detections.coords)
    np.testing.assert_allclose(truth.data, sim.truth.napari_data())
    assert mpt_meta(points)["pair"] == mpt_meta(truth)["pair"]

    w = dock(viewer, "Simulate")          # the same dock widget again
    w.form["seed"].value = 4
    again = w.run()
    assert [id(x) for x in again] == [id(points), id(truth)]
    assert len(viewer.layers) == 2
    sim4 = api.simulate(SimulationParams(frames=30, seed=4, measurement_noise=2.0))
    np.testing.assert_allclose(points.data[:, 1:], sim4.detections.coords)
    np.testing.assert_allclose(truth.data, sim4.truth.napari_data())
    np.testing.assert_array_equal(truth.features["detection"], sim4.truth.detection)


def test_simulate_bad_parameter_says_which_and_keeps_layers(viewer):
    simulate_in(viewer, frames=20)
    before = snapshot(viewer)
    w = dock(viewer, "Simulate")
    w.form["drift"].value = "1, x"
    assert w.run() == []
    assert "drift" in w.status.value and "drift" in last_message()
    assert_unchanged(viewer, before)
    w.form["drift"].value = "0.5, 0.5"      # the widget keeps working
    assert len(w.run()) == 2


# --- Track: MHT ----------------------------------------------------------------------
def test_mht_run_matches_the_core(viewer, qtbot):
    points, truth = simulate_in(viewer, frames=40, seed=7, measurement_noise=6.0)
    track = dock(viewer, "Track")
    assert track.input.value == points and track.truth.value == truth
    track.mht["lookback"].value = 1
    track.mht["measurement_noise"].value = 1.0
    run_and_wait(qtbot, track)

    params = MHTParams(lookback=1, measurement_noise=1.0)
    res = api.track(detections_from_points(points), params)
    score = api.evaluate(res.tracks, tracks_from_layer(truth))
    assert score.fp + score.fn > 0, "the scene must have link errors to check"

    result = viewer.layers[res.label]
    assert isinstance(result, Tracks) and res.label == "MHT K=1"
    np.testing.assert_allclose(result.data, res.tracks.napari_data())
    np.testing.assert_array_equal(result.features["detection"], res.tracks.detection)
    np.testing.assert_array_equal(result.features["wrong_link"], score.wrong_link.astype(int))
    result.color_by = "wrong_link"          # usable for colouring

    errors = viewer.layers[f"{res.label} link errors"]
    assert len(np.unique(errors.data[:, 0])) == len(score.errors)
    etype = np.asarray(errors.features["error_type"])
    assert (etype == FP).sum() == 2 * score.fp and (etype == FN).sum() == 2 * score.fn
    assert errors.color_by == "error_type"

    readout = track.readout.value
    assert f"link Jaccard: {score.jaccard:.4f}" in readout
    assert f"TP {score.tp}  FP {score.fp}  FN {score.fn}" in readout
    assert f"FLOPs: {res.flops.value:,} ({res.flops.source})" in readout
    assert "device: cpu" in readout
    row = track.table.data.to_list()[0]
    assert row[:6] == [res.label, f"{score.jaccard:.4f}", str(score.tp), str(score.fp),
                       str(score.fn), f"{res.flops.value:,}"]
    assert row[-1].startswith("K=1, constant-velocity")
    assert track.progress.value == 100

    # a second run on the same detections adds a row; the layer of an equal label is reused
    track.mht["lookback"].value = 4
    run_and_wait(qtbot, track)
    assert [r[0] for r in track.table.data.to_list()] == ["MHT K=1", "MHT K=4"]
    assert len([x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]) == 2
    run_and_wait(qtbot, track)
    assert len([x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]) == 2

    # new detections: a new comparison (the old runs belong to the old detections)
    dock(viewer, "Simulate").form["seed"].value = 8
    dock(viewer, "Simulate").run()
    assert track.table.data.to_list() == []


def test_smoothed_mht_from_the_checkbox(viewer, qtbot):
    points, _ = simulate_in(viewer, frames=30, seed=3, measurement_noise=4.0)
    track = dock(viewer, "Track")
    track.mht["lookback"].value = 3
    track.mht["measurement_noise"].value = 4.0
    track.mht["smooth"].value = True
    run_and_wait(qtbot, track)
    res = api.track(detections_from_points(points),
                    MHTParams(lookback=3, measurement_noise=4.0, smooth=True))
    assert res.label == "MHT K=3 smoothed"
    np.testing.assert_allclose(viewer.layers[res.label].data, res.tracks.napari_data())


def test_track_without_truth_reports_no_score(viewer, qtbot):
    _points, truth = simulate_in(viewer, frames=20, seed=1)
    viewer.layers.remove(truth)
    track = dock(viewer, "Track")
    assert track.truth.value is None
    run_and_wait(qtbot, track)
    assert "no ground-truth layer" in track.readout.value
    assert not any(mpt_meta(x).get("kind") == "link_errors" for x in viewer.layers)


def test_any_points_layer_with_a_time_axis_can_be_tracked(viewer, qtbot):
    simulate_in(viewer, frames=25, seed=6, measurement_noise=3.0)
    sim = api.simulate(SimulationParams(frames=25, seed=11, measurement_noise=3.0))
    mine = viewer.add_points(np.column_stack([sim.detections.frame, sim.detections.coords]),
                             name="my spots")
    track = dock(viewer, "Track")
    track.input.value = mine
    assert track.truth.value is None         # not the simulation's truth: it is not theirs
    run_and_wait(qtbot, track)
    res = api.track(sim.detections, MHTParams())
    np.testing.assert_allclose(viewer.layers["MHT K=8"].data, res.tracks.napari_data())
    assert "no ground-truth layer" in track.readout.value


# --- Track: bad input ----------------------------------------------------------------
def test_no_points_layer(viewer):
    track = dock(viewer, "Track")
    assert track.run() is False
    assert "no Points layer" in track.status.value and "no Points layer" in last_message()
    assert len(viewer.layers) == 0


def test_points_layer_without_time_axis(viewer):
    viewer.add_points(np.random.default_rng(0).uniform(0, 50, (10, 2)), name="flat")
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    assert track.run() is False
    assert "no time axis" in track.status.value and "'flat'" in last_message()
    assert_unchanged(viewer, before)


def test_frames_with_a_missing_spot_are_refused_by_the_tracker(viewer, qtbot):
    points, _ = simulate_in(viewer, frames=20, seed=2)
    frame = points.data[:, 0]
    points.data = np.delete(points.data, np.flatnonzero(frame == 5)[0], axis=0)
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    run_and_wait(qtbot, track)
    assert "same number of detections" in track.status.value
    assert "5" in track.status.value
    assert last_message() == track.status.value
    assert_unchanged(viewer, before)
    assert track.history.records == []
    points.data = points.data[points.data[:, 0] != 10]   # a frame with no spot at all
    run_and_wait(qtbot, track)
    assert "10" in track.status.value and "no detections" in track.status.value
    assert track.history.records == []


def test_cancel_and_a_second_run_while_running(viewer, qtbot):
    simulate_in(viewer, frames=400, seed=7, measurement_noise=5.0)
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    track.mht["lookback"].value = 16         # seconds of work: time to press Cancel
    assert track.run()
    assert track.cancel_button.enabled
    qtbot.waitUntil(lambda: track.progress.value > 0 or not track.running, timeout=60_000)
    assert track.running, "the run ended before it could be cancelled"
    assert track.run() is False              # refused, not raced
    assert "already in progress" in track.status.value
    track.cancel_button.clicked.emit()
    qtbot.waitUntil(lambda: not track.running, timeout=60_000)
    assert "cancelled" in track.status.value.lower()
    assert_unchanged(viewer, before)
    assert not track.cancel_button.enabled
    track.mht["lookback"].value = 2          # the widget keeps working
    run_and_wait(qtbot, track)
    assert track.history.records[-1].label == "MHT K=2"


# --- Track: transformer --------------------------------------------------------------
def _tiny_checkpoint(folder: Path, name: str, **overrides) -> Path:
    """A transformer trained for two batches: enough to load, infer and count FLOPs."""
    from napari_mpt.transformer import train

    return train(out=folder / f"{name}.pt", progress_bar=False, frames=8,
                 experiments_per_batch=2, batches=2, d_model=8, heads=1, ff=8,
                 encoder_layers=1, decoder_layers=1, **overrides)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    if not transformer_installed():
        pytest.skip("the transformer module is not installed")
    folder = tmp_path_factory.mktemp("checkpoints")
    return {"pair": _tiny_checkpoint(folder, "tiny_pair"),
            "triple": _tiny_checkpoint(folder, "tiny_triple", particles=3)}


def _choose_file(track, path) -> None:
    track.method.value = TRANSFORMER
    track.transformer.checkpoint.value = FROM_FILE
    track.transformer.file.value = path


@needs_transformer
def test_transformer_menus_list_shipped_checkpoints_and_real_devices(viewer):
    from napari_mpt.transformer import available_checkpoints, available_devices

    track = dock(viewer, "Track")
    assert track.transformer.native.isHidden()
    track.method.value = TRANSFORMER
    assert track.mht.native.isHidden() and not track.transformer.native.isHidden()
    assert list(track.transformer.checkpoint.choices) == [*available_checkpoints(), FROM_FILE]
    assert list(track.transformer.device.choices) == available_devices()
    assert track.transformer.device.choices[0] == "cpu"
    # napari resets every menu when a layer is added or removed: the lists must survive
    if available_checkpoints():
        assert track.transformer.checkpoint.value == next(iter(available_checkpoints()))
        chosen = list(available_checkpoints())[-1]
        track.transformer.checkpoint.value = chosen
        viewer.add_points(np.zeros((1, 3)))
        assert list(track.transformer.checkpoint.choices) == [*available_checkpoints(),
                                                              FROM_FILE]
        assert track.transformer.checkpoint.value == chosen
        assert list(track.transformer.device.choices) == available_devices()


@needs_transformer
def test_transformer_run_matches_the_core(viewer, qtbot, checkpoints):
    from napari_mpt.params import TransformerParams

    points, truth = simulate_in(viewer, frames=30, seed=5, measurement_noise=1.0)
    track = dock(viewer, "Track")
    _choose_file(track, checkpoints["pair"])
    track.transformer.device.value = "cpu"
    run_and_wait(qtbot, track, timeout_ms=120_000)

    params = TransformerParams(checkpoint=str(checkpoints["pair"]), device="cpu")
    res = api.track(detections_from_points(points), params)
    score = api.evaluate(res.tracks, tracks_from_layer(truth))
    layer = viewer.layers[res.label]
    assert res.label == "tiny_pair"
    np.testing.assert_allclose(layer.data, res.tracks.napari_data())
    np.testing.assert_array_equal(layer.features["wrong_link"], score.wrong_link.astype(int))
    readout = track.readout.value
    assert f"link Jaccard: {score.jaccard:.4f}" in readout
    assert f"FLOPs: {res.flops.value:,} ({res.flops.source})" in readout
    assert "device: cpu" in readout
    row = track.table.data.to_list()[0]
    assert row[:2] == [res.label, f"{score.jaccard:.4f}"]
    assert row[-1] == f"{checkpoints['pair']}, cpu"


@needs_transformer
def test_unreadable_checkpoint_file(viewer, qtbot, tmp_path):
    simulate_in(viewer, frames=20)
    before = snapshot(viewer)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    track = dock(viewer, "Track")
    _choose_file(track, bad)
    run_and_wait(qtbot, track)
    assert "broken.pt" in track.status.value
    assert last_message() == track.status.value
    assert_unchanged(viewer, before)


@needs_transformer
def test_checkpoint_built_for_other_data(viewer, qtbot, checkpoints):
    simulate_in(viewer, frames=20)
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    _choose_file(track, checkpoints["triple"])
    run_and_wait(qtbot, track)
    assert "N=3" in track.status.value and "tiny_triple" in track.status.value
    assert_unchanged(viewer, before)
    _choose_file(track, checkpoints["pair"])      # the widget keeps working
    run_and_wait(qtbot, track)
    assert track.history.records[-1].label == "tiny_pair"


@needs_transformer
def test_cuda_where_there_is_none(viewer, qtbot, checkpoints):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    simulate_in(viewer, frames=20)
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    _choose_file(track, checkpoints["pair"])
    assert "cuda" not in track.transformer.device.choices   # the menu lists real devices
    track.transformer.device.choices = ["cpu", "cuda"]       # as if a stale menu offered it
    track.transformer.device.value = "cuda"
    run_and_wait(qtbot, track)
    assert "'cuda' is not available" in track.status.value
    assert_unchanged(viewer, before)


def test_transformer_without_a_chosen_file_is_explained(viewer):
    simulate_in(viewer, frames=20)
    track = dock(viewer, "Track")
    before = snapshot(viewer)
    track.method.value = TRANSFORMER
    track.transformer.checkpoint.value = FROM_FILE
    assert track.run() is False
    assert "no checkpoint file chosen" in track.status.value
    assert_unchanged(viewer, before)


def test_transformer_missing_from_the_installation_is_explained(viewer, monkeypatch):
    from napari_mpt.napari import transformer_controls

    simulate_in(viewer, frames=20)
    track = dock(viewer, "Track")
    before = snapshot(viewer)
    track.method.value = TRANSFORMER
    monkeypatch.setattr(transformer_controls, "transformer_installed", lambda: False)
    assert track.run() is False
    assert "not part of this installation" in track.status.value
    assert_unchanged(viewer, before)


# --- reader, writer, samples, Load spots ---------------------------------------------
def test_open_detections_csv_brings_its_truth(viewer, tmp_path):
    sim = api.simulate(SimulationParams(frames=25, seed=9))
    write_detections(tmp_path / "detections.csv", sim.detections)
    from napari_mpt.io import write_tracks

    write_tracks(tmp_path / "truth.csv", sim.truth)
    layers = viewer.open(str(tmp_path / "detections.csv"), plugin="napari-mpt")
    kinds = sorted(type(x).__name__ for x in layers)
    assert kinds == ["Points", "Tracks"]
    points = next(x for x in layers if isinstance(x, Points))
    np.testing.assert_allclose(points.data[:, 1:], sim.detections.coords)
    track = dock(viewer, "Track")
    assert track.truth.value == next(x for x in layers if isinstance(x, Tracks))
    # a tracks CSV opened directly is a Tracks layer
    (tracks,) = viewer.open(str(tmp_path / "truth.csv"), plugin="napari-mpt")
    assert isinstance(tracks, Tracks)
    np.testing.assert_allclose(tracks.data, sim.truth.napari_data())


def test_writer_round_trip_through_the_viewer(viewer, qtbot, tmp_path):
    simulate_in(viewer, frames=30, seed=7, measurement_noise=5.0)
    track = dock(viewer, "Track")
    track.mht["lookback"].value = 2
    run_and_wait(qtbot, track)
    layer = viewer.layers["MHT K=2"]
    saved = layer.save(str(tmp_path / "mht.csv"), plugin="napari-mpt")
    assert saved == [str(tmp_path / "mht.csv")]
    back = read_tracks(saved[0])
    np.testing.assert_allclose(back.napari_data(), layer.data)
    np.testing.assert_array_equal(back.features["wrong_link"], layer.features["wrong_link"])
    (reopened,) = viewer.open(saved[0], plugin="napari-mpt")
    np.testing.assert_allclose(reopened.data, layer.data)
    assert not list(tmp_path.glob(".*.tmp"))        # atomic: no temporary file left


def test_sample_data(viewer):
    viewer.open_sample("napari-mpt", "brownian_pair")
    assert sorted(type(x).__name__ for x in viewer.layers) == ["Points", "Tracks"]
    viewer.layers.clear()
    viewer.open_sample("napari-mpt", "pair_t150_sigma5")
    points = next(x for x in viewer.layers if isinstance(x, Points))
    assert points.data.shape == (300, 3)
    track = dock(viewer, "Track")
    assert track.input.value == points
    assert isinstance(track.truth.value, Tracks)


def test_load_spots_widget(viewer, tmp_path):
    w = dock(viewer, "Load spots")
    assert w.load() == [] and "choose a detections CSV" in w.status.value
    bad = tmp_path / "bad_detections.csv"
    bad.write_text("frame,y,x\n0,1\n")
    w.detections.value = bad
    assert w.load() == [] and "line 2" in w.status.value and len(viewer.layers) == 0
    w.detections.value = Path(SAMPLE_DIR) / "pair_T8_sigma1.2_detections.csv"
    layers = w.load()
    assert [isinstance(x, Tracks) for x in layers] == [True, False]
    assert isinstance(layers[1], Points)
    assert mpt_meta(layers[0])["pair"] == mpt_meta(layers[1])["pair"]


# --- LAP and other tools' files (issue 9) ----------------------------------------------
def test_lap_run_on_a_points_layer_matches_the_core(viewer, qtbot):
    from napari_mpt.napari.track_widget import LAP, MHT
    from napari_mpt.params import LAPParams

    points, truth = simulate_in(viewer, particles=20, frames=30, seed=3)
    track = dock(viewer, "Track")
    track.method.value = LAP
    assert not track.lap.native.isHidden() and track.mht.native.isHidden()
    assert track.transformer.native.isHidden()
    for f in fields(LAPParams):                       # controls from the parameter model
        assert track.lap[f.name].tooltip == f.metadata["help"]
    track.lap["max_link_distance"].value = 8.0
    track.lap["gap_closing_frames"].value = 2
    run_and_wait(qtbot, track)

    res = api.track(detections_from_points(points),
                    LAPParams(max_link_distance=8.0, gap_closing_frames=2))
    score = api.evaluate(res.tracks, tracks_from_layer(truth))
    result = viewer.layers[res.label]
    assert res.label == "LAP d=8 gap=2"
    np.testing.assert_allclose(result.data, res.tracks.napari_data())
    np.testing.assert_array_equal(result.features["detection"], res.tracks.detection)
    # the detection taken is carried beside the estimate (LAP: the same position)
    np.testing.assert_allclose(result.features["y_detection"], res.tracks.coords[:, 0])
    row = track.table.data.to_list()[0]
    assert row[:7] == [res.label, f"{score.jaccard:.4f}", str(score.tp), str(score.fp),
                       str(score.fn), "0", "none"]
    assert row[-1] == "max link distance 8, gap frames 2, gap distance auto"
    assert "laptrack" in track.readout.tooltip

    # MHT in the same run table
    track.method.value = MHT
    track.mht["lookback"].value = 1
    run_and_wait(qtbot, track)
    assert [r[0] for r in track.table.data.to_list()] == ["LAP d=8 gap=2", "MHT K=1"]


def test_trackpy_and_trackmate_files_open_as_spots_and_tracks(viewer, tmp_path):
    from test_formats import TM_HEADER, TM_LABELS, TM_ROWS, trackpy_csv

    spots = tmp_path / "trackpy_spots.csv"
    counts = trackpy_csv(spots)
    (points,) = viewer.open(str(spots), plugin="napari-mpt")
    assert isinstance(points, Points) and len(points.data) == sum(counts)
    first = spots.read_text().splitlines()[1].split(",")
    assert points.features["mass"][0] == float(first[3])      # trackpy's columns travel
    assert detections_from_points(points).features["ecc"][0] == float(first[5])

    tm = tmp_path / "trackmate.csv"
    tm.write_text(TM_HEADER + TM_LABELS + TM_ROWS)
    layers = viewer.open(str(tm), plugin="napari-mpt")
    assert sorted(type(x).__name__ for x in layers) == ["Points", "Tracks"]
    tm_points = next(x for x in layers if isinstance(x, Points))
    np.testing.assert_allclose(tm_points.data[:3], [[0, 2.0, 1.0], [1, 2.5, 2.0], [1, 50.0, 40.0]])
    tm_tracks = next(x for x in layers if isinstance(x, Tracks))
    assert sorted(np.unique(tm_tracks.data[:, 0]).tolist()) == [0, 1]

    # Load spots reads the same file as spots to track, with an ISBI XML truth
    truth = tmp_path / "truth.xml"
    from napari_mpt.io import write_isbi_xml

    write_isbi_xml(truth, read_tracks(tm))
    w = dock(viewer, "Load spots")
    w.detections.value = tm
    w.truth.value = truth
    loaded = w.load()
    assert [isinstance(x, Tracks) for x in loaded] == [True, False], w.status.value
    assert isinstance(loaded[1], Points)
    assert len(loaded[1].data) == 5 and len(loaded[0].data) == 4


def test_tracks_layer_saved_as_isbi_xml(viewer, tmp_path):
    sim = api.simulate(SimulationParams(frames=6, seed=2))
    layer = viewer.add_tracks(sim.truth.napari_data(), name="truth")
    saved = layer.save(str(tmp_path / "truth.xml"), plugin="napari-mpt")
    assert saved == [str(tmp_path / "truth.xml")]
    back = read_tracks(saved[0])
    np.testing.assert_allclose(back.coords, sim.truth.coords)
    (reopened,) = viewer.open(saved[0], plugin="napari-mpt")
    assert isinstance(reopened, Tracks) and len(reopened.data) == 12
