"""Gaussian spots on a pixel grid: the one renderer of the package.

A spot is ``a exp(-|p - mu|^2 / 2 sigma^2)`` (sigma per axis, pixel centres at integer
coordinates, napari's convention), drawn within a box of ``extent`` sigmas around its
nearest pixel.  The Gaussian is separable, so a spot is an outer product of one 1-D
profile per axis, and all the spots of a frame are one scatter-add: the simulator draws
movies with it (:mod:`napari_mpt.simulation.movie`) and the detector its model of a
frame's spots (:mod:`napari_mpt.detection.multi`).
"""

from __future__ import annotations

import functools

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


@functools.lru_cache(maxsize=6)
def axis_filter_matrix(n: int, sigma: float) -> np.ndarray:
    """``M`` with ``gaussian_filter1d(x) = M @ x`` on ``n`` samples, with the boundary mode
    and truncation :func:`skimage.filters.difference_of_gaussians` uses (so also
    :func:`napari_mpt.detection.detect.filter_frame`): ``n**2`` floats, kept for the next frames
    (two per axis length: the filter's low and high sigmas)."""
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.eye(n), sigma, axis=0, mode="nearest", truncate=4.0)


def render_filtered(shape: tuple[int, ...], coords: np.ndarray, amplitude: np.ndarray,
                    sigma: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """:func:`napari_mpt.detection.detect.filter_frame` of :func:`render`'s image, without filtering
    a frame: a drawn spot is a product of one profile per axis, and the filter is a
    difference of two products of one 1-D Gaussian filter per axis (edges included), so
    each spot's filtered image is a difference of two outer products of filtered
    profiles.  The low-pass part is kept out to its full reach, the high-pass part (wide
    and ten times fainter) to 3 sigmas of its width."""
    if not len(coords):
        return np.zeros(shape)
    centre = np.rint(coords).astype(np.int64)
    out = np.zeros(shape)
    for part, (filt, sign) in enumerate(((low, 1.0), (high, -1.0))):
        profs, starts = [], []
        for i in range(len(shape)):
            r_in = int(np.ceil(RENDER_SIGMAS * sigma[i]))
            prof, s_in = _profiles(shape[i], centre[:, i], coords[:, i], float(sigma[i]), r_in)
            reach = int(4.0 * filt[i] + 0.5)              # scipy's kernel radius, truncate 4
            if part:
                reach = min(reach, int(np.ceil(3.0 * np.hypot(sigma[i], filt[i]))) - r_in)
            r_out = r_in + max(reach, 0)
            out_pix = np.clip(centre[:, i:i + 1] + np.arange(-r_out, r_out + 1), 0, shape[i] - 1)
            in_pix = np.clip(s_in[:, None] + np.arange(2 * r_in + 1), 0, shape[i] - 1)
            mat = axis_filter_matrix(shape[i], float(filt[i]))
            # away from the edges the filter is the same shifted kernel for every spot:
            # one matrix product; near them, each spot's rows of the filter matrix
            kernel = int(4.0 * filt[i] + 0.5)
            mid = shape[i] // 2
            free = ((centre[:, i] - r_out - kernel >= 0)
                    & (centre[:, i] + r_out + kernel <= shape[i] - 1))
            fprof = np.empty((len(coords), 2 * r_out + 1))
            if mid - r_out - kernel >= 0 and mid + r_out + kernel <= shape[i] - 1:
                toeplitz = mat[mid + np.arange(-r_out, r_out + 1)][:, mid + np.arange(-r_in, r_in + 1)]
                fprof[free] = prof[free] @ toeplitz.T
            else:
                free[:] = False
            edge = ~free
            if edge.any():
                block = mat[out_pix[edge][:, :, None], in_pix[edge][:, None, :]]
                fprof[edge] = np.einsum("noi,ni->no", block, prof[edge])
            inside = (centre[:, i:i + 1] + np.arange(-r_out, r_out + 1) >= 0) & (
                centre[:, i:i + 1] + np.arange(-r_out, r_out + 1) < shape[i])
            profs.append(fprof * inside)
            starts.append(centre[:, i] - r_out)
        profs[0] = profs[0] * (sign * amplitude)[:, None]
        out += _scatter(shape, np.stack(starts, axis=1), profs)
    return out
