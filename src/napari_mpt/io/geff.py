"""GEFF (graph exchange file format) tracks, read and written through the ``geff`` package.

GEFF is the zarr-based graph format that motile-tracker, traccuracy, ultrack, laptrack,
trackastra, TrackMate and napari-geff exchange tracks in.  What we write:

- one node per track vertex (node id: the vertex's ``node_id`` feature when it has one,
  e.g. a file read before, else its row), with the axes ``t, [z,] y, x`` as node
  properties: ``t`` in frames, positions in pixels; the axes metadata gives each a type
  and a unit, and the calibration as ``scale`` and ``scaled_unit`` (a pixel is 0.1
  micrometer, a frame 0.05 second), so a reader shows the same physical layout;
- ``display_hints`` (x horizontal, y vertical, z depth, t time) and the track id as the
  ``tracklet`` node property named in ``track_node_props``;
- the vertex's ``detection`` row and every per-vertex feature (a detector's amplitude,
  trackpy's mass, statistics) as node properties; the features of links
  (:func:`~napari_mpt.io.graphs.is_link_feature`: a score, ``wrong_link`` when scored) as
  edge properties;
- ``extra["napari_mpt"]`` with the writing version.

Reading accepts any GEFF with a time axis and space axes (napari-geff's rule), turns a
branched graph into its tracklets, and returns every node as a detection too (so a GEFF
from another tracker can be tracked again and scored by association).  A napari Tracks
layer read here carries napari-geff's ``metadata["geff_metadata"]`` (and ``node_id``
and ``napari_track_id`` features), so either plugin can save a layer the other read.
Writes go to a temporary folder renamed into place (:func:`.files.atomic_directory`),
after :func:`geff.validate_structure` accepted them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..core.calibration import FRAME, PIXEL, Calibration
from ..core.data import Detections, Tracks, axes_for
from ..core.errors import InputError
from ..core.version import __version__
from .files import TrackFile, atomic_directory
from .graphs import graph_tracks, is_link_feature, track_links

SUFFIXES = (".geff", ".zarr")
TRACKLET = "tracklet"
NODE_ID = "node_id"
NAPARI_TRACK_ID = "napari_track_id"   # napari-geff's column of the track of each node
STRUCTURE = ("track_id", "particle", NODE_ID, NAPARI_TRACK_ID, "detection")


def is_geff_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a GEFF: a ``.geff``/``.zarr`` name, or a folder whose zarr
    attributes hold ``geff`` metadata."""
    p = Path(path)
    if p.suffix.lower() in SUFFIXES:
        return True
    return p.is_dir() and _has_geff_attrs(p)


def looks_like_geff(path: str | os.PathLike) -> bool:
    """For readers that share ``.zarr`` with image formats (napari's): a ``.geff`` name,
    or a folder whose zarr attributes hold ``geff`` metadata (an OME-Zarr image does not)."""
    p = Path(path)
    return p.suffix.lower() == ".geff" or (p.is_dir() and _has_geff_attrs(p))


def _has_geff_attrs(path: Path) -> bool:
    import json

    for name in (".zattrs", "zarr.json"):
        f = path / name
        if f.is_file():
            try:
                text = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return False
            attrs = text.get("attributes", text) if isinstance(text, dict) else {}
            return isinstance(attrs, dict) and "geff" in attrs
    return False


def _axes_metadata(ndim: int, calibration: Calibration, like: Any = None) -> tuple[list[Any], Any]:
    """The axes (time, then space in napari order) and display hints of a file."""
    from geff_spec import Axis, DisplayHint

    names = ["t", *axes_for(ndim)]
    if like is not None and like.axes is not None:      # a layer napari-geff read
        time = [a.name for a in like.axes if a.type == "time"]
        space = [a.name for a in like.axes if a.type == "space"]
        if len(time) == 1 and len(space) == ndim:
            names = [time[0], *space]
    scale = calibration.scale(ndim)
    units = (calibration.time_unit, *(calibration.space_unit,) * ndim)
    axes = []
    for i, name in enumerate(names):
        base = FRAME if i == 0 else PIXEL
        physical = units[i] not in (FRAME, PIXEL)
        axes.append(Axis(name=name, type="time" if i == 0 else "space", unit=base,
                         scale=scale[i] if physical else None,
                         scaled_unit=units[i] if physical else None))
    hints = DisplayHint(display_horizontal=names[-1], display_vertical=names[-2],
                        display_depth=names[1] if ndim == 3 else None, display_time=names[0])
    return axes, hints


def _prop(values: np.ndarray) -> dict[str, Any]:
    return {"values": np.ascontiguousarray(values), "missing": None}


def write_geff(path: str | os.PathLike, tracks: Tracks, calibration: Calibration | None = None,
               metadata: Any = None) -> Path:
    """Write ``tracks`` as a GEFF folder at ``path`` (see the module docstring).

    ``metadata``: the GeffMetadata a layer was read with (napari-geff's
    ``layer.metadata["geff_metadata"]``): its axis names, ``extra`` and related objects
    are kept.  Replaces an existing GEFF at ``path``, never another folder.
    """
    from geff import GeffMetadata, validate_structure
    from geff.core_io import write_arrays

    path = Path(path)
    cal = calibration or Calibration()
    axes, hints = _axes_metadata(tracks.ndim, cal, metadata)
    names = [a.name for a in axes]
    feats = tracks.features
    ids = (np.asarray(feats[NODE_ID], dtype=np.int64) if NODE_ID in feats
           else np.arange(len(tracks), dtype=np.int64))
    if len(np.unique(ids)) != len(ids) or (len(ids) and ids.min() < 0):
        ids = np.arange(len(tracks), dtype=np.int64)       # not usable as node ids
    node_props: dict[str, Any] = {names[0]: _prop(tracks.frame.astype(np.int64)),
                  **{n: _prop(tracks.coords[:, k]) for k, n in enumerate(names[1:])},
                  TRACKLET: _prop(tracks.track_id.astype(np.int64)),
                  "detection": _prop(tracks.detection.astype(np.int64))}
    a, b = track_links(tracks)
    edge_props: dict[str, Any] = {}
    skip = {*STRUCTURE, *names, TRACKLET}
    for name, values in feats.items():
        arr = np.asarray(values)
        if name in skip or arr.ndim != 1 or arr.dtype.kind not in "biuf":
            continue
        if is_link_feature(name):
            edge_props[name] = _prop(arr[b])
        else:
            node_props[name] = _prop(arr)
    extra = dict(metadata.extra) if metadata is not None else {}
    extra["napari_mpt"] = {"version": __version__}
    meta = GeffMetadata(
        directed=True, axes=axes, display_hints=hints, track_node_props={TRACKLET: TRACKLET},
        node_props_metadata={}, edge_props_metadata={}, extra=extra,
        related_objects=getattr(metadata, "related_objects", None))
    edges = np.column_stack([ids[a], ids[b]]).astype(np.uint64).reshape(-1, 2)
    with atomic_directory(path, replaceable=_has_geff_attrs) as tmp:
        write_arrays(str(tmp), ids.astype(np.uint64), node_props, edges, edge_props, meta)
        validate_structure(str(tmp))
    return path


def _read_error(name: str, exc: BaseException) -> InputError:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return InputError(name, f"not a valid GEFF ({text[:300]})")


def read_geff(path: str | os.PathLike) -> TrackFile:
    """A GEFF's nodes as detections and its tracks, calibration and GeffMetadata.

    Refused with an :class:`InputError` naming the file: not a GEFF (the structure
    validation's reason), no time axis or no space axes, a time that is not a whole frame
    number, a link that does not go forward in time.
    """
    import geff
    from geff.core_io import read_to_memory

    name = str(path)
    if not Path(path).exists():
        raise InputError(name, "file not found")
    try:
        geff.validate_structure(name)
        data = read_to_memory(name, structure_validation=False)
    except Exception as exc:   # geff and zarr raise many types on a foreign folder
        raise _read_error(name, exc) from None
    meta = data["metadata"]
    props = data["node_props"]
    time, space, cal = _axes(name, meta, props)
    n = len(data["node_ids"])
    t = _values(props[time])
    frame = np.round(t).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
    bad = np.flatnonzero(~np.isfinite(t) | (np.abs(t - frame) > 1e-6))
    if len(bad):
        raise InputError(name, f"node {data['node_ids'][bad[0]]}: time axis {time!r} is "
                         f"{float(t[bad[0]]):g}, not a whole frame number")
    coords = np.column_stack([_values(props[a]) for a in space]) if n else np.zeros((0, len(space)))
    tracklet = (meta.track_node_props or {}).get(TRACKLET)
    used = {time, *space, TRACKLET, "detection", *([tracklet] if tracklet else [])}
    node_feats = {k: _values(v) for k, v in props.items() if k not in used and _scalar(v)}
    node_ids = np.asarray(data["node_ids"])
    node_feats[NODE_ID] = node_ids.astype(np.int64)
    det = (_values(props["detection"]).astype(np.int64) if "detection" in props
           else np.arange(n, dtype=np.int64))
    row_of = {int(v): i for i, v in enumerate(node_ids.tolist())}
    edge_ids = np.asarray(data["edge_ids"]).reshape(-1, 2)
    try:
        src = np.array([row_of[int(v)] for v in edge_ids[:, 0]], dtype=np.int64)
        dst = np.array([row_of[int(v)] for v in edge_ids[:, 1]], dtype=np.int64)
    except KeyError as exc:
        raise InputError(name, f"a link names node {exc.args[0]}, which is not a node") from None
    edge_feats = {k: _values(v) for k, v in data["edge_props"].items() if _scalar(v)}
    names = tracklet if tracklet in props else None
    tracks = graph_tracks(name, frame, coords, src, dst, det, node_feats, edge_feats,
                          _values(props[names]).astype(np.int64) if names else None, node_ids)
    spots = Detections(frame, coords, source=name,
                       features={k: v for k, v in node_feats.items() if k != NODE_ID})
    return TrackFile(spots, tracks, cal, meta)


def _scalar(prop: Mapping[str, Any]) -> bool:
    v = np.asarray(prop["values"])
    return v.ndim == 1 and (np.issubdtype(v.dtype, np.number) or v.dtype == bool)


def _values(prop: Mapping[str, Any]) -> np.ndarray:
    """A property's values, NaN where missing (integers become floats only then)."""
    v = np.asarray(prop["values"])
    if v.dtype == bool:
        v = v.astype(np.int64)
    missing = prop.get("missing")
    if missing is not None and np.any(missing):
        v = v.astype(np.float64)
        v[np.asarray(missing, dtype=bool)] = np.nan
    return v


def _axes(name: str, meta: Any, props: dict[str, Any]) -> tuple[str, list[str], Calibration]:
    """The time axis, the space axes in napari order (depth, vertical, horizontal from the
    display hints, else file order) and the calibration the axes state."""
    axes = list(meta.axes or [])
    time = [a for a in axes if a.type == "time"]
    space = [a for a in axes if a.type == "space"]
    if not axes and "t" in props and {"y", "x"} <= set(props):    # no axes metadata
        return "t", [a for a in ("z", "y", "x") if a in props], Calibration()
    if len(time) != 1 or len(space) not in (2, 3):
        raise InputError(name, f"needs one time axis and 2 or 3 space axes; its axes are "
                         f"{[(a.name, a.type) for a in axes] or 'not stated'}")
    hints = meta.display_hints
    order = [a.name for a in space]
    if hints is not None:
        wanted = [h for h in (hints.display_depth, hints.display_vertical,
                              hints.display_horizontal) if h in order]
        order = [a for a in order if a not in wanted] + wanted
    by = {a.name: a for a in space}
    missing = [a for a in [time[0].name, *order] if a not in props]
    if missing:
        raise InputError(name, f"axis {missing[0]!r} is not a node property")
    sp = [by[a] for a in order]

    def phys(ax: Any, base: str) -> tuple[float, str]:
        if ax.scale is not None and ax.scaled_unit:
            return float(ax.scale), str(ax.scaled_unit)
        if ax.scale is not None:
            return float(ax.scale), str(ax.unit or base)
        return 1.0, str(ax.unit or base)

    dt, t_unit = phys(time[0], FRAME)
    sizes = [phys(a, PIXEL) for a in sp]
    cal = Calibration(tuple(s for s, _ in sizes), dt, sizes[-1][1], t_unit)
    return time[0].name, order, cal
