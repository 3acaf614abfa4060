"""TrackMate's XML file (the ``.xml`` TrackMate saves and Fiji reopens), read and written.

What a TrackMate XML holds, and where it goes here (structure as TrackMate v6/v7 write it,
e.g. laptrack's reference ``trackmate_tracks_with_gap_closing.xml``)::

    <TrackMate version="...">
      <Model spatialunits="µm" timeunits="sec">
        <FeatureDeclarations> <SpotFeatures/> <EdgeFeatures/> <TrackFeatures/> </...>
        <AllSpots nspots="...">
          <SpotsInFrame frame="0">
            <Spot ID="7" name="ID7" POSITION_X=".." POSITION_Y=".." POSITION_Z="0.0"
                  POSITION_T="0.0" FRAME="0" QUALITY=".." RADIUS=".." VISIBILITY="1" .../>
        <AllTracks>
          <Track name="Track_0" TRACK_ID="0" ...>
            <Edge SPOT_SOURCE_ID="7" SPOT_TARGET_ID="9" LINK_COST=".." .../>
        <FilteredTracks> <TrackID TRACK_ID="0"/> </FilteredTracks>
      </Model>
      <Settings>
        <ImageData pixelwidth=".." pixelheight=".." voxeldepth=".." timeinterval=".." .../>

- every spot becomes a detection (row i: the i-th spot of the file), its numeric
  attributes features (lower-cased: ``QUALITY`` -> ``quality``; its ``ID`` ->
  ``spot_id``); positions are converted from the file's units to pixels with the
  ImageData pixel size, and the calibration (pixel size, frame interval, units) is
  returned for the layers' ``scale`` and ``units``;
- each track's edges become links: a track is a chain of spots, so a track that splits
  or merges is read as its tracklets (:mod:`.graphs`); edge attributes become link
  features of the spot the edge arrives at (``LINK_COST`` -> ``link_cost``); track-level
  features (TrackMate computes them from the spots) are not kept;
- writing does the reverse: positions in the calibration's units, every vertex feature
  as a spot attribute, every link feature as an edge attribute, the declarations
  TrackMate needs and the ImageData calibration.  ``RADIUS`` and ``QUALITY`` (which
  TrackMate draws and filters by) are the ``radius`` and ``quality`` features when there
  are such, else :data:`DEFAULT_RADIUS` pixels and 1.

Written by hand (with :mod:`xml.parsers.expat`, which gives each element's line, so a bad
file is refused with its line): geff's converter reads TrackMate XML only into a GEFF on
disk, without lines, and nothing writes it.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

import numpy as np

from ..core.calibration import FRAME, PIXEL, Calibration
from ..core.data import Detections, Tracks
from ..core.errors import InputError
from .files import TrackFile, atomic_write, parse_xml, read_bytes
from .graphs import graph_tracks, is_link_feature, track_links

ROOT = "TrackMate"
SPOT_ID = "spot_id"
DEFAULT_RADIUS = 2.0
"""Spot radius (px) written when the tracks have no ``radius`` feature."""
POSITIONS = ("POSITION_Z", "POSITION_Y", "POSITION_X")
STRUCTURE = {"ID", "name", "POSITION_X", "POSITION_Y", "POSITION_Z", "POSITION_T", "FRAME"}
EDGE_STRUCTURE = {"SPOT_SOURCE_ID", "SPOT_TARGET_ID"}
_SPACE_OUT = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", PIXEL: "pixel"}
_TIME_OUT = {"second": "sec", "millisecond": "ms", "minute": "min", "hour": "h", FRAME: "frame"}


@dataclass
class _Parsed:
    spots: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    edges: list[dict[str, str]] = field(default_factory=list)
    edge_lines: list[int] = field(default_factory=list)
    edge_track: list[str] = field(default_factory=list)
    model: dict[str, str] = field(default_factory=dict)
    image: dict[str, str] = field(default_factory=dict)
    root: str | None = None


def _parse(data: bytes, name: str) -> _Parsed:
    parser = expat.ParserCreate()
    out = _Parsed()
    track: list[str | None] = [None]

    def start(tag: str, attrs: dict[str, str]) -> None:
        line = parser.CurrentLineNumber
        if out.root is None:
            out.root = tag
            if tag != ROOT:
                raise InputError(name, f"not a TrackMate file (its root element is <{tag}>, "
                                 f"not <{ROOT}>)", line=line)
        elif tag == "Model":
            out.model = attrs
        elif tag == "ImageData":
            out.image = attrs
        elif tag == "Spot":
            out.spots.append(attrs)
            out.lines.append(line)
        elif tag == "Track":
            track[0] = attrs.get("TRACK_ID", attrs.get("name", ""))
        elif tag == "Edge" and track[0] is not None:
            out.edges.append(attrs)
            out.edge_lines.append(line)
            out.edge_track.append(track[0])

    def end(tag: str) -> None:
        if tag == "Track":
            track[0] = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parse_xml(parser, data, name)
    if out.root is None:
        raise InputError(name, "the file is empty")
    return out


def _number(name: str, attrs: dict[str, str], key: str, line: int, what: str = "<Spot>") -> float:
    if key not in attrs:
        raise InputError(name, f"{what} has no {key} attribute", line=line)
    try:
        v = float(attrs[key])
    except ValueError:
        raise InputError(name, f"{what} {key}={attrs[key]!r} is not a number", line=line) from None
    if not math.isfinite(v):
        raise InputError(name, f"{what} {key}={attrs[key]!r} is not finite", line=line)
    return v


def _calibration(name: str, p: _Parsed, three_d: bool) -> Calibration:
    img = p.image
    s_unit = p.model.get("spatialunits", PIXEL)
    t_unit = p.model.get("timeunits", FRAME)

    def size(key: str) -> float:
        try:
            v = float(img.get(key, "1"))
        except ValueError:
            raise InputError(name, f"<ImageData> {key}={img[key]!r} is not a number") from None
        if not (math.isfinite(v) and v > 0):
            raise InputError(name, f"<ImageData> {key}={img[key]!r} is not a positive size")
        return v

    px = (size("voxeldepth"),) if three_d else ()
    return Calibration((*px, size("pixelheight"), size("pixelwidth")), size("timeinterval"),
                       s_unit, t_unit)


def _features(spots: list[dict[str, str]], skip: set[str]) -> dict[str, np.ndarray]:
    """Every attribute that is a number wherever it is given (NaN where absent);
    attributes holding text anywhere are left out."""
    keys = list(dict.fromkeys(k for s in spots for k in s if k not in skip))
    out = {}
    for key in keys:
        col = np.full(len(spots), np.nan)
        try:
            for i, s in enumerate(spots):
                if key in s:
                    col[i] = float(s[key])
        except ValueError:
            continue
        out[key] = col
    return out


def parse_trackmate_xml(data: bytes, name: str) -> TrackFile:
    """Spots, tracks and calibration of a TrackMate XML's text (see the module
    docstring); an :class:`InputError` naming ``name`` and the line otherwise."""
    p = _parse(data, name)
    if not p.spots:
        raise InputError(name, "has no <Spot>: nothing to read")
    z = [float(s.get("POSITION_Z", "0") or 0) for s in p.spots]
    try:
        nslices = int(float(p.image.get("nslices", "1")))
    except ValueError:
        nslices = 1
    three_d = nslices > 1 or len(set(z)) > 1
    cal = _calibration(name, p, three_d)
    keys = POSITIONS if three_d else POSITIONS[1:]
    pos = np.array([[_number(name, s, k, ln) for k in keys]
                    for s, ln in zip(p.spots, p.lines, strict=True)])
    coords = pos / np.asarray(cal.spatial(len(keys)))
    frame = np.empty(len(p.spots), dtype=np.int64)
    ids = np.empty(len(p.spots), dtype=np.int64)
    row_of: dict[int, int] = {}
    for i, (s, ln) in enumerate(zip(p.spots, p.lines, strict=True)):
        f = _number(name, s, "FRAME", ln)
        if f != int(f) or f < 0:
            raise InputError(name, f"<Spot> FRAME={s['FRAME']!r} is not a frame number", line=ln)
        frame[i] = int(f)
        sid = _number(name, s, "ID", ln)
        if sid != int(sid):
            raise InputError(name, f"<Spot> ID={s['ID']!r} is not an integer", line=ln)
        if int(sid) in row_of:
            raise InputError(name, f"spot ID {int(sid)} is used twice (first on line "
                             f"{p.lines[row_of[int(sid)]]})", line=ln)
        row_of[int(sid)] = i
        ids[i] = int(sid)
    feats = {k.lower(): v for k, v in _features(p.spots, STRUCTURE).items()}
    feats[SPOT_ID] = ids
    spots = Detections(frame, coords, source=name, features=dict(feats))
    src = np.empty(len(p.edges), dtype=np.int64)
    dst = np.empty(len(p.edges), dtype=np.int64)
    track_of = np.empty(len(p.edges), dtype=np.int64)
    for k, (e, ln) in enumerate(zip(p.edges, p.edge_lines, strict=True)):
        for arr, key in ((src, "SPOT_SOURCE_ID"), (dst, "SPOT_TARGET_ID")):
            sid = int(_number(name, e, key, ln, "<Edge>"))
            if sid not in row_of:
                raise InputError(name, f"<Edge> {key}={sid} names no spot", line=ln)
            arr[k] = row_of[sid]
        try:
            track_of[k] = int(p.edge_track[k])
        except ValueError:
            track_of[k] = -1
    tracked = np.zeros(len(frame), dtype=bool)
    tracked[src] = tracked[dst] = True
    rows = np.flatnonzero(tracked)
    new = np.full(len(frame), -1, dtype=np.int64)
    new[rows] = np.arange(len(rows))
    names = np.full(len(frame), -1, dtype=np.int64)
    names[src], names[dst] = track_of, track_of
    edge_feats = _features(p.edges, EDGE_STRUCTURE)
    tracks = graph_tracks(name, frame[rows], coords[rows], new[src], new[dst], rows,
                          {k: v[rows] for k, v in feats.items()}, edge_feats,
                          names[rows], ids[rows])
    return TrackFile(spots, tracks, cal, {"version": p.model.get("version")})


def read_trackmate_xml(path: str | os.PathLike) -> TrackFile:
    """A TrackMate XML file's spots, tracks and calibration (:func:`parse_trackmate_xml`)."""
    name = str(path)
    data = read_bytes(path)
    return parse_trackmate_xml(data, name)


def looks_like_trackmate_xml(path: str | os.PathLike, head: int = 4096) -> bool:
    """Cheap sniff for readers: a ``<TrackMate`` element within the first bytes."""
    try:
        with open(path, "rb") as fh:
            return f"<{ROOT}".encode() in fh.read(head)
    except OSError:
        return False


def _spot_rows(tracks: Tracks, detections: Detections | None) -> tuple[np.ndarray, np.ndarray]:
    """The spots to write, as the vertex each is (-1: none) and the detection row each is
    (-1: none): without ``detections``, the vertices; with them, every detection row in
    order (the vertex that took it, if any), then the vertices that took no row."""
    nv = len(tracks)
    if detections is None:
        return np.arange(nv), np.full(nv, -1)
    det = tracks.detection
    ok = np.flatnonzero((det >= 0) & (det < len(detections)))
    _, first = np.unique(det[ok], return_index=True)    # a row taken twice: the first keeps it
    ok = ok[first]
    vertex_of = np.full(len(detections), -1, dtype=np.int64)
    vertex_of[det[ok]] = ok
    rest = np.setdiff1d(np.arange(nv), ok)
    return (np.r_[vertex_of, rest].astype(np.int64),
            np.r_[np.arange(len(detections)), np.full(len(rest), -1)].astype(np.int64))


def _edge_attr(feature: str) -> str:
    """TrackMate's name of a link feature (the inverse of :func:`.graphs.link_feature`)."""
    if feature == "link_cost" or not feature.startswith("link_"):
        return feature.upper()
    return feature[len("link_"):].upper()


def _fmt(v: float) -> str:
    return repr(float(v))


DIMENSIONS = {"QUALITY": "QUALITY", "POSITION_X": "POSITION", "POSITION_Y": "POSITION",
              "POSITION_Z": "POSITION", "POSITION_T": "TIME", "RADIUS": "LENGTH"}
"""TrackMate's dimension of the spot features it knows (others: NONE)."""


def _declare(kind: str, names: list[tuple[str, bool]]) -> list[str]:
    out = [f"      <{kind}>"]
    for n, isint in names:
        out.append(f'        <Feature feature={quoteattr(n)} name={quoteattr(n)} '
                   f'shortname={quoteattr(n)} dimension="{DIMENSIONS.get(n, "NONE")}" '
                   f'isint="{"true" if isint else "false"}" />')
    return [*out, f"      </{kind}>"]


def tracks_to_trackmate_xml(tracks: Tracks, calibration: Calibration | None = None,
                            detections: Detections | None = None) -> str:
    """The TrackMate XML text of ``tracks``; with the ``detections`` they were tracked
    from, every detection is a spot (its features, then its vertex's), those no vertex
    took in no track."""
    cal = calibration or Calibration()
    nd = tracks.ndim
    size = np.asarray(cal.spatial(nd))
    spot_feats = {k: np.asarray(v) for k, v in tracks.features.items()
                  if not is_link_feature(k) and np.asarray(v).ndim == 1
                  and np.asarray(v).dtype.kind in "biuf" and k not in ("track_id", "particle")}
    vertex, det_row = _spot_rows(tracks, detections)
    n = len(vertex)
    took = vertex >= 0
    all_frame = np.where(took, tracks.frame[np.maximum(vertex, 0)], 0)
    all_coords = np.zeros((n, nd))
    all_coords[took] = tracks.coords[vertex[took]]
    if detections is not None:
        all_frame[~took] = detections.frame[det_row[~took]]
        all_coords[~took] = detections.coords[det_row[~took]]
    det_feats = detections.features if detections is not None else {}
    from_det = det_row >= 0
    cols: dict[str, np.ndarray] = {}
    for k in dict.fromkeys([*det_feats, *spot_feats]):
        col = np.full(n, np.nan)
        if k in det_feats:            # a spot is a detection: its features first
            col[from_det] = det_feats[k][det_row[from_det]]
        if k in spot_feats:           # then what the track says of it
            col[took] = spot_feats[k][vertex[took]]
        cols[k] = col
    ids = cols.pop(SPOT_ID, None)
    if ids is None or np.isnan(ids).any() or len(np.unique(ids)) != n:
        ids = np.arange(n, dtype=np.float64)
    ids = ids.astype(np.int64)
    radius = cols.pop("radius", np.full(n, DEFAULT_RADIUS * float(size[-1])))
    quality = cols.pop("quality", np.ones(n))
    visibility = cols.pop("visibility", np.ones(n))
    isint = {k: bool(np.all(np.isnan(v) | (v == np.round(v)))) for k, v in cols.items()}
    order = np.argsort(all_frame, kind="stable")
    pos_names = POSITIONS if nd == 3 else POSITIONS[1:]
    space = _SPACE_OUT.get(cal.space_unit, cal.space_unit)
    time = _TIME_OUT.get(cal.time_unit, cal.time_unit)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<{ROOT} version="7.0.0">',
           f"  <Model spatialunits={quoteattr(space)} timeunits={quoteattr(time)}>",
           "    <FeatureDeclarations>"]
    spot_decl = [("QUALITY", False), ("POSITION_X", False), ("POSITION_Y", False),
                 ("POSITION_Z", False), ("POSITION_T", False), ("FRAME", True),
                 ("RADIUS", False), ("VISIBILITY", True),
                 *((k.upper(), isint[k]) for k in cols)]
    a, b = track_links(tracks)
    spot_of = np.empty(len(tracks), dtype=np.int64)
    spot_of[vertex[took]] = np.flatnonzero(took)
    link_feats = {k: np.asarray(v, dtype=np.float64)[b] for k, v in tracks.features.items()
                  if is_link_feature(k) and np.asarray(v).ndim == 1
                  and np.asarray(v).dtype.kind in "biuf"}
    edge_decl = [("SPOT_SOURCE_ID", True), ("SPOT_TARGET_ID", True),
                 *((_edge_attr(k), False) for k in link_feats)]
    out += _declare("SpotFeatures", spot_decl) + _declare("EdgeFeatures", edge_decl)
    out += _declare("TrackFeatures", [("TRACK_ID", True), ("TRACK_INDEX", True),
                                      ("NUMBER_SPOTS", True)])
    out += ["    </FeatureDeclarations>", f'    <AllSpots nspots="{n}">']
    bounds = np.r_[0, np.flatnonzero(np.diff(all_frame[order])) + 1, n]
    for lo, hi in itertools.pairwise(bounds):
        rows = order[lo:hi]
        if not len(rows):
            continue
        f = int(all_frame[rows[0]])
        out.append(f'      <SpotsInFrame frame="{f}">')
        for i in rows:
            phys = all_coords[i] * size
            attrs = [f'ID="{ids[i]}"', f'name="ID{ids[i]}"',
                     *(f'{p}="{_fmt(v)}"' for p, v in zip(pos_names, phys, strict=True)),
                     *(['POSITION_Z="0.0"'] if nd == 2 else []),
                     f'POSITION_T="{_fmt(f * cal.frame_interval)}"', f'FRAME="{f}"',
                     f'QUALITY="{_fmt(quality[i])}"', f'RADIUS="{_fmt(radius[i])}"',
                     f'VISIBILITY="{int(visibility[i])}"']
            for k, col in cols.items():
                v = col[i]
                if not np.isnan(v):
                    attrs.append(f'{k.upper()}="{int(v) if isint[k] else _fmt(v)}"')
            out.append("        <Spot " + " ".join(attrs) + " />")
        out.append("      </SpotsInFrame>")
    out += ["    </AllSpots>", "    <AllTracks>"]
    track_ids = tracks.ids()
    edge_track = tracks.track_id[a]
    for index, t in enumerate(track_ids.tolist()):
        sel = np.flatnonzero(edge_track == t)
        count = int(np.count_nonzero(tracks.track_id == t))
        out.append(f'      <Track name="Track_{t}" TRACK_ID="{t}" TRACK_INDEX="{index}" '
                   f'NUMBER_SPOTS="{count}">')
        for e in sel:
            attrs = [f'SPOT_SOURCE_ID="{ids[spot_of[a[e]]]}"',
                     f'SPOT_TARGET_ID="{ids[spot_of[b[e]]]}"',
                     *(f'{_edge_attr(name)}="{_fmt(v[e])}"' for name, v in link_feats.items()
                       if not np.isnan(v[e]))]
            out.append("        <Edge " + " ".join(attrs) + " />")
        out.append("      </Track>")
    out += ["    </AllTracks>", "    <FilteredTracks>",
            *(f'      <TrackID TRACK_ID="{t}" />' for t in track_ids.tolist()),
            "    </FilteredTracks>", "  </Model>", "  <Settings>"]
    hi = np.ceil(all_coords.max(axis=0)).astype(int) + 1 if n else np.ones(nd, dtype=int)
    depth = size[0] if nd == 3 else 1.0
    out += [f'    <ImageData filename="" folder="" width="{hi[-1]}" height="{hi[-2]}" '
            f'nslices="{hi[0] if nd == 3 else 1}" nframes="{int(all_frame.max()) + 1 if n else 1}" '
            f'pixelwidth="{_fmt(size[-1])}" pixelheight="{_fmt(size[-2])}" '
            f'voxeldepth="{_fmt(depth)}" timeinterval="{_fmt(cal.frame_interval)}" />',
            f'    <BasicSettings xstart="0" xend="{hi[-1] - 1}" ystart="0" yend="{hi[-2] - 1}" '
            f'zstart="0" zend="{hi[0] - 1 if nd == 3 else 0}" tstart="0" '
            f'tend="{int(all_frame.max()) if n else 0}" />',
            "  </Settings>", f"</{ROOT}>", ""]
    return "\n".join(out)


def write_trackmate_xml(path: str | os.PathLike, tracks: Tracks,
                        calibration: Calibration | None = None,
                        detections: Detections | None = None) -> None:
    """``tracks`` (and untracked ``detections``) as a TrackMate XML file, atomically."""
    text = tracks_to_trackmate_xml(tracks, calibration, detections)
    with atomic_write(path) as fh:
        fh.write(text)
