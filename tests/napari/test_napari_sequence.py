"""A new user's sequence of bad inputs (issue 25, item 2), with the viewer shown and the
canvas repainted after every step: napari once died with a segmentation fault in vispy's
draw right after the Track widget's input changed to a 2-D Points layer, following a
detection that found nothing (an empty Points layer, later removed).  Now a detection
that finds nothing adds no layer and says so, and choosing a layer without a time axis
hides nothing and moves no slider."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari.layers import Points
from viewer_checks import dock

from napari_mpt.napari.layers import mpt_meta

pytestmark = pytest.mark.gui


def test_detect_then_track_bad_inputs_in_a_row(shown_viewer, qtbot, run_and_wait):
    viewer = shown_viewer

    def repaint() -> None:
        qtbot.wait(20)
        viewer.screenshot(canvas_only=False, flash=False)    # draws the canvas now
        assert not [x.name for x in viewer.layers if isinstance(x, Points) and not len(x.data)]

    viewer.open_sample("napari-mpt", "pair_t150_sigma1")
    repaint()
    detect = dock(viewer, "Detect spots")
    assert not detect.run() and "no Image layer" in detect.status.value
    repaint()
    images = []
    for name, data, kwargs, refusal in (
            ("flat", np.zeros((32, 32)), {}, "single 2-D image"),
            ("rgb", np.zeros((4, 32, 32, 3), np.uint8), {"rgb": True}, "RGB")):
        images.append(viewer.add_image(data, name=name, **kwargs))
        detect.image.value = images[-1]
        assert not detect.run() and refusal in detect.status.value
        repaint()
    holes = np.full((5, 32, 32), 10.0)
    holes[3, 2, 2] = np.nan
    images.append(viewer.add_image(holes, name="holes"))
    detect.image.value = images[-1]
    run_and_wait(detect)
    assert "frame 3" in detect.status.value and "NaN" in detect.status.value
    repaint()
    images.append(viewer.add_image(np.zeros((5, 64, 64), np.uint16), name="black"))
    detect.image.value = images[-1]
    run_and_wait(detect)
    assert "no spot in any frame" in detect.status.value, detect.status.value
    assert not [x for x in viewer.layers if mpt_meta(x).get("output") == "spots"]
    repaint()
    for layer in images:
        viewer.layers.remove(layer)
        repaint()

    track = dock(viewer, "Track")
    repaint()
    flat = viewer.add_points(np.array([[10.0, 10.0], [20.0, 20.0]]), name="2-D points")
    shown = {x.name: x.visible for x in viewer.layers if x is not flat}
    point = viewer.dims.point
    track.input.value = flat
    repaint()
    # a layer without a time axis is no dataset: nothing hidden, no slider moved
    assert {x.name: x.visible for x in viewer.layers if x is not flat} == shown
    assert viewer.dims.point == point
    assert not track.run() and "has no time axis" in track.message
    repaint()
    empty = viewer.add_points(np.empty((0, 3)), ndim=3, name="empty")   # the user's own
    track.input.value = empty
    assert {x.name: x.visible for x in viewer.layers if x not in (flat, empty)} == shown
    assert not track.run() and "has no points" in track.message
    viewer.layers.remove(empty)
    repaint()
    # and the data still tracks
    track.input.value = viewer.layers["pair_T150_sigma1_detections"]
    track.mht["lookback"].value = 1
    run_and_wait(track)
    assert track.message.startswith("done"), track.message
    repaint()
