"""Conversions between core containers and napari layers (no Qt needed).

Layers made here carry ``metadata["napari_mpt"]`` saying what they are (``kind``:
detections, truth, result, link_errors) and, for a detections layer and its truth, a
shared ``pair`` id, so the Track widget finds the truth of whichever Points layer it
tracks even after the user renamed either.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from ..core.data import Detections, Simulation, Tracks, axes_for
from ..core.errors import InputError
from ..evaluation.metrics import LinkScore

TAIL_LENGTH = 30
"""Frames of history drawn behind each track head (truth, results, opened tracks)."""

KEY = "napari_mpt"
FP, FN = 0, 1
ERROR_TYPES = {FP: "FP (wrong link)", FN: "FN (missed true link)"}
FP_COLOR = (1.0, 0.1, 0.75, 1.0)   # magenta: a link the tracker made that is wrong
FN_COLOR = (0.0, 0.9, 1.0, 1.0)    # cyan: a true link the tracker did not make
OK_COLOR = (0.9, 0.9, 0.9, 1.0)


def new_pair_id() -> str:
    return uuid.uuid4().hex[:12]


def mpt_meta(layer: Any) -> dict[str, Any]:
    """The plugin's metadata of ``layer`` (empty for layers made elsewhere)."""
    meta = getattr(layer, "metadata", None) or {}
    out = meta.get(KEY, {})
    return out if isinstance(out, dict) else {}


def _two_colors(name: str, low: tuple, high: tuple):
    from napari.utils.colormaps import Colormap

    return Colormap(colors=np.array([low, high]), controls=np.array([0.0, 1.0]), name=name)


# track colours avoid magenta and cyan, which mark link errors
_TRACK_COLORS = {"mpt_tracks": ((1.0, 0.6, 0.0, 1.0), (0.55, 1.0, 0.2, 1.0), (0.35, 0.55, 1.0, 1.0)),
                 "mpt_truth": ((0.7, 0.7, 0.7, 1.0), (1.0, 1.0, 1.0, 1.0))}


def track_colormap(name: str = "mpt_tracks") -> str:
    """Register one of the plugin's track colormaps with napari; returns its name."""
    from napari.utils.colormaps import AVAILABLE_COLORMAPS, Colormap, ensure_colormap

    if name not in AVAILABLE_COLORMAPS:
        ensure_colormap(Colormap(np.array(_TRACK_COLORS[name]), name=name))
    return name


ERROR_COLORMAP = "FP magenta, FN cyan"


def error_colormap_name() -> str:
    """Register the link-error colormap under a name that says what it draws.

    A link-errors layer is coloured by its ``error_type`` through ``colormaps_dict``;
    giving the layer this colormap as well makes its controls name the colours drawn.
    """
    from napari.utils.colormaps import AVAILABLE_COLORMAPS, ensure_colormap

    if ERROR_COLORMAP not in AVAILABLE_COLORMAPS:
        ensure_colormap(_two_colors(ERROR_COLORMAP, FP_COLOR, FN_COLOR))
    return ERROR_COLORMAP


def error_colormaps() -> dict[str, Any]:
    """``color_by`` colormaps for the 0/1 features: FP magenta, FN cyan; wrong links red."""
    return {"error_type": _two_colors("mpt_link_errors", FP_COLOR, FN_COLOR),
            "wrong_link": _two_colors("mpt_wrong_link", OK_COLOR, (1.0, 0.1, 0.1, 1.0))}


def axis_labels(ndim: int) -> tuple[str, ...]:
    """Labels of a layer's axes: time, then the spatial axes (napari order)."""
    return ("t", *axes_for(ndim))


def points_data(frame: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``(t, [z,] y, x)`` rows for a Points layer with a time axis."""
    return np.column_stack([frame, coords]).astype(np.float64)


def detections_layer(det: Detections, name: str, pair: str | None = None, **meta: Any) -> tuple:
    """A Points layer ``(t, [z,] y, x)``; the detections' features (trackpy's mass, a
    detector's amplitude) become the layer's features."""
    kwargs = {"name": name, "size": 2, "face_color": "yellow", "border_width": 0,
              "axis_labels": axis_labels(det.ndim),
              "metadata": {KEY: {"kind": "detections", "pair": pair, **meta}}}
    if det.features:
        kwargs["features"] = dict(det.features)
    return points_data(det.frame, det.coords), kwargs, "points"


def tracks_features(tracks: Tracks) -> dict[str, np.ndarray]:
    """Per-vertex features of a Tracks layer: the detection index plus the tracks' own."""
    feats = {"detection": tracks.detection}
    for k, v in tracks.features.items():
        v = np.asarray(v)
        feats[k] = v.astype(np.int64) if v.dtype == bool else v
    return feats


def tracks_layer(tracks: Tracks, name: str, **kwargs: Any) -> tuple:
    return (tracks.napari_data(),
            {"name": name, "features": tracks_features(tracks),
             "axis_labels": axis_labels(tracks.ndim), **kwargs}, "tracks")


def truth_layer(truth: Tracks, name: str, pair: str | None = None, **meta: Any) -> tuple:
    return tracks_layer(truth, name, tail_width=2, tail_length=TAIL_LENGTH,
                        colormap=track_colormap("mpt_truth"),
                        metadata={KEY: {"kind": "truth", "pair": pair, **meta}})


def simulation_layers(sim: Simulation, pair: str | None = None) -> list[tuple]:
    """A detections Points layer and its ground-truth Tracks layer, paired."""
    pair = pair or new_pair_id()
    params = sim.params.to_dict() if hasattr(sim.params, "to_dict") else {}
    return [detections_layer(sim.detections, "detections", pair, simulation=params),
            truth_layer(sim.truth, "ground truth", pair)]


def detections_from_points(layer: Any) -> Detections:
    """The detections of a Points layer whose first axis is time; row i is detection i.

    Raises :class:`InputError` naming the layer when it has no time axis or its time
    values are not whole frame numbers.
    """
    src = f"layer {layer.name!r}"
    data = np.asarray(layer.data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 3:
        raise InputError(src, "has no time axis: a Points layer to track needs (t, y, x) or "
                         "(t, z, y, x) coordinates; open a detections CSV (frame, y, x) or "
                         "simulate one")
    if data.shape[1] > 4:
        raise InputError(src, f"has {data.shape[1]} axes; expected (t, y, x) or (t, z, y, x)")
    if len(data) == 0:
        raise InputError(src, "has no points")
    t = data[:, 0]
    whole = np.round(t)
    bad = np.flatnonzero(~np.isfinite(t) | (np.abs(t - whole) > 1e-6))
    if len(bad):
        raise InputError(src, f"time value {t[bad[0]]!r} is not a whole frame number; the "
                         "first axis of the layer must be the frame", row=int(bad[0]))
    feats = features_dict(getattr(layer, "features", None), len(data))
    return Detections(whole.astype(np.int64), data[:, 1:], source=src, features=feats)


def tracks_from_layer(layer: Any) -> Tracks:
    """A Tracks layer as core :class:`Tracks`; a ``detection`` feature becomes the column."""
    return tracks_from_data(layer.data, getattr(layer, "features", None), repr(layer.name))


def tracks_from_data(data: Any, table: Any, source: str) -> Tracks:
    """Tracks layer data ``(track_id, t, [z,] y, x)`` and its features (a table with
    ``columns``, or a mapping) as core :class:`Tracks`.  Used for live layers and for the
    writer, which napari hands data and attributes rather than a layer."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        raise InputError(f"layer {source}",
                         "only 2D or 3D tracks (track_id, t, [z,] y, x) can be used")
    feats = features_dict(table, len(arr))
    feats.pop("track_id", None)
    det = feats.pop("detection", np.empty(0, dtype=np.int64))
    return Tracks(arr[:, 0], np.round(arr[:, 1]), arr[:, 2:], det, feats)


def features_dict(table: Any, n: int) -> dict[str, np.ndarray]:
    """The numeric features of a layer's table (or mapping) with ``n`` rows, as arrays in
    the layer's data order; booleans become 0/1, text columns are left out."""
    if table is None:
        return {}
    cols = list(table.columns) if hasattr(table, "columns") else list(table)
    out = {}
    for col in cols:
        values = np.asarray(table[col])
        if values.dtype == bool:
            values = values.astype(np.int64)
        if values.shape == (n,) and np.issubdtype(values.dtype, np.number):
            out[str(col)] = values
    return out


def with_spot_features(tracks: Tracks, detections: Detections) -> Tracks:
    """``tracks`` plus the features of the spot each vertex took (trackpy's ``mass``,
    TrackMate's ``QUALITY``, the detector's ``amplitude``; NaN where it took none), so
    that a saved run keeps what the spots file had.  A name the tracks already use keeps
    the tracks' column."""
    took = tracks.detection >= 0
    feats = {}
    for name, values in detections.features.items():
        if name in tracks.features or name in ("track_id", "detection"):
            continue
        column = np.full(len(tracks.detection), np.nan)
        column[took] = np.asarray(values, dtype=np.float64)[tracks.detection[took]]
        feats[name] = column
    return tracks.with_features(**feats)


def result_layer_data(tracks: Tracks, score: LinkScore | None) -> tuple[np.ndarray, dict]:
    """Data and features of a tracker's Tracks layer; ``wrong_link`` when scored (1 where
    the link into the vertex is an FP)."""
    feats = tracks_features(tracks)
    if score is not None and score.wrong_link is not None:
        feats["wrong_link"] = score.wrong_link.astype(np.int64)
    return tracks.napari_data(), feats


def link_error_data(score: LinkScore) -> tuple[np.ndarray, dict] | None:
    """Each FP and each FN as its own two-vertex track (None when there is no error).

    ``error_type`` is 0 for FP, 1 for FN; ``particle`` the true particle (FN) or the
    estimated track (FP) the link belongs to.
    """
    if not score.errors:
        return None
    rows, etype, owner = [], [], []
    for i, e in enumerate(score.errors):
        rows.append([i, e.frame_from, *e.start])
        rows.append([i, e.frame_to, *e.end])
        code = FP if e.kind == "FP" else FN
        etype += [code, code]
        owner += [e.track_id, e.track_id]
    return (np.asarray(rows, dtype=np.float64),
            {"error_type": np.asarray(etype, dtype=np.int64),
             "track": np.asarray(owner, dtype=np.int64)})


def set_tracks(layer: Any, data: np.ndarray, features: dict, graph: dict | None = None) -> None:
    """Update a Tracks layer in place: data first, then features, then graph (setting the
    data resets the other two)."""
    color_by = layer.color_by
    layer.color_by = "track_id"   # always present, so resetting the features does not warn
    layer.data = data
    layer.features = features
    layer.graph = graph or {}
    if color_by in layer.properties_to_color_by:
        layer.color_by = color_by


def dataset_of(layer: Any) -> str:
    """What a detections layer's runs are grouped by: its pair id, or its name (a run's
    layers carry it as ``source``)."""
    return str(mpt_meta(layer).get("pair") or layer.name)
