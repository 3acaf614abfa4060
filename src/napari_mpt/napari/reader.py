"""Reader contribution: detections and tracks files as napari layers.

A CSV with a track id column (``track_id``, trackpy's ``particle``, TrackMate's
``TRACK_ID``) becomes a Tracks layer; one with ``frame, y, x`` (and ``z``) a Points layer
whose first axis is time.  A tracks file from another tool (no ``detection`` column: a
trackpy or TrackMate export, which lists every spot) gives both: its spots as a Points
layer to track, and its tracks.  A detections file ``<name>detections<rest>.csv`` brings
its truth ``<name>truth<rest>.csv`` along when that file lies beside it (the layout
``napari-mpt simulate`` writes).  ISBI 2012 challenge XML files become Tracks layers.
Files with none of these layouts are left to other readers.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable
from pathlib import Path

from ..io import TRACK_ID_NAMES, normalise_header, read_detections, read_tracks
from ..isbi_xml import looks_like_isbi_xml
from .layers import detections_layer, new_pair_id, track_colormap, tracks_layer, truth_layer

LayerData = list[tuple]


def _header(path: str) -> list[str] | None:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.reader(fh):
                if any(c.strip() for c in row):
                    return normalise_header([c.strip().lower() for c in row])
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _has_track_ids(path: str) -> bool:
    """Whether any row has a track id (TrackMate writes an empty TRACK_ID for spots in no
    track, and a whole column of them when nothing was tracked)."""
    header = _header(path)
    col = next(header.index(n) for n in TRACK_ID_NAMES if n in header) if header else -1
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh)
            next(rows, None)
            for row in rows:
                with contextlib.suppress(ValueError, IndexError):
                    float(row[col])
                    return True
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return False


def csv_kind(path: str) -> str | None:
    """``"tracks"``, ``"detections"`` or None (not a layout this plugin reads)."""
    if path.lower().endswith(".xml"):
        return "isbi" if looks_like_isbi_xml(path) else None
    header = _header(path)
    if not header or not {"y", "x"} <= set(header):
        return None
    if any(n in header for n in TRACK_ID_NAMES) and _has_track_ids(path):
        return "tracks"
    if "frame" in header or "t" in header:
        return "detections"
    return None


def truth_path_for(path: str | Path) -> Path | None:
    """The truth file beside a detections file, if there is one."""
    p = Path(path)
    if "detections" not in p.name:
        return None
    candidate = p.with_name(p.name.replace("detections", "truth"))
    return candidate if candidate != p and candidate.is_file() else None


def read_csv(path: str | Path, truth: str | Path | None = None,
             as_detections: bool = False) -> LayerData:
    """Layer data for one file (plus its truth); raises InputError on a bad file.

    ``as_detections`` reads any CSV with ``frame, y, x`` as detections (the Load spots
    widget), ignoring track ids; truth files may be CSV or ISBI XML.
    """
    path = str(path)
    kind = csv_kind(path)
    stem = Path(path).stem
    if kind in ("tracks", "isbi") and not as_detections:
        layer = tracks_layer(read_tracks(path), stem, tail_width=2, tail_length=30,
                             colormap=track_colormap(),
                             metadata={"napari_mpt": {"kind": "tracks", "path": path}})
        if kind == "isbi" or "detection" in (_header(path) or []):
            return [layer]
        # another tool's export lists every spot: also offer them to track
        pair = new_pair_id()
        return [layer, detections_layer(read_detections(path), f"{stem} spots", pair,
                                        path=path)]
    pair = new_pair_id()
    out = [detections_layer(read_detections(path), stem, pair, path=path)]
    truth = truth if truth is not None else truth_path_for(path)
    if truth is not None:
        out.insert(0, truth_layer(read_tracks(truth), Path(truth).stem, pair, path=str(truth)))
    return out


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], LayerData] | None:
    """npe2 reader hook: a reader function for CSVs this plugin understands, else None."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(str(p).lower().endswith((".csv", ".xml")) and csv_kind(str(p))
                            for p in paths):
        return None
    return _read_paths


def _read_paths(path: str | list[str]) -> LayerData:
    paths = [str(p) for p in ([path] if isinstance(path, str) else path)]
    # a truth file dropped together with its detections comes in once, as their truth
    siblings = {str(truth_path_for(p)) for p in paths if csv_kind(p) == "detections"}
    out: LayerData = []
    for p in paths:
        if str(Path(p)) not in siblings:
            out.extend(read_csv(p))
    return out
