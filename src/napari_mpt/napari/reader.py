"""Reader contribution: detections and tracks files as napari layers.

A CSV with a track id column (``track_id``, trackpy's ``particle``, TrackMate's
``TRACK_ID``) becomes a Tracks layer; one with ``frame, y, x`` (and ``z``) a Points layer
whose first axis is time.  A tracks file from another tool (no ``detection`` column: a
trackpy or TrackMate export, which lists every spot) gives both: its spots as a Points
layer to track, and its tracks.  A detections file ``<name>detections<rest>.csv`` brings
its truth ``<name>truth<rest>.csv`` along when that file lies beside it (the layout
``napari-mpt simulate`` writes).  ISBI 2012 challenge XML files become Tracks layers.
GEFF folders and TrackMate XML files (:func:`track_file_layers`) become a Tracks layer in
the file's calibration (``scale`` and ``units``) and, for another tool's file, a Points
layer of all its spots; a GEFF's layer carries napari-geff's metadata.

File > Open: napari offers every reader whose filename pattern matches, and its built-in
reader also claims ``*.csv`` (only for the CSVs napari itself writes, ``axis-0, axis-1``
columns), so an open of a trackpy CSV asks the user to choose, the built-in reader listed
first.  napari opens a file without asking only when one reader matches or the user's
``extension2reader`` setting names one.  So this plugin reads every CSV itself (its
layouts; napari's own points/shapes CSVs handed to the built-in reader unchanged; any
other CSV refused with the precise reason, the one Load spots gives, as one line and not
napari's "failed, scroll up to see the stack trace"), and the choice of reader stays the
user's: it is recorded only when the user asks, in napari's dialog ("Remember this
choice") or in the offer a widget of this plugin makes once per viewer where no reader is
chosen for ``*.csv`` (:func:`offer_csv_reader`).  A non-ISBI XML is left to other readers.
"""

from __future__ import annotations

import contextlib
import csv
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import MPTError
from ..io import (
    TRACK_ID_NAMES,
    TrackFile,
    normalise_header,
    read_detections,
    read_track_file,
    read_tracks,
)
from ..io.geff import NAPARI_TRACK_ID, looks_like_geff
from ..io.graphs import is_link_feature
from ..io.isbi_xml import looks_like_isbi_xml
from ..io.trackmate_xml import looks_like_trackmate_xml
from .layers import (
    TAIL_LENGTH,
    detections_layer,
    new_pair_id,
    track_colormap,
    tracks_layer,
    truth_layer,
)

LayerData = list[tuple]
PLUGIN = "napari-mpt"
CSV_PATTERN = "*.csv"


USE_FOR_CSV = "Use napari-mpt"
OFFER = ("Open *.csv files with napari-mpt? It reads trackpy, TrackMate and napari-mpt spots "
         "and tracks; napari's built-in reader reads only napari's own CSVs. Until you choose, "
         "File > Open asks which reader to use.")
CHOSEN = ("File > Open now reads *.csv files with napari-mpt (napari's own points and shapes "
          "CSVs still go to napari's reader); change it in File > Preferences > Plugins.")
_offered: weakref.WeakSet[Any] = weakref.WeakSet()   # the viewers already asked


def csv_reader() -> str | None:
    """The reader the user chose for ``*.csv`` in napari's settings, if any."""
    from napari.settings import get_settings

    return get_settings().plugins.extension2reader.get(CSV_PATTERN)


def use_for_csv(*_: Any) -> str:
    """Record this plugin as napari's reader for ``*.csv`` (the user asked); say so.

    Safe because :func:`get_reader` hands napari's own CSV layouts to napari's reader.
    """
    from napari.settings import get_settings

    from .messages import notify

    plugins = get_settings().plugins
    plugins.extension2reader = {**plugins.extension2reader, CSV_PATTERN: PLUGIN}
    return notify(CHOSEN, "info")


def offer_csv_reader(viewer: Any) -> bool:
    """Once per viewer, and only where the user chose no reader for ``*.csv``: offer (a
    notification with a button) to make File > Open read CSVs with this plugin.  Returns
    whether the offer was made now."""
    from napari.utils.notifications import Notification, NotificationSeverity, notification_manager

    if viewer in _offered or csv_reader() is not None:
        return False
    _offered.add(viewer)
    notification_manager.dispatch(Notification(OFFER, NotificationSeverity.INFO,
                                               actions=[(USE_FOR_CSV, use_for_csv)]))
    return True


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
        layer = tracks_layer(read_tracks(path), stem, tail_width=2, tail_length=TAIL_LENGTH,
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


def napari_layout(path: str) -> bool:
    """Whether ``path`` is a CSV napari itself writes (points or shapes: ``axis-0``...)."""
    header = _header(path) or []
    return {"axis-0", "axis-1"} <= set(header)


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], LayerData] | None:
    """npe2 reader hook: this plugin's reader for every CSV (napari's own layouts handed to
    napari's reader; other CSVs refused with the reason) and for ISBI XML; else None."""
    paths = [str(p) for p in ([path] if isinstance(path, str) else path)]
    if not paths:
        return None
    if all(is_track_file(p) for p in paths):
        return _read_track_files
    if all(p.lower().endswith(".xml") for p in paths):
        return _read_paths if all(csv_kind(p) for p in paths) else None
    if not all(p.lower().endswith((".csv", ".xml")) for p in paths):
        return None
    if all(p.lower().endswith(".csv") and napari_layout(p) for p in paths):
        return _napari_csv
    return _read_paths


def _napari_csv(path: str | list[str]) -> LayerData:
    """napari's own points/shapes CSVs, read by napari's built-in reader."""
    from napari_builtins.io import napari_get_reader  # type: ignore[import-untyped]  # no stubs

    return list(napari_get_reader(path)(path) or [])


def _read_paths(path: str | list[str]) -> LayerData:
    """Read the files for napari (File > Open, drag and drop, ``viewer.open``); a file the
    plugin cannot read is refused in one line (the Load spots widget's message, as an
    error notification) and nothing is added: napari's null-layer answer, not an
    exception that napari would show with a stack trace and a choice of other readers."""
    from .messages import notify

    try:
        return read_paths(path)
    except MPTError as exc:
        notify(str(exc))
        return [(None,)]


def read_paths(path: str | list[str]) -> LayerData:
    """Layer data for the files; a CSV in no layout of the plugin raises the InputError
    that says what is missing."""
    paths = [str(p) for p in ([path] if isinstance(path, str) else path)]
    # a truth file dropped together with its detections comes in once, as their truth
    siblings = {str(truth_path_for(p)) for p in paths if csv_kind(p) == "detections"}
    out: LayerData = []
    for p in paths:
        if str(Path(p)) not in siblings:
            out.extend(read_csv(p))
    return out


# --- GEFF and TrackMate XML ---------------------------------------------------------------
def is_track_file(path: str) -> bool:
    """A GEFF (folder) or a TrackMate XML: formats that hold spots, links and calibration."""
    return looks_like_geff(path) or (path.lower().endswith(".xml") and looks_like_trackmate_xml(path))


def track_file_layers(found: TrackFile, path: str) -> LayerData:
    """A Tracks layer of the file's tracks, in its calibration, and (unless the tracks name
    rows of another table: a GEFF we wrote) a Points layer of every spot to track again.

    A GEFF's layer carries what napari-geff's reader gives: ``metadata["geff_metadata"]``
    (the GeffMetadata), ``metadata["edge_properties"]`` keyed by node ids, and the
    ``node_id``, ``napari_track_id`` and axis columns in ``features``, so napari-geff's
    writer can save it as well as ours.
    """
    stem = Path(path.rstrip("/")).stem
    tracks = found.tracks
    look = found.calibration.layer_kwargs(tracks.ndim)
    meta: dict = {"napari_mpt": {"kind": "tracks", "path": path}}
    layer = tracks_layer(tracks, stem, tail_width=2, tail_length=TAIL_LENGTH,
                         colormap=track_colormap(), metadata=meta, **look)
    geff = found.metadata if hasattr(found.metadata, "axes") else None
    if geff is not None:
        meta["geff_metadata"] = geff
        feats = layer[1]["features"]
        feats[NAPARI_TRACK_ID] = tracks.track_id
        names = [a.name for a in geff.axes or []]
        for name, values in zip(names, [tracks.frame, *tracks.coords.T], strict=False):
            feats.setdefault(name, values)
        ids = tracks.features.get("node_id", np.arange(len(tracks)))
        a = np.flatnonzero(tracks.track_id[1:] == tracks.track_id[:-1])
        link = {k: v for k, v in tracks.features.items() if is_link_feature(k)}
        meta["edge_properties"] = {
            (int(ids[i]), int(ids[i + 1])): {k: float(v[i + 1]) for k, v in link.items()}
            for i in a}
    own_rows = geff is not None and "detection" in (found.metadata.node_props_metadata or {})
    if own_rows:
        return [layer]
    spots = detections_layer(found.detections, f"{stem} spots", new_pair_id(), path=path)
    spots[1].update(look)
    return [layer, spots]


def _read_track_files(path: str | list[str]) -> LayerData:
    out: LayerData = []
    for p in [str(q) for q in ([path] if isinstance(path, str) else path)]:
        found = read_track_file(p)
        if found is not None:
            out.extend(track_file_layers(found, p))
    return out
