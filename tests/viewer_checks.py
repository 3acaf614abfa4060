"""Helpers the GUI tests share: dock a plugin widget, find a run's layer, and check that
a refused or cancelled run left every layer exactly as it was."""

from __future__ import annotations

from typing import Any

import numpy as np


def dock(viewer: Any, name: str) -> Any:
    return viewer.window.add_plugin_dock_widget("napari-mpt", name)[1]


def simulate_in(run_and_wait: Any, viewer: Any, **params: Any) -> Any:
    """Simulate ``params`` with the Simulate widget; its points and truth layers."""
    w = dock(viewer, "Simulate")
    for k, v in params.items():
        w.form[k].value = v
    run_and_wait(w)
    assert len(w.layers) == 2, w.status.value
    return w.layers


def run_layer(viewer: Any, label: str, kind: str = "result") -> Any:
    """The layer of ``kind`` (result, link_errors) of the run labelled ``label``."""
    from napari_mpt.napari.layers import mpt_meta

    found = [layer for layer in viewer.layers
             if mpt_meta(layer).get("kind") == kind and mpt_meta(layer).get("label") == label]
    assert len(found) == 1, (label, kind, [layer.name for layer in viewer.layers])
    return found[0]


def snapshot(viewer: Any) -> list[tuple]:
    return [(layer.name, type(layer).__name__, np.array(layer.data, copy=True))
            for layer in viewer.layers]


def assert_unchanged(viewer: Any, before: list[tuple]) -> None:
    after = snapshot(viewer)
    assert [a[:2] for a in after] == [b[:2] for b in before]
    for a, b in zip(after, before, strict=True):
        np.testing.assert_array_equal(a[2], b[2])
