"""Multi-emitter localisation: spots fitted jointly with their neighbours, and spots hidden
next to a brighter neighbour found in the residual.

At 1000 spots per 512 x 512 frame a quarter of the spots have a neighbour within 5 px:
two spots closer than about 3 px (PSF sigma 1.3 px) make one peak of the filtered frame,
and a neighbour's light pulls a single-spot fit towards it.  After the single-spot fits
(:func:`napari_mpt.detection.fit.fit_spots`), in each of ``residual_rounds`` rounds:

1. **Candidates from the residual**, as DAOSTORM does (Holden et al., Nature Methods
   8:279, 2011): every spot, drawn with the common PSF width, is subtracted from the
   frame (a pair fitted as one wide spot then leaves two bright lobes where its spots
   are); the residual, filtered with the detector's difference of Gaussians, is searched
   for local maxima above the detection threshold (``CANDIDATE_LEVEL``) within
   ``CANDIDATE_SIGMAS`` of a spot.  The filter is linear, so the filtered residual is the
   filtered frame minus the filtered model.
2. **Joint fits**: spots (and candidates) closer than ``LINK_SIGMAS`` spot sigmas are
   linked into clusters (connected components).  Each cluster of several spots (first
   round), and each cluster with a candidate (its strongest one), is fitted as
   ``b + sum_k a_k exp(-|p - mu_k|^2 / 2 w^2)`` with one background ``b`` on the union of
   its spots' windows, by Levenberg-Marquardt, after the light of every spot outside it
   is subtracted from the frame.  The width ``w`` is fixed at the median fitted width of
   the frame's spots: the PSF is the same for all of them, and a free width lets two
   close spots pass for one wide spot.
3. **Test**: a cluster with a candidate is fitted with it and without it on the same
   pixels, and keeps it only if the residual sum of squares drops by at least
   ``SIGNIFICANCE**2`` (25) noise variances (the fit's own noise variance: a
   likelihood-ratio test, as in the multi-emitter fits of Huang et al., Biomed. Opt.
   Express 2:1377, 2011).  For a spot at a known position that drop is the square of its
   matched-filter signal-to-noise ratio, so a hidden spot must be as significant as
   white noise makes a peak once in 10^5 frames, and a noise bump next to a spot is not
   added.  (Not the detection threshold's square: estimated from the movie it also
   measures the background's texture, which the fit's own noise already holds.)  The new
   spot must also end at least ``min_distance`` from every other one, and all spots of
   the cluster with a positive amplitude.  Without the candidate a cluster of several
   spots takes its joint fit (if it passes the same sanity checks).

A spot with no neighbour within the link distance and no accepted candidate keeps its
single-spot fit exactly.  The joint fits of all the clusters of a frame are one batch of
the detector's Levenberg-Marquardt loop (:mod:`napari_mpt.detection.lm`), padded to the
same number of spots and pixels within size classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..imaging.render import grid, render
from .filters import DOG_RATIO, LOW_RATIO, SIGNIFICANCE, filter_frame
from .lm import levenberg_marquardt

LINK_SIGMAS = 3.5
"""Spots closer than this many spot sigmas are fitted together (at 3.5 sigmas a spot's
light on its neighbour's centre is 2e-3 of its peak; linking at 4 sigmas costs 9 % more
time for an RMSE 0.001 px lower at 1000 spots per frame)."""

CANDIDATE_SIGMAS = 3.0
"""Residual maxima farther than this many spot sigmas from every fitted spot are not
candidates: a spot that far from any other was seen by the detector itself."""

CANDIDATE_LEVEL = 1.0
"""A residual maximum is a candidate above this fraction of the detection threshold (the
likelihood-ratio test decides; this bounds the work).  On simulated movies at SNR 2-7
and 1000 spots per frame, 95 % of the candidates the test accepts are above the
threshold itself, and the candidates below it are five times as many (recall 0.001
lower than with 0.8, for 6 % less time)."""

MAX_CLUSTER = 32
"""Clusters of more linked spots keep their single-spot fits (a joint fit's cost grows
with the cube of its size; this many spots within a few sigmas of each other is a dense
structure rather than overlapping spots)."""

JOINT_ITERATIONS = 6
"""Levenberg-Marquardt steps per joint fit at most: after 6 the median step is below
0.01 px, and on simulated movies (1000 spots per frame, SNR 4) recall is 0.964 with 6
steps and 0.965 with 20, which take twice the time."""

@dataclass
class Spots:
    """A frame's emitters while they are refined: positions ``(n, d)``, amplitude,
    background, width (y/x sigma, px), noise (RMS residual of their fit), fitted flag."""

    coords: np.ndarray
    amplitude: np.ndarray
    background: np.ndarray
    width: np.ndarray
    noise: np.ndarray
    fitted: np.ndarray

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    def copy(self) -> Spots:
        return Spots(self.coords.copy(), self.amplitude.copy(), self.background.copy(),
                     self.width.copy(), self.noise.copy(), self.fitted.copy())

    def extend(self, other: Spots) -> Spots:
        return Spots(np.concatenate([self.coords, other.coords]),
                     np.concatenate([self.amplitude, other.amplitude]),
                     np.concatenate([self.background, other.background]),
                     np.concatenate([self.width, other.width]),
                     np.concatenate([self.noise, other.noise]),
                     np.concatenate([self.fitted, other.fitted]))



def clusters(coords: np.ndarray, link: float, scale: np.ndarray) -> np.ndarray:
    """Connected-component label of each point, points closer than ``link`` (distances
    in units of ``scale`` per axis) being connected."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(coords)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pairs = cKDTree(coords / scale).query_pairs(link, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def pad_groups(labels: np.ndarray, rows: np.ndarray, extra: int = 0) -> list[np.ndarray]:
    """Rows grouped by label into blocks ``(C, M + extra)``, one cluster a line, padded
    with -1; ``M`` is the cluster size, rounded up to a power of two above 4 (a block
    per size: the fit's work grows with the padded size)."""
    order = np.argsort(labels, kind="stable")
    lab, rows = labels[order], rows[order]
    _, start, counts = np.unique(lab, return_index=True, return_counts=True)
    width = np.where(counts <= 4, counts, 2 ** np.ceil(np.log2(counts)).astype(np.int64))
    which = np.repeat(np.arange(len(counts)), counts)
    slot = np.arange(len(lab)) - start[which]
    out = []
    for w in np.unique(width):
        sel = width == w
        line = np.cumsum(sel) - 1                     # cluster -> its line in this block
        block = np.full((int(sel.sum()), int(w) + extra), -1, dtype=np.int64)
        m = sel[which]
        block[line[which[m]], slot[m]] = rows[m]
        out.append(block)
    return out


def cluster_pixels(shape: tuple[int, ...], centres: np.ndarray, present: np.ndarray,
                   radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of the ``(2 radius + 1)^d`` windows around integer ``centres`` ``(C, M, d)``
    (``present`` masks padding) per cluster: pixel coordinates ``(C, P, d)`` and weights
    ``(C, P)`` (1 for a pixel of the image, 0 for padding)."""
    ndim = len(shape)
    size = int(np.prod(shape))
    pix = centres[:, :, None, :] + grid(radius)[None, None]             # (C, M, K, d)
    keep = present[:, :, None] & np.all((pix >= 0) & (pix < np.array(shape)), axis=-1)
    cl = np.broadcast_to(np.arange(len(centres))[:, None, None], keep.shape)[keep]
    flat = np.ravel_multi_index(tuple(pix[keep][:, i] for i in range(ndim)), shape)
    key = np.unique(cl.astype(np.int64) * size + flat)
    cl_u, flat_u = np.divmod(key, size)
    counts = np.bincount(cl_u, minlength=len(centres))
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(key)) - start[cl_u]
    coords = np.zeros((len(centres), max(int(counts.max()), 1), ndim), dtype=np.int64)
    weight = np.zeros(coords.shape[:2])
    coords[cl_u, slot] = np.stack(np.unravel_index(flat_u, shape), axis=-1)
    weight[cl_u, slot] = 1.0
    return coords, weight


def _gauss(pix: np.ndarray, mu: np.ndarray, sigma: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """``exp(-|p - mu|^2 / 2 sigma^2)`` ``(C, M, P)`` and ``p - mu`` ``(C, M, P, d)`` for
    pixels ``(C, P, d)`` and centres ``(C, M, d)``."""
    diff = pix[:, None, :, :] - mu[:, :, None, :]
    return np.exp(-0.5 * ((diff / sigma) ** 2).sum(-1)), diff


@dataclass
class JointFit:
    """Fits of a batch of ``C`` clusters of up to ``M`` spots: per cluster the background,
    residual sum of squares and pixel count; per spot the amplitude ``(C, M)`` and
    position ``(C, M, d)``; ``ok`` where the fit is finite."""

    background: np.ndarray
    amplitude: np.ndarray
    coords: np.ndarray
    rss: np.ndarray
    n_pix: np.ndarray
    ok: np.ndarray

    def lines(self, sel: slice) -> JointFit:
        return JointFit(self.background[sel], self.amplitude[sel], self.coords[sel],
                        self.rss[sel], self.n_pix[sel], self.ok[sel])


class ClusterFits:
    """The least-squares problem of :func:`fit_clusters` for the batched loop: ``theta =
    [b, a_1..a_M, mu_1..mu_M]`` per cluster.  float32 for the per-pixel arrays (half the
    memory traffic; positions to 1e-4 px), float64 for the parameters and sums of
    squares."""

    def __init__(self, pix: np.ndarray, weight: np.ndarray, values: np.ndarray,
                 member: np.ndarray, sigma: np.ndarray) -> None:
        self.px, self.val = pix.astype(np.float32), values.astype(np.float32)
        self.wt, self.em = weight.astype(np.float32), member.astype(np.float32)
        self.m, self.ndim = member.shape[1], pix.shape[2]
        self.sigma = sigma.astype(np.float32)
        self.inv_s2 = (1.0 / sigma ** 2).astype(np.float32)
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Background ``(C,)``, amplitudes ``(C, M)`` and positions ``(C, M, d)``."""
        return (theta[:, 0], theta[:, 1:1 + self.m],
                theta[:, 1 + self.m:].reshape(len(theta), self.m, self.ndim))

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        b, a, mu = self.split(theta)
        g, diff = _gauss(self.px, mu.astype(np.float32), self.sigma)
        g *= self.em[:, :, None]
        model = b[:, None].astype(np.float32) + np.einsum("cm,cmp->cp", a.astype(np.float32), g)
        res = (self.val - model) * self.wt
        self._last = (a, g, diff, res)
        return (res * res).sum(axis=1, dtype=np.float64)

    def normal(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._last is not None
        a, g, diff, res = (v[rows] for v in self._last)
        w = self.wt[rows]
        n_pix = w.shape[1]
        jac = np.empty((len(rows), 1 + self.m * (1 + self.ndim), n_pix), dtype=np.float32)
        jac[:, 0] = 1.0
        jac[:, 1:1 + self.m] = g
        dmu = (a.astype(np.float32)[:, :, None, None] * g[..., None]) * diff * self.inv_s2
        jac[:, 1 + self.m:] = dmu.transpose(0, 1, 3, 2).reshape(len(rows), -1, n_pix)
        jac *= w[:, None, :]
        return ((jac @ jac.transpose(0, 2, 1)).astype(np.float64),
                (jac @ res[:, :, None])[..., 0].astype(np.float64))

    def keep(self, lines: np.ndarray) -> None:
        self.px, self.val, self.wt, self.em = (self.px[lines], self.val[lines],
                                               self.wt[lines], self.em[lines])


def fit_clusters(pix: np.ndarray, weight: np.ndarray, values: np.ndarray, b0: np.ndarray,
                 a0: np.ndarray, mu0: np.ndarray, member: np.ndarray, sigma: np.ndarray
                 ) -> JointFit:
    """Least-squares fits of ``b + sum_m a_m exp(-|p - mu_m|^2 / 2 sigma^2)`` to
    ``values`` ``(C, P)`` at the pixels ``pix`` ``(C, P, d)`` with weights ``weight``, one
    independent problem per cluster, by the batched Levenberg-Marquardt loop
    (:mod:`napari_mpt.detection.lm`); ``member`` ``(C, M)`` masks padding spots (their
    parameters stay put) and ``sigma`` (per axis) is fixed."""
    c_count, m_count = member.shape
    ndim = pix.shape[2]
    pad = ~member
    fixed = np.concatenate([np.zeros((c_count, 1), bool), pad, np.repeat(pad, ndim, axis=1)],
                           axis=1)
    top = np.maximum(np.abs(a0).max(axis=1, keepdims=True), 1e-6)
    scale = np.concatenate([top, np.repeat(top, m_count, axis=1),
                            np.ones((c_count, m_count * ndim))], axis=1)
    theta0 = np.concatenate([b0[:, None], a0, mu0.reshape(c_count, -1)], axis=1)
    problem = ClusterFits(pix, weight, values, member, sigma)
    theta, cost = levenberg_marquardt(problem, theta0, scale, JOINT_ITERATIONS, fixed=fixed)
    b, a, mu = problem.split(theta)
    ok = np.isfinite(cost) & np.all(np.isfinite(mu).all(-1) | ~member, axis=1)
    return JointFit(b, a, mu, cost, weight.sum(axis=1), ok)


class MultiEmitter:
    """Joint fits and residual re-detection in one frame (the module docstring).

    ``filtered`` is the frame filtered with the difference of Gaussians of per-axis
    sigmas ``filter_sigmas`` (low, high), ``noise`` the per-pixel noise standard deviation
    of the filtered frame, of which the detection threshold is ``threshold`` times."""

    def __init__(self, image: np.ndarray, filtered: np.ndarray, sigmas: tuple[float, ...],
                 noise: np.ndarray, threshold: float, min_distance: float, border: int
                 ) -> None:
        self.image = np.asarray(image, dtype=np.float64)
        self.filtered = filtered
        self.shape = self.image.shape
        self.sig = np.asarray(sigmas, dtype=np.float64)
        self.low, self.high = LOW_RATIO * self.sig, DOG_RATIO * self.sig
        self.radius = np.ceil(2.0 * self.sig).astype(np.int64)
        self.noise = noise
        self.threshold = threshold
        self.min_distance = float(min_distance)
        self.border = border
        self.width = float(self.sig[-1])
        self.psf = self.sig.copy()
        self.drawn: Spots | None = None
        self.model = np.zeros(self.shape)

    def run(self, spots: Spots, rounds: int) -> Spots:
        """Joint fits of linked spots, with a candidate from the residual in each round
        (``rounds`` rounds; the joint fits alone with 0)."""
        fitted = spots.width[spots.fitted > 0]
        # one PSF for every spot: its width from the frame's single-spot fits
        if len(fitted) >= 5:
            self.width = float(np.median(fitted))
        self.psf = self.width * self.sig / self.sig[-1]
        for r in range(max(rounds, 1)):
            spots, added = self.refine(spots, joint=r == 0, search=rounds > 0)
            if r and not added:
                break
        return spots

    def _draw(self, spots: Spots) -> None:
        """Bring the model image (every spot's light, drawn with the common PSF) up to
        ``spots``: only the spots that moved or were added since the last drawing are
        redrawn."""
        before = self.drawn
        if before is None:
            self.model = render(self.shape, spots.coords, spots.amplitude, self.psf)
            self.drawn = spots.copy()
            return
        n = len(before)
        moved = np.flatnonzero(np.any(spots.coords[:n] != before.coords, axis=1)
                               | (spots.amplitude[:n] != before.amplitude))
        new = np.concatenate([moved, np.arange(n, len(spots))])
        if not len(new):
            return
        self.model += render(self.shape, spots.coords[new], spots.amplitude[new], self.psf)
        self.model -= render(self.shape, before.coords[moved], before.amplitude[moved], self.psf)
        self.drawn = spots.copy()

    def candidates(self, spots: Spots) -> tuple[np.ndarray, np.ndarray]:
        """Local maxima of the filtered residual near a fitted spot (pixel positions and
        their height in filtered units).  The filter is linear, so the filtered residual
        is the filtered frame minus the filtered model."""
        from scipy.spatial import cKDTree

        self._draw(spots)
        resid = self.filtered - filter_frame(self.model.astype(np.float32), tuple(self.sig))
        above = resid > CANDIDATE_LEVEL * self.threshold * self.noise
        if self.border:
            inner = np.zeros_like(above)
            inner[tuple(slice(self.border, n - self.border) for n in self.shape)] = True
            above &= inner
        cand = np.argwhere(above)
        # local maxima (3^d neighbourhood), checked only where the residual is high
        height = resid[tuple(cand.T)]
        top = np.array(self.shape) - 1
        for off in grid(np.ones(len(self.shape), dtype=np.int64)):
            if off.any():
                keep = height >= resid[tuple(np.clip(cand + off, 0, top).T)]
                cand, height = cand[keep], height[keep]
        if len(cand):
            sig_dist = cKDTree(spots.coords / self.sig).query(cand / self.sig)[0]
            px_dist = cKDTree(spots.coords).query(cand)[0]
            keep = (sig_dist <= CANDIDATE_SIGMAS) & (px_dist >= self.min_distance)
            cand, height = cand[keep], height[keep]
        return cand, height

    def refine(self, spots: Spots, joint: bool, search: bool) -> tuple[Spots, int]:
        """One round: clusters of linked spots (``joint``) and clusters with a candidate
        (``search``; the strongest one per cluster) are fitted without the candidate and,
        where there is one, with it; a candidate is kept where the likelihood-ratio test
        passes, else the fit without it is taken for a cluster of several spots."""
        n = len(spots)
        if search:
            cand, height = self.candidates(spots)
        else:
            cand, height = np.empty((0, len(self.shape)), dtype=np.int64), np.empty(0)
        labels = clusters(np.concatenate([spots.coords, cand]), LINK_SIGMAS, self.sig)
        size = np.bincount(labels[:n], minlength=labels.max() + 1)
        cl = labels[n:]
        order = np.lexsort((-height, cl))
        best = order[np.r_[True, cl[order][1:] != cl[order][:-1]]] if len(cl) else order
        cand_of = np.full(labels.max() + 1, -1)
        cand_of[cl[best]] = best                                        # one per cluster
        chosen = ((cand_of >= 0) | (joint & (size > 1))) & (size <= MAX_CLUSTER) & (size > 0)
        members = np.flatnonzero(chosen[labels[:n]])
        out, added = spots.copy(), 0
        self._draw(spots)
        for rows in pad_groups(labels[members], members, extra=1):
            pick = cand_of[labels[rows[:, 0]]]
            has = pick >= 0
            c, k = len(rows), int(has.sum())
            cpos = np.zeros((c, len(self.shape)))
            cpos[has] = cand[pick[has]]
            camp = np.zeros(c)
            camp[has] = np.maximum(height[pick[has]] / self._filter_gain(), 1e-6)
            # every cluster without its candidate (first c lines), those with one with it
            lines = np.concatenate([np.arange(c), np.flatnonzero(has)])
            use = np.r_[np.zeros(c, bool), np.ones(k, bool)]
            fit, weight, fitted = self._fit(spots, rows[lines], cpos[lines], camp[lines],
                                            has[lines], use)
            null, alt = fit.lines(slice(0, c)), fit.lines(slice(c, c + k))
            q = 1 + fitted[c:].sum(axis=1) * (1 + len(self.shape))
            sigma2 = alt.rss / np.maximum(alt.n_pix - q, 1.0)
            lr = (null.rss[has] - alt.rss) / np.maximum(sigma2, 1e-300)
            passed = np.zeros(c, bool)
            passed[has] = (null.ok[has] & alt.ok & self._sane(alt, fitted[c:])
                           & (lr >= SIGNIFICANCE ** 2))
            # several spots and no new one: the joint fit without the candidate
            several = joint & ((rows[:, :-1] >= 0).sum(axis=1) > 1) & ~passed
            out = self._apply(out, rows, null, several & null.ok & self._sane(null, fitted[:c]),
                              fitted[:c], weight[:c])
            out = self._apply(out, rows[has], alt, passed[has], fitted[c:], weight[c:])
            added += int(passed.sum())
        return out, added

    # -- helpers ------------------------------------------------------------------------
    def _filter_gain(self) -> float:
        """Peak of the filtered frame for a spot of unit amplitude with the common PSF
        (the filter is a difference of Gaussians, so the peak is analytic)."""
        w2 = self.psf ** 2
        lo = float(np.prod(w2 / (w2 + self.low ** 2))) ** 0.5
        hi = float(np.prod(w2 / (w2 + self.high ** 2))) ** 0.5
        return max(lo - hi, 1e-6)

    def _fit(self, spots: Spots, rows: np.ndarray, cpos: np.ndarray, camp: np.ndarray,
             has: np.ndarray, use: np.ndarray) -> tuple[JointFit, np.ndarray, np.ndarray]:
        """Joint fits of the clusters ``rows`` ``(C, M + 1)`` on the frame minus every
        other spot.  The last column is a candidate at ``cpos`` (start amplitude
        ``camp``) where ``has``; it is fitted where ``use`` and held at zero elsewhere,
        its window being among the pixels either way, so that the two fits compare.
        Returns the fits, the pixel weights and which columns were fitted."""
        member = rows >= 0
        safe = np.where(member, rows, 0)
        mu0 = spots.coords[safe]
        a0 = np.where(member, spots.amplitude[safe], 0.0)
        mu0[:, -1] = cpos
        a0[:, -1] = np.where(use, camp, 0.0)
        present = member.copy()
        present[:, -1] = has
        fitted = member.copy()
        fitted[:, -1] = use
        centres = np.clip(np.rint(mu0).astype(np.int64), 0, np.array(self.shape) - 1)
        pix, weight = cluster_pixels(self.shape, centres, present, self.radius)
        at = tuple(pix[..., i] for i in range(len(self.shape)))
        # the frame minus the other spots: the model of all, plus the cluster's own back
        g, _ = _gauss(pix.astype(np.float64), spots.coords[safe], self.psf)
        own = np.einsum("cm,cmp->cp", np.where(member, spots.amplitude[safe], 0.0), g)
        values = (self.image[at] - self.model[at] + own) * weight
        b0 = np.nanmedian(np.where(member, spots.background[safe], np.nan), axis=1)
        fit = fit_clusters(pix, weight, values, b0, a0, mu0, fitted, self.psf)
        return fit, weight, fitted

    def _sane(self, fit: JointFit, fitted: np.ndarray) -> np.ndarray:
        """Every spot of the cluster with a positive amplitude, in the frame, and
        ``min_distance`` from the others."""
        ok = np.all((fit.amplitude > 0) | ~fitted, axis=1)
        inside = np.all((fit.coords >= -1.0) & (fit.coords <= np.array(self.shape)), axis=-1)
        ok &= np.all(inside | ~fitted, axis=1)
        d = np.linalg.norm(fit.coords[:, :, None, :] - fit.coords[:, None, :, :], axis=-1)
        pair = fitted[:, :, None] & fitted[:, None, :] & ~np.eye(fitted.shape[1], dtype=bool)
        return ok & np.all((d >= self.min_distance) | ~pair, axis=(1, 2))

    def _apply(self, spots: Spots, rows: np.ndarray, fit: JointFit, good: np.ndarray,
               fitted: np.ndarray, weight: np.ndarray) -> Spots:
        """The clusters that passed (``good``) take their joint fit, in place; a fitted
        candidate (``rows`` -1, ``fitted`` True) is appended."""
        q = 1 + fitted.sum(axis=1) * (1 + len(self.shape))
        noise = np.sqrt(fit.rss / np.maximum(weight.sum(axis=1) - q, 1.0))
        line = np.broadcast_to(np.arange(len(rows))[:, None], rows.shape)
        old = (rows >= 0) & good[:, None]
        r, at = rows[old], line[old]
        spots.coords[r] = fit.coords[old]
        spots.amplitude[r] = fit.amplitude[old]
        spots.background[r] = fit.background[at]
        spots.width[r] = self.width
        spots.noise[r] = noise[at]
        spots.fitted[r] = 1.0
        new = fitted & (rows < 0) & good[:, None]
        at = line[new]
        k = len(at)
        if not k:
            return spots
        return spots.extend(Spots(fit.coords[new], fit.amplitude[new], fit.background[at],
                                  np.full(k, self.width), noise[at], np.ones(k)))
