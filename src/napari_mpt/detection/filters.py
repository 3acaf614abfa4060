"""The detector's band-pass filter, the noise it is measured in, and its peaks.

A spot is a peak of the frame filtered with a difference of Gaussians at the spot size
(:func:`filter_frame`: sigmas ``LOW_RATIO * sigma`` and ``DOG_RATIO * sigma``), a band-pass
close to the matched filter of a Gaussian spot that removes a slowly varying background
and any camera offset.  Its **quality** is the filtered value above the frame's median in
standard deviations of filtered white noise: the pixel noise (:func:`pixel_noise`) times
the filter's gain at that pixel (:func:`filter_noise_sd`, larger near the edges).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

DOG_RATIO = 3.0
"""High sigma of the difference of Gaussians over the spot sigma: wide enough to keep most
of a spot's contrast, narrow enough to remove uneven background."""

LOW_RATIO = 0.8
"""Low sigma of the difference of Gaussians over the spot sigma: a little under the matched
filter's 1, so two spots 3 px apart stay two peaks (on simulated ISBI-like movies: recall
at 1000 spots per frame 0.92 instead of 0.90, at the cost of 0.77 instead of 0.81 at SNR 2
with 100 spots)."""

SIGNIFICANCE = 5.0
"""Noise standard deviations that white noise exceeds about once in 10^5 frames of 512 x
512 px: the least quality an estimated threshold asks of a spot
(:mod:`napari_mpt.detection.estimate`), and the least matched-filter signal-to-noise
ratio of a spot found hidden in the residual (:mod:`napari_mpt.detection.multi`)."""

NOISE_SHARE = 0.75
"""The pixel noise is measured on the smallest 75 % of neighbouring-pixel differences."""

ROUNDING_NOISE = 1.0 / math.sqrt(12.0)
"""Standard deviation of rounding to whole numbers: the least noise of an integer frame."""

_TRIMMED_MEAN_ABS = math.sqrt(2.0 / math.pi) * (1.0 - math.exp(-0.5 * 1.1503494 ** 2)) / NOISE_SHARE
"""Mean of ``|z|`` over the smallest 75 % of a standard normal sample (1.1503 is its 75 %
quantile of ``|z|``): 0.5149."""


def _reach(sigma: float) -> int:
    """How far the wide Gaussian of the filter reaches (4 of its sigmas, as scipy's)."""
    return int(4.0 * DOG_RATIO * sigma + 0.5)


def _frequencies(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Squared frequencies of each axis of a padded frame of ``shape``, broadcastable in
    the ``rfftn`` layout."""
    import scipy.fft

    out = []
    for i, n in enumerate(shape):
        k = scipy.fft.rfftfreq(n) if i == len(shape) - 1 else scipy.fft.fftfreq(n)
        out.append((k * k).reshape([-1 if j == i else 1 for j in range(len(shape))]))
    return out


@functools.lru_cache(maxsize=16)
def _transfer(shape: tuple[int, ...], sigmas: tuple[float, ...]) -> np.ndarray:
    """The band-pass filter's frequency response on a padded frame of ``shape``."""
    k2 = _frequencies(shape)
    lo = sum(-2.0 * math.pi ** 2 * (LOW_RATIO * s) ** 2 * k for s, k in zip(sigmas, k2, strict=True))
    hi = sum(-2.0 * math.pi ** 2 * (DOG_RATIO * s) ** 2 * k for s, k in zip(sigmas, k2, strict=True))
    return (np.exp(lo) - np.exp(hi)).astype(np.float32)


class Spectrum:
    """The real FFT of a frame with its edge pixels repeated outwards by ``reach`` (scipy's
    and scikit-image's ``nearest`` mode), so that any number of linear filters cost one
    inverse FFT each; the frame's mean is taken out first (the filters here remove it,
    and float32 keeps more of the spots' digits)."""

    def __init__(self, image: np.ndarray, reach: tuple[int, ...]) -> None:
        import scipy.fft

        img = np.asarray(image, dtype=np.float32)
        self.size, self.reach = img.shape, reach
        self.shape = tuple(scipy.fft.next_fast_len(n + 2 * r, real=True)
                           for n, r in zip(img.shape, reach, strict=True))
        padded = np.pad(img, [(r, m - n - r) for n, r, m in zip(img.shape, reach, self.shape,
                                                                strict=True)], mode="edge")
        padded -= np.float32(img.mean(dtype=np.float64))
        self.spectrum = scipy.fft.rfftn(padded, overwrite_x=True)

    def apply(self, gain: np.ndarray) -> np.ndarray:
        """The frame filtered with frequency response ``gain``, cropped back."""
        import scipy.fft

        out = scipy.fft.irfftn(self.spectrum * gain, s=self.shape, overwrite_x=True)
        return out[tuple(slice(r, r + n) for n, r in zip(self.size, self.reach, strict=True))]


def filter_frame(image: np.ndarray, sigmas: tuple[float, ...]) -> np.ndarray:
    """The band-passed frame in which spots are bright peaks (module docstring): the
    difference of Gaussians in ``nearest`` mode by one real FFT of the padded frame
    (:class:`Spectrum`), a quarter of the time of the two Gaussian filters in space at
    these sizes (the wide one's kernel spans 24 spot sigmas).  It agrees with
    :func:`skimage.filters.difference_of_gaussians` to 1e-4 of the spots' height from a
    spot sigma of 1.5 px up (its kernels stop at 4 sigmas, and the sampled narrow
    Gaussian differs from the band-limited one by up to 0.3 % below)."""
    spec = Spectrum(image, tuple(_reach(float(s)) for s in sigmas))
    return spec.apply(_transfer(spec.shape, tuple(float(s) for s in sigmas)))


def scale_normalised_log(image: np.ndarray, scales: tuple[float, ...]) -> list[np.ndarray]:
    """``-s^2 (d_yy + d_xx) G_s * image`` at each of ``scales`` (px), by one FFT of the
    frame (:class:`Spectrum`); in a 3-D frame the Laplacian is taken in y and x only,
    slice by slice.  Largest at ``s = sigma`` on a Gaussian spot (Lindeberg's scale
    selection)."""
    img = np.asarray(image)
    spec = Spectrum(img, tuple([0] * (img.ndim - 2) + [int(4 * max(scales) + 0.5)] * 2))
    k2 = _frequencies(spec.shape)
    plane = k2[-2] + k2[-1]
    return [spec.apply((4.0 * math.pi ** 2 * s * s * plane
                        * np.exp(-2.0 * math.pi ** 2 * s * s * plane)).astype(np.float32))
            for s in scales]


def _axis_operator(m: int, sigma: float, reach: int) -> np.ndarray:
    """``A`` with ``A[i, j]`` the weight of input pixel ``j`` in output pixel ``i`` of one
    Gaussian of :func:`filter_frame` along an axis of ``m`` pixels (edge padding of
    ``reach``, circular convolution by FFT)."""
    import scipy.fft

    size = scipy.fft.next_fast_len(m + 2 * reach, real=True)
    padded = np.pad(np.eye(m), [(reach, size - m - reach), (0, 0)], mode="edge")
    k = scipy.fft.rfftfreq(size)
    gain = np.exp(-2.0 * math.pi ** 2 * (sigma * k) ** 2)[:, None]
    out = scipy.fft.irfft(scipy.fft.rfft(padded, axis=0) * gain, n=size, axis=0)
    return out[reach:reach + m]


def _axis_sums(n: int, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output pixel of an axis of ``n`` samples: the squared norms of the low and the
    high Gaussian's weights and their product (:func:`_axis_operator`).  Away from the
    edges every pixel has the same weights, so the operators are built on a short axis
    (``O(reach^2)`` memory however long the axis) and its middle row repeated."""
    reach = _reach(sigma)
    m = min(n, 4 * reach + 3)
    f_lo = _axis_operator(m, LOW_RATIO * sigma, reach)
    f_hi = _axis_operator(m, DOG_RATIO * sigma, reach)
    sums = [(f_lo ** 2).sum(axis=1), (f_hi ** 2).sum(axis=1), (f_lo * f_hi).sum(axis=1)]
    if m == n:
        return sums[0], sums[1], sums[2]
    edge = 2 * reach + 1
    out = []
    for v in sums:
        full = np.full(n, v[m // 2])
        full[:edge], full[n - edge:] = v[:edge], v[m - edge:]
        out.append(full)
    return out[0], out[1], out[2]


@functools.lru_cache(maxsize=8)
def filter_noise_sd(shape: tuple[int, ...], sigmas: tuple[float, ...]) -> np.ndarray:
    """Standard deviation, at each pixel, of :func:`filter_frame` applied to white noise of
    unit variance.  Inside the frame it is the kernel's L2 norm; near the edges, where the
    boundary mode repeats pixels, it is larger, and a single threshold would let edge noise
    through.  The DoG is ``G_lo - G_hi`` with separable Gaussians, so the variance is
    ``prod v_lo + prod v_hi - 2 prod c`` over the axes (:func:`_axis_sums`).
    """
    v_lo = v_hi = c = np.ones(())
    for n, s in zip(shape, sigmas, strict=True):
        a_lo, a_hi, a_c = _axis_sums(n, s)
        v_lo = np.multiply.outer(v_lo, a_lo)
        v_hi = np.multiply.outer(v_hi, a_hi)
        c = np.multiply.outer(c, a_c)
    return np.sqrt(np.maximum(v_lo + v_hi - 2.0 * c, 0.0)).astype(np.float32)


def pixel_noise(image: np.ndarray) -> float:
    """Standard deviation of white pixel noise, from differences of neighbouring pixels
    along the last axis (a spot or a smooth background changes little from one pixel to
    the next; noise does): the mean of the smallest 75 % of ``|difference|``, scaled to
    a standard deviation for Gaussian noise, over ``sqrt(2)``.

    Not the median absolute deviation: in 8-bit or compressed movies more than half the
    neighbouring pixels are often equal (trackpy's bulk-water movie), and the MAD is 0.
    A frame of whole numbers has at least the noise of its rounding, ``1 / sqrt(12)``;
    0 only for a flat or synthetic frame of fractional values.
    """
    d = np.abs(np.diff(np.asarray(image, dtype=np.float32), axis=-1)).ravel()
    if not d.size:
        return 0.0
    k = max(int(NOISE_SHARE * d.size), 1)
    low = np.partition(d, k - 1)[:k]
    noise = float(low.mean(dtype=np.float64)) / _TRIMMED_MEAN_ABS / math.sqrt(2.0)
    if d.max() > 0 and np.all(d == np.round(d)):
        noise = max(noise, ROUNDING_NOISE)
    return noise


@functools.lru_cache(maxsize=4)
def _noise_map(shape: tuple[int, ...], sigmas: tuple[float, ...], noise: float) -> np.ndarray:
    """:func:`filter_noise_sd` times the movie's pixel noise (the same for every frame)."""
    out = filter_noise_sd(shape, sigmas) * np.float32(noise)
    out.setflags(write=False)
    return out


def quality_map(filtered: np.ndarray, noise: float, sigmas: tuple[float, ...],
                magnitude: float) -> tuple[np.ndarray, np.ndarray]:
    """The quality of every pixel, the filtered frame above its median over the filtered
    noise, and that noise (:func:`filter_noise_sd` times ``noise``).  A frame without
    noise (synthetic: ``noise`` below a millionth of ``magnitude``, the frame's largest
    absolute pixel value) is measured in hundredths of its filtered range above the
    median instead, so that it keeps its spots (quality 100) and neither the filter's
    rounding ripple nor a flat frame makes any."""
    med = float(np.median(filtered[tuple(slice(None, None, 2) for _ in filtered.shape)]))
    quality = np.subtract(filtered, np.float32(med), dtype=np.float32)
    if noise > 1e-6 * magnitude:
        sd = _noise_map(filtered.shape, tuple(float(s) for s in sigmas), float(noise))
    else:
        span = float(quality.max()) if quality.size else 0.0
        sd = np.full(filtered.shape, max(1e-2 * span, 1e-6 * magnitude, 1e-30), np.float32)
    quality /= sd
    return quality, sd


def local_peaks(quality: np.ndarray, threshold: float, min_distance: int = 1,
                border: int = 0) -> np.ndarray:
    """Integer positions ``(n, d)`` of the local maxima of ``quality`` above
    ``threshold`` (no higher pixel among the ``3^d`` neighbours; ties keep both), at least
    ``border`` px from the edges, strongest first.  With ``min_distance`` above 1,
    :func:`skimage.feature.peak_local_max`'s (the highest point within ``min_distance``
    px, peaks at least that far apart).  :func:`skimage.feature.peak_local_max` gives the
    same peaks at ``min_distance`` 1 but passes a maximum filter over every pixel; here
    only the pixels above the threshold are compared with their neighbours, whole
    shifted frames when they are many."""
    if not math.isfinite(threshold):
        return np.empty((0, quality.ndim), dtype=np.int64)
    if min_distance > 1:
        from skimage.feature import peak_local_max

        return peak_local_max(quality, min_distance=min_distance, threshold_abs=threshold,
                              exclude_border=border if border else False).astype(np.int64)
    above = quality > threshold
    if border:
        inner = np.zeros_like(above)
        inner[tuple(slice(border, max(n - border, border)) for n in quality.shape)] = True
        above &= inner
    # neighbours read from a copy padded with -inf: no index falls outside
    padded = np.pad(quality, 1, constant_values=-np.inf)
    offsets = [off for off in itertools.product((-1, 0, 1), repeat=quality.ndim) if any(off)]
    if np.count_nonzero(above) > quality.size // 16:
        # many candidates (a low threshold): compare whole shifted frames
        for off in offsets:
            above &= quality >= padded[tuple(slice(1 + o, 1 + o + n)
                                             for o, n in zip(off, quality.shape, strict=True))]
        cand = np.argwhere(above)
        height = quality[tuple(cand.T)]
    else:
        # few: compare each with its neighbours, by flat index into the padded copy
        cand = np.argwhere(above)
        height = quality[tuple(cand.T)]
        strides = np.cumprod((1, *padded.shape[::-1]))[:-1][::-1]
        flat = (cand + 1) @ strides
        values = padded.ravel()
        for off in offsets:
            keep = height >= values[flat + int(np.dot(off, strides))]
            cand, height, flat = cand[keep], height[keep], flat[keep]
    return cand[np.argsort(-height, kind="stable")].astype(np.int64)
