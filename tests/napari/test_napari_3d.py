"""The Simulate widget makes 3-D data with the model's own default drift, and the Track
widget tracks it (the widget used to patch the 2-D default drift itself)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_simulate_widget_in_3d_then_track(make_napari_viewer, qtbot, run_and_wait):
    viewer = make_napari_viewer()
    sim = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")[1]
    sim.form["ndim"].value = 3
    sim.form["frames"].value = 20
    run_and_wait(sim)
    points, truth = sim.layers
    assert points.data.shape[1] == 4 and truth.data.shape[1] == 5, sim.status.value
    track = viewer.window.add_plugin_dock_widget("napari-mpt", "Track")[1]
    assert track.run(), track.status.value
    qtbot.waitUntil(lambda: not track.running, timeout=60_000)
    results = [layer for layer in viewer.layers if layer.name.startswith("MHT")]
    assert results and results[0].data.shape[1] == 5
