"""Gaussian spots on a pixel grid: the one renderer of the package.

A spot is ``a exp(-|p - mu|^2 / 2 sigma^2)`` (sigma per axis, pixel centres at integer
coordinates, napari's convention), drawn within a box of ``extent`` sigmas around its
nearest pixel.  The Gaussian is separable, so a spot is an outer product of one 1-D
profile per axis, and all the spots of a frame are one scatter-add: the simulator draws
movies with it (:mod:`napari_mpt.simulation.movie`) and the detector its model of a
frame's spots (:mod:`napari_mpt.detection.multi`).
"""

from __future__ import annotations

import numpy as np

RENDER_SIGMAS = 4.5
"""Spots are drawn out to this many sigmas (light beyond it: below 4e-5 of the peak)."""


def grid(radius: np.ndarray) -> np.ndarray:
    """Every integer offset in the box ``-radius .. radius`` (per axis), ``(k, d)``."""
    return np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij"),
                    axis=-1).reshape(-1, len(radius))


def _scatter(shape: tuple[int, ...], starts: np.ndarray, profiles: list[np.ndarray]
             ) -> np.ndarray:
    """Sum over spots of the outer product of one profile per axis, profile ``i`` of spot
    ``k`` covering pixels ``starts[k, i] + arange(len)`` on axis ``i`` (pixels outside the
    frame must have weight 0 there; they are clipped)."""
    n = len(starts)
    vals = np.ones((n, 1))
    flat = np.zeros((n, 1), dtype=np.int64)
    stride = 1
    for i in reversed(range(len(shape))):
        pix = np.clip(starts[:, i:i + 1] + np.arange(profiles[i].shape[1]), 0, shape[i] - 1)
        # axis i varies slowest of the axes done so far: it goes first
        vals = (profiles[i][:, :, None] * vals[:, None, :]).reshape(n, -1)
        flat = (pix[:, :, None] * stride + flat[:, None, :]).reshape(n, -1)
        stride *= shape[i]
    return np.bincount(flat.ravel(), weights=vals.ravel(),
                       minlength=int(np.prod(shape))).reshape(shape)


def _profiles(n_axis: int, centre: np.ndarray, x: np.ndarray, sigma: float, radius: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """``exp(-(p - x)^2 / 2 sigma^2)`` on ``p = centre - radius .. centre + radius``
    (0 outside ``[0, n_axis)``), and the first pixel."""
    pix = centre[:, None] + np.arange(-radius, radius + 1)
    prof = np.exp(-0.5 * ((pix - x[:, None]) / sigma) ** 2) * ((pix >= 0) & (pix < n_axis))
    return prof, centre - radius


def render(shape: tuple[int, ...], coords: np.ndarray, amplitude: np.ndarray | float,
           sigma: np.ndarray, extent: float = RENDER_SIGMAS) -> np.ndarray:
    """``sum_k a_k exp(-|p - mu_k|^2 / 2 sigma^2)`` on the pixel grid (no background),
    each spot drawn out to ``extent`` sigmas; the Gaussian is separable, so it is an
    outer product of one profile per axis."""
    if not len(coords):
        return np.zeros(shape)
    centre = np.rint(coords).astype(np.int64)
    amplitude = np.broadcast_to(np.asarray(amplitude, dtype=np.float64), (len(coords),))
    profs, starts = [], []
    for i in range(len(shape)):
        p, s0 = _profiles(shape[i], centre[:, i], coords[:, i], float(sigma[i]),
                          int(np.ceil(extent * sigma[i])))
        profs.append(p)
        starts.append(s0)
    profs[0] = profs[0] * amplitude[:, None]
    return _scatter(shape, np.stack(starts, axis=1), profs)
