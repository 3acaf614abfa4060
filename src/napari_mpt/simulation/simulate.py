"""Particles observed as detections: the paper's clean world (eq. 2-3) and real detections.

The paper's model: N Brownian particles with drift, ``y_t = y_{t-1} + eps_t + delta`` with
``eps ~ N(0, mu^2 I)``, seen through ``z_t = y_t + omega`` with ``omega ~ N(0, sigma^2 I)``,
every particle detected in every frame.  Real detections add, each switched on by its own
parameter (:class:`~napari_mpt.core.params.SimulationParams`): directed and switching motion
(the three motion types of the ISBI 2012 challenge, Chenouard et al. 2014), missed
detections (P_D), Poisson clutter, Poisson births, per-frame survival, and particles that
end where they leave the field of view.

With every extra switched off the random draws are exactly those of the clean model, in
the same order, so today's simulations (and the shipped samples) are reproduced bit for
bit.  Everything is vectorised over particles and frames: particles born together are
simulated as one ``(age, particle)`` block.
"""

from __future__ import annotations

import numpy as np

from ..core.data import Detections, Simulation, Tracks
from ..core.params import SimulationParams


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

    The paper's clean model only (the real-detection parameters are ignored):
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


def _directed_steps(params: SimulationParams, rng: np.random.Generator, k: int,
                    length: int) -> tuple[np.ndarray, np.ndarray]:
    """Directed part of the ``length - 1`` steps of ``k`` particles, ``(length-1, k, ndim)``,
    and a mask of the steps a particle is immobile in (mixture motion; else all False).

    Each particle has one random direction (uniform on the circle / sphere) for its whole
    life.  ``directed``: every step moves ``speed`` along it.  ``switching`` and
    ``mixture``: a particle starts in a mode drawn by the long-run shares and before each
    step leaves a mode of share s with probability ``2 q (1 - s)``, for another drawn by
    the shares of the others, so the shares stay the long-run ones (detailed balance).
    Two modes of share 1/2 switch with probability q: the parity of the switches so far,
    drawn as before the mixture existed, draw for draw.
    """
    u = rng.normal(size=(k, params.ndim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    velocity = params.speed * u
    still = np.zeros((length - 1, k), dtype=bool)
    if params.motion == "directed":
        return np.broadcast_to(velocity, (length - 1, k, params.ndim)).copy(), still
    shares = np.asarray(params.mode_shares())
    if params.motion == "switching" and shares[2] == 0.5:
        state = rng.random(k) < 0.5
        flips = rng.random((length - 1, k)) < params.switch_probability
        directed = state[None, :] ^ (np.cumsum(flips, axis=0) % 2).astype(bool)
        return directed[:, :, None] * velocity[None, :, :], still
    # modes 0 immobile, 1 Brownian, 2 directed
    mode = np.searchsorted(np.cumsum(shares), rng.random(k) * shares.sum(), side="right")
    mode = np.minimum(mode, 2)
    leave = 2.0 * params.switch_probability * (1.0 - shares)
    u_leave = rng.random((length - 1, k))
    u_to = rng.random((length - 1, k))
    modes = np.empty((length - 1, k), dtype=np.int64)
    for t in range(length - 1):
        go = u_leave[t] < leave[mode]
        if go.any():
            rest = np.where(np.arange(3)[None, :] == mode[go, None], 0.0, shares[None, :])
            cum = np.cumsum(rest, axis=1)
            mode[go] = np.minimum((u_to[t, go, None] * cum[:, -1:] >= cum).sum(axis=1), 2)
        modes[t] = mode
    return (modes == 2)[:, :, None] * velocity[None, :, :], modes == 0


def _cohort(params: SimulationParams, rng: np.random.Generator, start: np.ndarray,
            length: int, drift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True positions and measurements ``(length, k, ndim)`` of ``k`` particles by age.

    The first two draws are exactly :func:`simulate_arrays`'s (Brownian steps, then the
    measurement noise), so the clean model's stream is unchanged.
    """
    k, d = start.shape
    steps = rng.normal(0.0, params.process_noise, size=(length - 1, k, d)) + drift
    noise = rng.normal(0.0, params.measurement_noise, size=(length, k, d))
    if params.motion != "brownian":
        directed, still = _directed_steps(params, rng, k, length)
        steps = np.where(still[:, :, None], 0.0, steps + directed)
    truth = np.concatenate([start[None], start[None] + np.cumsum(steps, axis=0)], axis=0)
    return truth, truth + noise


def _lifetimes(params: SimulationParams, rng: np.random.Generator, born: np.ndarray
               ) -> np.ndarray:
    """Frames each particle lives, at most to the end of the movie: geometric with
    per-frame survival S (a particle seen in frame t is there in t+1 with probability S)
    after ``min_lifetime`` frames (``min_lifetime - 1`` plus a geometric draw)."""
    left = params.frames - born
    if params.survival >= 1.0:
        return left
    life = rng.geometric(1.0 - params.survival, size=len(born)) + (params.min_lifetime - 1)
    return np.minimum(life, left)


def _alive(params: SimulationParams, truth: np.ndarray, life: np.ndarray) -> np.ndarray:
    """``(age, particle)`` mask of the vertices that exist: within the lifetime and, with
    ``end_at_edge``, before the first position outside ``[0, field_of_view]``."""
    alive = np.arange(truth.shape[0])[:, None] < life[None, :]
    if params.end_at_edge:
        inside = np.all((truth >= 0.0) & (truth <= params.field_of_view), axis=2)
        alive &= np.logical_and.accumulate(inside, axis=0)
    return alive


def simulate(params: SimulationParams | None = None, **overrides) -> Simulation:
    """Simulate ``params`` (or defaults with ``overrides``).

    Returns the detections, shuffled within each frame so that their order says nothing
    about identity, and the ground truth: one track per particle (ids 0..N-1 for the
    initial particles, then the births in order), a vertex for every frame it exists in,
    and ``detection`` = the row of the detections table it produced there, or -1 when it
    was missed.  Clutter rows belong to no particle.
    """
    params = (params or SimulationParams()).replace(**overrides) if overrides else (
        params or SimulationParams())
    rng = np.random.default_rng(params.seed)
    t, d, fov = params.frames, params.ndim, params.field_of_view

    # initial particles: the clean model's draws first, in its order
    start = initial_positions(params, rng)
    truth0, meas0 = _cohort(params, rng, start, t, params.drift_array())
    born = [np.zeros(params.particles, dtype=np.int64)]
    life = [_lifetimes(params, rng, born[0])]
    blocks = [(truth0, meas0)]
    if params.birth_rate > 0:
        counts = rng.poisson(params.birth_rate, size=t - 1)
        b = np.repeat(np.arange(1, t), counts)
        if len(b):
            starts = rng.uniform(0.0, fov, size=(len(b), d))
            lb = _lifetimes(params, rng, b)
            blocks.append(_cohort(params, rng, starts, int(lb.max()), params.drift_array()[0]))
            born.append(b)
            life.append(lb)

    # vertices (particle, frame) of every block, then in frame-major, particle-minor order
    pid_l, frame_l, true_l, meas_l = [], [], [], []
    first_id = 0
    for (tr, me), b, lf in zip(blocks, born, life, strict=True):
        age, p = np.nonzero(_alive(params, tr, lf))
        pid_l.append(first_id + p)
        frame_l.append(b[p] + age)
        true_l.append(tr[age, p])
        meas_l.append(me[age, p])
        first_id += len(b)
    pid, frame = np.concatenate(pid_l), np.concatenate(frame_l)
    order = np.lexsort((pid, frame))
    pid, frame = pid[order], frame[order]
    true_xy, meas_xy = np.concatenate(true_l)[order], np.concatenate(meas_l)[order]

    detected = np.ones(len(pid), dtype=bool)
    if params.detection_probability < 1.0:
        detected = rng.random(len(pid)) < params.detection_probability
    row_frame, row_xy, row_vertex = frame[detected], meas_xy[detected], np.flatnonzero(detected)
    if params.clutter > 0:
        nc = rng.poisson(params.clutter, size=t)
        row_frame = np.concatenate([row_frame, np.repeat(np.arange(t), nc)])
        row_xy = np.concatenate([row_xy, rng.uniform(0.0, fov, size=(int(nc.sum()), d))])
        row_vertex = np.concatenate([row_vertex, np.full(int(nc.sum()), -1)])
        by_frame = np.argsort(row_frame, kind="stable")
        row_frame, row_xy, row_vertex = row_frame[by_frame], row_xy[by_frame], row_vertex[by_frame]

    # shuffle within frames: row r of the table is candidate shown[r]
    shown = np.lexsort((rng.random(len(row_frame)), row_frame))
    detections = Detections(row_frame[shown], row_xy[shown].reshape(-1, d), source="simulation")
    det_of_vertex = np.full(len(pid), -1, dtype=np.int64)
    vertex = row_vertex[shown]
    real = vertex >= 0
    det_of_vertex[vertex[real]] = np.flatnonzero(real)
    truth = Tracks(pid, frame, true_xy.reshape(-1, d), det_of_vertex)
    return Simulation(detections, truth, params)
