"""Sub-pixel localisation: a Gaussian fitted to the window around each peak.

The model is ``background + amplitude * exp(-|p - mu|^2 / 2 w^2)`` (the width along each
axis ``w`` times the ratio of the spot sigmas, so a 3-D spot keeps its z/xy aspect) on
the ``(2r+1)^d`` window around the peak, ``r`` = 2 sigma rounded (at least 2 px: 3 px for
spots of 1.3 px, 4 for the bulk-water beads' 2.2 px), fitted by least squares
with the batched Levenberg-Marquardt loop of :mod:`napari_mpt.detection.lm`; window
pixels nearer another peak are left out, so a neighbour's light barely pulls the fit.
A fit that does not converge, or leaves its window, falls back to the
background-subtracted intensity centroid of the window (``fitted`` = 0).  The Gaussian is
separable, so values and derivatives are outer products of one profile per axis (a sixth
of the work of evaluating every pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lm import levenberg_marquardt

LM_ITERATIONS = 10
"""Steps per spot at most; most spots stop after 3 to 5 (0.01 px).  On real spots that are
not Gaussian (the bulk-water beads) the steps shrink only threefold each (a large-residual
problem); a fit from a size far from the spot's (a given sigma of 2.5 px on spots of 0.7)
needs 8.  On simulated movies (SNR 2-7, 100-1000 spots) 6 steps give the same recall and
RMSE as 12; only the spots still moving take the last ones."""

FIT_FEATURES = ("amplitude", "background", "width", "snr", "fitted")


@dataclass
class FrameSpots:
    """The spots of one frame: sub-pixel positions ``(n, d)`` and their features."""

    coords: np.ndarray
    features: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.coords.shape[0])


def windows(image: np.ndarray, peaks: np.ndarray, radius: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel values ``(n, k)`` (float32), in-image weights and offsets of the window of
    ``radius`` around each peak, gathered from a view of windows over the zero-padded
    frame."""
    from numpy.lib.stride_tricks import sliding_window_view

    ndim = image.ndim
    radius = np.asarray(radius, dtype=np.int64)
    offsets = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij"),
                       axis=-1).reshape(-1, ndim)
    pad = [(int(r), int(r)) for r in radius]
    size = tuple(int(2 * r + 1) for r in radius)
    at = tuple(peaks[:, i] for i in range(ndim))   # window i starts at peak - r, padded: peak
    values = sliding_window_view(np.pad(np.asarray(image, dtype=np.float32), pad), size)[at]
    inside = sliding_window_view(np.pad(np.ones(image.shape, np.float32), pad), size)[at]
    n = len(peaks)
    return values.reshape(n, -1), inside.reshape(n, -1), offsets.astype(np.float64)


def own_pixels(peaks: np.ndarray, offsets: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """1 where a window pixel is not nearer another peak than its own (distances in spot
    sigmas), else 0: a neighbouring spot's light then barely pulls a fit towards it.
    Only peaks within two window radii of each other can take each other's pixels, so
    only those pairs are compared: pixel ``o`` (an offset from peak ``i``) is nearer peak
    ``j`` when ``o . d > |d|^2 / 2`` with ``d`` the offset of ``j``, all in sigmas."""
    from scipy.spatial import cKDTree

    k = len(offsets)
    scaled = offsets / sigmas                                            # (k, d)
    weight = np.ones((len(peaks), k), dtype=np.float32)
    reach = 2.0 * float(np.sqrt((scaled ** 2).sum(axis=1).max()))
    pairs = cKDTree(peaks / sigmas).query_pairs(reach, output_type="ndarray")
    if not len(pairs):
        return weight
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = (peaks[j] - peaks[i]) / sigmas                                   # (m, d)
    half = 0.5 * (d * d).sum(axis=1)[:, None]
    lost = d @ scaled.T > half + 1e-9 * (1.0 + half)       # (m, k); a pixel as near both stays
    rows, cols = np.nonzero(lost)
    weight[i[rows], cols] = 0.0
    return weight


def _outer(parts: list[np.ndarray]) -> np.ndarray:
    """Per-spot outer product of one profile per axis, ``(n, k_0 * k_1 * ...)``, the
    first axis varying slowest (the order of :func:`windows`'s offsets)."""
    out = parts[0]
    for p in parts[1:]:
        out = (out[:, :, None] * p[:, None, :]).reshape(len(out), -1)
    return out


class SpotFits:
    """The least-squares problem of :func:`fit_spots` for the batched loop: ``theta =
    (b, a, mu.., w)`` per spot, ``mu`` relative to the window centre.  float32 for the
    per-pixel arrays (half the memory traffic; positions to 1e-5 px), float64 for the
    parameters, sums of squares and normal equations."""

    def __init__(self, values: np.ndarray, weight: np.ndarray, radius: np.ndarray,
                 ratio: np.ndarray) -> None:
        self.values = values.astype(np.float32)
        self.weight = weight.astype(np.float32)
        self.radius, self.ratio = radius, ratio
        self.axes = [np.arange(-r, r + 1, dtype=np.float32) for r in radius]
        self._last: tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray],
                          list[np.ndarray]] | None = None

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        ndim = len(self.radius)
        t32 = theta.astype(np.float32)
        b, a, mu, w = t32[:, 0], t32[:, 1], t32[:, 2:2 + ndim], t32[:, -1]
        prof, slope, curv = [], [], []
        for i in range(ndim):
            d = self.axes[i][None, :] - mu[:, i:i + 1]
            s2 = (w * np.float32(self.ratio[i]))[:, None] ** 2
            z = d * d / s2
            e = np.exp(-0.5 * z)
            prof.append(e)
            slope.append(e * d / s2)          # d/dmu_i of the profile
            curv.append(e * z)                # w d/dw of the profile
        res = (self.values - (b[:, None] + a[:, None] * _outer(prof))) * self.weight
        self._last = (t32, res, prof, slope, curv)
        return np.einsum("nk,nk->n", res, res, dtype=np.float64)

    def normal(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._last is not None
        theta, res, prof, slope, curv = self._last
        ndim = len(self.radius)
        every = len(rows) == len(theta)
        if not every:
            theta, res = theta[rows], res[rows]
            prof, slope, curv = ([p[rows] for p in v] for v in (prof, slope, curv))
        wt = self.weight if every else self.weight[rows]
        a, w = theta[:, 1], theta[:, -1]
        jac = np.empty((len(theta), theta.shape[1], wt.shape[1]), dtype=np.float32)
        jac[:, 0] = wt
        jac[:, 1] = _outer(prof) * wt
        aw = a[:, None] * wt
        for i in range(ndim):
            jac[:, 2 + i] = _outer([*prof[:i], slope[i], *prof[i + 1:]]) * aw
        dw = _outer([*prof[:-1], curv[-1]])
        for i in range(ndim - 1):
            dw += _outer([*prof[:i], curv[i], *prof[i + 1:]])
        jac[:, -1] = dw * (aw / w[:, None])
        return ((jac @ jac.transpose(0, 2, 1)).astype(np.float64),
                (jac @ res[:, :, None])[..., 0].astype(np.float64))

    def keep(self, lines: np.ndarray) -> None:
        self.values, self.weight = self.values[lines], self.weight[lines]


def positive_width(theta: np.ndarray) -> np.ndarray:
    """Trial parameters with a positive width (the last column)."""
    theta[:, -1] = np.abs(theta[:, -1]) + 1e-9
    return theta


def fit_spots(image: np.ndarray, peaks: np.ndarray, sigmas: tuple[float, ...],
              reach: float = 2.0) -> FrameSpots:
    """Sub-pixel positions and features (amplitude, background, width, snr, fitted) of
    the spots at integer ``peaks`` (module docstring), on windows of radius ``ceil(reach
    sigma)``.  ``snr`` is the amplitude over the fit's residual RMS, the noise near the
    spot."""
    ndim = image.ndim
    peaks = np.asarray(peaks, dtype=np.int64).reshape(-1, ndim)
    n = len(peaks)
    if n == 0:
        return FrameSpots(np.empty((0, ndim)), {k: np.empty(0) for k in FIT_FEATURES})
    sig = np.asarray(sigmas, dtype=np.float64)
    radius = np.maximum(np.round(reach * sig), 2).astype(np.int64)
    values, weight, offsets = windows(image, peaks, radius)
    if n > 1:
        weight *= own_pixels(peaks, offsets, sig)
    n_pix = weight.sum(axis=1)

    # start: background from the window's lowest decile, amplitude from its peak pixel
    ranked = np.sort(np.where(weight > 0, values, np.float32(np.inf)), axis=1)
    decile = np.floor(0.1 * (n_pix - 1)).astype(np.int64)
    b0 = ranked[np.arange(n), decile]
    centre = offsets.shape[0] // 2
    a0 = np.maximum(values[:, centre] - b0, 1e-6)
    # start from the intensity centroid of the inner window (within one sigma), clipped
    # to half a pixel: a start near the optimum saves Levenberg-Marquardt iterations
    inner = np.all(np.abs(offsets) <= np.maximum(np.round(sig), 1), axis=1)
    mu0 = np.clip(centroids(values[:, inner], weight[:, inner], offsets[inner], b0), -0.5, 0.5)
    theta0 = np.column_stack([b0, a0, mu0, np.full(n, sig[-1])])
    scale = np.column_stack([a0, a0, np.ones((n, ndim + 1))])
    problem = SpotFits(values, weight, radius, sig / sig[-1])
    theta, cost = levenberg_marquardt(problem, theta0, scale, LM_ITERATIONS,
                                      constrain=positive_width)

    b, a, mu, w = theta[:, 0], theta[:, 1], theta[:, 2:2 + ndim], theta[:, -1]
    ok = (np.all(np.isfinite(theta), axis=1) & (a > 0)
          & np.all(np.abs(mu) <= radius, axis=1)
          & np.all((peaks + mu >= -1.0) & (peaks + mu <= np.array(image.shape)), axis=1)
          & (w > min(0.25 * sig[-1], 0.5)) & (w < 4.0 * sig[-1]))
    if not ok.all():
        mu = mu.copy()
        mu[~ok] = centroids(values[~ok], weight[~ok], offsets, b0[~ok])
        b = np.where(ok, b, b0)
        a = np.where(ok, a, a0)
        w = np.where(ok, w, sig[-1])
    dof = np.maximum(n_pix - theta.shape[1], 1.0)
    noise = np.sqrt(cost / dof)
    snr = a / np.maximum(noise, 1e-12)
    feats = {"amplitude": a, "background": b, "width": w, "snr": snr,
             "fitted": ok.astype(np.float64)}
    return FrameSpots(peaks + mu, feats)


def centroids(values: np.ndarray, weight: np.ndarray, offsets: np.ndarray,
              background: np.ndarray) -> np.ndarray:
    """Background-subtracted intensity centroids of windows (offsets from the centre)."""
    mass = np.clip(values - background[:, None], 0.0, None) * weight
    total = mass.sum(axis=1, keepdims=True)
    cen = (mass @ offsets) / np.where(total > 0, total, 1.0)
    return np.where(total > 0, cen, 0.0)
