"""Side by side: one grid panel per run of a dataset, each titled with its legend.

The demo's stills use it, and the Track widget's "side by side" box: runs kept with
"keep every run" otherwise lie on top of each other.  napari's grid puts ``stride``
consecutive layers in each panel (hidden ones keep their place but draw nothing), so the
layers are reordered into groups: the data ([movie,] truth, detections, title), then each
run (tracks, link errors, title), a run without link errors having its legend as a layer
of its own, and hidden one-point spacers filling a group up to the stride.  Other layers
(other datasets, hidden by the Track widget) go after the groups.
"""

from __future__ import annotations

from typing import Any

from .layers import FN_COLOR, FP_COLOR, KEY, mpt_meta

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


def _place_titles(viewer: Any, titles: list[Any], layers: list[Any]) -> None:
    """Stack each title's lines just above the top left of the data ``layers``, ``LINE_PX``
    apart on screen (napari draws an ``upper_left`` text above and right of its point)."""
    import numpy as np

    camera = getattr(getattr(viewer, "scene", None), "camera", None) or viewer.camera
    step = LINE_PX / (float(camera.zoom) or 1.0)
    data = [np.asarray(layer.data)[:, -2:] for layer in layers
            if mpt_meta(layer).get("kind") in ("detections", "truth") and len(layer.data)]
    top, left = np.min(np.vstack(data), axis=0) if data else np.zeros(2)
    for layer in titles:
        n = len(layer.data)
        layer.data = np.column_stack([top - (n - np.arange(1, n + 1) + 0.3) * step,
                                      np.full(n, left)])


def _spacer(viewer: Any, name: str) -> Any:
    """A hidden one-point layer that fills a grid panel's group up to the stride (never an
    empty layer: the canvas draws nothing for it either way)."""
    import numpy as np

    return viewer.add_points(np.zeros((1, 2)), name=name, visible=False, size=0.01,
                             face_color="transparent", border_width=0,
                             metadata={KEY: {"kind": "title", "panel": "spacer"}})


def dataset_layers(viewer: Any, detections: Any = None) -> tuple[list[Any], list[Any]]:
    """The data layers ([movie,] truth, detections) and the run layers (results) of the
    dataset of ``detections`` (by default the viewer's only detections layer)."""
    if detections is None:
        found = [x for x in viewer.layers if mpt_meta(x).get("kind") == "detections"]
        if len(found) != 1:
            return [], []
        detections = found[0]
    pair = mpt_meta(detections).get("pair")
    source = str(pair or detections.name)       # what the Track widget groups runs by
    data = [x for x in viewer.layers if x is detections or (
        pair is not None and mpt_meta(x).get("pair") == pair
        and mpt_meta(x).get("kind") in ("movie", "truth"))]
    results = [x for x in viewer.layers if mpt_meta(x).get("kind") == "result"
               and mpt_meta(x).get("source") == source]
    return data, results


def side_by_side(viewer: Any, detections: Any = None) -> bool:
    """One grid panel per run on ``detections`` (by default the viewer's only detections
    layer), the data in the first; only for two runs or more.  Returns whether the grid
    is on."""
    from qtpy.QtWidgets import QApplication

    overlay(viewer)
    data, results = dataset_layers(viewer, detections)
    movies = [x for x in data if mpt_meta(x).get("kind") == "movie"]
    if not data or len(results) < 2 or len(movies) > 1:
        return False
    stride = 3 + len(movies)
    errors = {(mpt_meta(x).get("label"), mpt_meta(x).get("source")): x for x in viewer.layers
              if mpt_meta(x).get("kind") == "link_errors"}
    order: list[Any] = []
    titles = []
    title = _title_layer(viewer, panel_lines("movie" if movies else "truth", None), "truth",
                         "data title")
    rank = {"movie": 0, "truth": 1, "detections": 2}
    group = [*sorted(data, key=lambda x: rank.get(str(mpt_meta(x).get("kind")), 2)), title]
    order += group + [_spacer(viewer, "data spacer") for _ in range(stride - len(group))]
    titles.append(title)
    for result in results:
        label = mpt_meta(result).get("label")
        lines = panel_lines("result", label)
        error = errors.get((label, mpt_meta(result).get("source")))
        if error is not None:
            group = [result, error, _title_layer(viewer, lines, "result", f"{label} title")]
            titles.append(group[2])
        else:
            lines[2:] = [("no link errors: every link right", (0.55, 1.0, 0.2, 1.0))]
            group = [result, _title_layer(viewer, lines[:1], "result", f"{label} title"),
                     _title_layer(viewer, [("", WHITE), *lines[1:]], "result",
                                  f"{label} legend")]
            titles += group[1:]
        group += [_spacer(viewer, f"{label} spacer") for _ in range(stride - len(group))]
        order += group
    for i, layer in enumerate(order):
        viewer.layers.move(viewer.layers.index(layer), i)
    for layer in order:
        if mpt_meta(layer).get("panel") != "spacer":
            layer.visible = True
    cells = len(order) // stride
    viewer.grid.stride = stride
    viewer.grid.shape = (1, 2) if cells <= 2 else (2, (cells + 1) // 2)
    viewer.grid.enabled = True
    QApplication.processEvents()   # the grid's views must exist before they are fitted
    for _ in range(2):             # the titles' place depends on the zoom and vice versa
        _place_titles(viewer, titles, data)
        viewer.reset_view(margin=MOVIE_VIEW_MARGIN if movies else VIEW_MARGIN)
        QApplication.processEvents()
    _place_titles(viewer, titles, data)
    viewer.layers.selection.active = results[-1]
    canvas = getattr(viewer, "canvas", None)   # each panel has its legend: not the canvas's
    (canvas.overlays.text if canvas is not None else viewer.text_overlay).visible = False
    return True


def overlay(viewer: Any) -> None:
    """Back to one view: the grid off, the panels' titles and spacers removed."""
    viewer.grid.enabled = False
    for layer in [x for x in viewer.layers if mpt_meta(x).get("kind") == "title"]:
        viewer.layers.remove(layer)


