"""Writer contribution: a Tracks layer saved as ``track_id,frame,[z,]y,x,detection,particle,...``
(trackpy reads it as it is), as a GEFF folder for a ``.geff`` path, as TrackMate XML for
``.trackmate.xml``, or as ISBI 2012 challenge XML for another ``.xml`` path.

The file is written by :func:`napari_mpt.io.write_tracks`, atomically (temporary file,
then rename), so the reader, ``napari-mpt evaluate`` and other tools read it back.  GEFF
and TrackMate XML carry the layer's calibration (its ``scale`` and ``units``), and a GEFF
the ``geff_metadata`` of a layer napari-geff or this plugin read (its axis names, extra
and related objects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.calibration import Calibration
from ..core.data import Tracks
from ..io import is_geff_path, write_geff, write_tracks
from ..io.geff import NAPARI_TRACK_ID
from .layers import tracks_from_data


def layer_tracks(data: Any, attributes: dict[str, Any]) -> Tracks:
    """A Tracks layer's data and attributes as core :class:`Tracks`."""
    table = attributes.get("features")
    if table is None or len(table) == 0:
        table = attributes.get("properties") or {}
    tracks = tracks_from_data(data, table, repr(attributes.get("name", "?")))
    tracks.features.pop(NAPARI_TRACK_ID, None)     # napari-geff's copy of the track id
    return tracks


def write_tracks_layer(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer: returns the path written (``.csv`` added to other names)."""
    if not str(path).lower().endswith((".csv", ".xml", ".geff", ".zarr")):
        path = f"{path}.csv"
    tracks = layer_tracks(data, attributes)
    cal = Calibration.from_layer(attributes.get("scale"), attributes.get("units"))
    if is_geff_path(path):
        meta = (attributes.get("metadata") or {}).get("geff_metadata")
        write_geff(path, tracks, cal, meta if hasattr(meta, "axes") else None)
    else:
        write_tracks(path, tracks, cal)
    return [str(Path(path))]
