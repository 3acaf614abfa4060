"""Writer contribution: a Tracks layer saved as ``track_id,frame,[z,]y,x,detection,particle,...``
(trackpy reads it as it is), or as ISBI 2012 challenge XML for a ``.xml`` path.

The file is written by :func:`napari_mpt.io.write_tracks`, atomically (temporary file,
then rename), so the reader, ``napari-mpt evaluate`` and other tools read it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.data import Tracks
from ..io import write_tracks
from .layers import tracks_from_data


def layer_tracks(data: Any, attributes: dict[str, Any]) -> Tracks:
    """A Tracks layer's data and attributes as core :class:`Tracks`."""
    table = attributes.get("features")
    if table is None or len(table) == 0:
        table = attributes.get("properties") or {}
    return tracks_from_data(data, table, repr(attributes.get("name", "?")))


def write_tracks_layer(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer: returns the path written (``.csv`` added to other names)."""
    if not str(path).lower().endswith((".csv", ".xml")):
        path = f"{path}.csv"
    write_tracks(path, layer_tracks(data, attributes))
    return [str(Path(path))]
