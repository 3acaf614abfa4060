"""Rendering: with the viewer shown, tracks and link errors are drawn where they are.

Screenshots of the canvas (Xvfb, Qt's xcb platform) are checked for the error colours at
the screen position of a known error, frame by frame, and for track colours on a track.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_mpt.napari.layers import FN_COLOR, FP_COLOR, mpt_meta

pytestmark = pytest.mark.gui


def _near(img: np.ndarray, color: tuple, tol: float = 60) -> np.ndarray:
    target = np.asarray(color[:3]) * 255
    return np.abs(img[..., :3].astype(float) - target).max(axis=-1) < tol


def _centre(img: np.ndarray, r: int = 4) -> np.ndarray:
    h, w = img.shape[:2]
    return img[h // 2 - r:h // 2 + r + 1, w // 2 - r:w // 2 + r + 1]


def _shot(viewer) -> np.ndarray:
    return viewer.screenshot(canvas_only=True, flash=False)


@pytest.fixture
def scene(make_napari_viewer, qtbot, run_and_wait):
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(900, 700)
    sim = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")[1]
    sim.form["frames"].value = 60
    sim.form["seed"].value = 7
    sim.form["measurement_noise"].value = 6.0
    run_and_wait(sim)
    track = viewer.window.add_plugin_dock_widget("napari-mpt", "Track")[1]
    track.mht["lookback"].value = 1
    track.mht["measurement_noise"].value = 1.0
    assert track.run()
    qtbot.waitUntil(lambda: not track.running, timeout=60_000)
    viewer.window.remove_dock_widget("all")   # the whole (small Xvfb) window for the canvas
    by_kind = {mpt_meta(layer).get("kind"): layer for layer in viewer.layers}
    assert {"detections", "truth", "result", "link_errors"} <= set(by_kind)
    return viewer, by_kind


def _only(viewer, layer) -> None:
    for other in viewer.layers:
        other.visible = other is layer or other == layer


def _camera(viewer):
    scene = getattr(viewer, "scene", None)   # napari >= 0.9; viewer.camera before
    return scene.camera if scene is not None else viewer.camera


def _look_at(viewer, yx, frame: int, zoom: float = 12.0) -> None:
    viewer.dims.set_point(0, frame)
    _camera(viewer).center = tuple(float(v) for v in yx)
    _camera(viewer).zoom = zoom


def test_link_errors_are_drawn_where_and_when_they_happen(scene, qtbot):
    viewer, layers = scene
    errors = layers["link_errors"]
    data = np.asarray(errors.data)
    etype = np.asarray(errors.features["error_type"])
    ids = np.unique(data[:, 0])
    first = min(ids, key=lambda i: data[data[:, 0] == i, 1].max())   # earliest error
    rows = data[data[:, 0] == first]
    frame = int(rows[1, 1])
    kind_color = FP_COLOR if etype[data[:, 0] == first][0] == 0 else FN_COLOR
    middle = rows[:, 2:].mean(axis=0)
    _only(viewer, errors)

    _look_at(viewer, middle, frame)
    qtbot.wait(50)
    img = _shot(viewer)
    assert _near(_centre(img), kind_color).any(), "the error is not drawn at its link"

    _look_at(viewer, middle, 0)           # long before it: nothing drawn there yet
    qtbot.wait(50)
    assert not _near(_shot(viewer), kind_color).any()

    errors.visible = False                # and the colour comes from the errors layer
    _look_at(viewer, middle, frame)
    qtbot.wait(50)
    assert not _near(_centre(_shot(viewer)), kind_color).any()


def test_tracks_are_drawn_along_their_vertices(scene, qtbot):
    viewer, layers = scene
    for kind in ("result", "truth"):
        layer = layers[kind]
        data = np.asarray(layer.data)
        vertex = data[(data[:, 0] == data[0, 0]) & (data[:, 1] == 20)][0]
        _only(viewer, layer)
        _look_at(viewer, vertex[2:], 20, zoom=20.0)
        qtbot.wait(50)
        centre = _centre(_shot(viewer), r=6)[..., :3].astype(int)
        assert centre.max() > 120, f"no {kind} track drawn at its vertex"
        _camera(viewer).center = tuple(vertex[2:] + 60.0)   # far from every track: black
        qtbot.wait(50)
        assert _centre(_shot(viewer), r=6)[..., :3].max() < 40
