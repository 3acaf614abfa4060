"""CSV and ISBI-XML track files users can open anywhere, read strictly and written atomically.

Readers accept columns in any order, extra columns, and other tools' names: trackpy's
(``x, y, frame, particle``) and TrackMate's spot tables (``POSITION_X, POSITION_Y,
POSITION_Z, FRAME, TRACK_ID``, with or without TrackMate 7's three label rows under the
header).  Any problem raises :class:`InputError` naming the file, the line and what is
wrong.  Writers go through a temporary file in the target folder and ``os.replace``, so a
failed run never leaves a half-written file and never clobbers the old one.

Tracks files we write open in trackpy as they are: a ``particle`` column repeats
``track_id``, and ``y_detection, x_detection`` (see :func:`with_detection_positions`) give
the position of the detection each vertex took beside the tracker's estimate ``y, x``.
A ``.xml`` path is the ISBI 2012 particle tracking challenge's track format
(:mod:`napari_mpt.io.isbi_xml`), so the challenge's own evaluator can score our tracks,
unless it names TrackMate: ``.trackmate.xml`` is written, and any XML whose root is
``<TrackMate>`` is read, as TrackMate's XML (:mod:`napari_mpt.io.trackmate_xml`).  A
``.geff`` or ``.zarr`` path is a GEFF graph (:mod:`napari_mpt.io.geff`).  Those two
formats also hold every spot, so they are detections files as well.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from ..core.calibration import Calibration
from ..core.data import Detections, Tracks, axes_for
from ..core.errors import InputError
from .files import TrackFile, atomic_write, read_bytes
from .geff import is_geff_path, read_geff, write_geff
from .isbi_xml import parse_isbi_xml, tracks_to_isbi_xml
from .trackmate_xml import looks_like_trackmate_xml, read_trackmate_xml, write_trackmate_xml

TRACK_ID_NAMES = ("track_id", "particle", "track", "id")
TRACKMATE_XML_SUFFIX = ".trackmate.xml"
TRACKMATE_LABEL_ROWS = 3
"""TrackMate 7's spot-table export repeats its header as three rows (feature names, short
names, units) before the data; older versions write the header alone."""
DETECTION_SUFFIX = "_detection"



@dataclass
class _Table:
    """A CSV file's lower-cased header and its data rows, each with its 1-based line."""

    name: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    trackmate: bool = False

    def keep(self, mask: np.ndarray) -> None:
        self.rows = [r for r, k in zip(self.rows, mask, strict=True) if k]
        self.lines = [n for n, k in zip(self.lines, mask, strict=True) if k]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# the first bytes of files that are given for a CSV by mistake
BINARY_KINDS = {b"\x89PNG": "a PNG image", b"II*\x00": "a TIFF image", b"MM\x00*": "a TIFF image",
                b"\xff\xd8\xff": "a JPEG image", b"PK\x03\x04": "a zip archive (or an Excel "
                "workbook: export it as CSV)", b"\x1f\x8b": "a gzip archive", b"%PDF": "a PDF",
                b"\x89HDF": "an HDF5 file", b"\xd0\xcf\x11\xe0": "an old Excel workbook (export "
                "it as CSV)"}


def not_text(path: str | os.PathLike, exc: UnicodeDecodeError) -> str:
    """One line saying why a file given as a CSV is not one: what it looks like, or the
    first byte that is not UTF-8 text."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        head = b""
    kind = next((k for sig, k in BINARY_KINDS.items() if head.startswith(sig)), None)
    if kind is None and b"\x00" in head:
        kind = "a binary file"
    if kind is not None:
        return f"is {kind}, not a CSV table; expected comma-separated text with a header line"
    return (f"is not UTF-8 text (it holds byte 0x{exc.object[exc.start]:02x}); expected a CSV "
            "table saved as UTF-8 text")


def _read_table(path: str | os.PathLike) -> _Table:
    name = str(path)
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if any(c.strip() for c in row):   # blank lines are skipped, not errors
                    rows.append(row)
                    lines.append(reader.line_num)
    except FileNotFoundError:
        raise InputError(name, "file not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(name, not_text(path, exc)) from None
    except OSError as exc:
        raise InputError(name, f"cannot read the file ({exc.__class__.__name__}: {exc})") from None
    except csv.Error as exc:
        raise InputError(name, f"not a CSV file ({exc})") from None
    if not rows:
        raise InputError(name, "the file is empty (expected a header line and data)")
    table = _Table(name, normalise_header([c.strip().lower() for c in rows[0]]), rows[1:],
                   lines[1:], trackmate="position_x" in (c.strip().lower() for c in rows[0]))
    if table.trackmate:
        _drop_trackmate_label_rows(table)
    if not table.rows:
        raise InputError(name, "the file has a header but no data rows")
    return table


def normalise_header(header: list[str]) -> list[str]:
    """Our names for TrackMate's columns (``position_x`` -> ``x``, ``id`` -> ``spot_id``);
    other headers are returned unchanged.  ``position_z`` stays a plain column: TrackMate
    writes it for 2-D images too, so :func:`_axes` decides whether it is an axis."""
    if "position_x" not in header:
        return header
    rename = {"position_x": "x", "position_y": "y", "id": "spot_id"}
    return [rename.get(h, h) for h in header]


def _drop_trackmate_label_rows(table: _Table) -> None:
    """Drop TrackMate 7's label and unit rows: leading rows whose x is not a number."""
    x = table.header.index("x")
    n = 0
    while (n < min(TRACKMATE_LABEL_ROWS, len(table.rows)) and
           not _is_number(table.rows[n][x] if x < len(table.rows[n]) else "")):
        n += 1
    table.rows, table.lines = table.rows[n:], table.lines[n:]


def _column(table: _Table, wanted: tuple[str, ...], what: str) -> int:
    for w in wanted:
        if w in table.header:
            return table.header.index(w)
    raise InputError(
        table.name, f"missing column {what!r} (accepted names: {', '.join(wanted)}; "
        f"found: {', '.join(table.header)})")


def _numbers(table: _Table, col: int, label: str, integer: bool,
             allow_nan: bool = False) -> np.ndarray:
    out = np.empty(len(table.rows), dtype=np.int64 if integer else np.float64)
    for i, (r, line) in enumerate(zip(table.rows, table.lines, strict=True)):
        if col >= len(r) or not r[col].strip():
            raise InputError(table.name, f"column {label!r} is empty", line=line)
        text = r[col].strip()
        try:
            v = float(text)
        except ValueError:
            raise InputError(table.name, f"column {label!r}: {text!r} is not a number",
                             line=line) from None
        if not math.isfinite(v) and not allow_nan:
            raise InputError(table.name, f"column {label!r} is {text} (NaN or infinite)", line=line)
        if integer:
            if not math.isfinite(v) or v != int(v):
                raise InputError(table.name, f"column {label!r}: {text!r} is not an integer",
                                 line=line)
            v = int(v)
        out[i] = v
    return out


def _axes(table: _Table) -> tuple[str, ...]:
    """``(z, y, x)`` with a ``z`` column, or TrackMate's ``position_z`` when it varies (a
    3-D image); else ``(y, x)``."""
    if "z" in table.header:
        return ("z", "y", "x")
    if table.trackmate and "position_z" in table.header:
        col = table.header.index("position_z")
        values = {r[col].strip() for r in table.rows if col < len(r)}
        if len(values) > 1:
            table.header[col] = "z"
            return ("z", "y", "x")
    return ("y", "x")


def _coords(table: _Table, axes: tuple[str, ...]) -> np.ndarray:
    cols = [_column(table, (a,), a) for a in axes]
    return np.column_stack([_numbers(table, c, a, False) for c, a in zip(cols, axes, strict=True)])


def _features(table: _Table, used: set[int]) -> dict[str, np.ndarray]:
    """Every other column that holds numbers (NaN allowed) becomes a feature; text columns
    (and columns with empty cells, e.g. TrackMate's TRACK_ID of untracked spots) are skipped."""
    feats = {}
    for c, h in enumerate(table.header):
        if c in used or not h:
            continue
        with contextlib.suppress(InputError):
            feats[h] = _numbers(table, c, h, False, allow_nan=True)
    return feats


def _frames(table: _Table) -> tuple[int, np.ndarray]:
    col = _column(table, ("frame", "t"), "frame")
    frame = _numbers(table, col, table.header[col], True)
    if np.any(frame < 0):
        bad = int(np.flatnonzero(frame < 0)[0])
        raise InputError(table.name, f"frame {frame[bad]} is negative", line=table.lines[bad])
    return col, frame


def _refuse_duplicates(table: _Table, frame: np.ndarray, coords: np.ndarray) -> None:
    """Two rows with the same frame and position are one spot listed twice (a merge or
    export slip); a tracker would have to give it to two particles, so refuse it."""
    if len(frame) < 2:
        return
    key = np.column_stack([frame.astype(np.float64), coords])
    order = np.lexsort(key.T[::-1])
    same = np.all(key[order[1:]] == key[order[:-1]], axis=1)
    if same.any():
        pairs = [(max(order[k], order[k + 1]), min(order[k], order[k + 1]))
                 for k in np.flatnonzero(same)]
        dup, first = min(pairs)
        where = ", ".join(f"{a} {v:g}" for a, v in zip(axes_for(coords.shape[1]), coords[dup],
                                                         strict=True))
        raise InputError(table.name, f"repeats line {table.lines[first]} (frame {frame[dup]}, "
                         f"{where}): the same detection is listed twice", line=table.lines[dup])


def read_detections(path: str | os.PathLike) -> Detections:
    """Detections CSV: columns ``frame, y, x`` (and ``z``), any order; row i is detection i.

    Frames may hold any number of detections (none, one, thousands); other numeric
    columns become features.  trackpy's output and TrackMate's spot tables read as they
    are (TrackMate positions in the file's own units: pixels, or microns if calibrated).
    Coordinates may lie anywhere (a CSV does not know the field of view); a detection
    listed twice is refused.  A GEFF or a TrackMate XML gives all its spots.
    """
    found = read_track_file(path)
    if found is not None:
        return found.detections
    table = _read_table(path)
    frame_col, frame = _frames(table)
    axes = _axes(table)
    coords = _coords(table, axes)
    _refuse_duplicates(table, frame, coords)
    used = {frame_col, *(table.header.index(a) for a in axes)}
    return Detections(frame, coords, source=table.name, features=_features(table, used))


def read_tracks(path: str | os.PathLike) -> Tracks:
    """Tracks CSV (ours, a truth file, trackpy's or TrackMate's) or ISBI 2012 XML.

    CSV: ``track_id|particle|TRACK_ID, frame, y, x``; an optional ``detection`` column and
    any other numeric columns become features (``particle`` is dropped when ``track_id``
    is there: we write it as a copy).  TrackMate spots in no track (empty ``TRACK_ID``)
    are left out.  GEFF and TrackMate XML: their tracks (:func:`read_track_file`).
    """
    found = read_track_file(path)
    if found is not None:
        return found.tracks
    if str(path).lower().endswith(".xml"):
        return read_isbi_xml(path)
    table = _read_table(path)
    tid_col = _column(table, TRACK_ID_NAMES, "track_id")
    if table.trackmate:
        tracked = np.array([tid_col < len(r) and bool(r[tid_col].strip()) for r in table.rows])
        if not tracked.any():
            raise InputError(table.name, "no spot belongs to a track (TRACK_ID is empty "
                             "everywhere): read it as detections")
        table.keep(tracked)
    tid = _numbers(table, tid_col, table.header[tid_col], True)
    frame_col, frame = _frames(table)
    axes = _axes(table)
    coords = _coords(table, axes)
    used = {tid_col, frame_col, *(table.header.index(a) for a in axes)}
    det = np.full(len(tid), -1, dtype=np.int64)
    if "detection" in table.header:
        used.add(table.header.index("detection"))
        det = _numbers(table, table.header.index("detection"), "detection", True)
    if table.header[tid_col] == "track_id" and "particle" in table.header:
        used.add(table.header.index("particle"))
    feats = _features(table, used)
    key = tid * (int(frame.max()) + 1) + frame
    if len(np.unique(key)) != len(key):
        _, first = np.unique(key, return_index=True)
        dup = int(np.setdiff1d(np.arange(len(key)), first)[0])
        raise InputError(table.name, f"track {tid[dup]} has two vertices in frame {frame[dup]}",
                         line=table.lines[dup])
    return Tracks(tid, frame, coords, det, feats)


def read_track_file(path: str | os.PathLike) -> TrackFile | None:
    """Spots, tracks and calibration of a GEFF or a TrackMate XML; None for other files
    (CSV, ISBI XML), which hold no calibration."""
    if is_geff_path(path):
        return read_geff(path)
    if str(path).lower().endswith(".xml") and looks_like_trackmate_xml(path):
        return read_trackmate_xml(path)
    return None


def read_isbi_xml(path: str | os.PathLike) -> Tracks:
    """Tracks from the ISBI 2012 challenge's XML (``<particle><detection t x y z/>``)."""
    name = str(path)
    data = read_bytes(path)
    return parse_isbi_xml(data, name)


def _fmt(v: float) -> str:
    return repr(float(v)) if isinstance(v, (float, np.floating)) else str(v)


def write_detections(path: str | os.PathLike, detections: Detections) -> None:
    """``frame,[z,]y,x`` plus one column per feature; row i is detection i."""
    axes = axes_for(detections.ndim)
    names = list(detections.features)
    cols = [detections.features[k] for k in names]
    with atomic_write(path) as fh:
        w = csv.writer(fh)
        w.writerow(["frame", *axes, *names])
        for i, (f, c) in enumerate(zip(detections.frame, detections.coords, strict=True)):
            w.writerow([int(f), *(_fmt(v) for v in c), *(_fmt(col[i]) for col in cols)])


def with_detection_positions(tracks: Tracks, detections: Detections) -> Tracks:
    """``tracks`` plus features ``[z_detection,] y_detection, x_detection``: the position
    of the detection each vertex took (NaN where it took none), beside the tracker's
    estimate in ``coords``.  Raises InputError when a vertex names a detection that
    ``detections`` does not have."""
    det = tracks.detection
    bad = np.flatnonzero(det >= len(detections))
    if len(bad):
        raise InputError(detections.source, f"has {len(detections)} detections but track "
                         f"{tracks.track_id[bad[0]]} took detection {det[bad[0]]}", row=int(bad[0]))
    if detections.ndim != tracks.ndim:
        raise InputError(detections.source, f"{detections.ndim}-D detections for "
                         f"{tracks.ndim}-D tracks")
    pos = np.full(tracks.coords.shape, np.nan)
    took = det >= 0
    pos[took] = detections.coords[det[took]]
    feats = {a + DETECTION_SUFFIX: pos[:, k] for k, a in enumerate(axes_for(tracks.ndim))}
    return tracks.with_features(**feats)


def write_tracks(path: str | os.PathLike, tracks: Tracks,
                 calibration: Calibration | None = None,
                 detections: Detections | None = None) -> None:
    """``track_id,frame,[z,]y,x,detection,particle`` plus one column per feature.

    ``particle`` repeats ``track_id`` so that trackpy reads the file as it is.  Other
    formats by the path's ending: ``.geff``/``.zarr`` GEFF (:func:`.geff.write_geff`),
    ``.trackmate.xml`` TrackMate XML (:func:`.trackmate_xml.write_trackmate_xml`), both
    with ``calibration`` (pixel size, frame interval, units; TrackMate's spots also
    carry the features of the ``detections`` tracked, and list those left out); other
    ``.xml`` the ISBI 2012 challenge format (:func:`write_isbi_xml`, in pixels and frames
    like the CSV).
    """
    low = str(path).lower()
    if low.endswith((".geff", ".zarr")):
        write_geff(path, tracks, calibration)
        return
    if low.endswith(TRACKMATE_XML_SUFFIX):
        write_trackmate_xml(path, tracks, calibration, detections)
        return
    if low.endswith(".xml"):
        write_isbi_xml(path, tracks)
        return
    axes = axes_for(tracks.ndim)
    # a feature named like a written column (a GEFF layer's axis copies) is not repeated
    feats = [k for k in tracks.features
             if k not in ("track_id", "frame", "t", *axes, "detection", "particle")]
    with atomic_write(path) as fh:
        w = csv.writer(fh)
        w.writerow(["track_id", "frame", *axes, "detection", "particle", *feats])
        cols = [tracks.features[k] for k in feats]
        for i in range(len(tracks)):
            tid = int(tracks.track_id[i])
            w.writerow([tid, int(tracks.frame[i]),
                        *(_fmt(v) for v in tracks.coords[i]), int(tracks.detection[i]), tid,
                        *(_fmt(c[i]) if np.issubdtype(np.asarray(c).dtype, np.floating)
                          else int(c[i]) for c in cols)])


def write_isbi_xml(path: str | os.PathLike, tracks: Tracks, **attributes: str) -> None:
    """Tracks in the ISBI 2012 challenge's XML; ``attributes`` (``snr``, ``density``,
    ``scenario``) go on the ``TrackContestISBI2012`` element."""
    text = tracks_to_isbi_xml(tracks, **attributes)
    with atomic_write(path) as fh:
        fh.write(text)


