"""The plugin needs nothing but napari's public API: behind napari's public-only proxy
(what napari hands plugins), every dock opens and a simulate -> track -> statistics ->
review flow runs without one private-attribute access."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui

DOCKS = ("Simulate", "Load spots", "Detect spots", "Track", "Track statistics", "Review")


def test_every_dock_works_through_the_public_only_proxy(make_napari_viewer_proxy, qtbot,
                                                         run_and_wait):
    viewer = make_napari_viewer_proxy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docks = {name: viewer.window.add_plugin_dock_widget("napari-mpt", name)[1]
                 for name in DOCKS}
        sim = docks["Simulate"]
        sim.form["particles"].value = 5
        sim.form["frames"].value = 10
        run_and_wait(sim)
        track = docks["Track"]
        track.reset_choices()
        track.method.value = "lap"
        run_and_wait(track)
        assert track.message.startswith("done"), track.message
        stats = docks["Track statistics"]
        stats.reset_choices()
        qtbot.waitUntil(lambda: len(stats.shown_ids()) > 0, timeout=30_000)
        docks["Review"].reset_choices()
        qtbot.wait(100)
    private = [str(w.message) for w in caught if "Private attribute access" in str(w.message)]
    assert not private, private
    assert [x.name for x in viewer.layers if "LAP" in x.name]
