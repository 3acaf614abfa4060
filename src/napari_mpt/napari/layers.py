"""Conversions between core containers and napari layer data tuples (no Qt needed)."""

from __future__ import annotations

import numpy as np

from ..data import Simulation, Tracks


def points_data(frame: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """``(t, [z,] y, x)`` rows for a Points layer with a time axis."""
    return np.column_stack([frame, coords]).astype(np.float64)


def tracks_layer(tracks: Tracks, name: str, **kwargs) -> tuple:
    features = {"detection": tracks.detection, **tracks.features}
    return (tracks.napari_data(), {"name": name, "features": features, **kwargs}, "tracks")


def simulation_layers(sim: Simulation) -> list[tuple]:
    det = sim.detections
    points = (points_data(det.frame, det.coords),
              {"name": "detections", "size": 2, "face_color": "yellow",
               "metadata": {"napari_mpt": {"kind": "detections"}}}, "points")
    truth = tracks_layer(sim.truth, "ground truth", tail_width=2, tail_length=30,
                         metadata={"napari_mpt": {"kind": "truth"}})
    return [points, truth]
