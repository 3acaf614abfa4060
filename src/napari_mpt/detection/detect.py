"""Spot detection in movies: estimate the settings once, then filter, threshold, find
peaks and fit Gaussians frame by frame.

1. **Settings** (:func:`napari_mpt.detection.estimate.estimate_settings`): polarity, spot
   size and threshold, from the movie unless given, reported with the evidence.
2. **Filter** each frame (negated when the spots are dark) with a difference of Gaussians
   at the spot size, and measure each pixel's **quality**: the filtered value above the
   frame's median in noise standard deviations (:mod:`napari_mpt.detection.filters`).
3. **Peaks**: local maxima whose quality passes the threshold
   (:func:`skimage.feature.peak_local_max`, ``min_distance``, ``border``).
4. **Sub-pixel localisation**: a Gaussian fitted to the window around each peak
   (:mod:`napari_mpt.detection.fit`).
5. **Multi-emitter fitting** (``multi_emitter``; ``auto``: for bright spots): spots closer
   than 3.5 sigmas are refitted jointly, and spots hidden next to a brighter one are found
   in the residual and kept only if a likelihood-ratio test passes
   (:mod:`napari_mpt.detection.multi`).  Overlapping fluorescent emitters add their
   light, so a frame is a sum of Gaussians; dark objects in transmitted light (the
   bulk-water beads) do not add up that way, and there the joint Gaussian fits moved 1 %
   of trackpy's confident beads by more than 1.5 px and added 5 % more spots.

Features of each spot (:data:`FEATURES`): ``quality`` (the filter response in noise
standard deviations at its peak: what the threshold is applied to, TrackMate's "quality"
in noise units), ``mass`` (the integrated intensity above the local background of the
fitted Gaussian, ``amplitude * (2 pi)^(d/2) * prod(widths)``: trackpy's "mass" without
its band-pass), ``amplitude`` (the peak above background; for dark spots the depth below
it), ``background`` (image units), ``width`` (fitted sigma in y/x, px; for spots fitted
jointly, the frame's common width), ``snr`` (amplitude over the fit's residual RMS) and
``fitted`` (1, or 0 where the fit failed and the centroid was taken).

``engine="trackpy"`` locates with :func:`trackpy.locate` instead
(:mod:`napari_mpt.detection.trackpy_engine`), with the same settings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ..core.data import Detections
from ..core.params import DetectParams
from ..core.results import RunControl
from ..io import check_movie_axes
from .estimate import DetectSettings, estimate_settings, finite_frame
from .filters import filter_frame, local_peaks, quality_map
from .fit import FIT_FEATURES, FrameSpots, fit_spots
from .multi import MultiEmitter, Spots

FEATURES = ("quality", "mass", *FIT_FEATURES)


def detect_frame(image: np.ndarray, params: DetectParams | None = None,
                 settings: DetectSettings | None = None) -> FrameSpots:
    """Spots of one 2-D or 3-D frame, with ``settings`` (estimated from this frame alone
    when not given)."""
    params = params or DetectParams()
    if settings is None:
        settings = estimate_settings(np.asarray(image)[None], params)
    return _spots(np.asarray(image), params, settings)


def _spots(raw: np.ndarray, params: DetectParams, settings: DetectSettings) -> FrameSpots:
    """The engine's spots in a frame as read (``raw``): napari-mpt's work on it as float32,
    negated for dark spots; trackpy's on the frame in its own type, as trackpy users call
    it (its defaults depend on the type)."""
    img = np.asarray(raw, dtype=np.float32)
    img = -img if settings.sign < 0 else img
    if params.engine == "trackpy":
        from .trackpy_engine import locate_frame

        return locate_frame(raw, img, params, settings)
    return spots_of_frame(img, params, settings)


def spots_of_frame(img: np.ndarray, params: DetectParams, settings: DetectSettings
                   ) -> FrameSpots:
    """The napari-mpt engine on a signed float32 frame (spots are peaks)."""
    sig = settings.sigmas
    filtered = filter_frame(img, sig)
    q, noise = quality_map(filtered, settings.noise, sig, float(np.abs(img).max(initial=0.0)))
    peaks = local_peaks(q, settings.threshold, params.min_distance, params.border)
    spots = fit_spots(img, peaks, sig)
    if params.joint_fits(settings.polarity) and len(spots):
        spots = _multi_emitter(img, filtered, spots, sig, noise, params, settings.threshold)
    return _features(spots, q, q[tuple(peaks.T)], sig, settings.sign)


def _features(spots: FrameSpots, q: np.ndarray, peak_q: np.ndarray, sig: tuple[float, ...],
              sign: float) -> FrameSpots:
    """Quality and mass beside the fit's features; for dark spots the background in
    image units.  A spot's quality is its peak's (``peak_q``, the first spots); a spot
    found hidden in the residual takes the quality map's value at its pixel."""
    f = spots.features
    at = np.clip(np.rint(spots.coords[len(peak_q):]).astype(np.int64), 0, np.array(q.shape) - 1)
    quality = np.concatenate([peak_q, q[tuple(at.T)]]).astype(np.float64)
    ratio = np.prod(np.asarray(sig) / sig[-1])
    mass = f["amplitude"] * (2.0 * math.pi) ** (len(sig) / 2) * f["width"] ** len(sig) * ratio
    feats = {"quality": quality, "mass": mass, **f, "background": sign * f["background"]}
    return FrameSpots(spots.coords, feats)


def _multi_emitter(img: np.ndarray, filtered: np.ndarray, spots: FrameSpots,
                   sigmas: tuple[float, ...], noise: np.ndarray, params: DetectParams,
                   threshold: float) -> FrameSpots:
    """Joint fits of neighbours and residual re-detection (:mod:`napari_mpt.detection.multi`)."""
    f = spots.features
    a = f["amplitude"]
    state = Spots(spots.coords.astype(np.float64), a.copy(), f["background"].copy(),
                  f["width"].copy(), a / np.maximum(f["snr"], 1e-12), f["fitted"].copy())
    me = MultiEmitter(img, filtered, sigmas, noise, threshold, params.min_distance,
                      params.border)
    out = me.run(state, params.residual_rounds)
    snr = out.amplitude / np.maximum(out.noise, 1e-12)
    n = len(spots)
    # spots the multi-emitter step left alone keep their features bit for bit
    same = np.zeros(len(out), dtype=bool)
    same[:n] = np.all(out.coords[:n] == spots.coords, axis=1) & (out.amplitude[:n] == a)
    snr[:n] = np.where(same[:n], f["snr"], snr[:n])
    feats = {"amplitude": out.amplitude, "background": out.background, "width": out.width,
             "snr": snr, "fitted": out.fitted}
    return FrameSpots(out.coords, feats)


# --- movies ----------------------------------------------------------------------------
def _detect_one(movie: Any, t: int, params: DetectParams, settings: DetectSettings,
                source: str) -> FrameSpots:
    return _spots(finite_frame(movie, t, source), params, settings)


def _frames_in_order(movie: Any, params: DetectParams, settings: DetectSettings, source: str
                     ) -> Iterator[tuple[int, FrameSpots]]:
    """Detect frame by frame; with ``workers > 1`` a thread pool runs a bounded number of
    frames ahead (the filters and most of the fit release the GIL)."""
    n = len(movie)
    workers = params.threads()
    if workers == 1:
        for t in range(n):
            yield t, _detect_one(movie, t, params, settings, source)
        return
    ahead = 2 * workers
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="napari-mpt-detect")
    pending: dict[int, Future[FrameSpots]] = {}
    try:
        for t in range(n):
            while len(pending) < ahead and t + len(pending) < n:
                k = t + len(pending)
                pending[k] = pool.submit(_detect_one, movie, k, params, settings, source)
            yield t, pending.pop(t).result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def detect(movie: Any, params: DetectParams | None = None, control: RunControl | None = None,
           source: str = "movie", settings: DetectSettings | None = None) -> Detections:
    """Spots of every frame of a ``(T, Y, X)`` or ``(T, Z, Y, X)`` movie as
    :class:`Detections` (frames may hold any number of spots), with the features listed in
    the module docstring.

    ``settings`` (polarity, spot size, threshold) are estimated once from the movie when
    not given (:func:`~napari_mpt.detection.estimate.estimate_settings`; call it first to
    report them).  ``movie`` is anything indexable by frame (a numpy array, a memory map,
    a dask array); only one frame per worker is held as floats at a time.  ``control``
    gets a progress step per frame and can cancel the run
    (:class:`~napari_mpt.core.errors.Cancelled`).  Raises :class:`InputError` naming
    ``source`` for a 2-D image, RGB data, NaN pixels, no frames or too many axes.
    """
    params = params or DetectParams()
    movie = check_movie_axes(movie, source)
    control = control or RunControl()
    if settings is None:
        settings = estimate_settings(movie, params, source, control)
    total = len(movie)
    ndim = len(np.shape(movie)) - 1
    frames, coords = [], []
    feats: dict[str, list[np.ndarray]] = {}
    control.step(0, total)
    for t, spots in _frames_in_order(movie, params, settings, source):
        frames.append(np.full(len(spots), t, dtype=np.int64))
        coords.append(spots.coords)
        for k, v in spots.features.items():
            feats.setdefault(k, []).append(v)
        control.step(t + 1, total)
    names = tuple(feats) or FEATURES
    if not frames or not sum(len(f) for f in frames):
        return Detections(np.empty(0, dtype=np.int64), np.empty((0, ndim)), source=source,
                          features={k: np.empty(0) for k in names})
    return Detections(np.concatenate(frames), np.concatenate(coords), source=source,
                      features={k: np.concatenate(v) for k, v in feats.items()})


def spots_per_frame(detections: Detections, frames: int) -> list[int]:
    """Number of spots in each of ``frames`` frames (0 where none was found)."""
    counts = np.bincount(detections.frame, minlength=frames) if len(detections) else (
        np.zeros(frames, dtype=np.int64))
    return [int(c) for c in counts[:frames]]


def expected_localisation_error(amplitude: float, background: float, sigma: float) -> float:
    """Thompson-Larson-Webb (2002) localisation precision per axis (px) of a 2-D Gaussian
    spot of peak ``amplitude`` photons on ``background`` photons per pixel: a yardstick for
    the fit's accuracy in the tests and the benchmark."""
    photons = 2.0 * math.pi * sigma ** 2 * amplitude
    s2 = sigma ** 2 + 1.0 / 12.0
    return math.sqrt(s2 / photons + 8.0 * math.pi * s2 ** 2 * background / photons ** 2)
