"""The Track statistics widget's maths without Qt: per-vertex rows and features, colours
(range over supported values, grey, hidden, dimmed) and picking, each against a per-vertex
loop on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from test_core_imports import loaded_after

from napari_mpt.analysis.display import (
    DIM,
    GREY,
    colour_scale,
    nearest_track,
    track_colours,
    vertex_features,
    vertex_rows,
)
from napari_mpt.analysis.stats import track_statistics
from napari_mpt.core.data import Tracks


def random_layer(seed: int, n_tracks: int = 25) -> tuple[Tracks, np.ndarray]:
    """Random tracks (lengths 2-40, noisy so that some fits are flagged) and the layer
    data ``(track_id, t, y, x)`` napari holds for them."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 40, n_tracks)
    ids = rng.choice(1000, n_tracks, replace=False)
    tid = np.repeat(ids, lengths)
    frame = np.concatenate([rng.integers(0, 5) + np.arange(k) for k in lengths])
    coords = rng.normal(0, 1, (len(tid), 2)).cumsum(axis=0) + rng.normal(0, 2, (len(tid), 2))
    tracks = Tracks(tid, frame, coords)
    return tracks, tracks.napari_data()


def grey_ramp(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.column_stack([x, x, x, np.ones_like(x)])


def test_display_maths_needs_no_qt():
    assert loaded_after("import napari_mpt.analysis.display") == []


@pytest.mark.parametrize("seed", range(4))
def test_vertex_rows_and_features(seed):
    tracks, data = random_layer(seed)
    stats = track_statistics(tracks, min_length=10)      # short tracks have no statistics
    rows = vertex_rows(data[:, 0], stats["track_id"])
    for v in range(len(data)):
        hit = np.flatnonzero(stats["track_id"] == data[v, 0])
        assert rows[v] == (hit[0] if len(hit) else -1)
    feats = vertex_features(stats, rows, ["D", "alpha", "n_points"])
    for v in range(len(data)):
        r = rows[v]
        for name in ("D", "alpha", "n_points"):
            if r < 0 or not stats.supported(name)[r]:
                assert np.isnan(feats[name][v])
            else:
                assert feats[name][v] == stats[name][r]
    assert np.isnan(feats["alpha"]).any() and not np.isnan(feats["n_points"][rows >= 0]).any()
    assert vertex_rows(np.array([1.0, 2.0]), np.zeros(0, np.int64)).tolist() == [-1, -1]


@pytest.mark.parametrize("seed", range(4))
def test_colours_against_a_loop(seed):
    tracks, data = random_layer(seed)
    stats = track_statistics(tracks, min_length=3)
    rng = np.random.default_rng(seed)
    rows = vertex_rows(data[:, 0], stats["track_id"])
    shown = rng.random(len(stats)) > 0.2
    selected = list(rng.choice(stats["track_id"], 2, replace=False))
    base = rng.random((len(data), 4)).astype(np.float32)
    scale = colour_scale(stats, "D", shown)
    ok = stats.supported("D")
    assert scale.lo == stats["D"][ok & shown].min() and scale.hi == stats["D"][ok & shown].max()
    assert scale.lo > 0 and scale.left_out == int((shown & ~ok).sum()) > 0
    got = track_colours(base, data[:, 0], rows, shown, selected, (stats, "D", scale, grey_ramp))
    plain = track_colours(base, data[:, 0], rows, shown)
    for v in range(len(data)):
        r = rows[v]
        if r >= 0 and ok[r]:
            g = min(max((stats["D"][r] - scale.lo) / (scale.hi - scale.lo), 0.0), 1.0)
            assert got[v, :3] == pytest.approx([g, g, g], abs=1e-6)
        elif r >= 0:
            assert tuple(got[v, :3]) == GREY[:3]
        alpha = 0.0 if r < 0 or not shown[r] else (1.0 if data[v, 0] in selected else DIM)
        assert got[v, 3] == pytest.approx(alpha)
        assert plain[v, 3] == (0.0 if r < 0 or not shown[r] else 1.0)
        assert np.array_equal(plain[v, :3], base[v, :3])


@pytest.mark.parametrize("seed", range(6))
def test_nearest_track_against_a_loop(seed):
    rng = np.random.default_rng(seed)
    _, data = random_layer(seed)
    data = np.column_stack([data[:, :2], rng.uniform(0, 3, len(data)), data[:, 2:]])  # a z axis
    scale = np.array([3.0, 0.5, 0.5])
    drawable = rng.random(len(data)) > 0.3
    for _ in range(20):
        pos = np.array([rng.integers(0, 40), 0.0, *rng.uniform(-15, 15, 2)])
        head, tail, zoom, max_px = 0.0, 5.0, float(rng.uniform(1, 8)), 10.0
        best, best_d = None, np.inf
        for v in range(len(data)):
            if not drawable[v] or not pos[0] - tail <= data[v, 1] <= pos[0] + head:
                continue
            d = np.hypot(*((data[v, 3:] - pos[2:]) * scale[1:]))   # (y, x) only, in world units
            if d < best_d:
                best, best_d = int(data[v, 0]), d
        expected = best if best_d * zoom <= max_px else None
        assert nearest_track(data, pos, head, tail, scale, zoom, max_px, drawable) == expected
    assert nearest_track(data[:0], np.zeros(4), 0, 5, scale, 1.0, 10.0) is None
