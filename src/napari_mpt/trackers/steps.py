"""What the trackers' defaults are estimated from: a first linking pass and the step
statistics of its links.

Real populations are mixtures (immobile, diffusing and directed particles in one field),
so one number from the median step fits none of them: on the ISBI challenge's RECEPTOR
movie half the steps are under 1 px while one in ten is over 5 px.  Here:

1. *First pass* (:func:`first_pass`): between consecutive frames, mutual nearest
   neighbours closer than ``R``, the median distance from a detection to its nearest
   neighbour in the same frame (so a link is never longer than the typical spacing; ``R``
   is infinite when no frame holds two detections).  Mutual nearest neighbours are what a
   careful person would link by eye; they are no tracker, only a source of statistics
   (``benchmarks/bench_estimators.py`` compares them with LAP's and the association
   transformer's tracks as first passes: see ``docs/guide/which-tracker.md``).
2. *Step mixture* (:func:`fit_step_mixture`): the displacement vectors of the links, the
   median displacement (a global drift) subtracted, as a mixture of isotropic zero-mean
   Gaussians fitted by expectation-maximisation, 1 to 3 components chosen by the Bayesian
   information criterion.  Each component is a population of step sizes (immobile ones
   show only the localisation error, diffusing ones their step, directed ones their speed
   as a wide component); its per-axis scale ``s`` makes the step length Rayleigh-like
   (2-D: ``P(|v| > r) = exp(-r^2 / 2 s^2)``).  High quantiles of the mixture
   (:meth:`StepMixture.quantile`) cover the fast component, where a median-based rule
   cut one real step in ten on RECEPTOR.  Displacements over ``lag`` frames
   (:func:`lag_displacements`, the same chains) give the distances a gap must bridge.
3. *Persistence*: the lag-1 velocity autocorrelation ``mean(v_t . v_t+1) /
   mean(|v_t|^2)`` over consecutive links (0 for Brownian motion, negative with
   localisation noise, positive with directed phases).
4. *Detections, clutter, births* (:func:`detection_rates`): when every frame holds the
   same number of detections (clean data: no evidence of misses, clutter, births or
   deaths), ``P_D = 1`` and no clutter or births.  Otherwise a chain that ends at frame t
   and a chain that starts at t + 2 within ``R`` of its end are one particle missed once
   (greedy, each end and start used once); with ``L`` links and ``G`` such one-frame
   gaps, ``P_D = L / (L + G)`` (a particle seen at t is seen at t+1 with probability P_D,
   missed once then seen with (1-P_D) P_D), clipped to [0.05, 0.999].  Detections with
   no link and no gap are spurious: ``n / (T A)`` per frame and px^D (``A``: the
   bounding box's area or volume, sides >= 1 px); chains of two or more detections that
   start after the first frame and are not the far side of a gap are births:
   ``n / ((T - 1) A)`` (each count floored at 0.5: "less than one seen").

Why by hand: scikit-learn's ``GaussianMixture`` fits full means and covariances (a
mixture of displacements needs zero-mean isotropic components, so that a component is a
step size), and it is not a dependency; the EM here is a few lines of numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import gammainc, gammaincinv

MAX_COMPONENTS = 3
EM_ITERATIONS = 100
EM_SAMPLE = 2000
MIN_LINKS = 10
"""Fewer links than this: no mixture is fitted (the callers fall back)."""
SPACING_SAMPLE = 10_000


@dataclass(frozen=True)
class FirstPass:
    """Every detection (frame-major, as the frames concatenated), its frame index, and the
    first pass's links: ``nxt[i]`` the detection of the next frame linked to i (or -1),
    ``prv[j]`` the reverse; ``radius`` is ``R``."""

    coords: np.ndarray
    frame: np.ndarray
    starts: np.ndarray
    nxt: np.ndarray
    prv: np.ndarray
    radius: float

    @property
    def links(self) -> int:
        return int((self.nxt >= 0).sum())

    def displacements(self) -> np.ndarray:
        """``(links, D)`` displacement of each link, in frame-major order (the order of
        every per-link array here)."""
        i = np.flatnonzero(self.nxt >= 0)
        return self.coords[self.nxt[i]] - self.coords[i]

    def link_of(self) -> np.ndarray:
        """Per detection, the index of the link leaving it (-1: none)."""
        out = np.full(len(self.nxt), -1, dtype=np.int64)
        i = np.flatnonzero(self.nxt >= 0)
        out[i] = np.arange(len(i))
        return out

    def chains(self, keep: np.ndarray, max_len: int, max_chains: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """Runs of consecutive links, cut where ``keep`` (per link) is False, as padded
        positions ``(C, L, D)`` and their lengths (points; at least 3, at most
        ``max_len``: a longer run gives several pieces).  At most ``max_chains`` of
        them, a fixed pseudo-random choice (deterministic)."""
        link = self.link_of()
        ok_out = np.zeros(len(self.nxt), dtype=bool)
        ok_out[link >= 0] = keep[link[link >= 0]]
        into = np.zeros(len(self.nxt), dtype=bool)
        into[self.nxt[ok_out]] = True
        heads = np.flatnonzero(ok_out & ~into)
        pieces: list[np.ndarray] = []
        for h in heads.tolist():
            run = [h]
            while ok_out[run[-1]]:
                run.append(int(self.nxt[run[-1]]))
            for a in range(0, len(run), max_len):
                piece = run[a: a + max_len]
                if len(piece) >= 3:
                    pieces.append(np.asarray(piece))
        if len(pieces) > max_chains:
            pick = np.random.default_rng(0).choice(len(pieces), max_chains, replace=False)
            pieces = [pieces[i] for i in np.sort(pick)]
        d = self.coords.shape[1]
        lengths = np.array([len(p) for p in pieces], dtype=np.int64)
        Z = np.zeros((len(pieces), int(lengths.max(initial=0)), d))
        for c, p in enumerate(pieces):
            Z[c, : len(p)] = self.coords[p]
        return Z, lengths


def first_pass(frames: list[np.ndarray]) -> FirstPass:
    """Mutual nearest neighbours of consecutive frames within the median within-frame
    spacing, for every frame's ``(n_t, D)`` detections (empty frames included).

    All frames at once: the detections with the frame index as an extra leading
    coordinate, scaled by ``big`` (more than any distance within the data), so one k-d tree
    answers every per-frame query; the whole pass costs about as much as one tracking
    window."""
    counts = [len(z) for z in frames]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    t = np.repeat(np.arange(len(frames)), counts)
    allc = np.concatenate([np.asarray(z, dtype=np.float64) for z in frames if len(z)])
    big = 4.0 * float(np.ptp(allc, axis=0).sum()) + 1.0
    points = np.column_stack([t * big, allc])
    tree = cKDTree(points)
    # the median spacing from at most SPACING_SAMPLE detections (every k-th): a median
    # needs no more, and this query was a third of the pass on dense movies
    probe = points[:: max(1, len(points) // SPACING_SAMPLE)]
    d2, _ = tree.query(probe, k=min(2, len(points)))
    d2 = d2.reshape(len(probe), -1)
    same = (d2[:, -1] < big) if d2.shape[1] > 1 else np.zeros(len(probe), dtype=bool)
    radius = float(np.median(d2[same, 1])) if same.any() else math.inf
    fwd, back = points.copy(), points.copy()
    fwd[:, 0] += big
    back[:, 0] -= big
    df, jf = tree.query(fwd)       # nearest in the next frame (if within big)
    _, jb = tree.query(back)       # nearest in the previous frame
    n = len(points)
    idx = np.arange(n)
    jc = np.minimum(jf, n - 1)
    ok = (df < big) & (df <= radius) & (t[jc] == t + 1) & (jb[jc] == idx)
    nxt = np.full(n, -1, dtype=np.int64)
    prv = np.full(n, -1, dtype=np.int64)
    nxt[ok] = jf[ok]
    prv[jf[ok]] = idx[ok]
    return FirstPass(allc, t, starts, nxt, prv, radius)


def field_of_view(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """Bounding box ``(lo, hi)`` of all detections and its area/volume (sides >= 1 px)."""
    allc = np.concatenate([f for f in frames if len(f)])
    lo, hi = allc.min(0), allc.max(0)
    return lo, hi, float(np.prod(np.maximum(hi - lo, 1.0)))


def detection_rates(frames: list[np.ndarray], fp: FirstPass) -> dict[str, float | int | bool]:
    """P_D, clutter and birth densities (module docstring, 4) and what they came from."""
    counts = [len(z) for z in frames]
    if len(set(counts)) == 1:
        return {"detection_probability": 1.0, "clutter_density": 0.0, "birth_density": 0.0,
                "clean": True}
    T = len(frames)
    _, _, area = field_of_view(frames)
    gaps, closed = _gaps(frames, fp)
    links = fp.links
    p_d = float(np.clip(links / max(links + gaps, 1), 0.05, 0.999))
    alone = (fp.nxt < 0) & (fp.prv < 0) & ~closed
    spurious = int(alone.sum())
    births = int(((fp.prv < 0) & (fp.nxt >= 0) & ~closed & (fp.frame > 0)).sum())
    return {"detection_probability": p_d, "clutter_density": max(spurious, 0.5) / (T * area),
            "birth_density": max(births, 0.5) / (max(T - 1, 1) * area), "clean": False,
            "gaps": gaps, "spurious": spurious, "births": births}


def _gaps(frames: list[np.ndarray], fp: FirstPass) -> tuple[int, np.ndarray]:
    """One-frame gaps (chain end at t, chain start at t + 2 within ``R``); ``closed``
    marks the detections on either side of one (frame-major indices)."""
    start = fp.starts
    closed = np.zeros(len(fp.nxt), dtype=bool)
    n = 0
    for t in range(len(frames) - 2):
        ends = np.flatnonzero(fp.nxt[start[t]:start[t + 1]] < 0)
        starts = np.flatnonzero(fp.prv[start[t + 2]:start[t + 3]] < 0)
        if not len(ends) or not len(starts):
            continue
        d, j = cKDTree(frames[t + 2][starts]).query(frames[t][ends])
        used: set[int] = set()
        for e in np.argsort(d, kind="stable"):
            if d[e] > fp.radius or int(j[e]) in used:
                continue
            used.add(int(j[e]))
            closed[start[t] + ends[e]] = True
            closed[start[t + 2] + starts[j[e]]] = True
            n += 1
    return n, closed


def first_pass_of(frames: list[np.ndarray], rows: list[np.ndarray], a: np.ndarray,
                  b: np.ndarray) -> FirstPass:
    """A first pass made elsewhere (another tracker's tracks): the links ``a[k] -> b[k]``
    between detection-table rows in consecutive frames, on every frame's detections and
    their rows (``rows``, as for the trackers).  Its radius, for the outlier share, is the
    median within-frame spacing, as for :func:`first_pass`: a wrong link joins
    neighbours, and the longest real steps must not read as uniform outliers."""
    counts = [len(z) for z in frames]
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    t = np.repeat(np.arange(len(frames)), counts)
    allc = np.concatenate([np.asarray(z, dtype=np.float64) for z in frames if len(z)])
    flat_rows = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
    where = np.full(int(flat_rows.max(initial=-1)) + 1, -1, dtype=np.int64)
    where[flat_rows] = np.arange(len(flat_rows))
    i, j = where[np.asarray(a, dtype=np.int64)], where[np.asarray(b, dtype=np.int64)]
    ok = (i >= 0) & (j >= 0)
    i, j = i[ok], j[ok]
    ok = t[j] == t[i] + 1
    i, j = i[ok], j[ok]
    nxt = np.full(len(allc), -1, dtype=np.int64)
    prv = np.full(len(allc), -1, dtype=np.int64)
    nxt[i], prv[j] = j, i
    return FirstPass(allc, t, starts, nxt, prv, first_pass(frames).radius)


def lag_displacements(fp: FirstPass, lag: int, inlier: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Displacements over ``lag`` frames along the first pass's chains (each start
    detection once), the distances a track missed ``lag - 1`` times must bridge, and
    their weights: the product of the links' ``inlier`` probabilities (1 when not
    given)."""
    link = fp.link_of()
    w_link = np.ones(int((link >= 0).sum())) if inlier is None else inlier
    j = np.arange(len(fp.nxt))
    w = np.ones(len(j))
    for _ in range(lag):
        ok = j >= 0
        lk = np.where(ok, link[np.maximum(j, 0)], -1)
        w = np.where(lk >= 0, w * w_link[np.maximum(lk, 0)], 0.0)
        j = np.where(ok, fp.nxt[np.maximum(j, 0)], -1)
    i = np.flatnonzero(j >= 0)
    return fp.coords[j[i]] - fp.coords[i], w[i]


def autocorrelation(fp: FirstPass, inlier: np.ndarray | None = None) -> float:
    """Lag-1 velocity autocorrelation ``mean(v_t . v_t+1) / mean(|v_t|^2)`` over
    consecutive links, each link weighted by ``inlier`` (its probability of being a real
    step, per link in frame-major order; 1 when not given); 0 without two links."""
    i = np.flatnonzero(fp.nxt >= 0)
    j = fp.nxt[i]
    w = np.ones(len(i)) if inlier is None else inlier
    link_of = np.full(len(fp.nxt), -1, dtype=np.int64)
    link_of[i] = np.arange(len(i))
    two = fp.nxt[j] >= 0
    if not two.any():
        return 0.0
    a = fp.coords[j[two]] - fp.coords[i[two]]
    b = fp.coords[fp.nxt[j[two]]] - fp.coords[j[two]]
    wp = w[two] * w[link_of[j[two]]]
    v = fp.coords[j] - fp.coords[i]
    den = float(np.einsum("i,ij,ij->", w, v, v)) / max(float(w.sum()), 1e-300)
    num = float(np.einsum("i,ij,ij->", wp, a, b)) / max(float(wp.sum()), 1e-300)
    return num / den if den > 0 else 0.0


@dataclass(frozen=True)
class StepMixture:
    """Step sizes as a mixture: per Gaussian component its weight and per-axis scale ``s``
    (px), in ``ndim`` dimensions; ``outliers`` is the weight of links to spurious
    detections (uniform within the first pass's radius ``radius``); fitted to ``n``
    displacements, ``drift`` subtracted."""

    weights: tuple[float, ...]
    scales: tuple[float, ...]
    outliers: float
    radius: float
    drift: tuple[float, ...]
    ndim: int
    n: int

    def inlier(self, v: np.ndarray) -> np.ndarray:
        """Probability that each displacement ``v`` (n, D) is a real step, not a link to a
        spurious detection (the mixture's responsibilities)."""
        x = v - np.asarray(self.drift)
        r2 = np.einsum("ij,ij->i", x, x)
        comp = _component_logpdf(r2, np.log(self.weights), np.square(self.scales), self.ndim)
        real = np.logaddexp.reduce(comp, axis=1)
        out = _outlier_logpdf(r2, self.outliers, self.radius, self.ndim)
        return np.exp(real - np.logaddexp(real, out))

    def quantile(self, q: float) -> float:
        """The step length below which a share ``q`` of the real steps lies under the
        fitted Gaussians (bisection between the components' own quantiles)."""
        own = [s * math.sqrt(2.0 * gammaincinv(self.ndim / 2, q)) for s in self.scales]
        lo, hi = min(own), max(own)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if self._sf(mid) > 1.0 - q:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    def _sf(self, r: float) -> float:
        """P(real step length > r): each component's ``|v|^2 / s^2`` is chi-square with
        ``ndim`` degrees of freedom."""
        w = np.asarray(self.weights) / sum(self.weights)
        s = np.maximum(np.asarray(self.scales), 1e-12)
        return float((w * (1.0 - gammainc(self.ndim / 2, 0.5 * (r / s) ** 2))).sum())

    def summary(self) -> dict[str, object]:
        """JSON-ready: the components (weight among real steps, per-axis scale, median
        step length), slow first, and the outlier share."""
        med = [s * math.sqrt(2.0 * gammaincinv(self.ndim / 2, 0.5)) for s in self.scales]
        tot = sum(self.weights)
        return {"components": [{"weight": w / tot, "scale": s, "median_step": m}
                               for w, s, m in zip(self.weights, self.scales, med, strict=True)],
                "outlier_links": self.outliers, "steps_fitted": self.n}


def fit_step_mixture(v: np.ndarray, radius: float = math.inf,
                     max_components: int = MAX_COMPONENTS) -> StepMixture | None:
    """The mixture of isotropic zero-mean Gaussians (1 to ``max_components``, by BIC) plus
    a uniform outlier share within ``radius`` (when finite) that fits the displacements
    ``v`` (n, D) best, the median displacement subtracted first; None for fewer than
    :data:`MIN_LINKS` displacements.  At most :data:`EM_SAMPLE` displacements (a fixed
    pseudo-random subset) take part in the fit, which keeps it within a few tens of
    milliseconds."""
    n, d = v.shape
    if n < MIN_LINKS:
        return None
    drift = np.median(v, axis=0)
    x = v - drift
    if n > EM_SAMPLE:
        x = x[np.random.default_rng(0).choice(n, EM_SAMPLE, replace=False)]
    r2 = np.einsum("ij,ij->i", x, x)
    best: tuple[float, StepMixture] | None = None
    for k in range(1, max_components + 1):
        if len(r2) < MIN_LINKS * k:
            break
        w, s2, out, loglik = _em(r2, d, k, radius)
        if len(w) < k:     # a component emptied: more would not help
            break
        bic = -2.0 * loglik + (2 * k - 1 + math.isfinite(radius)) * math.log(len(r2))
        if best is None or bic < best[0]:
            order = np.argsort(s2)
            best = (bic, StepMixture(tuple(float(a) for a in w[order]),
                                     tuple(float(math.sqrt(b)) for b in s2[order]), float(out),
                                     float(radius), tuple(float(a) for a in drift), d, n))
    return None if best is None else best[1]


def _component_logpdf(r2: np.ndarray, logw: np.ndarray, s2: np.ndarray, d: int) -> np.ndarray:
    """log(w_k N(v; 0, s2_k I)) for squared lengths ``r2``: (n, k)."""
    return (logw[None, :] - 0.5 * d * np.log(2 * math.pi * s2)[None, :]
            - 0.5 * r2[:, None] / s2[None, :])


def _outlier_logpdf(r2: np.ndarray, w: float, radius: float, d: int) -> np.ndarray:
    """log of the outlier share's density: uniform in the ball of ``radius``."""
    if not math.isfinite(radius) or w <= 0:
        return np.full(len(r2), -np.inf)
    volume = math.pi ** (d / 2) / math.gamma(d / 2 + 1) * radius**d
    return np.where(r2 <= radius * radius, math.log(w) - math.log(volume), -np.inf)


def _em(r2: np.ndarray, d: int, k: int, radius: float
        ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """EM for ``k`` isotropic zero-mean Gaussians in ``d`` dimensions (and a uniform
    outlier share within ``radius`` when finite) on squared lengths ``r2``: the Gaussians'
    weights and per-axis variances, the outlier weight and the log-likelihood (of the
    vectors).  Started at the quantiles of ``r2``, so the result is deterministic."""
    floor = max(float(np.median(r2)) * 1e-6, 1e-12) / d
    s2 = np.maximum(np.quantile(r2, (np.arange(k) + 0.5) / (k + 1)) / d, floor)
    out = 0.01 if math.isfinite(radius) else 0.0
    w = np.full(k, (1.0 - out) / k)
    prev = loglik = -math.inf
    for _ in range(EM_ITERATIONS):
        logp = np.column_stack([_component_logpdf(r2, np.log(w), s2, d),
                                _outlier_logpdf(r2, out, radius, d)])
        top = logp.max(axis=1, keepdims=True)
        p = np.exp(logp - top)
        tot = p.sum(axis=1, keepdims=True)
        loglik = float((np.log(tot) + top).sum())
        resp = p / tot
        nk = resp[:, :k].sum(axis=0)
        keep = nk > 1e-6 * len(r2)
        if not keep.all():
            return w[keep], s2[keep], out, loglik
        w = nk / len(r2)
        out = float(resp[:, k].sum()) / len(r2) if math.isfinite(radius) else 0.0
        s2 = np.maximum((resp[:, :k] * r2[:, None]).sum(axis=0) / (d * nk), floor)
        if loglik - prev < 1e-7 * abs(loglik):
            break
        prev = loglik
    return w, s2, out, loglik


def weighted_quantile(x: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``x`` with each value counted ``weights`` times (the
    inverse of the weighted empirical distribution function)."""
    order = np.argsort(x)
    cum = np.cumsum(weights[order])
    if not len(cum) or cum[-1] <= 0:
        return math.nan
    at = int(np.searchsorted(cum, q * cum[-1]))
    return float(x[order][min(at, len(x) - 1)])
