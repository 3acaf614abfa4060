"""The plugin's docks in a shown window, at napari's default size and at 1400 x 880 (issue
25, items 1 and 3): docking all five never grows the window, they are tabbed, every dock
shrinks and scrolls, a run's readout and table are in view, and no control is clipped by
a long layer name, path or description."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from qtpy.QtCore import QPoint, QRect
from qtpy.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QWidget,
)

pytestmark = pytest.mark.gui

# the plugin's widgets, in the order of the Plugins menu, and the command each entry runs
COMMANDS = {"Simulate": "napari-mpt.simulate_widget", "Load spots": "napari-mpt.load_widget",
            "Track": "napari-mpt.track_widget", "Track statistics": "napari-mpt.stats_widget",
            "Detect spots": "napari-mpt.detect_widget"}
LONG_NAME = "simulated movie (SNR 4) spots of the second acquisition, cell 12, 37 C"


def from_the_menu(viewer, name: str):
    """Dock a widget as Plugins > napari-mpt > NAME does: the menu entry's command, which
    napari docks with ``add_dock_widget`` (no tabify)."""
    from napari._app_model import get_app_model

    get_app_model().commands.execute_command(COMMANDS[name]).result()
    return viewer.window.dock_widgets[f"{name} (napari-mpt)"]


def in_view(widget: QWidget, viewport: QWidget) -> bool:
    """Whether ``widget`` lies wholly inside ``viewport`` (a scroll area's visible part)."""
    rect = QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size())
    return viewport.rect().contains(rect)


def clipped(widget) -> list[str]:
    """The controls of a dock widget that are squeezed below the width they need or run
    past the right edge of its scroll area's viewport."""
    viewport = widget.scroll_area.viewport()
    out = []
    kinds = (QComboBox, QAbstractSpinBox, QAbstractSlider, QAbstractButton, QLineEdit, QLabel)
    for w in widget.body.native.findChildren(QWidget):
        if not isinstance(w, kinds) or not w.isVisibleTo(widget.body.native):
            continue
        left = w.mapTo(viewport, QPoint(0, 0)).x()
        if w.width() < w.minimumSizeHint().width() or left + w.width() > viewport.width():
            out.append(f"{type(w).__name__} {w.objectName() or getattr(w, 'text', str)()!r}")
    return out


def test_docking_all_five_keeps_the_window_and_tabs_the_docks(shown_viewer, qtbot):
    window = shown_viewer.window._qt_window
    size = window.size()
    widgets = [from_the_menu(shown_viewer, name) for name in COMMANDS]
    qtbot.wait(200)
    assert window.size() == size                       # the window did not grow
    screen = window.screen().availableGeometry()
    assert window.width() <= screen.width() and window.height() <= screen.height()
    docks = [w.dock() for w in widgets]
    assert set(window.tabifiedDockWidgets(docks[0])) == set(docks[1:])   # one group of tabs
    assert docks[-1].isVisible()                       # the last one docked is in front
    for w, dock in zip(widgets, docks, strict=True):
        # every dock shrinks to a few rows: its controls scroll
        assert dock.minimumSizeHint().height() <= 200, dock.windowTitle()
        assert w.scroll_area.widget() is w.body.native


def test_a_resize_after_docking_is_the_size_asked_for(shown_viewer, qtbot):
    window = shown_viewer.window._qt_window
    for name in COMMANDS:
        from_the_menu(shown_viewer, name)
    qtbot.wait(100)
    for width, height in ((1400, 880), (1089, 630)):
        window.resize(width, height)
        qtbot.wait(100)
        assert (window.width(), window.height()) == (width, height)


def test_a_runs_readout_and_table_are_in_view_without_scrolling(shown_viewer, qtbot,
                                                                run_and_wait):
    widgets = {name: from_the_menu(shown_viewer, name) for name in COMMANDS}
    simulate = widgets["Simulate"]
    simulate.dock().raise_()
    # the Simulate button is never below the fold: it stays under the scrolling form
    assert in_view(simulate.run_button.native, simulate.dock())
    assert not simulate.scroll_area.isAncestorOf(simulate.run_button.native)
    run_and_wait(simulate)
    track = widgets["Track"]
    track.dock().raise_()
    track.mht["lookback"].value = 1
    run_and_wait(track)
    qtbot.wait(100)
    viewport = track.scroll_area.viewport()
    assert track.readout.value.startswith("MHT K=1")
    assert in_view(track.readout.native, viewport)
    assert in_view(track.table.native, viewport), (
        viewport.size(), track.table.native.mapTo(viewport, QPoint(0, 0)), track.table.native.size())
    table = track.table.native
    assert table.rowCount() == 1 and table.rowViewportPosition(0) + table.rowHeight(0) \
        <= table.viewport().height()                   # its row too


def test_long_names_never_clip_the_track_form(shown_viewer, qtbot):
    from napari_mpt.napari.docks import COMBO_CHARS, combo_tooltip
    from napari_mpt.napari.track_widget import TRANSFORMER
    from napari_mpt.napari.transformer_controls import FROM_FILE

    viewer = shown_viewer
    for name in COMMANDS:
        from_the_menu(viewer, name)
    track = viewer.window.dock_widgets["Track (napari-mpt)"]
    track.dock().raise_()
    points = viewer.add_points(np.array([[0, 1.0, 1.0], [1, 2.0, 2.0]]), name=LONG_NAME)
    track.input.value = points
    qtbot.wait(100)
    assert clipped(track) == []
    combo = track.input.native
    assert combo.width() < combo.fontMetrics().horizontalAdvance(LONG_NAME)   # elided ...
    assert combo_tooltip(combo).startswith(LONG_NAME)                          # ... not lost
    assert combo.minimumContentsLength() == COMBO_CHARS
    # the transformer's form: a long description and a long checkpoint path
    track.method.value = TRANSFORMER
    qtbot.waitUntil(lambda: track.transformer.loaded, timeout=60_000)
    track.transformer.checkpoint.value = FROM_FILE
    track.transformer.file.value = "/a/very/long/folder/name" * 8 + "/model.pt"
    track.transformer.description.value = "accepts " * 40
    qtbot.wait(100)
    assert clipped(track) == []
    # the dock is not wider than before the long texts came
    for name in ("Track statistics", "Detect spots", "Simulate", "Load spots"):
        other = viewer.window.dock_widgets[f"{name} (napari-mpt)"]
        other.dock().raise_()
        qtbot.wait(50)
        assert clipped(other) == [], name
