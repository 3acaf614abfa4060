"""The settings a movie chooses for its own detection: polarity, spot size, threshold.

A user's first movie should need nothing but the file, so the detector asks the data
(and reports what it chose; each choice can be set instead, :class:`DetectParams`):

- **Noise**: the pixel noise of a few frames spread over the movie
  (:func:`~napari_mpt.detection.filters.pixel_noise`), their median: one scale for the
  whole movie, so that a spot's quality does not depend on its frame's texture.
- **Threshold, from the opposite polarity.**  The background (shot noise, camera noise,
  texture, compression blocks) makes peaks of both signs in the band-passed frame; spots
  make peaks of one sign only.  So the peaks of the opposite sign (*decoys*, the
  target-decoy idea of proteomics) show how many background peaks of each quality to
  expect among the spots' peaks.  The threshold is the lowest quality at which the
  decoys above it are at most :data:`FDR` of the peaks above it (an estimated false
  discovery rate of 1 %), and at least :data:`FLOOR` noise standard deviations (Poisson
  noise at a few photons is skewed and makes more bright than dark peaks at the pixel
  scale; the floor keeps such noise out).  Peaks are pooled over up to
  :data:`SAMPLE_FRAMES` frames.  On a textured background (trackpy's bulk-water movie)
  the threshold rises far above the floor; on shot noise alone it stays at the floor.
- **Polarity** (``auto``): at each of a few spot sizes (:data:`SCALES`, or the one given),
  the peaks of each sign that pass that sign's threshold are counted on
  :data:`POLARITY_FRAMES` frames; the sign with the most is the spots' (bright when
  neither has any).  Dark beads on a bright field give hundreds of dark and almost no
  bright peaks; fluorescence the reverse.
- **Spot size** (``estimate``): start from the peaks that passed at the size where the
  chosen sign passed most, at the median of the sizes where their scale-normalised
  Laplacian of Gaussian peaks (:func:`log_scale`, Lindeberg's scale selection); then fit
  Gaussians (free width) to the spots of :data:`POLARITY_FRAMES` frames and take the
  median fitted width; repeat at that size until it changes by less than 2 % (at most
  :data:`SIZE_ROUNDS` times).  The size is the larger of the two: both read small when
  noise shapes the spots that pass (at SNR 2 the fits read 1.15 px for spots of 1.3, the
  scale selection 1.29), and a band-pass narrower than the spots loses more of them than
  a wider one (recall at SNR 2: 0.70 at 1.15 px, 0.78 at 1.3, 0.82 at 1.45); on the
  bulk-water beads the fit reads the larger (2.2 px, the scale selection 2.1: it
  measures a spot's core, the fit the whole spot with its halo).  In (T, Z, Y, X) movies
  the z size is the median width of 1-D Gaussians fitted to the spots' z profiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.params import DetectParams
from ..core.results import RunControl
from .filters import (
    SIGNIFICANCE,
    filter_frame,
    local_peaks,
    pixel_noise,
    quality_map,
    scale_normalised_log,
)
from .fit import SpotFits, fit_spots, positive_width, windows
from .lm import levenberg_marquardt

FDR = 0.01
"""Largest share of decoys (background peaks of the opposite sign) among the peaks above
the estimated threshold."""

FLOOR = SIGNIFICANCE
"""The estimated threshold is at least this many noise standard deviations."""

PEAK_MIN = 1.0
"""Peaks of quality below this (noise standard deviations) are not collected: they hold
no evidence for a threshold of at least :data:`FLOOR`."""

RING_SIGMAS = 6.0
RING_SHARE = 0.25
"""A peak within ``RING_SIGMAS`` spot sigmas of a peak of the other sign at least four
times as strong is that peak's ring (:func:`_rings`): not counted as background."""

SCALES = (1.0, 1.4, 2.0, 2.8, 4.0, 5.6)
"""Spot sizes (sigma, px) tried for the polarity and the first size."""

LOG_STEP = 1.25
LOG_SCALES = tuple(0.6 * LOG_STEP ** k for k in range(13))
"""Sizes (sigma, px: 0.6 to 8.7) of the scale selection that gives the first size (the fit
refines it)."""

SAMPLE_FRAMES = 20
POLARITY_FRAMES = 3
SIZE_ROUNDS = 4
MIN_SIGMA = 1.0
"""The estimated spot size is at least this (px): a spot narrower is undersampled, and
Gaussian fits to peaks of noise collapse below it (on simulated movies at SNR 1, where no
spot can be seen, the median fit was 0.5 px, and the band-pass at that size lets the
skew of Poisson noise through as spots)."""

SIZE_TOL = 0.02
"""The size is settled when a round changes it by less than this fraction."""
MIN_SPOTS = 1
"""Fewer fitted spots than this leave the size at the scale selection's value."""


@dataclass(frozen=True)
class DetectSettings:
    """What the detector uses on a movie: ``polarity`` (bright or dark), per-axis spot
    ``sigmas`` (napari order), ``threshold`` (quality), pixel ``noise`` (image units),
    which of them the data chose (``estimated``) and why (``evidence``).  ``target`` and
    ``decoy`` hold the qualities of the sampled peaks of the spots' sign and of the other
    sign (the quality histogram)."""

    polarity: str
    sigmas: tuple[float, ...]
    threshold: float
    noise: float
    estimated: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)
    target: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    decoy: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def sign(self) -> float:
        return -1.0 if self.polarity == "dark" else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the values used, what was estimated and the evidence."""
        return {"polarity": self.polarity, "spot_sigma": self.sigmas[-1],
                "spot_sigma_z": self.sigmas[0] if len(self.sigmas) == 3 else None,
                "threshold": self.threshold, "noise": self.noise,
                "estimated": list(self.estimated), "evidence": self.evidence}

    def with_threshold(self, threshold: float | None) -> DetectSettings:
        """These settings with ``threshold`` given instead (``None``: as they are)."""
        if threshold is None:
            return self
        return replace(self, threshold=float(threshold),
                       estimated=tuple(e for e in self.estimated if e != "threshold"))

    def histogram(self, bins: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Quality histogram of the sampled peaks: log-spaced bin edges from
        :data:`PEAK_MIN` to the strongest peak, and the counts of the spots' sign and of
        the other sign (the background's share of each bin)."""
        top = max(float(np.max(self.target, initial=0.0)), float(np.max(self.decoy, initial=0.0)),
                  2.0 * PEAK_MIN, 1.5 * self.threshold)
        edges = np.geomspace(PEAK_MIN, top, bins + 1)
        return (edges, np.histogram(self.target, edges)[0], np.histogram(self.decoy, edges)[0])

    def describe(self) -> str:
        """One line for a status bar or a terminal."""
        def tag(name: str) -> str:
            return " (estimated)" if name in self.estimated else ""

        z = f", z {self.sigmas[0]:.2f} px{tag('spot_sigma_z')}" if len(self.sigmas) == 3 else ""
        return (f"{self.polarity} spots{tag('polarity')}, sigma {self.sigmas[-1]:.2f} px"
                f"{tag('spot_sigma')}{z}, threshold {self.threshold:.3g}{tag('threshold')}")


def finite_frame(movie: Any, t: int, source: str) -> np.ndarray:
    """Frame ``t`` as read; :class:`InputError` naming it when it has NaN pixels."""
    frame = np.asarray(movie[t])
    if np.issubdtype(frame.dtype, np.floating) and not np.all(np.isfinite(frame)):
        bad = int(np.count_nonzero(~np.isfinite(frame)))
        raise InputError(source, f"frame {t} has {bad} NaN or infinite pixel(s); replace "
                         "them (e.g. with the background level) before detecting")
    return frame


def signed_frame(movie: Any, t: int, source: str, sign: float = 1.0) -> np.ndarray:
    """Frame ``t`` as float32, negated for dark spots (so spots are peaks)."""
    img = np.asarray(finite_frame(movie, t, source), dtype=np.float32)
    return -img if sign < 0 else img


def sample_frames(count: int, frames: int) -> np.ndarray:
    """Up to ``count`` frame indices spread evenly over ``frames``."""
    return np.unique(np.linspace(0, frames - 1, min(count, frames)).round().astype(np.int64))


def threshold_from(target: np.ndarray, decoy: np.ndarray) -> float:
    """The lowest quality at which decoys are at most :data:`FDR` of the target peaks
    above it (module docstring), placed just above the strongest peak it leaves out (of
    either sign), and at least :data:`FLOOR`.  When no quality qualifies, the threshold is
    the strongest decoy's: only what no background peak reached passes."""
    top = np.sort(target)[::-1]
    dec = np.sort(decoy)
    n_dec = len(dec) - np.searchsorted(dec, top, side="left")       # decoys >= each target
    ok = n_dec <= FDR * np.arange(1, len(top) + 1)
    if not ok.any():
        return max(FLOOR, float(dec[-1]) if len(dec) else FLOOR)
    i = int(np.flatnonzero(ok).max())
    below = [float(top[i + 1])] if i + 1 < len(top) else []
    under = dec[dec < top[i]]
    below += [float(under[-1])] if len(under) else []
    return max(FLOOR, max(below) if below else float(top[i]) - 1e-6 * abs(float(top[i])))


@dataclass
class _Peaks:
    """Peaks of one signed frame at one size: positions and qualities of each sign, and
    which of them lie in the ring of a stronger peak of the other sign."""

    pos: np.ndarray
    pos_q: np.ndarray
    neg: np.ndarray
    neg_q: np.ndarray
    pos_ring: np.ndarray
    neg_ring: np.ndarray

    def of(self, sign: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions and qualities of the peaks of ``sign`` and the qualities of the
        decoys (the other sign's peaks), leaving out the rings of the other sign's
        spots on both sides."""
        if sign > 0:
            return self.pos[~self.pos_ring], self.pos_q[~self.pos_ring], self.neg_q[~self.neg_ring]
        return self.neg[~self.neg_ring], self.neg_q[~self.neg_ring], self.pos_q[~self.pos_ring]


def _rings(peaks: np.ndarray, q: np.ndarray, other: np.ndarray, other_q: np.ndarray,
           sigmas: tuple[float, ...]) -> np.ndarray:
    """Which ``peaks`` lie within :data:`RING_SIGMAS` of a peak of the other sign at least
    ``1 / RING_SHARE`` times as strong: the band-pass filter draws a ring of the opposite
    sign, a tenth as high as the spot, around every spot, which is not background."""
    from scipy.spatial import cKDTree

    ring = np.zeros(len(peaks), dtype=bool)
    # only peaks above the threshold's floor count, and only a peak four times as strong
    # makes a ring: the rest need no search
    mine = np.flatnonzero(q > FLOOR)
    strong = other_q >= FLOOR / RING_SHARE
    if not len(mine) or not strong.any():
        return ring
    sig = np.asarray(sigmas)
    pairs = cKDTree(peaks[mine] / sig).sparse_distance_matrix(
        cKDTree(other[strong] / sig), RING_SIGMAS, output_type="ndarray")
    if len(pairs):
        top = np.zeros(len(mine))
        np.maximum.at(top, pairs["i"], other_q[strong][pairs["j"]])
        ring[mine] = top * RING_SHARE >= q[mine]
    return ring


def peaks_of(img: np.ndarray, sigmas: tuple[float, ...], noise: float) -> _Peaks:
    """The local maxima of both signs of a signed frame's quality map."""
    q, _ = quality_map(filter_frame(img, sigmas), noise, sigmas,
                       float(np.abs(img).max(initial=0.0)))
    pos, neg = local_peaks(q, PEAK_MIN), local_peaks(-q, PEAK_MIN)
    pos_q, neg_q = q[tuple(pos.T)], -q[tuple(neg.T)]
    return _Peaks(pos, pos_q, neg, neg_q, _rings(pos, pos_q, neg, neg_q, sigmas),
                  _rings(neg, neg_q, pos, pos_q, sigmas))


def _sigmas(xy: float, z: float | None, ndim: int) -> tuple[float, ...]:
    return (xy, xy) if ndim == 2 else (z or xy, xy, xy)


def estimate_settings(movie: Any, params: DetectParams | None = None, source: str = "movie",
                      control: RunControl | None = None) -> DetectSettings:
    """The polarity, spot size and threshold for ``movie`` (``(T, Y, X)`` or ``(T, Z, Y,
    X)``, indexable by frame): those ``params`` leave at ``auto`` / ``estimate`` are
    estimated from the data (module docstring), the others are taken as given."""
    params = params or DetectParams()
    control = control or RunControl()
    frames = len(movie)
    ndim = len(np.shape(movie)) - 1
    if frames == 0:
        raise InputError(source, "has no frames")
    estimated: list[str] = []
    evidence: dict[str, Any] = {}
    sample = sample_frames(SAMPLE_FRAMES, frames)
    raw = [signed_frame(movie, int(t), source) for t in sample[:POLARITY_FRAMES]]
    noise = float(np.median([pixel_noise(img) for img in raw]))
    control.check()

    # polarity and a first size: peaks passing each sign's threshold at each size
    z_given = params.spot_sigma_z
    scales = (params.spot_sigma,) if params.spot_sigma else SCALES
    signs = {"bright": 1.0, "dark": -1.0} if params.polarity == "auto" else {
        params.polarity: -1.0 if params.polarity == "dark" else 1.0}
    passed: dict[str, list[list[np.ndarray]]] = {name: [] for name in signs}
    for s in scales:
        found = [peaks_of(img, _sigmas(s, z_given, ndim), noise) for img in raw]
        for name, sign in signs.items():
            parts = [p.of(sign) for p in found]
            thr = threshold_from(np.concatenate([q for _, q, _ in parts]),
                                 np.concatenate([d for _, _, d in parts]))
            passed[name].append([pos[q > thr] for pos, q, _ in parts])
        control.check()
    counts = {name: [sum(len(p) for p in per) for per in lists] for name, lists in passed.items()}
    best = {name: max(c) for name, c in counts.items()}
    polarity = max(best, key=lambda k: (best[k], k == "bright"))
    if params.polarity == "auto":
        estimated.append("polarity")
        evidence["polarity"] = {f"{k}_peaks": v for k, v in best.items()}
    sign = signs[polarity]
    signed = [-img if sign < 0 else img for img in raw]

    sigma = params.spot_sigma
    sigma_z = z_given
    if not sigma or (ndim == 3 and not z_given):
        k = int(np.argmax(counts[polarity]))
        start = sigma or max(log_scale(signed, passed[polarity][k], float(scales[k])), MIN_SIGMA)
        fitted, sigma_z, used = _refine_size(signed, start, sigma_z, noise, params, ndim)
        # the larger of the two: both read small when noise shapes the spots that pass,
        # and a band-pass narrower than the spots loses more of them than a wider one
        sigma = sigma or max(fitted, start)
        if not params.spot_sigma:
            estimated.append("spot_sigma")
            evidence["spot_sigma"] = {"fitted_spots": used, "fitted_width": fitted,
                                      "log_scale": start}
        if ndim == 3 and not z_given:
            estimated.append("spot_sigma_z")
    sig = _sigmas(sigma, sigma_z, ndim)

    # the threshold, from up to SAMPLE_FRAMES frames at the final size
    targets, decoys = [], []
    for i, t in enumerate(sample):
        img = signed[i] if i < len(signed) else signed_frame(movie, int(t), source, sign)
        _, p, n = peaks_of(img, sig, noise).of(1.0)
        targets.append(p)
        decoys.append(n)
        control.check()
    tq, dq = np.concatenate(targets), np.concatenate(decoys)
    if params.threshold is None:
        threshold = threshold_from(tq, dq)
        estimated.append("threshold")
        evidence["threshold"] = {"frames": len(sample), "peaks": len(tq), "decoys": len(dq),
                                 "passed": int((tq > threshold).sum()),
                                 "decoys_passed": int((dq > threshold).sum())}
    else:
        threshold = float(params.threshold)
    return DetectSettings(polarity, tuple(float(v) for v in sig), float(threshold), noise,
                          tuple(estimated), evidence, tq, dq)


def log_scale(frames: list[np.ndarray], peaks: list[np.ndarray], fallback: float) -> float:
    """The median over ``peaks`` (per frame) of the size at which the scale-normalised
    Laplacian of Gaussian, ``-s^2 (d_yy + d_xx) G_s * frame``, is largest: ``sigma`` for a
    Gaussian spot, ``R / sqrt 2`` for a disc of radius ``R`` (Lindeberg's scale
    selection; interpolated between the :data:`LOG_SCALES`).  In 3-D frames the
    Laplacian is taken in y and x only."""
    if not sum(len(p) for p in peaks):
        return fallback
    per = [scale_normalised_log(img, LOG_SCALES) for img, pk in zip(frames, peaks, strict=True)
           if len(pk)]
    at = [tuple(pk.T) for pk in peaks if len(pk)]
    resp = [np.concatenate([stack[k][i] for stack, i in zip(per, at, strict=True)])
            for k in range(len(LOG_SCALES))]
    r = np.array(resp)                                          # (scales, peaks)
    k = np.clip(np.argmax(r, axis=0), 1, len(LOG_SCALES) - 2)
    cols = np.arange(r.shape[1])
    lo, mid, hi = r[k - 1, cols], r[k, cols], r[k + 1, cols]
    curv = lo - 2.0 * mid + hi
    shift = np.where(curv < 0, 0.5 * (lo - hi) / np.where(curv < 0, curv, -1.0), 0.0)
    log_s = np.log(LOG_SCALES)[k] + np.clip(shift, -1.0, 1.0) * math.log(LOG_STEP)
    return float(np.exp(np.median(log_s)))


def _refine_size(frames: list[np.ndarray], sigma: float, sigma_z: float | None,
                 noise: float, params: DetectParams, ndim: int
                 ) -> tuple[float, float | None, int]:
    """The median fitted width of the spots, iterated from ``sigma`` (module docstring),
    on windows of 3 sigmas (2 would cut the tails of a spot wider than the start); in
    3-D also the z width when not given.  Returns the sizes and the number of spots
    used.  All spots count: the strongest are not the best measured, as noise that
    narrows a spot also raises its filter response (the strongest half of simulated
    spots of sigma 1.3 px at SNR 4 fit 1.22 px, all of them 1.28 px)."""
    used = 0
    for _ in range(SIZE_ROUNDS):
        sig = _sigmas(sigma, sigma_z, ndim)
        widths, z_widths = [], []
        for img in frames:
            found = peaks_of(img, sig, noise)
            pos, pos_q, dec_q = found.of(1.0)
            thr = params.threshold if params.threshold is not None else threshold_from(
                pos_q, dec_q)
            spots = fit_spots(img, pos[pos_q > thr], sig, reach=3.0)
            ok = spots.features["fitted"] > 0
            widths.append(spots.features["width"][ok])
            if ndim == 3 and not params.spot_sigma_z:
                z_widths.append(_z_widths(img, spots.coords[ok], sig))
        w = np.concatenate(widths)
        used = len(w)
        if used < MIN_SPOTS:
            break
        new = float(np.clip(np.median(w), MIN_SIGMA, 20.0)) if not params.spot_sigma else sigma
        new_z = sigma_z
        if z_widths:
            zw = np.concatenate(z_widths)
            new_z = float(np.clip(np.median(zw), 0.3, 20.0)) if len(zw) >= MIN_SPOTS else sigma_z
        done = abs(new - sigma) <= SIZE_TOL * sigma and (
            new_z is None or sigma_z is None or abs(new_z - sigma_z) <= SIZE_TOL * sigma_z)
        sigma, sigma_z = new, new_z
        if done:
            break
    return sigma, sigma_z, used


def _z_widths(img: np.ndarray, coords: np.ndarray, sig: tuple[float, ...]) -> np.ndarray:
    """Width of a 1-D Gaussian fitted to each spot's z profile (the window summed over y
    and x within one sigma), by the detector's Levenberg-Marquardt loop."""
    if not len(coords):
        return np.empty(0)
    peaks = np.rint(coords).astype(np.int64)
    rz = math.ceil(3.0 * sig[0])
    rxy = max(round(sig[-1]), 1)
    values, weight, _ = windows(img, peaks, np.array([rz, rxy, rxy]))
    k = (2 * rz + 1, 2 * rxy + 1, 2 * rxy + 1)
    prof = (values * weight).reshape(len(peaks), *k).sum(axis=(2, 3))
    wsum = weight.reshape(len(peaks), *k).sum(axis=(2, 3))
    prof = prof / np.maximum(wsum, 1.0)
    wt = (wsum > 0).astype(np.float64)
    b0 = prof.min(axis=1)
    a0 = np.maximum(prof[:, rz] - b0, 1e-6)
    theta0 = np.column_stack([b0, a0, np.zeros(len(peaks)), np.full(len(peaks), sig[0])])
    scale = np.column_stack([a0, a0, np.ones((len(peaks), 2))])
    theta, _ = levenberg_marquardt(SpotFits(prof, wt, np.array([rz]), np.ones(1)), theta0,
                                   scale, 20, constrain=positive_width)
    ok = np.all(np.isfinite(theta), axis=1) & (theta[:, 1] > 0) & (np.abs(theta[:, 2]) < rz) & (
        theta[:, 3] < rz)
    return theta[ok, 3]
