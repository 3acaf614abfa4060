"""The dock widgets, reader, writer and sample data inside a real napari viewer.

Runs under Xvfb (pytest-xvfb).  Every tracker run goes through the Track widget's thread
worker and is checked against the core's own result on the same layer data.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.layers import Points, Tracks
from napari.utils.colormaps import AVAILABLE_COLORMAPS
from napari.utils.notifications import notification_manager
from viewer_checks import assert_unchanged, dock, run_layer, simulate_in, snapshot

from napari_mpt import api
from napari_mpt.core.params import MHTParams, SimulationParams, known_priors
from napari_mpt.io import read_tracks, write_detections
from napari_mpt.napari.layers import (
    ERROR_COLORMAP,
    FN,
    FN_COLOR,
    FP,
    FP_COLOR,
    detections_from_points,
    mpt_meta,
    tracks_from_layer,
)
from napari_mpt.napari.messages import plain
from napari_mpt.napari.sample_data import SAMPLE_DIR
from napari_mpt.napari.track_widget import TRANSFORMER
from napari_mpt.napari.transformer_controls import FROM_FILE, transformer_installed

pytestmark = pytest.mark.gui
needs_transformer = pytest.mark.skipif(not transformer_installed(),
                                       reason="the transformer module is not installed")


def from_simulation(sim: dict, **changes) -> MHTParams:
    """What the Track widget's MHT form holds for detections from the Simulate widget: the
    simulation's own priors (eta' = mu, nu' = sigma, P_D, clutter, births), then ``changes``."""
    return MHTParams(**{**known_priors(SimulationParams(**sim)), **changes})


def last_message() -> str:
    return str(notification_manager.records[-1].message)


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


def test_simulating_again_updates_the_two_layers_in_place(viewer, run_and_wait):
    points, truth = simulate_in(run_and_wait, viewer, frames=30, seed=3, measurement_noise=2.0)
    sim = api.simulate(SimulationParams(frames=30, seed=3, measurement_noise=2.0))
    np.testing.assert_allclose(points.data[:, 1:], sim.detections.coords)
    np.testing.assert_allclose(truth.data, sim.truth.napari_data())
    assert mpt_meta(points)["pair"] == mpt_meta(truth)["pair"]

    w = dock(viewer, "Simulate")          # the same dock widget again
    w.form["seed"].value = 4
    run_and_wait(w)
    assert [id(x) for x in w.layers] == [id(points), id(truth)]
    assert len(viewer.layers) == 2
    sim4 = api.simulate(SimulationParams(frames=30, seed=4, measurement_noise=2.0))
    np.testing.assert_allclose(points.data[:, 1:], sim4.detections.coords)
    np.testing.assert_allclose(truth.data, sim4.truth.napari_data())
    np.testing.assert_array_equal(truth.features["detection"], sim4.truth.detection)


def test_simulate_bad_parameter_says_which_and_keeps_layers(viewer, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=20)
    before = snapshot(viewer)
    w = dock(viewer, "Simulate")
    w.form["drift"].value = "1, x"
    assert w.run() is False
    assert "drift" in w.status.value and "drift" in last_message()
    assert_unchanged(viewer, before)
    w.form["drift"].value = "0.5, 0.5"      # the widget keeps working
    run_and_wait(w)
    assert len(w.layers) == 2


# --- Track: MHT ----------------------------------------------------------------------
def test_mht_run_matches_the_core(viewer, qtbot, run_and_wait):
    points, truth = simulate_in(run_and_wait, viewer, frames=40, seed=7, measurement_noise=6.0)
    track = dock(viewer, "Track")
    assert track.input.value == points and track.truth.value == truth
    track.mht["lookback"].value = 1
    track.mht["measurement_noise"].value = 1.0
    run_and_wait(track)

    params = from_simulation(dict(frames=40, seed=7, measurement_noise=6.0), lookback=1,
                             measurement_noise=1.0)
    res = api.track(detections_from_points(points), params)
    score = api.evaluate(res.tracks, tracks_from_layer(truth))
    assert score.fp + score.fn > 0, "the scene must have link errors to check"

    result = run_layer(viewer, res.label)
    assert isinstance(result, Tracks) and res.label == "MHT K=1"
    np.testing.assert_allclose(result.data, res.tracks.napari_data())
    np.testing.assert_array_equal(result.features["detection"], res.tracks.detection)
    np.testing.assert_array_equal(result.features["wrong_link"], score.wrong_link.astype(int))
    result.color_by = "wrong_link"          # usable for colouring

    errors = run_layer(viewer, res.label, "link_errors")
    assert len(np.unique(errors.data[:, 0])) == len(score.errors)
    etype = np.asarray(errors.features["error_type"])
    assert (etype == FP).sum() == 2 * score.fp and (etype == FN).sum() == 2 * score.fn
    assert errors.color_by == "error_type"

    # the controls name the colours drawn, not napari's default colormap
    assert errors.colormap == ERROR_COLORMAP
    assert list(AVAILABLE_COLORMAPS[ERROR_COLORMAP].colors[[0, -1]].ravel()) == \
        pytest.approx([*FP_COLOR, *FN_COLOR])
    viewer.layers.selection.active = errors
    controls = viewer.window._qt_viewer.controls.widgets[errors]
    assert controls._colormap_combobox_control.colormap_combobox.currentText() == ERROR_COLORMAP

    readout = track.readout.value
    summary = score.summary()
    assert readout.splitlines()[0] == res.label          # it names the run it describes
    assert f"link Jaccard: {score.jaccard:.4f}" in readout
    assert f"TP {score.tp}  FP {score.fp}  FN {score.fn}" in readout
    assert f"association JC: {summary['association_jaccard']:.4f}" in readout
    assert f"ISBI α: {summary['alpha']:.4f}   β: {summary['beta']:.4f}" in readout
    assert f"FLOPs: {res.flops.value:,} ({res.flops.source})" in readout
    assert "device: cpu" in readout
    assert track.table.row_headers == (res.label,)
    row = track.table.data.to_list()[0]
    assert row[:7] == [f"{score.jaccard:.4f}", f"{summary['association_jaccard']:.4f}",
                       f"{summary['alpha']:.4f}", f"{summary['beta']:.4f}", str(score.tp),
                       str(score.fp), str(score.fn)]
    named = dict(zip(track.table.column_headers, row, strict=True))
    field = api.evaluate(res.tracks, tracks_from_layer(truth), traccuracy=True).summary()
    assert [named[c] for c in ("edge F1", "LNK", "TRA", "CHOTA", "time", "FLOPs")] == [
        *(f"{field[k]:.4f}" for k in ("edge_f1", "ctc_lnk", "ctc_tra", "chota")),
        f"{track.history.records[-1].wall_s:.2f} s", f"{res.flops.value:,}"]
    # the motion model the data chose, marked as estimated: a random walk (the scene is
    # Brownian), from the run's own parameters
    assert named["parameters"].startswith(f"K=1, {res.params['motion_model']} est.")
    assert res.params["motion_model"] == "random-walk"
    assert track.progress.value == 100
    assert track.timing.value.startswith("click to result ")
    assert f"tracker {track.history.records[-1].wall_s:.2f} s" in track.timing.tooltip
    assert "drawing the layers" in track.timing.tooltip and "scoring" in track.timing.tooltip
    legend = viewer.canvas.overlays.text
    assert legend.visible and "magenta = wrong link made (FP)" in legend.text
    assert "cyan = true link missed (FN)" in legend.text

    # a second run on the same detections adds a row; the same settings again reuse a layer
    track.mht["lookback"].value = 4
    run_and_wait(track)
    assert track.table.row_headers == ("MHT K=1", "MHT K=4")
    assert len([x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]) == 2
    run_and_wait(track)
    assert len([x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]) == 2
    assert track.table.row_headers == ("MHT K=1", "MHT K=4")

    # new detections: a new comparison (the old runs belong to the old detections)
    dock(viewer, "Simulate").form["seed"].value = 8
    run_and_wait(dock(viewer, "Simulate"))
    assert track.table.data.to_list() == []


def test_smoothed_mht_from_the_checkbox(viewer, qtbot, run_and_wait):
    points, _ = simulate_in(run_and_wait, viewer, frames=30, seed=3, measurement_noise=4.0)
    track = dock(viewer, "Track")
    track.mht["lookback"].value = 3
    track.mht["measurement_noise"].value = 4.0
    track.mht["smooth"].value = True
    run_and_wait(track)
    res = api.track(detections_from_points(points),
                    from_simulation(dict(frames=30, seed=3, measurement_noise=4.0), lookback=3,
                                    measurement_noise=4.0, smooth=True))
    assert res.label == "MHT K=3 smoothed"
    np.testing.assert_allclose(run_layer(viewer, res.label).data, res.tracks.napari_data())


def test_track_without_truth_reports_no_score(viewer, qtbot, run_and_wait):
    _points, truth = simulate_in(run_and_wait, viewer, frames=20, seed=1)
    viewer.layers.remove(truth)
    track = dock(viewer, "Track")
    assert track.truth.value is None
    run_and_wait(track)
    assert "no ground-truth layer" in track.readout.value
    assert not any(mpt_meta(x).get("kind") == "link_errors" for x in viewer.layers)
    scores = ("JC", "assoc JC", "α", "β", "TP", "FP", "FN")
    row = dict(zip(track.table.column_headers, track.table.data.to_list()[0], strict=True))
    assert [row[c] for c in scores] == ["—"] * 7                 # absent measures, not zeros


def test_any_points_layer_with_a_time_axis_can_be_tracked(viewer, qtbot, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=25, seed=6, measurement_noise=3.0)
    sim = api.simulate(SimulationParams(frames=25, seed=11, measurement_noise=3.0))
    mine = viewer.add_points(np.column_stack([sim.detections.frame, sim.detections.coords]),
                             name="my spots")
    track = dock(viewer, "Track")
    track.input.value = mine
    assert track.truth.value is None         # not the simulation's truth: it is not theirs
    run_and_wait(track)
    res = api.track(sim.detections, MHTParams())
    np.testing.assert_allclose(run_layer(viewer, res.label).data, res.tracks.napari_data())
    assert "no ground-truth layer" in track.readout.value


# --- Track: bad input ----------------------------------------------------------------
def test_no_points_layer(viewer):
    track = dock(viewer, "Track")
    assert track.run() is False
    assert "no Points layer" in track.message and "no Points layer" in last_message()
    assert len(viewer.layers) == 0


def test_points_layer_without_time_axis(viewer):
    viewer.add_points(np.random.default_rng(0).uniform(0, 50, (10, 2)), name="flat")
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    assert track.run() is False
    assert "no time axis" in track.message and "'flat'" in last_message()
    assert_unchanged(viewer, before)


def test_frames_with_a_missing_spot_are_refused_by_the_tracker(viewer, qtbot, run_and_wait):
    points, _ = simulate_in(run_and_wait, viewer, frames=20, seed=2)
    frame = points.data[:, 0]
    points.data = np.delete(points.data, np.flatnonzero(frame == 5)[0], axis=0)
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    # exhaustive search scores permutations: it needs equal detection counts in every frame
    # (the exact search of a clutter-aware MHT may take the missing spot in its stride)
    track.mht["mode"].value = "exhaustive"
    run_and_wait(track)
    assert re.search(r"same number of detections|equal detection counts", track.message)
    assert last_message() == track.message
    assert_unchanged(viewer, before)
    assert track.history.records == []


def test_cancel_and_a_second_run_while_running(viewer, qtbot, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=400, seed=7, measurement_noise=5.0)
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
    run_and_wait(track)
    assert track.history.records[-1].label == "MHT K=2"


# --- Track: transformer --------------------------------------------------------------
def _tiny_checkpoint(folder: Path, name: str, **overrides) -> Path:
    """A transformer trained for two batches: enough to load, infer and count FLOPs."""
    from napari_mpt.trackers.transformer import train

    return train(out=folder / f"{name}.pt", progress_bar=False, frames=8,
                 experiments_per_batch=2, batches=2, d_model=8, heads=1, ff=8,
                 encoder_layers=1, decoder_layers=1, **overrides)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    if not transformer_installed():
        pytest.skip("the transformer module is not installed")
    folder = tmp_path_factory.mktemp("checkpoints")
    return {"pair": _tiny_checkpoint(folder, "tiny_pair"),
            "triple": _tiny_checkpoint(folder, "tiny_triple", particles=3),
            "volume": _tiny_checkpoint(folder, "tiny_volume", ndim=3)}


def _choose_file(track, path) -> None:
    track.method.value = TRANSFORMER
    if not track.transformer.loaded:
        track.transformer.refresh()      # not waiting for the menus' worker
    track.transformer.checkpoint.value = FROM_FILE
    track.transformer.file.value = path


@needs_transformer
@pytest.mark.slow
def test_transformer_menus_list_shipped_checkpoints_and_real_devices(viewer, qtbot):
    from napari_mpt.trackers.transformer import available_checkpoints, available_devices

    track = dock(viewer, "Track")
    assert track.transformer.native.isHidden()
    track.method.value = TRANSFORMER
    assert track.mht.native.isHidden() and not track.transformer.native.isHidden()
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=60_000)
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
def test_transformer_run_matches_the_core(viewer, qtbot, checkpoints, run_and_wait):
    from napari_mpt.core.params import TransformerParams

    points, truth = simulate_in(run_and_wait, viewer, frames=30, seed=5, measurement_noise=1.0)
    track = dock(viewer, "Track")
    _choose_file(track, checkpoints["pair"])
    track.transformer.device.value = "cpu"
    run_and_wait(track, timeout_ms=120_000)

    params = TransformerParams(checkpoint=str(checkpoints["pair"]), device="cpu")
    res = api.track(detections_from_points(points), params)
    score = api.evaluate(res.tracks, tracks_from_layer(truth))
    layer = run_layer(viewer, res.label)
    assert res.label == "tiny_pair"
    np.testing.assert_allclose(layer.data, res.tracks.napari_data())
    np.testing.assert_array_equal(layer.features["wrong_link"], score.wrong_link.astype(int))
    readout = track.readout.value
    assert f"link Jaccard: {score.jaccard:.4f}" in readout
    assert f"FLOPs: {res.flops.value:,} ({res.flops.source})" in readout
    assert "device: cpu" in readout
    assert track.table.row_headers == (res.label,)
    row = dict(zip(track.table.column_headers, track.table.data.to_list()[0], strict=True))
    assert row["JC"] == f"{score.jaccard:.4f}"
    assert row["parameters"] == f"{checkpoints['pair']}, cpu"


@needs_transformer
def test_unreadable_checkpoint_file(viewer, qtbot, tmp_path, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=20)
    before = snapshot(viewer)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    track = dock(viewer, "Track")
    _choose_file(track, bad)
    run_and_wait(track)
    assert "broken.pt" in track.message
    assert last_message() == track.message
    assert_unchanged(viewer, before)


@needs_transformer
def test_checkpoint_built_for_other_data(viewer, qtbot, checkpoints, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=20)
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    _choose_file(track, checkpoints["volume"])     # a 3-D model on 2-D data: refused
    run_and_wait(track)
    assert "tiny_volume" in track.message and "built for 3D coordinates" in track.message
    assert_unchanged(viewer, before)
    # the weights are per slot, not per N: a model trained on N=3 runs on a pair
    _choose_file(track, checkpoints["triple"])
    run_and_wait(track)
    assert track.history.records[-1].label == "tiny_triple"


@needs_transformer
def test_cuda_where_there_is_none(viewer, qtbot, checkpoints, run_and_wait):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    simulate_in(run_and_wait, viewer, frames=20)
    before = snapshot(viewer)
    track = dock(viewer, "Track")
    _choose_file(track, checkpoints["pair"])
    assert "cuda" not in track.transformer.device.choices   # the menu lists real devices
    track.transformer.device.choices = ["cpu", "cuda"]       # as if a stale menu offered it
    track.transformer.device.value = "cuda"
    run_and_wait(track)
    assert "'cuda' is not available" in track.message
    assert_unchanged(viewer, before)


def test_transformer_without_a_chosen_file_is_explained(viewer, qtbot, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=20)
    track = dock(viewer, "Track")
    before = snapshot(viewer)
    track.method.value = TRANSFORMER
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=60_000)
    track.transformer.checkpoint.value = FROM_FILE
    assert track.run() is False
    assert "no checkpoint file chosen" in track.message
    assert_unchanged(viewer, before)


def test_transformer_missing_from_the_installation_is_explained(viewer, monkeypatch, run_and_wait):
    from napari_mpt.napari import transformer_controls

    simulate_in(run_and_wait, viewer, frames=20)
    track = dock(viewer, "Track")
    before = snapshot(viewer)
    track.method.value = TRANSFORMER
    monkeypatch.setattr(transformer_controls, "transformer_installed", lambda: False)
    assert track.run() is False
    assert "not part of this installation" in track.message
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


def test_writer_round_trip_through_the_viewer(viewer, qtbot, tmp_path, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=30, seed=7, measurement_noise=5.0)
    track = dock(viewer, "Track")
    track.mht["lookback"].value = 2
    run_and_wait(track)
    layer = run_layer(viewer, "MHT K=2")
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
def test_lap_run_on_a_points_layer_matches_the_core(viewer, qtbot, run_and_wait):
    from napari_mpt.core.params import LAPParams
    from napari_mpt.napari.track_widget import LAP, MHT

    points, truth = simulate_in(run_and_wait, viewer, particles=20, frames=30, seed=3)
    track = dock(viewer, "Track")
    track.method.value = LAP
    assert not track.lap.native.isHidden() and track.mht.native.isHidden()
    assert track.transformer.native.isHidden()
    for f in fields(LAPParams):                       # controls from the parameter model
        assert track.lap[f.name].tooltip == f.metadata["help"]
    track.lap["max_link_distance"].value = 8.0
    track.lap["gap_closing_frames"].value = 2
    run_and_wait(track)

    res = api.track(detections_from_points(points),
                    LAPParams(max_link_distance=8.0, gap_closing_frames=2))
    score = api.evaluate(res.tracks, tracks_from_layer(truth))
    result = run_layer(viewer, res.label)
    assert res.label == "LAP d=8 gap=2"
    np.testing.assert_allclose(result.data, res.tracks.napari_data())
    np.testing.assert_array_equal(result.features["detection"], res.tracks.detection)
    # the detection taken is carried beside the estimate (LAP: the same position)
    np.testing.assert_allclose(result.features["y_detection"], res.tracks.coords[:, 0])
    assert track.table.row_headers == (res.label,)
    row = dict(zip(track.table.column_headers, track.table.data.to_list()[0], strict=True))
    assert [row[c] for c in ("JC", "TP", "FP", "FN", "FLOPs", "FLOP source")] == [
        f"{score.jaccard:.4f}", str(score.tp), str(score.fp), str(score.fn), "0", "none"]
    assert row["parameters"] == "max link distance 8, gap frames 2, gap distance auto"
    assert "laptrack" in track.readout.tooltip

    # MHT in the same run table
    track.method.value = MHT
    track.mht["lookback"].value = 1
    run_and_wait(track)
    assert track.table.row_headers == ("LAP d=8 gap=2", "MHT K=1")


def test_trackpy_and_trackmate_files_open_as_spots_and_tracks(viewer, tmp_path):
    from format_samples import TM_HEADER, TM_LABELS, TM_ROWS, trackpy_csv

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


@needs_transformer
def test_association_checkpoint_tracks_a_ragged_trackpy_file_in_the_widget(viewer, qtbot,
                                                                           tmp_path, run_and_wait):
    """The issue's done-when: a trackpy file (missed and spurious spots, an empty frame)
    opened in napari, tracked by the shipped association checkpoint from the Track widget,
    gives the core's tracks; the MHT, on the same layer, the core's too."""
    from format_samples import trackpy_csv

    from napari_mpt.core.params import TransformerParams
    from napari_mpt.napari.track_widget import MHT

    spots = tmp_path / "trackpy_spots.csv"
    trackpy_csv(spots)
    (points,) = viewer.open(str(spots), plugin="napari-mpt")
    track = dock(viewer, "Track")
    assert track.input.value is points
    track.method.value = TRANSFORMER
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=60_000)
    track.transformer.checkpoint.value = "association"
    track.transformer.device.value = "cpu"
    run_and_wait(track, timeout_ms=120_000)
    res = api.track(detections_from_points(points),
                    TransformerParams(checkpoint="association", device="cpu"))
    layer = run_layer(viewer, res.label)
    np.testing.assert_allclose(layer.data, res.tracks.napari_data())
    np.testing.assert_array_equal(layer.features["detection"], res.tracks.detection)
    assert len(np.unique(res.tracks.track_id)) > 1

    track.method.value = MHT
    track.mht["lookback"].value = 2
    run_and_wait(track, timeout_ms=120_000)
    mht = api.track(detections_from_points(points), track.mht.params())
    np.testing.assert_allclose(run_layer(viewer, mht.label).data, mht.tracks.napari_data())
    assert track.table.row_headers == (res.label, mht.label)


def test_tracks_layer_saved_as_isbi_xml(viewer, tmp_path):
    sim = api.simulate(SimulationParams(frames=6, seed=2))
    layer = viewer.add_tracks(sim.truth.napari_data(), name="truth")
    saved = layer.save(str(tmp_path / "truth.xml"), plugin="napari-mpt")
    assert saved == [str(tmp_path / "truth.xml")]
    back = read_tracks(saved[0])
    np.testing.assert_allclose(back.coords, sim.truth.coords)
    (reopened,) = viewer.open(saved[0], plugin="napari-mpt")
    assert isinstance(reopened, Tracks) and len(reopened.data) == 12


# --- issue 13: what was seen -----------------------------------------------------------
def _dock_of(widget):
    from qtpy.QtWidgets import QDockWidget

    w = widget.native
    while w is not None and not isinstance(w, QDockWidget):
        w = w.parentWidget()
    assert w is not None
    return w


def test_a_long_message_wraps_and_the_dock_keeps_its_width(make_napari_viewer, qtbot):
    from napari_mpt.napari.messages import ZWSP

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1200, 800)
    track = dock(viewer, "Track")
    qtbot.wait(50)
    dock_widget = _dock_of(track)
    width, hint = dock_widget.width(), track.native.sizeHint().width()
    window = viewer.window._qt_window.size()
    text = ("frame 0 has 31 detections, frame 1 has 30: the checkpoint "
            + "/a/very/long/folder/name" * 12 + "/transformer_150_30.pt needs the same number "
            + "in every frame " * 12)
    assert len(text) > 500
    track.say(text)
    qtbot.wait(100)
    assert dock_widget.width() == width
    assert track.native.sizeHint().width() <= hint
    assert viewer.window._qt_window.size() == window     # the canvas is not squeezed
    label = track.status.native
    assert label.wordWrap()
    line = label.fontMetrics().height()
    assert label.height() >= 5 * line                    # the whole message, on many lines
    assert label.heightForWidth(label.width()) <= label.height()
    assert track.message == text == last_message()       # readable whole, as written
    assert track.status.value.replace(ZWSP, "") == text


def test_reruns_with_other_settings_keep_their_own_layers(viewer, qtbot, run_and_wait):
    from napari_mpt.napari.track_widget import REPLACE

    simulate_in(run_and_wait, viewer, frames=20, seed=4, measurement_noise=3.0)
    track = dock(viewer, "Track")
    track.mht["lookback"].value = 2
    for nu in (1.0, 5.0):
        track.mht["measurement_noise"].value = nu
        run_and_wait(track)
    track.mht["motion_model"].value = "random-walk"
    run_and_wait(track)
    labels = ("MHT K=2", "MHT K=2 ν'=5", "MHT K=2 random-walk ν'=5")
    assert track.table.row_headers == labels
    results = [x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]
    assert tuple(mpt_meta(x)["label"] for x in results) == labels
    assert all(x.name == f"{mpt_meta(x)['label']} on detections" for x in results)
    det = detections_from_points(track.input.value)
    sim = dict(frames=20, seed=4, measurement_noise=3.0)
    for layer, params in zip(results, [from_simulation(sim, lookback=2, measurement_noise=1.0),
                                       from_simulation(sim, lookback=2, measurement_noise=5.0),
                                       from_simulation(sim, lookback=2, measurement_noise=5.0,
                                                       motion_model="random-walk")], strict=True):
        np.testing.assert_allclose(layer.data, api.track(det, params).tracks.napari_data())

    # "replace": the next run takes over the last run's layers and row
    last = results[2]
    track.rerun.value = REPLACE
    track.mht["measurement_noise"].value = 3.0
    run_and_wait(track)
    assert track.table.row_headers == ("MHT K=2", "MHT K=2 ν'=5", "MHT K=2 random-walk ν'=3")
    results = [x for x in viewer.layers if mpt_meta(x).get("kind") == "result"]
    assert [x.name for x in results] == [f"{h} on detections" for h in track.table.row_headers]
    assert results[2] is last and len(results) == 3
    errors = [x.name for x in viewer.layers if mpt_meta(x).get("kind") == "link_errors"]
    assert all(e.removesuffix(" link errors on detections") in track.table.row_headers
               for e in errors)


def test_the_track_widget_follows_new_data(viewer, qtbot, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=30, seed=2)
    # the widgets get napari's proxies of layers: compare the viewer's own objects
    first, first_truth = viewer.layers["detections"], viewer.layers["ground truth"]
    track = dock(viewer, "Track")
    track.mht["lookback"].value = 1
    run_and_wait(track)
    ours = [x for x in viewer.layers if mpt_meta(x).get("kind") in ("result", "link_errors")]
    assert ours and all(x.visible for x in ours)
    viewer.dims.set_point(0, 29)

    viewer.open_sample("napari-mpt", "pair_t8_sigma1_2")     # frames 0..7
    points = viewer.layers["pair_T8_sigma1.2_detections"]
    assert track.input.value == points                     # Run tracks the new data
    assert track.truth.value == viewer.layers["pair_T8_sigma1.2_truth"]
    assert 0 <= viewer.dims.point[0] <= 7                  # the slider is in its frames
    assert all(x in viewer.layers and not x.visible for x in ours)   # hidden, not deleted
    assert not first.visible and not first_truth.visible
    assert points.visible and track.truth.value.visible
    assert track.table.data.to_list() == [] and track.readout.value == ""

    run_and_wait(track)
    new = [x for x in viewer.layers if mpt_meta(x).get("kind") == "result" and x.visible]
    assert len(new) == 1 and mpt_meta(new[0])["source"] == mpt_meta(points)["pair"]

    track.input.value = first                              # back to the first dataset
    assert all(x.visible for x in ours) and not new[0].visible
    assert first.visible and not points.visible
    assert track.table.row_headers == ("MHT K=1",)
    assert track.readout.value.startswith("MHT K=1\n")


def test_a_refused_run_clears_the_readout(viewer, qtbot, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=20)
    track = dock(viewer, "Track")
    assert track.steps.canvas.isHidden()                   # no empty plot before a run
    run_and_wait(track)
    assert track.readout.value.startswith("MHT K=")
    assert len(track.steps.lengths) > 0                    # the run's step histogram
    assert not track.steps.canvas.isHidden()
    track.method.value = TRANSFORMER                       # refused before it starts
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=60_000)
    track.transformer.checkpoint.value = FROM_FILE
    assert track.run() is False
    assert track.readout.value == "" and len(track.steps.lengths) == 0
    assert track.steps.canvas.isHidden()
    from napari_mpt.napari.track_widget import MHT

    track.method.value = MHT
    run_and_wait(track)
    assert track.readout.value.startswith("MHT K=")
    points = track.input.value                             # refused by the tracker
    points.data = np.delete(points.data, 0, axis=0)
    track.mht["mode"].value = "exhaustive"
    run_and_wait(track)
    assert not track.message.startswith("done") and track.readout.value == ""


def test_the_transformer_menus_load_off_the_gui_thread(viewer, qtbot, run_and_wait):
    import threading

    from napari_mpt.napari.track_widget import TrackWidget
    from napari_mpt.napari.transformer_controls import Menus

    threads, release = [], threading.Event()

    def lists():
        threads.append(threading.current_thread())
        release.wait(10)                 # as slow as torch's import, until released
        return ["a", "b"], ["cpu"], {"a": "kind A: any detections", "b": "kind B"}

    simulate_in(run_and_wait, viewer, frames=20)
    track = TrackWidget(viewer, menus=Menus(lists))     # menus not preloaded yet
    viewer.window.add_dock_widget(track, name="Track")
    track.method.value = TRANSFORMER                 # returns at once: nothing waits for it
    assert not track.transformer.loaded and "loading" in track.status.value
    assert track.run() is False and "still loading" in track.message
    release.set()
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=10_000)
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert list(track.transformer.checkpoint.choices) == ["a", "b", FROM_FILE]
    # the chosen checkpoint says what it accepts, in a line and in the menu's tooltip
    assert track.transformer.description.value == "kind A: any detections"
    track.transformer.checkpoint.value = "b"
    assert track.transformer.description.value == track.transformer.checkpoint.tooltip == "kind B"


def test_progress_shows_elapsed_time_and_time_left(shown_viewer, monkeypatch):
    from napari_mpt.napari import track_widget
    from napari_mpt.napari.job import TimeLeft

    clock = type("Clock", (), {"t": 100.0, "__call__": lambda self: self.t})()
    track = dock(shown_viewer, "Track")
    monkeypatch.setattr(track_widget.time, "monotonic", clock)
    track._started = 100.0
    track._time_left = TimeLeft(clock=clock)
    for t, done in ((105.0, 0), (106.0, 10)):      # 5 s of set-up, then 10 % per second
        clock.t = t
        track._progress(done, 100)
    assert track.progress.value == 10
    assert track.timing.value == "elapsed 6.00 s · estimating the time left…"
    for t, done in ((107.0, 20), (108.0, 30)):
        clock.t = t
        track._progress(done, 100)
    # from the work done: 70 % at 10 %/s (not the 18.7 s that 8 s for 30 % would say)
    assert track.timing.value == "elapsed 8.00 s · about 7.00 s left"


def test_file_open_respects_the_users_reader_choice(shown_viewer, tmp_path, monkeypatch):
    """Issue 25 item 8: the plugin records itself as the CSV reader only when asked, and a
    bad CSV through File > Open gives its one-line refusal, not a stack-trace dialog."""
    from format_samples import trackpy_csv
    from napari._qt import qt_viewer
    from napari._qt.dialogs.qt_reader_dialog import open_with_dialog_choices
    from napari.settings import get_settings

    from napari_mpt.napari.reader import CHOSEN, OFFER, USE_FOR_CSV, csv_reader, offer_csv_reader

    viewer = shown_viewer
    dialogs = []       # File > Open asks the user to choose a reader only through this
    monkeypatch.setattr(qt_viewer, "handle_gui_reading", lambda *a, **k: dialogs.append(a))
    file_open = viewer.window._qt_viewer._qt_open      # what File > Open calls
    settings = get_settings().plugins
    settings.extension2reader = {}
    spots = tmp_path / "spots.csv"
    counts = trackpy_csv(spots)

    # napari's dialog, napari-mpt chosen without "Remember this choice": read, not recorded
    readers = {"napari": "napari builtins", "napari-mpt": "napari-mpt"}
    open_with_dialog_choices("napari-mpt", False, ".csv", readers, [str(spots)], False,
                             viewer.window._qt_viewer)
    assert len(viewer.layers["spots"].data) == sum(counts)
    assert csv_reader() is None

    # a widget offers, once per viewer, to read CSVs with the plugin; nothing is set yet
    before = len(notification_manager.records)
    dock(viewer, "Load spots")
    dock(viewer, "Track")
    offers = [n for n in notification_manager.records[before:] if n.message == OFFER]
    assert len(offers) == 1 and csv_reader() is None
    assert offer_csv_reader(viewer) is False                    # asked already
    (label, accept), = offers[0].actions
    assert label == USE_FOR_CSV
    accept(None)                                                # the user clicks the button
    assert csv_reader() == "napari-mpt" and last_message() == CHOSEN
    file_open([str(spots)], stack=False)                        # now without asking
    assert dialogs == [] and len(viewer.layers["spots [1]"].data) == sum(counts)

    # napari's own points CSV still opens (handed to napari's reader)
    mine = viewer.add_points(np.array([[1.0, 2.0], [3.0, 4.0]]), name="mine")
    (saved,) = mine.save(str(tmp_path / "napari_points.csv"), plugin="napari")
    (back,) = viewer.open(saved, plugin=None)
    np.testing.assert_allclose(back.data, mine.data)

    # bad CSVs: the reason Load spots gives, in one line; nothing added, no other dialog
    odd = tmp_path / "odd.csv"
    odd.write_text("a,b\n1,2\n")
    picture = tmp_path / "picture.csv"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    w = dock(viewer, "Load spots")
    for bad, needle in ((odd, "missing column 'frame'"), (picture, "is a PNG image, not a CSV")):
        n_layers = len(viewer.layers)
        file_open([str(bad)], stack=False)
        assert dialogs == [] and len(viewer.layers) == n_layers
        assert needle in last_message() and "\n" not in last_message()
        w.detections.value = bad
        assert w.load() == []
        assert last_message() == plain(w.status.value)

    # a reader the user chose for CSVs is left alone: no offer
    settings.extension2reader = {"*.csv": "someone-else"}
    assert offer_csv_reader(object()) is False
    assert settings.extension2reader == {"*.csv": "someone-else"}


def _has(img, color, tol: float = 40) -> int:
    target = np.asarray(color[:3]) * 255
    return int((np.abs(img[..., :3].astype(float) - target).max(axis=-1) < tol).sum())


@pytest.mark.slow
def test_side_by_side_panels_are_titled_with_a_colour_legend(make_napari_viewer, qtbot, run_and_wait):
    from napari_mpt.napari.grid import side_by_side
    from napari_mpt.napari.scene import show_whole_tracks

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1000, 700)
    simulate_in(run_and_wait, viewer, frames=30, seed=7, measurement_noise=6.0)
    track = dock(viewer, "Track")
    for k in (1, 3):
        track.mht["lookback"].value = k
        track.mht["measurement_noise"].value = 1.0
        run_and_wait(track)
    assert side_by_side(viewer)
    assert viewer.grid.enabled and viewer.grid.stride == 3
    kinds = [mpt_meta(x).get("kind") for x in viewer.layers]
    groups = [kinds[i:i + 3] for i in range(0, len(kinds), 3)]
    assert groups[0] == ["truth", "detections", "title"]
    titles = [list(x.features["text"]) for x in viewer.layers if mpt_meta(x).get("kind") == "title"]
    assert titles[0] == ["truth (grey), detections (yellow)"]
    for group, title, label in zip(groups[1:], titles[1:], ("MHT K=1", "MHT K=3"), strict=True):
        if group[1] == "link_errors":
            assert group == ["result", "link_errors", "title"]
            assert title == [label,
                             "tracks: one colour per track", "magenta: wrong link made (FP)",
                             "cyan: true link missed (FN)"]
    legend = next(x for x in viewer.layers if mpt_meta(x).get("kind") == "title"
                  and "magenta: wrong link made (FP)" in list(x.features["text"]))
    i = list(legend.features["text"]).index("magenta: wrong link made (FP)")
    assert legend.features["color"][i] == "#ff1abf"          # FP_COLOR, drawn as the text's
    assert legend.text.color.feature == "color"

    # drawn: the legend alone shows both colours, and so do the error layers alone
    show_whole_tracks(viewer)           # every error at once, as in the demo's still
    viewer.window.remove_dock_widget("all")
    kind = {id(x): mpt_meta(x).get("kind") for x in viewer.layers}
    for shown in ("title", "link_errors"):
        for x in viewer.layers:
            x.visible = kind[id(x)] == shown
        qtbot.wait(50)
        img = viewer.screenshot(canvas_only=True, flash=False)
        assert _has(img, FP_COLOR) > 20 and _has(img, FN_COLOR) > 20, shown
    for x in viewer.layers:
        x.visible = False
    qtbot.wait(50)
    img = viewer.screenshot(canvas_only=True, flash=False)
    assert _has(img, FP_COLOR) == 0 and _has(img, FN_COLOR) == 0


def test_mht_priors_start_from_the_simulation_and_say_so(viewer, qtbot, run_and_wait):
    from napari_mpt.napari.controls import ESTIMATE
    from napari_mpt.napari.track_widget import FROM_DATA, FROM_SIMULATION, PRIOR_FIELDS

    sim = dict(frames=20, seed=5, measurement_noise=2.0, detection_probability=0.8,
               clutter=1.0, birth_rate=0.5, field_of_view=100.0)
    simulate_in(run_and_wait, viewer, **sim)
    track = dock(viewer, "Track")
    for name in ("detection_probability", "clutter_density", "birth_density", "max_gap"):
        assert name in [w.name for w in track.mht]          # the clutter-aware MHT's fields
    known = known_priors(SimulationParams(**sim))
    # hand-computed: P_D 0.8, clutter 1 and births 0.5 per frame over 100 x 100 px
    assert (known["detection_probability"], known["clutter_density"],
            known["birth_density"]) == (0.8, 1e-4, 5e-5)
    assert {n: track.mht[n].value for n in PRIOR_FIELDS} == {n: f"{known[n]:.4g}"
                                                             for n in PRIOR_FIELDS}
    # the Simulate widget's unit (per frame) and the MHT's (per px^2 per frame), both said
    assert track.priors_note.value == (
        FROM_SIMULATION + "; clutter 1 per frame / 100^2 px^2 = 0.0001, births 0.5 per frame "
        "/ 100^2 px^2 = 5e-05 per px^2 per frame")
    assert track.mht.params() == from_simulation(sim)
    # simulating again with other settings: the form follows the new simulation
    w = dock(viewer, "Simulate")
    w.form["detection_probability"].value = 0.6
    run_and_wait(w)
    assert track.mht["detection_probability"].value == "0.6"
    # detections that are not a simulation: every prior is estimated from the data
    mine = viewer.add_points(np.array([[0, 1.0, 1.0], [1, 2.0, 2.0]]), name="my spots")
    track.input.value = mine
    assert all(track.mht[n].value == ESTIMATE for n in PRIOR_FIELDS)
    assert track.priors_note.value == FROM_DATA
    assert track.mht.params() == MHTParams()


def test_run_table_names_the_method(viewer, qtbot, run_and_wait):
    simulate_in(run_and_wait, viewer, frames=20, seed=1)
    track = dock(viewer, "Track")
    run_and_wait(track)
    row = dict(zip(track.table.column_headers, track.table.data.to_list()[0], strict=True))
    assert row["method"] == "MHT"


@needs_transformer
def test_association_checkpoint_is_described_and_its_kind_shown(viewer, qtbot, run_and_wait):
    from napari_mpt.trackers.transformer import checkpoint_descriptions

    simulate_in(run_and_wait, viewer, frames=20, seed=1)
    track = dock(viewer, "Track")
    track.method.value = TRANSFORMER
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=60_000)
    descriptions = checkpoint_descriptions()
    if "association" not in descriptions:
        pytest.skip("no shipped association checkpoint")
    track.transformer.checkpoint.value = "association"
    assert track.transformer.description.value == descriptions["association"]
    assert track.transformer.checkpoint.tooltip == descriptions["association"]
    track.transformer.device.value = "cpu"
    run_and_wait(track)
    row = dict(zip(track.table.column_headers, track.table.data.to_list()[-1], strict=True))
    assert row["method"] == "transformer (association)"


def test_a_form_keeps_the_fields_it_does_not_show(qtbot):
    """The Track widget's MHT form shows no velocity noise: parameters given to the form
    (the demo's paper filter, velocity noise 0) come back from it unchanged."""
    from napari_mpt.core.params import PAPER_FILTER
    from napari_mpt.napari.controls import ParamForm

    form = ParamForm(MHTParams, ("lookback", "process_noise", "velocity_prior"))
    given = MHTParams(lookback=3, process_noise=1.5, **PAPER_FILTER)
    form.set_params(given)
    assert form.params() == given
    assert form["velocity_prior"].value == "1.5"
    form.set_params(MHTParams())
    assert form.params() == MHTParams()


def test_simulate_widget_preset_fills_the_form_and_simulates(make_napari_viewer, run_and_wait):
    from napari_mpt.simulation.presets import preset_params
    from napari_mpt.simulation.simulate import simulate

    viewer = make_napari_viewer()
    w = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")[1]
    w.preset.value = "microtubule-low"
    w.form["frames"].value = 10                    # an edit on top of the preset
    assert w.params() == preset_params("microtubule-low", frames=10)
    run_and_wait(w)
    points, truth = w.layers
    sim = simulate(preset_params("microtubule-low", frames=10))
    np.testing.assert_allclose(points.data[:, 1:], sim.detections.coords)
    np.testing.assert_array_equal(truth.features["detection"], sim.truth.detection)
    w.preset.value = "(none)"
    assert w.params() == SimulationParams()


def test_track_widget_runs_the_hybrid(make_napari_viewer, qtbot, run_and_wait):
    from napari_mpt.core.params import HybridParams
    from napari_mpt.napari.layers import detections_from_points
    from napari_mpt.napari.track_widget import HYBRID

    viewer = make_napari_viewer()
    points, _truth = simulate_in(run_and_wait, viewer, particles=20, frames=12,
                                 field_of_view=64.0, detection_probability=0.9, clutter=1.0,
                                 seed=2)
    track = dock(viewer, "Track")
    track.method.value = HYBRID
    assert not track.hybrid.native.isHidden() and track.mht.native.isHidden()
    assert "mode" not in [w.name for w in track.hybrid]   # exact search only
    track.hybrid["lookback"].value = 2
    track.hybrid["device"].value = "cpu"
    track.hybrid["min_score"].value = 0.1
    assert track.run(), track.status.value
    qtbot.waitUntil(lambda: not track.running, timeout=120_000)
    assert track.message.startswith("done"), track.message
    params = track.tracker_params()
    assert isinstance(params, HybridParams) and params.top_links == 2
    assert params.process_noise == 1.5          # the simulation's priors, as for the MHT
    res = api.track(detections_from_points(points), params)
    layer = run_layer(viewer, res.label)
    assert res.label == "Hybrid K=2" and isinstance(layer, Tracks)
    assert len(np.unique(layer.data[:, 0])) == len(res.tracks.ids())
    assert track.history.records[-1].method == "hybrid"


def test_traccuracys_edge_flags_can_draw_the_link_errors(viewer, qtbot, run_and_wait):
    """The errors layer from traccuracy's edge flags: its FP and FN links, not ours."""
    from napari_mpt.evaluation.traccuracy import traccuracy_installed
    from napari_mpt.napari.track_widget import EDGE_ERRORS

    if not traccuracy_installed():
        pytest.skip("traccuracy is not installed")
    sim = dict(frames=30, seed=3, measurement_noise=4.0, detection_probability=0.9,
               clutter=2.0)
    points, truth = simulate_in(run_and_wait, viewer, **sim)
    track = dock(viewer, "Track")
    track.errors_from.value = EDGE_ERRORS
    track.mht["lookback"].value = 1
    run_and_wait(track)

    res = api.track(detections_from_points(points), from_simulation(sim, lookback=1))
    flags = api.evaluate(res.tracks, tracks_from_layer(truth), traccuracy=True).traccuracy
    assert flags.errors, "the scene must have link errors to check"
    errors = run_layer(viewer, res.label, "link_errors")
    etype = np.asarray(errors.features["error_type"])
    assert (etype == FP).sum() == 2 * sum(e.kind == "FP" for e in flags.errors)
    assert (etype == FN).sum() == 2 * sum(e.kind == "FN" for e in flags.errors)
    ends = errors.data[1::2, 1:]          # each error is a two-vertex track: its second end
    np.testing.assert_allclose(ends, [[e.frame_to, *e.end] for e in flags.errors])
