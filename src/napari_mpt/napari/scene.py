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
from typing import Any

from ..core.errors import MPTError
from ..core.params import DetectParams, LAPParams, MHTParams, MovieParams, SimulationParams, TransformerParams
from .layers import FN_COLOR, FP_COLOR, KEY, mpt_meta
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


def _run(track: TrackWidget, timeout_s: float) -> None:
    if not track.run():
        raise DemoError(track.message)
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

    _run_transformer(scene, transformer, timeout_s)
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
        controls.file.value = transformer.checkpoint
    if transformer.device in controls.device.choices:
        controls.device.value = transformer.device
    controls.batch_size.value = transformer.batch_size
    _run(track, timeout_s)


def build_movie_scene(sim: SimulationParams, movie: MovieParams, detect: DetectParams,
                      lap: LAPParams, mht: MHTParams, transformer: TransformerParams | None,
                      size: tuple[int, int] = (1600, 1000), show: bool = True,
                      timeout_s: float = 600.0) -> Scene:
    """The whole pipeline: simulate ``sim`` with its movie, detect spots in the movie, track
    the spots with LAP, MHT and (when given) the transformer, each scored against the
    simulation's truth.

    The simulation's own detections layer is removed once the movie is made: the spots
    found in the movie are what the trackers get.
    """
    import napari

    viewer = napari.Viewer(title="napari-mpt demo: movie to tracks", show=show)
    viewer.window.resize(*size)
    _, sim_widget = viewer.window.add_plugin_dock_widget("napari-mpt", "Simulate")
    _, detect_widget = viewer.window.add_plugin_dock_widget("napari-mpt", "Detect spots",
                                                            tabify=True)
    _, track = viewer.window.add_plugin_dock_widget("napari-mpt", "Track", tabify=True)
    scene = Scene(viewer, track, sim_widget)
    sim_widget.form.set_params(sim)
    sim_widget.movie.value = True
    sim_widget.movie_form.set_params(movie)
    layers = sim_widget.run()
    if len(layers) != 3:
        raise DemoError(sim_widget.status.value)
    points, _truth, image = layers
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
    _run_transformer(scene, transformer, timeout_s)
    if viewer.dims.ndim:
        viewer.dims.set_point(0, viewer.dims.range[0].stop)   # the last frame
    side_by_side(viewer)
    return scene


TITLE_PX = 10          # title text size (screen points)
LINE_PX = 16           # title line spacing (screen pixels)
WHITE = (1.0, 1.0, 1.0, 1.0)
# share of a grid panel left around its data and title: napari's 5 %, more when the data
# fill their panel (a movie), since a title's top line is drawn above its point, outside
# the extent the view is fitted to
VIEW_MARGIN, MOVIE_VIEW_MARGIN = 0.05, 0.12


def panel_lines(kind: str, label: str | None) -> list[tuple[str, tuple]]:
    """What one grid panel shows, as (text, colour) lines: its title and its legend."""
    if kind == "movie":
        return [("movie, truth (grey), spots (yellow)", WHITE)]
    if kind in ("detections", "truth"):
        return [("truth (grey), detections (yellow)", WHITE)]
    return [(label or "tracks", WHITE),          # short: a long first line ran off the panel
            ("tracks: one colour per track", (1.0, 0.6, 0.0, 1.0)),
            ("magenta: wrong link made (FP)", FP_COLOR),
            ("cyan: true link missed (FN)", FN_COLOR)]


def _hex(color: tuple) -> str:
    return "#" + "".join(f"{round(255 * v):02x}" for v in color[:3])


def _title_layer(viewer: Any, lines: list[tuple[str, tuple]], kind: str, name: str) -> Any:
    """A Points layer of invisible points whose text is the panel's title and legend."""
    import numpy as np

    n = len(lines)
    return viewer.add_points(
        np.zeros((n, 2)), name=name, size=0.01, face_color="transparent",
        border_width=0, features={"text": [t for t, _ in lines],
                                  "color": [_hex(c) for _, c in lines]},
        text={"string": "{text}", "anchor": "upper_left", "size": TITLE_PX,
              "color": {"feature": "color"}},
        metadata={KEY: {"kind": "title", "panel": kind}})


def _place_titles(viewer: Any, titles: list[Any]) -> None:
    """Stack each title's lines just above the top left of the data, ``LINE_PX`` apart on
    screen (napari draws an ``upper_left`` text above and right of its point)."""
    import numpy as np

    camera = getattr(getattr(viewer, "scene", None), "camera", None) or viewer.camera
    step = LINE_PX / (float(camera.zoom) or 1.0)
    data = [np.asarray(layer.data)[:, -2:] for layer in viewer.layers
            if mpt_meta(layer).get("kind") in ("detections", "truth") and len(layer.data)]
    top, left = np.min(np.vstack(data), axis=0) if data else np.zeros(2)
    for layer in titles:
        n = len(layer.data)
        layer.data = np.column_stack([top - (n - np.arange(1, n + 1) + 0.3) * step,
                                      np.full(n, left)])


def _spacer(viewer: Any, name: str) -> Any:
    """An empty layer that fills a grid panel's group up to the stride."""
    import numpy as np

    return viewer.add_points(np.zeros((0, 2)), name=name,
                             metadata={KEY: {"kind": "title", "panel": "spacer"}})


def side_by_side(viewer: Any) -> bool:
    """One grid panel per run (its tracks, its link errors, a title with the colours'
    legend), the truth and the detections (over the movie, if there is one) in the first.

    Only for two runs or more on one pair of detections and truth; otherwise everything
    stays overlaid.  napari's grid puts ``stride`` consecutive layers in each panel, so
    the layers are reordered into groups of three (four with a movie): the data ([movie,]
    truth, detections, title); each run (tracks, link errors, title), a run without link
    errors having its legend as a layer of its own, and empty layers filling a group up
    to the stride.  Returns whether the grid is on.
    """
    from qtpy.QtWidgets import QApplication

    data = [layer for layer in viewer.layers if mpt_meta(layer).get("kind") in ("truth",
                                                                                "detections")]
    movies = [layer for layer in viewer.layers if mpt_meta(layer).get("kind") == "movie"]
    results = [layer for layer in viewer.layers if mpt_meta(layer).get("kind") == "result"]
    if len(data) != 2 or len(results) < 2 or len(movies) > 1:
        return False
    stride = 3 + len(movies)
    errors = {mpt_meta(layer).get("label"): layer for layer in viewer.layers
              if mpt_meta(layer).get("kind") == "link_errors"}
    order: list[Any] = []
    titles = []
    title = _title_layer(viewer, panel_lines("movie" if movies else "truth", None), "truth",
                         "data title")
    order += [*movies, *sorted(data, key=lambda x: mpt_meta(x)["kind"] != "truth"), title]
    titles.append(title)
    for result in results:
        label = mpt_meta(result).get("label")
        lines = panel_lines("result", label)
        if label in errors:
            group = [result, errors[label],
                     _title_layer(viewer, lines, "result", f"{label} title")]
        else:
            lines[2:] = [("no link errors: every link right", (0.55, 1.0, 0.2, 1.0))]
            group = [result, _title_layer(viewer, lines[:1], "result", f"{label} title"),
                     _title_layer(viewer, [("", WHITE), *lines[1:]], "result",
                                  f"{label} legend")]
        titles += group[1:] if label not in errors else group[2:]
        group += [_spacer(viewer, f"{label} spacer") for _ in range(stride - len(group))]
        order += group
    for i, layer in enumerate(order):
        viewer.layers.move(viewer.layers.index(layer), i)
    cells = len(order) // stride
    viewer.grid.stride = stride
    viewer.grid.shape = (1, 2) if cells <= 2 else (2, (cells + 1) // 2)
    viewer.grid.enabled = True
    QApplication.processEvents()   # the grid's views must exist before they are fitted
    for _ in range(2):             # the titles' place depends on the zoom and vice versa
        _place_titles(viewer, titles)
        viewer.reset_view(margin=MOVIE_VIEW_MARGIN if movies else VIEW_MARGIN)
        QApplication.processEvents()
    _place_titles(viewer, titles)
    viewer.layers.selection.active = results[-1]
    canvas = getattr(viewer, "canvas", None)   # each panel has its legend: not the canvas's
    (canvas.overlays.text if canvas is not None else viewer.text_overlay).visible = False
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
