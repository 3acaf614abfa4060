"""Multi-emitter localisation: spots fitted jointly with their neighbours, and spots hidden
next to a brighter neighbour found in the residual.

At 1000 spots per 512 x 512 frame a quarter of the spots have a neighbour within 5 px:
two spots closer than about 3 px (PSF sigma 1.3 px) make one peak of the filtered frame,
and a neighbour's light pulls a single-spot fit towards it.  After the single-spot fits
(:func:`napari_mpt.detect.fit_spots`) this module

1. **fits neighbours jointly**: spots closer than ``LINK_SIGMAS`` spot sigmas are linked
   into clusters (connected components); each cluster's spots are fitted together,
   ``b + sum_k a_k exp(-|p - mu_k|^2 / 2 w^2)`` with one background ``b`` on the union of
   their windows, by Levenberg-Marquardt, after the light of every spot outside the
   cluster (as fitted so far) is subtracted from the frame.  The width ``w`` is fixed at
   the median fitted width of the frame's spots: the PSF is the same for all of them, and
   a free width lets two close spots pass for one wide spot;
2. **re-detects in the residual** (``residual_rounds`` times), as DAOSTORM does (Holden et
   al., Nature Methods 8:279, 2011): every spot, drawn at the common width, is subtracted
   from the frame (a pair fitted as one wide spot then leaves two bright lobes where its
   spots are), the residual is filtered with the detector's difference of Gaussians, and
   its local maxima near a fitted spot become candidates.  Each cluster is refitted with
   its strongest candidate and without it, on the same pixels, and keeps the candidate
   only if the fit improves by at least ``threshold**2`` noise variances (the drop of the
   residual sum of squares over the fit's own noise variance: a likelihood-ratio test,
   as in the multi-emitter fits of Huang et al., Biomed. Opt. Express 2:1377, 2011).  For
   a spot at a known position that is the square of its matched-filter signal-to-noise
   ratio, so a hidden spot must be as significant as the detector's threshold asks of
   any spot, and a noise bump next to a spot is not added.  The candidate must also end
   at least ``min_distance`` from every other spot, with a positive amplitude.

A spot with no neighbour within the link distance and no accepted candidate keeps its
single-spot fit exactly.  scipy's ``least_squares`` would fit one cluster per call (about a
millisecond each, hundreds of clusters per frame), so the joint fit is written here,
batched over all the clusters of a frame in numpy, clusters padded to the same number of
spots and pixels within size classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LINK_SIGMAS = 4.0
"""Spots closer than this many spot sigmas are fitted together (at 4 sigmas a spot's light
on its neighbour's centre is 3e-4 of its peak)."""

CANDIDATE_SIGMAS = 3.0
"""Residual maxima farther than this many spot sigmas from every fitted spot are not
candidates: a spot that far from any other was seen by the detector itself."""

CANDIDATE_LEVEL = 0.8
"""A residual maximum is a candidate above this fraction of the detection threshold (the
likelihood-ratio test decides; this bounds the work).  On simulated movies at SNR 2-7
and 1000 spots per frame, 97 % of the candidates the test accepts are above it, and the
candidates below it are five times as many."""

MAX_CLUSTER = 32
"""Clusters of more linked spots keep their single-spot fits (a joint fit's cost grows
with the cube of its size; this many spots within a few sigmas of each other is a dense
structure rather than overlapping spots)."""

JOINT_ITERATIONS = 20
STEP_TOL = 3e-3
"""A cluster's fit stops when no parameter moves by more than this (positions in px,
background and amplitudes relative to the largest starting amplitude)."""

RENDER_SIGMAS = 4.5
"""Spots are drawn out to this many sigmas (light beyond it: below 4e-5 of the peak)."""


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


def _grid(radius: np.ndarray) -> np.ndarray:
    return np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij"),
                    axis=-1).reshape(-1, len(radius))


def render(shape: tuple[int, ...], coords: np.ndarray, amplitude: np.ndarray,
           sigma: np.ndarray) -> np.ndarray:
    """``sum_k a_k exp(-|p - mu_k|^2 / 2 sigma^2)`` on the pixel grid (no background),
    each spot drawn out to ``RENDER_SIGMAS`` sigmas; the Gaussian is separable, so it is
    an outer product of one profile per axis."""
    size = int(np.prod(shape))
    if not len(coords):
        return np.zeros(shape)
    ndim = len(shape)
    rad = np.ceil(RENDER_SIGMAS * sigma).astype(np.int64)
    centre = np.rint(coords).astype(np.int64)
    vals = amplitude.astype(np.float64)
    flat = np.zeros(len(coords), dtype=np.int64)
    inside = np.ones(len(coords), dtype=bool)
    stride = 1
    for i in reversed(range(ndim)):
        off = np.arange(-rad[i], rad[i] + 1)
        pix = centre[:, i:i + 1] + off                                   # (n, k_i)
        prof = np.exp(-0.5 * ((pix - coords[:, i:i + 1]) / sigma[i]) ** 2)
        ok = (pix >= 0) & (pix < shape[i])
        # axis i varies slowest of the axes done so far: prepend it
        vals = (prof[:, :, None] * vals.reshape(len(coords), 1, -1)).reshape(len(coords), -1)
        flat = (pix[:, :, None] * stride + flat.reshape(len(coords), 1, -1)).reshape(len(coords), -1)
        inside = (ok[:, :, None] & inside.reshape(len(coords), 1, -1)).reshape(len(coords), -1)
        stride *= shape[i]
    return np.bincount(flat[inside], weights=vals[inside], minlength=size).reshape(shape)


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
    with -1; ``M`` is the cluster size rounded up to a power of two (one block each)."""
    order = np.argsort(labels, kind="stable")
    lab, rows = labels[order], rows[order]
    _, start, counts = np.unique(lab, return_index=True, return_counts=True)
    width = 2 ** np.ceil(np.log2(counts)).astype(np.int64)
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
    pix = centres[:, :, None, :] + _grid(radius)[None, None]             # (C, M, K, d)
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


def fit_clusters(pix: np.ndarray, weight: np.ndarray, values: np.ndarray, b0: np.ndarray,
                 a0: np.ndarray, mu0: np.ndarray, member: np.ndarray, sigma: np.ndarray
                 ) -> JointFit:
    """Levenberg-Marquardt fits of ``b + sum_m a_m exp(-|p - mu_m|^2 / 2 sigma^2)`` to
    ``values`` ``(C, P)`` at the pixels ``pix`` ``(C, P, d)`` with weights ``weight``, one
    independent problem per cluster, batched; ``member`` ``(C, M)`` masks padding spots
    (their parameters stay put) and ``sigma`` (per axis) is fixed.

    Parameters ``[b, a_1..a_M, mu_1..mu_M]``; a step is taken where it lowers the sum of
    squares, the damping shrinks after a taken step and grows after a refused one."""
    c_count, m_count = member.shape
    n_pix, ndim = pix.shape[1], pix.shape[2]
    q = 1 + m_count * (1 + ndim)
    pixf = pix.astype(np.float64)
    em = member.astype(np.float64)
    fixed = np.concatenate([np.zeros((c_count, 1)), 1.0 - em, np.repeat(1.0 - em, ndim, axis=1)],
                           axis=1)
    inv_s2 = 1.0 / sigma ** 2

    def residual(b: np.ndarray, a: np.ndarray, mu: np.ndarray, rows: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        g, diff = _gauss(pixf[rows], mu, sigma)
        g *= em[rows][:, :, None]
        res = (values[rows] - b[:, None] - np.einsum("cm,cmp->cp", a, g)) * weight[rows]
        return (res * res).sum(axis=1), res, g, diff

    def jacobian(a: np.ndarray, g: np.ndarray, diff: np.ndarray, rows: np.ndarray
                 ) -> np.ndarray:
        jac = np.empty((len(rows), n_pix, q))
        jac[..., 0] = 1.0
        jac[..., 1:1 + m_count] = g.transpose(0, 2, 1)
        dmu = (a[:, :, None, None] * g[..., None]) * diff * inv_s2          # (C, M, P, d)
        jac[..., 1 + m_count:] = dmu.transpose(0, 2, 1, 3).reshape(len(rows), n_pix, -1)
        return jac * weight[rows][..., None]

    b, a, mu = b0.astype(np.float64), a0.astype(np.float64), mu0.astype(np.float64)
    every = np.arange(c_count)
    cost, res, g, diff = residual(b, a, mu, every)
    jac = jacobian(a, g, diff, every)
    lam = np.full(c_count, 1e-3)
    top = np.maximum(np.abs(a0).max(axis=1, keepdims=True), 1e-6)
    scale = np.concatenate([top, np.repeat(top, m_count, axis=1),
                            np.ones((c_count, m_count * ndim))], axis=1)
    eye = np.eye(q)
    active = every
    for _ in range(JOINT_ITERATIONS):
        jt = jac[active].transpose(0, 2, 1)
        h = jt @ jac[active]
        grad = (jt @ res[active, :, None])[..., 0]
        damp = lam[active, None] * np.einsum("cqq->cq", h) + 1e-12 + fixed[active]
        step = np.linalg.solve(h + damp[:, :, None] * eye, grad[..., None])[..., 0]
        step *= 1.0 - fixed[active]
        tb = b[active] + step[:, 0]
        ta = a[active] + step[:, 1:1 + m_count]
        tmu = mu[active] + step[:, 1 + m_count:].reshape(len(active), m_count, ndim)
        c_new, r_new, g_new, d_new = residual(tb, ta, tmu, active)
        better = np.isfinite(c_new) & (c_new < cost[active])
        won = active[better]
        if len(won):
            b[won], a[won], mu[won] = tb[better], ta[better], tmu[better]
            cost[won], res[won] = c_new[better], r_new[better]
            jac[won] = jacobian(ta[better], g_new[better], d_new[better], won)
        lam[active] = np.where(better, lam[active] * 0.3, lam[active] * 10.0)
        moving = np.where(better, np.abs(step / scale[active]).max(axis=1) > STEP_TOL,
                          lam[active] < 1e6)
        active = active[moving]
        if not len(active):
            break
    ok = np.isfinite(cost) & np.all(np.isfinite(mu).all(-1) | ~member, axis=1)
    return JointFit(b, a, mu, cost, weight.sum(axis=1), ok)


class MultiEmitter:
    """Joint fits and residual re-detection in one frame (the module docstring).

    ``noise`` is the per-pixel noise standard deviation of the filtered frame, of which
    the detection threshold is ``threshold`` times."""

    def __init__(self, image: np.ndarray, sigmas: tuple[float, ...], noise: np.ndarray,
                 threshold: float, min_distance: float, border: int) -> None:
        self.image = np.asarray(image, dtype=np.float64)
        self.shape = self.image.shape
        self.sigmas = tuple(float(s) for s in sigmas)
        self.sig = np.asarray(sigmas, dtype=np.float64)
        self.radius = np.ceil(2.0 * self.sig).astype(np.int64)
        self.noise = noise
        self.threshold = threshold
        self.min_distance = float(min_distance)
        self.border = border
        self.width = float(self.sig[-1])
        self.psf = self.sig.copy()

    def run(self, spots: Spots, rounds: int) -> Spots:
        fitted = spots.width[spots.fitted > 0]
        # one PSF for every spot: its width from the frame's single-spot fits
        if len(fitted) >= 5:
            self.width = float(np.median(fitted))
        self.psf = self.width * self.sig / self.sig[-1]
        spots = self.joint_neighbours(spots)
        for _ in range(rounds):
            spots, added = self.residual_round(spots)
            if not added:
                break
        return spots

    def model(self, spots: Spots) -> np.ndarray:
        """The spots' light, every spot drawn with the common PSF."""
        return render(self.shape, spots.coords, spots.amplitude, self.psf)

    # -- step 1 -------------------------------------------------------------------------
    def joint_neighbours(self, spots: Spots) -> Spots:
        """Spots linked to a neighbour are refitted together."""
        if len(spots) < 2:
            return spots
        labels = clusters(spots.coords, LINK_SIGMAS, self.sig)
        sizes = np.bincount(labels)[labels]
        keep = np.flatnonzero((sizes > 1) & (sizes <= MAX_CLUSTER))
        if not len(keep):
            return spots
        model = self.model(spots)
        out = spots.copy()
        for rows in pad_groups(labels[keep], keep):
            fit, weight, fitted = self._fit(spots, model, rows)
            out = self._apply(out, rows, fit, fit.ok & self._sane(fit, fitted), fitted, weight)
        return out

    # -- step 2 -------------------------------------------------------------------------
    def candidates(self, spots: Spots) -> tuple[np.ndarray, np.ndarray]:
        """Local maxima of the filtered residual near a fitted spot (pixel positions and
        their height in filtered units), at most one per cluster: the highest."""
        from scipy import ndimage as ndi
        from scipy.spatial import cKDTree

        from .detect import filter_frame

        resid = filter_frame((self.image - self.model(spots)).astype(np.float32), self.sigmas)
        peak = (resid > CANDIDATE_LEVEL * self.threshold * self.noise) & (
            resid == ndi.maximum_filter(resid, size=3, mode="nearest"))
        if self.border:
            inner = np.zeros_like(peak)
            inner[tuple(slice(self.border, n - self.border) for n in self.shape)] = True
            peak &= inner
        cand = np.argwhere(peak)
        if len(cand):
            sig_dist = cKDTree(spots.coords / self.sig).query(cand / self.sig)[0]
            px_dist = cKDTree(spots.coords).query(cand)[0]
            cand = cand[(sig_dist <= CANDIDATE_SIGMAS) & (px_dist >= self.min_distance)]
        return cand, resid[tuple(cand.T)]

    def residual_round(self, spots: Spots) -> tuple[Spots, int]:
        """Each cluster with a candidate refitted with and without it; the candidate kept
        where the likelihood-ratio test passes."""
        cand, height = self.candidates(spots)
        if not len(cand):
            return spots, 0
        n = len(spots)
        labels = clusters(np.concatenate([spots.coords, cand]), LINK_SIGMAS, self.sig)
        cl = labels[n:]
        order = np.lexsort((-height, cl))
        best = order[np.r_[True, cl[order][1:] != cl[order][:-1]]]      # one per cluster
        sizes = np.bincount(labels[:n], minlength=labels.max() + 1)
        best = best[sizes[cl[best]] < MAX_CLUSTER]
        if not len(best):
            return spots, 0
        cand_of = np.full(labels.max() + 1, -1)
        cand_of[cl[best]] = best
        members = np.flatnonzero(cand_of[labels[:n]] >= 0)
        model = self.model(spots)
        out, added = spots.copy(), 0
        for rows in pad_groups(labels[members], members, extra=1):
            pick = cand_of[labels[rows[:, 0]]]
            cpos = cand[pick].astype(np.float64)
            camp = np.maximum(height[pick] / self._filter_gain(), 1e-6)
            null, weight, _ = self._fit(spots, model, rows, cpos, camp, with_candidate=False)
            alt, _, fitted = self._fit(spots, model, rows, cpos, camp, with_candidate=True)
            q = 1 + fitted.sum(axis=1) * (1 + len(self.shape))
            sigma2 = alt.rss / np.maximum(alt.n_pix - q, 1.0)
            lr = (null.rss - alt.rss) / np.maximum(sigma2, 1e-300)
            good = (null.ok & alt.ok & self._sane(alt, fitted) & (lr >= self.threshold ** 2))
            out = self._apply(out, rows, alt, good, fitted, weight)
            added += int(good.sum())
        return out, added

    # -- helpers ------------------------------------------------------------------------
    def _filter_gain(self) -> float:
        """Peak of the filtered frame for a spot of unit amplitude with the common PSF
        (the filter is a difference of Gaussians, so the peak is analytic)."""
        from .detect import DOG_RATIO, LOW_RATIO

        w2 = self.psf ** 2
        lo = float(np.prod(w2 / (w2 + (LOW_RATIO * self.sig) ** 2))) ** 0.5
        hi = float(np.prod(w2 / (w2 + (DOG_RATIO * self.sig) ** 2))) ** 0.5
        return max(lo - hi, 1e-6)

    def _fit(self, spots: Spots, model: np.ndarray, rows: np.ndarray,
             cpos: np.ndarray | None = None, camp: np.ndarray | None = None,
             with_candidate: bool = False) -> tuple[JointFit, np.ndarray, np.ndarray]:
        """Joint fit of the clusters ``rows`` ``(C, M)`` on the frame minus every other
        spot; with ``cpos`` the last column is the candidate's (its window is in the
        pixels either way, so the fits with and without it compare).  Returns the fit,
        the pixel weights and which columns were fitted."""
        member = rows >= 0
        safe = np.where(member, rows, 0)
        mu0 = spots.coords[safe]
        a0 = np.where(member, spots.amplitude[safe], 0.0)
        present = member.copy()
        fitted = member.copy()
        if cpos is not None:
            mu0[:, -1] = cpos
            a0[:, -1] = camp if with_candidate and camp is not None else 0.0
            present[:, -1] = True
            fitted[:, -1] = with_candidate
        centres = np.clip(np.rint(mu0).astype(np.int64), 0, np.array(self.shape) - 1)
        pix, weight = cluster_pixels(self.shape, centres, present, self.radius)
        at = tuple(pix[..., i] for i in range(len(self.shape)))
        # the frame minus the other spots: the model of all, plus the cluster's own back
        g, _ = _gauss(pix.astype(np.float64), spots.coords[safe], self.psf)
        own = np.einsum("cm,cmp->cp", np.where(member, spots.amplitude[safe], 0.0), g)
        values = (self.image[at] - model[at] + own) * weight
        bg = np.where(member, spots.background[safe], np.nan)
        b0 = np.nanmedian(bg, axis=1)
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
