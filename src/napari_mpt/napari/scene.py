"""The demo scenes: napari with the plugin docked, the trackers run side by side.

:func:`build_scene` simulates a Brownian pair and runs MHT and the transformer on its
detections; :func:`build_movie_scene` runs the whole pipeline, a simulated movie, its
detected spots, then LAP, MHT and the association transformer on those spots.
Everything goes through the dock widgets (the Simulate button, the Detect spots and Track
widgets' workers), so the demo shows exactly what a user gets by clicking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import MPTError
from ..core.params import DetectParams, LAPParams, MHTParams, MovieParams, SimulationParams, TransformerParams
from .grid import side_by_side
from .layers import mpt_meta
from .runs import RunRecord
from .track_widget import LAP, MHT, TRANSFORMER, TrackWidget
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


def _wait_until(done: Any, timeout_s: float) -> None:
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while not done():
        QApplication.processEvents()
        if time.monotonic() > deadline:
            raise DemoError(f"not ready within {timeout_s:.0f} s")
        time.sleep(0.01)


def _simulate(widget: Any, timeout_s: float) -> None:
    """Press Simulate and wait for its layers."""
    if not widget.run():
        raise DemoError(widget.status.value)
    _wait_until(lambda: not widget.running, timeout_s)
    if not widget.layers:
        raise DemoError(widget.status.value or "the simulation made no layers")


def _run(track: TrackWidget, timeout_s: float) -> None:
    if not track.run():
        raise DemoError(track.message)
    wait_for(track, timeout_s)


def _viewer(viewer: Any, title: str, size: tuple[int, int], show: bool) -> Any:
    """``viewer``, or a new one, at ``size``."""
    import napari

    viewer = viewer or napari.Viewer(title=title, show=show)
    viewer.window.resize(*size)
    return viewer


def build_scene(sim: SimulationParams, mht: MHTParams, transformer: TransformerParams | None,
                size: tuple[int, int] = (1600, 1000), show: bool = True,
                timeout_s: float = 600.0, viewer: Any = None) -> Scene:
    """Open the viewer (or use ``viewer``), simulate ``sim``, run MHT and (when given) the
    transformer."""
    viewer = _viewer(viewer, "napari-mpt demo", size, show)
    _, sim_widget = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")
    _, track = viewer.window.add_plugin_dock_widget("napari-mpt", "Track", tabify=True)
    scene = Scene(viewer, track, sim_widget)
    sim_widget.form.set_params(sim)
    _simulate(sim_widget, timeout_s)

    track.method.value = MHT
    track.mht.set_params(mht)
    _run(track, timeout_s)

    return _finish(scene, transformer, timeout_s)


def _finish(scene: Scene, transformer: TransformerParams | None, timeout_s: float) -> Scene:
    """Run the transformer (when given), show the last frame and the runs side by side."""
    _run_transformer(scene, transformer, timeout_s)
    viewer = scene.viewer
    if viewer.dims.ndim:
        viewer.dims.set_point(0, viewer.dims.range[0].stop)   # the last frame
    side_by_side(viewer)
    return scene


def _run_transformer(scene: Scene, transformer: TransformerParams | None,
                     timeout_s: float) -> None:
    """Run the transformer through the Track widget's menus (skipped, with a note, where
    the transformer is not installed)."""
    track = scene.track
    if transformer is None:
        return
    if not transformer_installed():
        scene.notes.append("transformer: not part of this installation, skipped")
        return
    track.method.value = TRANSFORMER
    controls = track.transformer
    _wait_until(lambda: controls.loaded or not controls.loading, timeout_s)
    if not controls.loaded:      # the menus' worker failed: its message is the status
        raise DemoError(track.message or "the transformer's menus did not load")
    if transformer.checkpoint in controls.checkpoint.choices:
        controls.checkpoint.value = transformer.checkpoint
    else:
        controls.checkpoint.value = FROM_FILE
        controls.file.value = Path(transformer.checkpoint)
    if transformer.device in controls.device.choices:
        controls.device.value = transformer.device
    controls.batch_size.value = transformer.batch_size
    _run(track, timeout_s)


def build_movie_scene(sim: SimulationParams, movie: MovieParams, detect: DetectParams,
                      lap: LAPParams, mht: MHTParams, transformer: TransformerParams | None,
                      size: tuple[int, int] = (1600, 1000), show: bool = True,
                      timeout_s: float = 600.0, viewer: Any = None) -> Scene:
    """The whole pipeline: simulate ``sim`` with its movie, detect spots in the movie, track
    the spots with LAP, MHT and (when given) the transformer, each scored against the
    simulation's truth.

    The simulation's own detections layer is removed once the movie is made: the spots
    found in the movie are what the trackers get.
    """
    viewer = _viewer(viewer, "napari-mpt demo: movie to tracks", size, show)
    _, sim_widget = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")
    _, detect_widget = viewer.window.add_plugin_dock_widget("napari-mpt", "Detect spots",
                                                            tabify=True)
    _, track = viewer.window.add_plugin_dock_widget("napari-mpt", "Track", tabify=True)
    scene = Scene(viewer, track, sim_widget)
    sim_widget.form.set_params(sim)
    sim_widget.movie.value = True
    sim_widget.movie_form.set_params(movie)
    _simulate(sim_widget, timeout_s)
    if len(sim_widget.layers) != 3:
        raise DemoError(sim_widget.status.value)
    points, _truth, image = sim_widget.layers
    viewer.layers.remove(points)
    detect_widget.reset_choices()
    detect_widget.image.value = image
    detect_widget.form.set_params(detect)
    if not detect_widget.run():
        raise DemoError(detect_widget.status.value)
    _wait_until(lambda: not detect_widget.running, timeout_s)
    spots = [layer for layer in viewer.layers if mpt_meta(layer).get("output") == "spots"]
    if not spots:
        raise DemoError(detect_widget.status.value or "no spots were detected")
    scene.notes.append(f"spots: {detect_widget.status.value}")
    track.reset_choices()
    track.input.value = spots[0]

    track.method.value = LAP
    track.lap.set_params(lap)
    _run(track, timeout_s)
    track.method.value = MHT
    track.mht.set_params(mht)
    _run(track, timeout_s)
    return _finish(scene, transformer, timeout_s)


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
