"""The GUI tests' fixtures: the viewer, its shown variant at the two window sizes a user
has, and running a dock widget's job to its end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

SIZES = {"default": None, "1400x880": (1400, 880)}
"""The window sizes the GUI is checked at: napari's own default (on the 1600 x 1000
screen pytest-xvfb makes, see pyproject.toml) and a laptop's 1400 x 880."""


@pytest.fixture
def viewer(make_napari_viewer):
    """A napari viewer, not shown (enough where nothing is measured on screen)."""
    return make_napari_viewer()


@pytest.fixture(params=list(SIZES))
def shown_viewer(request, make_napari_viewer, qtbot):
    """A napari viewer shown on the Xvfb screen, at each size of :data:`SIZES`."""
    viewer = make_napari_viewer(show=True)
    size = SIZES[request.param]
    if size is not None:
        viewer.window.resize(*size)
    qtbot.wait(50)
    return viewer


@pytest.fixture
def run_and_wait(qtbot) -> Callable[..., None]:
    """Press a dock widget's Run (its ``run()``) and wait until its job has ended."""

    def run(widget: Any, timeout_ms: int = 60_000) -> None:
        assert widget.run(), widget.status.value
        qtbot.waitUntil(lambda: not widget.running, timeout=timeout_ms)

    return run
