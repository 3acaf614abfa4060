"""Reader contribution: detections and tracks CSV files as napari layers.

A CSV with a track id column (``track_id``, or trackpy's ``particle``) becomes a Tracks
layer; one with ``frame, y, x`` (and ``z``) a Points layer whose first axis is time.  A
detections file ``<name>detections<rest>.csv`` brings its truth ``<name>truth<rest>.csv``
along when that file lies beside it (the layout ``napari-mpt simulate`` writes).  Files
with neither layout are left to other readers.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from ..io import TRACK_ID_NAMES, read_detections, read_tracks
from .layers import detections_layer, new_pair_id, track_colormap, tracks_layer, truth_layer

LayerData = list[tuple]


def _header(path: str) -> list[str] | None:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.reader(fh):
                if any(c.strip() for c in row):
                    return [c.strip().lower() for c in row]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def csv_kind(path: str) -> str | None:
    """``"tracks"``, ``"detections"`` or None (not a layout this plugin reads)."""
    header = _header(path)
    if not header or not {"y", "x"} <= set(header):
        return None
    if any(n in header for n in TRACK_ID_NAMES):
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


def read_csv(path: str | Path, truth: str | Path | None = None) -> LayerData:
    """Layer data for one CSV file (plus its truth); raises InputError on a bad file."""
    path = str(path)
    kind = csv_kind(path)
    stem = Path(path).stem
    if kind == "tracks":
        return [tracks_layer(read_tracks(path), stem, tail_width=2, tail_length=30,
                             colormap=track_colormap(),
                             metadata={"napari_mpt": {"kind": "tracks", "path": path}})]
    pair = new_pair_id()
    out = [detections_layer(read_detections(path), stem, pair, path=path)]
    truth = truth if truth is not None else truth_path_for(path)
    if truth is not None:
        out.insert(0, truth_layer(read_tracks(truth), Path(truth).stem, pair, path=str(truth)))
    return out


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], LayerData] | None:
    """npe2 reader hook: a reader function for CSVs this plugin understands, else None."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(str(p).lower().endswith(".csv") and csv_kind(str(p))
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
