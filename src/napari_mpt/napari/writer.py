"""Writer contribution: a Tracks layer saved as ``track_id,frame,[z,]y,x,detection,...``.

The file is written by :func:`napari_mpt.io.write_tracks`, atomically (temporary file,
then rename), so the reader, ``napari-mpt evaluate`` and other tools read it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data import Tracks
from ..errors import InputError
from ..io import write_tracks


def _features(attributes: dict[str, Any], n: int) -> dict[str, np.ndarray]:
    table = attributes.get("features")
    if table is None:
        table = attributes.get("properties") or {}
    cols = list(table.columns) if hasattr(table, "columns") else list(table)
    out = {}
    for col in cols:
        values = np.asarray(table[col])
        if values.dtype == bool:
            values = values.astype(np.int64)
        if values.shape == (n,) and np.issubdtype(values.dtype, np.number):
            out[str(col)] = values
    return out


def layer_tracks(data: Any, attributes: dict[str, Any]) -> Tracks:
    """A Tracks layer's data and attributes as core :class:`Tracks`."""
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        raise InputError(f"layer {attributes.get('name', '?')!r}",
                         "only 2D or 3D tracks (track_id, t, [z,] y, x) can be written")
    feats = _features(attributes, len(arr))
    feats.pop("track_id", None)
    det = feats.pop("detection", None)
    return Tracks(arr[:, 0], np.round(arr[:, 1]), arr[:, 2:], det, feats)


def write_tracks_layer(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """npe2 single-layer writer: returns the path written."""
    if not str(path).lower().endswith(".csv"):
        path = f"{path}.csv"
    write_tracks(path, layer_tracks(data, attributes))
    return [str(Path(path))]
