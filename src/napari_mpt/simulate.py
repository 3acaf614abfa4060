"""Brownian particles with drift and Gaussian measurement noise (paper eq. 2-3)."""

from __future__ import annotations

import numpy as np

from .data import Detections, Simulation, Tracks
from .params import SimulationParams


def initial_positions(params: SimulationParams, rng: np.random.Generator) -> np.ndarray:
    """Start positions ``(N, ndim)``: a pair ``separation`` apart around the centre of the
    field of view in a random direction; one particle at the centre; N > 2 uniformly in it."""
    n, d = params.particles, params.ndim
    centre = np.full(d, params.field_of_view / 2.0)
    if n == 1:
        return centre[None, :].copy()
    if n == 2:
        u = rng.normal(size=d)
        u /= np.linalg.norm(u)
        half = 0.5 * params.separation * u
        return np.stack([centre - half, centre + half])
    return rng.uniform(0.0, params.field_of_view, size=(n, d))


def simulate_arrays(params: SimulationParams, rng: np.random.Generator | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """True positions and measurements, both ``(T, N, ndim)``, particle-ordered (unshuffled).

    ``y_t = y_{t-1} + eps_t + delta`` with ``eps ~ N(0, mu^2 I)`` and ``z_t = y_t + omega``
    with ``omega ~ N(0, sigma^2 I)``; frame 0 holds the initial positions.
    """
    rng = np.random.default_rng(params.seed) if rng is None else rng
    t, n, d = params.frames, params.particles, params.ndim
    start = initial_positions(params, rng)
    steps = rng.normal(0.0, params.process_noise, size=(t - 1, n, d)) + params.drift_array()
    truth = np.concatenate([start[None], start[None] + np.cumsum(steps, axis=0)], axis=0)
    meas = truth + rng.normal(0.0, params.measurement_noise, size=truth.shape)
    return truth, meas


def simulate(params: SimulationParams | None = None, **overrides) -> Simulation:
    """Simulate ``params`` (or defaults with ``overrides``): detections shuffled within each
    frame, so their order says nothing about identity, plus the ground truth with the
    detection each particle produced."""
    params = (params or SimulationParams()).replace(**overrides) if overrides else (
        params or SimulationParams())
    rng = np.random.default_rng(params.seed)
    truth, meas = simulate_arrays(params, rng)
    t, n, d = truth.shape
    perm = np.argsort(rng.random((t, n)), axis=1)          # row r of frame f shows particle perm[f, r]
    rows = np.arange(t)[:, None] * n + np.arange(n)[None, :]
    det_coords = np.take_along_axis(meas, perm[:, :, None], axis=1).reshape(t * n, d)
    detections = Detections(np.repeat(np.arange(t), n), det_coords, source="simulation")
    det_of_particle = np.empty((t, n), dtype=np.int64)       # inverse permutation -> row index
    np.put_along_axis(det_of_particle, perm, rows, axis=1)
    truth_tracks = Tracks.from_assignment(np.arange(t), det_of_particle, truth)
    return Simulation(detections, truth_tracks, params)
