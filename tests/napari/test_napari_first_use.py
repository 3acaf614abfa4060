"""What a new user met in the viewer (issue 25, items 4, 5 and 9; the docks are in
test_napari_docks.py, the crash sequence in test_napari_sequence.py, the reader choice in
test_napari_widgets.py), each at napari's default window size and at 1400 x 880, shown."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.layers import Points, Tracks
from viewer_checks import assert_unchanged, dock, run_layer, snapshot

from napari_mpt.io import read_tracks
from napari_mpt.napari.layers import mpt_meta
from napari_mpt.napari.track_widget import HYBRID, LAP, TRANSFORMER
from napari_mpt.napari.transformer_controls import checkpoint_names, transformer_installed

pytestmark = pytest.mark.gui

ASSOCIATION = "association"    # the shipped association checkpoint

# spots whose counts differ between frames (3, 2, 3, 3): what a detector gives
RAGGED = np.array([[0, 10, 10], [0, 20, 20], [0, 30, 30], [1, 11, 10], [1, 21, 20],
                   [2, 12, 10], [2, 22, 20], [2, 32, 30], [3, 13, 10], [3, 23, 20],
                   [3, 33, 30]], dtype=float)


# --- item 4: the transformer on spots whose counts differ ------------------------------
@pytest.mark.skipif(not transformer_installed() or ASSOCIATION not in checkpoint_names(),
                    reason="needs the transformer and its shipped association checkpoint")
def test_transformer_on_ragged_spots_takes_the_association_checkpoint(shown_viewer, qtbot,
                                                                      run_and_wait):
    track = dock(shown_viewer, "Track")
    points = shown_viewer.add_points(RAGGED, name="ragged spots")
    assert track.input.value == points
    track.method.value = TRANSFORMER
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=60_000)
    assert track.transformer.checkpoint.value == ASSOCIATION            # chosen, and said
    assert track.message.startswith("checkpoint 'association' chosen: frame 0 has 3 spots, "
                                    "frame 1 has 2")
    assert "--checkpoint association" in track.message
    # the encoder-decoder chosen anyway: refused up front, naming the menu entry and the flag
    fixed = next(n for n in checkpoint_names() if n != ASSOCIATION)
    track.transformer.checkpoint.value = fixed
    assert track.run() is False
    assert track.message.startswith("Transformer: frame 0 has 3 spots, frame 1 has 2")
    assert ("choose 'association' in the checkpoint menu (command line: --checkpoint "
            "association)") in track.message
    track.transformer.checkpoint.value = ASSOCIATION
    run_and_wait(track)
    assert track.message.startswith("done"), track.message
    # a core message's flag gets the widget's control beside it
    from napari_mpt.napari.track_widget import in_widget_words

    core = "the hybrid needs an association-transformer checkpoint: --checkpoint association"
    assert in_widget_words(core, HYBRID).endswith(
        "'association' in 'scores from' (command line: --checkpoint association)")
    assert in_widget_words(core, LAP) == core


# --- item 5: Simulate on a worker ---------------------------------------------------------
def test_simulate_runs_on_a_worker_with_progress_and_cancel(shown_viewer, qtbot, monkeypatch,
                                                            run_and_wait):
    from napari_mpt.napari import simulate_widget

    release, threads = threading.Event(), []
    simulate = simulate_widget.simulate

    def slow(params):                     # as slow as 1000 particles, until released
        threads.append(threading.current_thread())
        assert release.wait(20)
        return simulate(params)

    monkeypatch.setattr(simulate_widget, "simulate", slow)
    w = dock(shown_viewer, "Simulate")
    w.movie.value = True
    try:
        assert w.run()                                   # returns: nothing waits for it
        assert w.running and w.cancel_button.enabled and not w.run_button.enabled
        qtbot.waitUntil(lambda: "(step 1 of 3)" in w.status.value, timeout=10_000)
        assert w.status.value.startswith("simulating…")
        assert threads[0] is not threading.main_thread()
    finally:
        release.set()
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    assert w.progress.value == 100 and len(w.layers) == 3 and not w.cancel_button.enabled
    assert isinstance(w.layers[0], Points) and isinstance(w.layers[1], Tracks)
    # a cancel leaves every layer as it was
    release.clear()
    before = snapshot(shown_viewer)
    w.form["seed"].value = 11
    assert w.run()
    qtbot.waitUntil(lambda: len(threads) == 2, timeout=10_000)
    w.cancel()
    release.set()
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    assert "cancelled" in w.status.value
    assert_unchanged(shown_viewer, before)
    assert w.run() and w.cancel_button.enabled            # and it runs again
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    assert len(w.layers) == 3


# --- item 9: the smaller things ---------------------------------------------------------
def test_result_layers_name_their_dataset(shown_viewer, run_and_wait):
    viewer = shown_viewer
    track = dock(viewer, "Track")
    track.method.value = LAP
    for name in ("pair_t8_sigma1_2", "pair_t150_sigma1"):
        viewer.open_sample("napari-mpt", name)
        run_and_wait(track)
    names = sorted(x.name for x in viewer.layers if mpt_meta(x).get("kind") == "result")
    assert names == ["LAP d=auto gap=1 on pair_T150_sigma1_detections",
                     "LAP d=auto gap=1 on pair_T8_sigma1.2_detections"]


def test_saved_tracks_keep_the_spots_own_features(shown_viewer, tmp_path, run_and_wait):
    from format_samples import trackpy_csv

    viewer = shown_viewer
    spots_csv = tmp_path / "spots.csv"
    trackpy_csv(spots_csv)
    track = dock(viewer, "Track")
    (spots,) = [x for x in viewer.open(str(spots_csv), plugin="napari-mpt")
                if isinstance(x, Points)]
    track.input.value = spots
    track.method.value = LAP
    run_and_wait(track)
    layer = run_layer(viewer, "LAP d=auto gap=1")
    took = np.asarray(layer.features["detection"])
    np.testing.assert_array_equal(layer.features["mass"], np.asarray(spots.features["mass"])[took])
    (out,) = layer.save(str(tmp_path / "tracks.csv"), plugin="napari-mpt")
    saved = read_tracks(out)
    order = np.lexsort((layer.data[:, 1], layer.data[:, 0]))
    np.testing.assert_allclose(saved.features["mass"],
                               np.asarray(layer.features["mass"])[order])


def test_without_a_truth_the_run_table_shows_what_applies_first(shown_viewer, run_and_wait):
    viewer = shown_viewer
    track = dock(viewer, "Track")
    track.method.value = LAP
    viewer.add_points(RAGGED, name="spots")
    run_and_wait(track)
    headers = [track.table.native.horizontalHeaderItem(i).text()
               for i in range(track.table.native.columnCount())]
    cells = track.table.data.to_list()[0]
    absent = [c == "—" for c in cells]
    assert headers[0] == "time" and absent == sorted(absent)      # the "—" columns last
    assert {"JC", "assoc JC", "α", "β", "TP", "FP", "FN"} <= {
        h for h, a in zip(headers, absent, strict=True) if a}
    # the time is in view, beside the run's label
    table = track.table.native
    assert table.columnViewportPosition(0) + table.columnWidth(0) <= table.viewport().width()


def test_the_preview_goes_once_the_whole_movie_is_detected(shown_viewer, qtbot, run_and_wait):
    viewer = shown_viewer
    viewer.open_sample("napari-mpt", "movie_snr4")
    detect = dock(viewer, "Detect spots")
    detect.preview()                  # the first one estimates the settings in the background
    qtbot.waitUntil(lambda: any(mpt_meta(x).get("output") == "spots_preview"
                                for x in viewer.layers), timeout=60_000)
    qtbot.waitUntil(lambda: not detect.running, timeout=60_000)
    run_and_wait(detect)
    outputs = [mpt_meta(x).get("output") for x in viewer.layers if mpt_meta(x).get("output")]
    assert outputs == ["spots"]


def test_runs_side_by_side_from_the_track_widget(shown_viewer, run_and_wait):
    viewer = shown_viewer
    viewer.open_sample("napari-mpt", "pair_t8_sigma1_2")
    track = dock(viewer, "Track")
    track.grid.value = True                         # one run: nothing to put side by side
    assert not track.grid.value and "two runs or more" in track.message
    for k in (1, 2):
        track.mht["lookback"].value = k
        run_and_wait(track)
    track.grid.value = True
    assert viewer.grid.enabled and viewer.grid.stride == 3
    kinds = [mpt_meta(x).get("kind") for x in viewer.layers]
    assert kinds[:3] == ["truth", "detections", "title"] and kinds.count("result") == 2
    track.mht["lookback"].value = 3                 # a new run gets its own panel
    run_and_wait(track)
    assert viewer.grid.enabled and len(viewer.layers) // 3 >= 4
    track.grid.value = False                        # back to one view, the titles gone
    assert not viewer.grid.enabled
    assert not [x for x in viewer.layers if mpt_meta(x).get("kind") == "title"]


def test_clutter_priors_are_rounded_and_their_unit_said(shown_viewer, run_and_wait):
    viewer = shown_viewer
    sim = dock(viewer, "Simulate")
    for k, v in {"particles": 5, "frames": 5, "clutter": 50.0, "field_of_view": 512.0}.items():
        sim.form[k].value = v
    run_and_wait(sim)
    track = dock(viewer, "Track")
    assert track.mht["clutter_density"].value == "0.0001907"     # not 0.00019073486328125
    assert track.mht["clutter_density"].label == "clutter /px^D/frame"
    assert "clutter 50 per frame / 512^2 px^2 = 0.0001907 per px^2 per frame" \
        in track.priors_note.value
