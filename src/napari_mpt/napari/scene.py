"""The demo scene: napari with the plugin docked, a Brownian pair, both trackers run.

Everything goes through the dock widgets (the Simulate button, the Track widget's worker),
so the demo shows exactly what a user gets by clicking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import MPTError
from ..params import MHTParams, SimulationParams, TransformerParams
from .layers import mpt_meta
from .runs import RunRecord
from .track_widget import MHT, TRANSFORMER, TrackWidget
from .transformer_controls import FROM_FILE, transformer_installed


class DemoError(MPTError):
    """A demo run did not finish (its message says why)."""


@dataclass
class Scene:
    viewer: Any
    track: TrackWidget
    simulate: Any
    notes: list[str] = field(default_factory=list)

    def records(self) -> list[RunRecord]:
        """The runs on the detections now shown, in order."""
        from .runs import detections_key

        layer = self.track.input.value
        return self.track.history.for_key(detections_key(layer.data)) if layer else []


def wait_for(widget: TrackWidget, timeout_s: float = 600.0) -> None:
    """Process Qt events until the widget's run ends; raise if it produced nothing."""
    from qtpy.QtWidgets import QApplication

    before = len(widget.history.records)
    deadline = time.monotonic() + timeout_s
    while widget.running:
        QApplication.processEvents()
        if time.monotonic() > deadline:
            widget.cancel()
            raise DemoError(f"the run did not finish within {timeout_s:.0f} s")
        time.sleep(0.01)
    QApplication.processEvents()
    if len(widget.history.records) == before:
        raise DemoError(widget.status.value or "the run produced no result")


def _run(track: TrackWidget, timeout_s: float) -> None:
    if not track.run():
        raise DemoError(track.status.value)
    wait_for(track, timeout_s)


def build_scene(sim: SimulationParams, mht: MHTParams, transformer: TransformerParams | None,
                size: tuple[int, int] = (1600, 1000), show: bool = True,
                timeout_s: float = 600.0) -> Scene:
    """Open the viewer, simulate ``sim``, run MHT and (when given) the transformer."""
    import napari

    viewer = napari.Viewer(title="napari-mpt demo", show=show)
    viewer.window.resize(*size)
    _, sim_widget = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")
    _, track = viewer.window.add_plugin_dock_widget("napari-mpt", "Track", tabify=True)
    scene = Scene(viewer, track, sim_widget)
    sim_widget.form.set_params(sim)
    if not sim_widget.run():
        raise DemoError(sim_widget.status.value)

    track.method.value = MHT
    track.mht.set_params(mht)
    _run(track, timeout_s)

    if transformer is None:
        pass
    elif not transformer_installed():
        scene.notes.append("transformer: not part of this installation, skipped")
    else:
        track.method.value = TRANSFORMER
        controls = track.transformer
        if transformer.checkpoint in controls.checkpoint.choices:
            controls.checkpoint.value = transformer.checkpoint
        else:
            controls.checkpoint.value = FROM_FILE
            controls.file.value = transformer.checkpoint
        if transformer.device in controls.device.choices:
            controls.device.value = transformer.device
        controls.batch_size.value = transformer.batch_size
        _run(track, timeout_s)
    if viewer.dims.ndim:
        viewer.dims.set_point(0, viewer.dims.range[0].stop)   # the last frame
    side_by_side(viewer)
    return scene


def side_by_side(viewer: Any) -> bool:
    """One grid cell per run (its tracks and its link errors), the truth in the first.

    Only for two runs or more, and when every run has its error layer right above its
    tracks (layer order is what napari's grid groups by); otherwise everything stays
    overlaid.  Returns whether the grid is on.
    """
    from qtpy.QtWidgets import QApplication

    kinds = [(mpt_meta(layer).get("kind"), mpt_meta(layer).get("label")) for layer in viewer.layers]
    runs = kinds[2:]
    pairs = list(zip(runs[::2], runs[1::2], strict=False))
    ok = (len(runs) >= 4 and len(runs) % 2 == 0
          and {k for k, _ in kinds[:2]} == {"detections", "truth"}
          and all(a == ("result", b[1]) and b[0] == "link_errors" for a, b in pairs))
    if not ok:
        return False
    cells = 1 + len(pairs)
    viewer.grid.stride = 2
    viewer.grid.shape = (1, 2) if cells <= 2 else (2, (cells + 1) // 2)
    viewer.grid.enabled = True
    QApplication.processEvents()   # the grid's views must exist before they are fitted
    viewer.reset_view()
    return True


def show_whole_tracks(viewer: Any) -> None:
    """Last frame, long tails: every track and every link error at once (for a still).

    Tails fade over ``tail_length`` frames; ten times the movie keeps the oldest links
    at 90% opacity, so early errors stay visible in the picture.
    """
    frames = int(viewer.dims.range[0].stop) if viewer.dims.ndim else 0
    for layer in viewer.layers:
        if type(layer).__name__ == "Tracks":
            layer.tail_length = 10 * max(frames, 1)
    if viewer.dims.ndim:
        viewer.dims.set_point(0, frames)
    for layer in viewer.layers:
        if mpt_meta(layer).get("kind") == "result":
            viewer.layers.selection.active = layer
