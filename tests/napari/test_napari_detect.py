"""The Detect spots widget and the sample movie inside a real napari viewer (Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.layers import Image, Points, Tracks
from viewer_checks import assert_unchanged, dock, snapshot

from napari_mpt.core.params import DetectParams
from napari_mpt.detection.detect import FEATURES, detect, detect_frame
from napari_mpt.detection.estimate import estimate_settings
from napari_mpt.evaluation.detections import evaluate_detections
from napari_mpt.napari.layers import detections_from_points, mpt_meta, tracks_from_layer

pytestmark = pytest.mark.gui


def test_sample_movie_to_spots_to_the_track_widget(viewer, qtbot, run_and_wait):
    viewer.open_sample("napari-mpt", "movie_snr4")
    image = next(layer for layer in viewer.layers if isinstance(layer, Image))
    truth = next(layer for layer in viewer.layers if isinstance(layer, Tracks))
    assert image.data.shape == (50, 128, 128)
    before = np.array(image.data, copy=True)
    w = dock(viewer, "Detect spots")
    assert w.image.value is image
    run_and_wait(w)
    spots = [layer for layer in viewer.layers if isinstance(layer, Points)]
    assert len(spots) == 1, w.status.value
    layer = spots[0]
    assert w.progress.value == 100
    # the widget's result is the core's on the same data, features included
    core = detect(image.data, DetectParams())
    np.testing.assert_array_equal(layer.data, np.column_stack([core.frame, core.coords]))
    for k in FEATURES:
        np.testing.assert_array_equal(layer.features[k], core.features[k])
    np.testing.assert_array_equal(image.data, before)           # the image is only read
    # the spots are the particles (those still in the field of view): SNR 4 is easy here
    true = tracks_from_layer(truth)
    inside = np.all((true.coords >= -0.5) & (true.coords <= 127.5), axis=1)
    score = evaluate_detections(detections_from_points(layer),
                                (true.frame[inside], true.coords[inside]))
    assert score.recall > 0.95 and score.precision > 0.95
    # the Track widget offers the layer and scores it against the movie's truth
    track = dock(viewer, "Track")
    track.reset_choices()
    assert layer in [v for _, v in track._points_choices()]
    assert track.paired_truth(layer) is truth
    # running again updates the same layer in place
    w.form["threshold"].value = 8.0
    run_and_wait(w)
    assert [lay for lay in viewer.layers if isinstance(lay, Points)] == [layer]
    assert len(layer.data) <= len(core)


def preview_and_wait(qtbot, w, timeout_ms: int = 60_000):
    """Preview; the first one estimates the settings in the background first."""
    layer = w.preview()
    if layer is None and w.running:
        qtbot.waitUntil(lambda: not w.running, timeout=timeout_ms)
        layer = next((lay for lay in w.viewer.layers if mpt_meta(lay).get("output")
                      == "spots_preview"), None)
    return layer


def test_preview_detects_the_frame_on_screen(viewer, qtbot):
    viewer.open_sample("napari-mpt", "movie_snr4")
    image = viewer.layers["simulated movie (SNR 4)"]
    w = dock(viewer, "Detect spots")
    viewer.dims.set_current_step(0, 7)
    layer = preview_and_wait(qtbot, w)
    assert layer is not None and "frame 7" in w.status.value
    settings = w.cache.settings
    assert settings is not None and "threshold" in settings.estimated
    expected = detect_frame(image.data[7], DetectParams(), estimate_settings(image.data))
    assert np.all(layer.data[:, 0] == 7)
    np.testing.assert_array_equal(layer.data[:, 1:], expected.coords)
    assert mpt_meta(layer)["pair"] is None             # a preview is not paired for tracking
    viewer.dims.set_current_step(0, 8)
    # the settings are cached: the next preview is drawn at once, in place (the plugin
    # sees the viewer through napari's proxy, so compare names)
    assert w.preview().name == layer.name and np.all(layer.data[:, 0] == 8)
    assert len([lay for lay in viewer.layers if isinstance(lay, Points)]) == 1


def test_histogram_line_sets_the_threshold_and_live_preview_follows(viewer, qtbot, run_and_wait):
    viewer.open_sample("napari-mpt", "movie_snr4")
    w = dock(viewer, "Detect spots")
    # spots found hidden beside others (multi-emitter) need not pass the threshold at
    # their pixel: without them every spot's quality is above it
    w.form["multi_emitter"].value = "off"
    layer = preview_and_wait(qtbot, w)
    before = len(layer.data)
    estimated = w.cache.settings.threshold
    ax = w.figure.axes[0]
    assert ax.get_xscale() == "log" and len(ax.patches) + len(ax.lines) >= 3
    assert w._line.get_xdata()[0] == pytest.approx(estimated)
    # a drag on the histogram to the frame's median quality: fewer spots, redrawn by the
    # live preview
    high = float(np.median(layer.features["quality"]))
    w._set_threshold_at(high)
    assert float(w.form["threshold"].value) == pytest.approx(high, rel=1e-3)
    qtbot.waitUntil(lambda: len(layer.data) < before, timeout=10_000)
    quality = layer.features["quality"].to_numpy()
    assert quality.min() > high * (1 - 1e-3)
    # a threshold no spot of the frame passes removes the preview (no stale spots, no
    # empty layer)
    w.form["threshold"].value = "1e4"
    qtbot.waitUntil(lambda: layer not in viewer.layers, timeout=10_000)
    assert "no spot passed" in w.status.value
    # and the full run uses the threshold set, without estimating again
    w.form["threshold"].value = f"{high:.4g}"
    run_and_wait(w)
    spots = next(lay for lay in viewer.layers if mpt_meta(lay).get("output") == "spots")
    assert spots.features["quality"].min() > high * (1 - 1e-3)
    assert mpt_meta(spots)["settings"]["estimated"] == ["polarity", "spot_sigma"]
    # a setting the estimate depends on: the preview waits for a new estimate
    w.form["spot_sigma"].value = "2.0"
    qtbot.waitUntil(lambda: "press Preview frame" in w.status.value, timeout=10_000)
    assert w.cache.get(w.image.value, w.form.params()) is None


def test_no_spot_adds_no_layer_and_says_so(viewer, qtbot, run_and_wait):
    viewer.open_sample("napari-mpt", "movie_snr4")
    before = snapshot(viewer)
    w = dock(viewer, "Detect spots")
    w.form["threshold"].value = "1e5"
    assert preview_and_wait(qtbot, w) is None
    assert "no spot" in w.status.value and "1e+05" in w.status.value
    run_and_wait(w)
    assert "no spot in any frame" in w.status.value
    assert_unchanged(viewer, before)


def test_cancel_leaves_the_layers_unchanged(viewer, qtbot):
    rng = np.random.default_rng(0)
    viewer.add_image(rng.poisson(10.0, (400, 128, 128)).astype(np.float32), name="noise")
    before = snapshot(viewer)
    w = dock(viewer, "Detect spots")
    assert w.run()
    w.cancel()
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    assert "cancelled" in w.status.value
    assert_unchanged(viewer, before)


@pytest.mark.parametrize(("data", "kwargs", "message"), [
    (np.zeros((32, 32)), {}, "single 2-D image"),
    (np.zeros((4, 32, 32, 3), np.uint8), {"rgb": True}, "RGB"),
    (np.zeros((4, 32, 32), np.int32), {"labels": True}, "Labels layer"),
])
def test_bad_images_are_refused_with_a_message(viewer, data, kwargs, message):
    if kwargs.pop("labels", False):
        viewer.add_labels(data, name="bad")
    else:
        viewer.add_image(data, name="bad", **kwargs)
    before = snapshot(viewer)
    w = dock(viewer, "Detect spots")
    assert not w.run()
    assert message in w.status.value and "'bad'" in w.status.value
    assert w.preview() is None
    assert_unchanged(viewer, before)


def test_nan_movie_reports_the_frame(viewer, qtbot, run_and_wait):
    data = np.full((5, 32, 32), 10.0)
    data[3, 2, 2] = np.nan
    viewer.add_image(data, name="holes")
    before = snapshot(viewer)
    w = dock(viewer, "Detect spots")
    run_and_wait(w)
    assert "frame 3" in w.status.value and "NaN" in w.status.value
    assert_unchanged(viewer, before)


def test_no_image_and_bad_parameter(viewer):
    w = dock(viewer, "Detect spots")
    assert not w.run() and "no Image layer" in w.status.value
    viewer.add_image(np.zeros((3, 16, 16)), name="m")
    w.reset_choices()
    w.form["spot_sigma"].value = 0.5
    w.form["min_distance"].value = 1
    assert w.run()                                  # valid settings start


def test_simulate_widget_movie_is_paired_below_the_points_and_updated_in_place(viewer, qtbot, run_and_wait):
    from napari_mpt.core.params import MovieParams, SimulationParams
    from napari_mpt.simulation.movie import render_movie
    from napari_mpt.simulation.simulate import simulate

    sim_w = dock(viewer, "Simulate")
    for k, v in {"particles": 5, "frames": 12, "field_of_view": 48.0, "seed": 2}.items():
        sim_w.form[k].value = v
    run_and_wait(sim_w)
    assert not sim_w.movie.value and len(sim_w.layers) == 2      # off by default: no movie
    assert not any(isinstance(layer, Image) for layer in viewer.layers)
    sim_w.movie.value = True
    sim_w.movie_form["snr"].value = 7.0
    run_and_wait(sim_w)
    points, truth, image = sim_w.layers
    params = SimulationParams(particles=5, frames=12, field_of_view=48.0, seed=2)
    expected = render_movie(simulate(params), MovieParams(snr=7.0, seed=2), frames=12)
    assert isinstance(image, Image) and image.data.shape == (12, 48, 48)
    np.testing.assert_array_equal(image.data, expected)
    assert list(viewer.layers).index(image) == 0                 # drawn below the points
    assert mpt_meta(image)["kind"] == "movie"
    assert mpt_meta(image)["pair"] == mpt_meta(points)["pair"] == mpt_meta(truth)["pair"]
    # spots detected in it are scored against this simulation's truth
    det = dock(viewer, "Detect spots")
    det.reset_choices()
    det.image.value = image
    run_and_wait(det)
    spots = next(layer for layer in viewer.layers if mpt_meta(layer).get("output") == "spots")
    track = dock(viewer, "Track")
    track.reset_choices()
    truth_layer = next(layer for layer in viewer.layers if isinstance(layer, Tracks))
    assert track.paired_truth(spots) is truth_layer
    # re-running updates the same three layers in place
    sim_w.form["seed"].value = 3
    run_and_wait(sim_w)
    assert [id(x) for x in sim_w.layers] == [id(points), id(truth), id(image)]
    params3 = SimulationParams(particles=5, frames=12, field_of_view=48.0, seed=3)
    np.testing.assert_array_equal(
        image.data, render_movie(simulate(params3), MovieParams(snr=7.0, seed=3), frames=12))
    assert len(viewer.layers) == 4
    sim_w.movie.value = False                                    # unchecked: the movie goes
    run_and_wait(sim_w)
    assert len(sim_w.layers) == 2 and image not in viewer.layers


def test_real_sample_opens_calibrated_and_gives_dark_beads(viewer, qtbot):
    viewer.open_sample("napari-mpt", "bulk_water")
    image = viewer.layers[0]
    assert isinstance(image, Image) and image.data.shape == (120, 256, 256)
    np.testing.assert_allclose(image.scale, (1 / 24, 100 / 285, 100 / 285))
    assert [str(u) for u in image.units] == ["second", "micrometer", "micrometer"]
    w = dock(viewer, "Detect spots")
    layer = preview_and_wait(qtbot, w)
    assert layer is not None and w.cache.settings.polarity == "dark"
    assert "dark spots (estimated)" in w.status.value
    np.testing.assert_allclose(layer.scale, image.scale)             # spots in µm and s too
    assert 100 < len(layer.data) < 250


def test_movie_reader_gives_the_calibrated_movie_and_declines_other_tiffs(tmp_path):
    import tifffile

    from napari_mpt.core.calibration import Calibration
    from napari_mpt.io import write_movie
    from napari_mpt.napari.movie_reader import get_movie_reader

    write_movie(tmp_path / "m.tif", np.zeros((3, 8, 9), np.uint16),
                Calibration((0.2, 0.2), 0.5, "micrometer", "second"))
    data, kwargs, kind = get_movie_reader(str(tmp_path / "m.tif"))(str(tmp_path / "m.tif"))[0]
    assert kind == "image" and data.shape == (3, 8, 9)
    assert kwargs["scale"] == pytest.approx((0.5, 0.2, 0.2))
    assert kwargs["metadata"]["napari_mpt"]["kind"] == "movie"
    tifffile.imwrite(tmp_path / "still.tif", np.zeros((8, 9), np.uint16))
    assert get_movie_reader(str(tmp_path / "still.tif")) is None       # napari's reader opens it
    assert get_movie_reader(str(tmp_path / "m.csv")) is None
