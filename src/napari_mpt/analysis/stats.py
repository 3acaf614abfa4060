"""What users compute right after tracking: per-track length, mean speed, MSD curve,
diffusion coefficient D with the localisation-error offset, anomalous exponent alpha, and
the ensemble MSD.

Model.  For Brownian motion in ``d`` dimensions observed with Gaussian localisation error
sigma per axis (the simulator's eq. 2-3), the time-averaged MSD at lag tau is
``MSD(tau) = 2 d D tau + 2 d sigma^2`` (no motion blur).  In the simulator's units
``D = mu^2 / 2`` px^2 per frame.

Fits (documented choices, one place):

* **D and the offset**: least squares of ``MSD(n)`` against ``tau_n = n dt`` on lags
  ``n = 1..fit_lags`` (default 4), each lag weighted by its number of displacements.  For a
  gapless track the weights are almost equal, so this is the unweighted fit that Michalet
  (Phys. Rev. E 82, 041914, 2010) shows to be best *with a small number of lags* (2 when
  the reduced localisation error ``x = sigma^2 / (D dt)`` is small, a few more when it is
  large; Ernst & Köhler 2013 found 4-5 best in practice).  With gaps a lag seen only a
  few times counts less.  ``D = slope / (2 d)``; the intercept is ``2 d sigma^2``, reported
  as ``msd_offset`` and, when positive, as ``loc_error = sqrt(offset / (2 d))``.  A negative
  offset (noise, or motion blur, which subtracts ``2 d D dt / 3``) has no loc_error (NaN).
* **alpha**: least squares of ``log(MSD(n) - offset)`` against ``log(n)`` on lags
  ``1..alpha_lags`` (default 10), weighted by the number of displacements, with the
  offset of the D fit clipped at 0 subtracted first so that localisation error does not
  bend a Brownian curve below alpha = 1; lags whose corrected MSD is not positive are
  left out.  ``MSD ~ tau^alpha``: 1 Brownian, 2 directed, < 1 confined.  A negative offset
  (motion blur, Savin & Doyle 2005, or localisation errors correlated over frames) is not
  subtracted, because for curved (directed) MSDs the linear fit's intercept is negative
  without meaning; such data read alpha > 1 at short lags (the bulk-water tutorial shows
  it).  Fitting the offset with alpha (Kepten et al. 2015) removes that bias but, measured
  here, widens the 90 % range of a 100-point Brownian track's alpha from 0.84-1.15 to
  0.46-1.41.
* **power law** (ensemble only): ``MSD = A tau^n`` fitted by unweighted least squares in
  log space on every lag 1..max_lag with data and no offset removed, as
  ``trackpy.utils.fit_powerlaw`` does on ``trackpy.emsd`` (um^2 and s when the units are
  given; ``A = 2 d D`` for Brownian motion).  The ensemble MSD here pools every
  displacement at a lag, where ``emsd`` averages per-particle MSDs with Qian's weights; on
  trackpy's own bulk-water tracks the two fits differ by at most 0.003 in n and 0.7 % in A
  (``docs/tutorials/bulk-water.md``).
* **drift** (:mod:`.drift`): estimated from the tracks that are kept, always; subtracted
  from their positions before everything else when ``drift="subtract"``.
* **flags** (:mod:`.flags`): which fit values a track can support.
* **motility** (:mod:`.motility`): confinement ratio, straightness, radius of gyration and
  the step lengths, on the same (drift-corrected) positions.
* **mean speed**: the mean over a track's links of ``|step| / (frame difference * dt)``
  (TrackMate's TRACK_MEAN_SPEED); a link across a gap counts once, over its duration.

Gaps are allowed: displacements are grouped by *frame* difference, never by row, so a
track seen in frames 0, 1, 3 has lag-1 displacement (0, 1) and lag-2 displacement (1, 3).
Units: lengths in um when a pixel size is given (else px), times in s when a frame
interval is given (else frames); D in length^2 per time.  The core needs neither pandas
nor matplotlib; :meth:`TrackStatistics.to_pandas` and :mod:`.plots` import them when
called.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.calibration import Calibration
from ..core.data import Tracks
from ..core.errors import InputError
from ..core.params import StatsParams
from ..io import atomic_write
from .drift import Drift, compute_drift, subtract_drift
from .flags import Reason, explain, fit_flags, flag_text
from .motility import MOTILITY, StepHistogram, motility, step_histogram, step_lengths

COLUMNS = ("track_id", "n_points", "start_frame", "end_frame", "duration", "mean_speed",
           "D", "alpha", "msd_offset", "loc_error", *MOTILITY)
"""Per-track columns, in the order of the STATS.csv file (then its ``flags`` column)."""

# displacement pairs accumulated before they are binned, so memory stays bounded
_CHUNK = 4_000_000


@dataclass(frozen=True)
class Units:
    """Length and time units of a statistics table."""

    length: str = "px"
    time: str = "frame"

    @property
    def D(self) -> str:
        return f"{self.length}^2/{self.time}"

    @property
    def speed(self) -> str:
        return f"{self.length}/{self.time}"

    @property
    def msd(self) -> str:
        return f"{self.length}^2"

    @property
    def powerlaw_A(self) -> str:
        return f"{self.length}^2/{self.time}^n"

    def of(self, column: str) -> str:
        """The unit of a per-track column ('' for counts, frames and ratios)."""
        return {"duration": self.time, "mean_speed": self.speed, "D": self.D,
                "msd_offset": self.msd, "loc_error": self.length,
                "radius_of_gyration": self.length}.get(column, "")

    def summary(self) -> dict[str, str]:
        return {"length": self.length, "time": self.time, "D": self.D, "speed": self.speed,
                "msd": self.msd, "powerlaw_A": self.powerlaw_A}


_UM = {"micrometer": 1.0, "nanometer": 1e-3, "millimeter": 1e3, "meter": 1e6}
_S = {"second": 1.0, "millisecond": 1e-3, "minute": 60.0, "hour": 3600.0}


def physical_units(calibration: Calibration) -> tuple[float, float]:
    """Pixel size in um (the last spatial axis) and frame interval in s that a file's
    calibration states; 0 for either that it does not state (or in a unit other than
    length or time)."""
    size = calibration.pixel_size[-1] if calibration.pixel_size else 0.0
    px = size * _UM.get(calibration.space_unit, 0.0)
    dt = calibration.frame_interval * _S.get(calibration.time_unit, 0.0)
    return px, dt


def units_for(params: StatsParams) -> Units:
    return Units("um" if params.pixel_size > 0 else "px", "s" if params.frame_interval > 0 else "frame")


@dataclass(frozen=True, eq=False)
class EnsembleMSD:
    """MSD pooled over tracks (all their displacements at each lag) and its fits."""

    lag: np.ndarray        # lags in frames, 1..max_lag
    tau: np.ndarray        # lags in time units
    msd: np.ndarray        # NaN where no track has a displacement at that lag
    count: np.ndarray      # displacements averaged at each lag
    D: float
    alpha: float
    offset: float
    loc_error: float
    n: float               # power law MSD = A tau^n (log space, every lag)
    A: float
    n_tracks: int
    ndim: int
    fit_lags: int
    alpha_lags: int
    units: Units

    def fit_line(self, tau: np.ndarray) -> np.ndarray:
        """The fitted ``offset + 2 d D tau`` at ``tau``."""
        return self.offset + 2 * self.ndim * self.D * np.asarray(tau, dtype=np.float64)

    def power_law(self, tau: np.ndarray) -> np.ndarray:
        """The fitted ``A tau^n`` at ``tau``."""
        return self.A * np.asarray(tau, dtype=np.float64) ** self.n

    def summary(self) -> dict[str, Any]:
        return {"tracks": self.n_tracks, "D": _num(self.D), "alpha": _num(self.alpha),
                "msd_offset": _num(self.offset), "loc_error": _num(self.loc_error),
                "fit_lags": self.fit_lags, "alpha_lags": self.alpha_lags,
                "powerlaw": {"n": _num(self.n), "A": _num(self.A),
                             "lags": int(np.isfinite(self.msd).sum())}}


@dataclass(frozen=True, eq=False)
class TrackStatistics:
    """One row per track (``columns``, keyed as :data:`COLUMNS`) and its MSD curves.

    ``sq_sum[i, k]`` and ``msd_count[i, k]`` are the sum of squared displacements of track
    ``i`` at lag ``lag[k]`` (length^2 units) and how many there are, so any subset of tracks
    pools into an ensemble MSD without recomputing (:meth:`ensemble`).
    """

    columns: dict[str, np.ndarray]
    lag: np.ndarray
    sq_sum: np.ndarray
    msd_count: np.ndarray
    ndim: int
    params: StatsParams
    units: Units
    flags: dict[str, np.ndarray]     # reason codes (:class:`.flags.Reason`) per FLAGGED column
    drift: Drift                     # estimated on the kept tracks, in length units
    steps: np.ndarray                # one-frame step lengths (length units), pooled
    step_track: np.ndarray           # the row (track) of each step

    def __len__(self) -> int:
        return int(self.columns["track_id"].shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def tau(self) -> np.ndarray:
        return self.lag * _dt(self.params)

    @property
    def msd(self) -> np.ndarray:
        """``(tracks, lags)`` MSD curves, NaN where a track has no displacement at a lag."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.msd_count > 0, self.sq_sum / np.maximum(self.msd_count, 1), np.nan)

    def supported(self, column: str) -> np.ndarray:
        """Which tracks' ``column`` values the data supports (finite, and not flagged)."""
        value = np.asarray(self.columns[column], dtype=np.float64)
        ok = np.isfinite(value)
        if column in self.flags:
            ok &= self.flags[column] == Reason.OK
        return ok

    def why(self, column: str, i: int) -> str:
        """Why row ``i``'s ``column`` value is flagged ('' when it is not)."""
        if column not in self.flags:
            return ""
        return explain(column, int(self.flags[column][i]), int(self.columns["n_points"][i]),
                       self.params)

    def step_histogram(self, mask: np.ndarray | None = None) -> StepHistogram:
        """Histogram of the one-frame steps of the tracks where ``mask`` is true (all)."""
        steps = self.steps if mask is None else self.steps[np.asarray(mask, bool)[self.step_track]]
        return step_histogram(steps, self.ndim)

    def drift_warning(self, loc_error: float | None = None) -> str | None:
        """A sentence when the drift was not subtracted and it matters: it moves the sample
        farther than the localisation noise and than chance (:meth:`.Drift.threshold`)."""
        if self.params.drift == "subtract":
            return None
        loc = self.ensemble().loc_error if loc_error is None else loc_error
        extent = self.drift.extent
        if extent <= self.drift.threshold(loc):
            return None
        u = self.units.length
        noise = f"{loc:.2g} {u}" if math.isfinite(loc) else "unknown: negative MSD offset"
        return (f"the tracks drift by up to {extent:.3g} {u} over the movie, more than the "
                f"localisation noise ({noise}) and than chance ({3 * self.drift.chance:.2g} "
                f"{u}): D, alpha and the power law include it")

    def ensemble(self, mask: np.ndarray | None = None) -> EnsembleMSD:
        """Ensemble MSD of the tracks where ``mask`` is true (all by default) and its fits."""
        keep = np.ones(len(self), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        count = self.msd_count[keep].sum(axis=0)
        sq = self.sq_sum[keep].sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            msd = np.where(count > 0, sq / np.maximum(count, 1), np.nan)
        p = self.params
        D, offset = _diffusion_fit(self.lag, msd[None], count[None], p.fit_lags, self.ndim, _dt(p))
        alpha = _alpha_fit(self.lag, msd[None], count[None], offset, p.alpha_lags)
        n, A = fit_powerlaw(self.tau, msd)
        return EnsembleMSD(self.lag, self.tau, msd, count, float(D[0]), float(alpha[0]),
                           float(offset[0]), float(_loc_error(offset, self.ndim)[0]), n, A,
                           int(keep.sum()), self.ndim, p.fit_lags, p.alpha_lags, self.units)

    def flag_column(self) -> list[str]:
        """STATS.csv's ``flags``: ``column:reason`` pairs per track ('' when none)."""
        return [flag_text(self.flags, i) for i in range(len(self))]

    def to_pandas(self):
        """The per-track table as a :class:`pandas.DataFrame` (pandas imported here)."""
        import pandas as pd

        return pd.DataFrame({**{k: self.columns[k] for k in COLUMNS}, "flags": self.flag_column()})

    def summary(self) -> dict[str, Any]:
        """Numbers for ``analyze --json``: tracks, medians of the supported per-track values,
        flag counts, ensemble fits, drift (and its warning), step lengths, units."""
        ens = self.ensemble()
        medians = {}
        for name in ("D", "alpha", "loc_error", "mean_speed", *MOTILITY):
            v = np.asarray(self.columns[name], dtype=np.float64)[self.supported(name)]
            medians[name] = _num(float(np.median(v))) if len(v) else None
        warning = self.drift_warning(ens.loc_error)
        return {"tracks": len(self), "median_D": medians["D"], "median": medians,
                "flagged": {c: int((self.flags[c] != Reason.OK).sum()) for c in ("D", "alpha")},
                "ensemble": ens.summary(),
                "drift": {"mode": self.params.drift, "smoothing": self.drift.smoothing,
                          "extent": self.drift.extent, "chance": self.drift.chance,
                          "threshold": self.drift.threshold(ens.loc_error),
                          "end": [float(v) for v in (self.drift.offset[-1] if len(self.drift.offset)
                                                     else [])]},
                "steps": self.step_histogram().summary(),
                "warnings": [warning] if warning else [],
                "units": self.units.summary(),
                "params": self.params.to_dict()}


def _num(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _dt(params: StatsParams) -> float:
    return params.frame_interval if params.frame_interval > 0 else 1.0


def _weighted_line(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise weighted least-squares line ``y = a + b x``; NaN where fewer than two
    points have weight (``x`` is shared, ``y`` and ``w`` are ``(rows, lags)``)."""
    w = np.where(np.isfinite(y) & (w > 0), w, 0.0).astype(np.float64)
    y = np.where(w > 0, y, 0.0)
    s, sx, sy = w.sum(1), (w * x).sum(1), (w * y).sum(1)
    sxx, sxy = (w * x * x).sum(1), (w * x * y).sum(1)
    det = s * sxx - sx * sx
    ok = ((w > 0).sum(1) >= 2) & (det > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(ok, (s * sxy - sx * sy) / np.where(ok, det, 1.0), np.nan)
        a = np.where(ok, (sy - b * sx) / np.where(ok, s, 1.0), np.nan)
    return a, b


def _diffusion_fit(lag: np.ndarray, msd: np.ndarray, count: np.ndarray, fit_lags: int,
                   ndim: int, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """D and the MSD offset ``2 d sigma^2`` per row, from lags ``1..fit_lags``."""
    w = np.where(lag[None, :] <= fit_lags, count, 0)
    offset, slope = _weighted_line(lag * dt, msd, w)
    return slope / (2 * ndim), offset


def _alpha_fit(lag: np.ndarray, msd: np.ndarray, count: np.ndarray, offset: np.ndarray,
               alpha_lags: int) -> np.ndarray:
    """Log-log slope of the offset-corrected MSD on lags ``1..alpha_lags``, per row."""
    off = np.where(np.isfinite(offset), np.maximum(offset, 0.0), 0.0)
    corr = msd - off[:, None]
    good = np.isfinite(corr) & (corr > 0) & (lag[None, :] <= alpha_lags)
    with np.errstate(invalid="ignore", divide="ignore"):
        logy = np.where(good, np.log(np.where(good, corr, 1.0)), np.nan)
    _, slope = _weighted_line(np.log(lag.astype(np.float64)), logy, np.where(good, count, 0))
    return slope


def fit_powerlaw(tau: np.ndarray, msd: np.ndarray) -> tuple[float, float]:
    """``(n, A)`` of ``msd = A tau^n`` by unweighted least squares of ``log msd`` on
    ``log tau`` over the points with a positive MSD (``trackpy.utils.fit_powerlaw``);
    NaN with fewer than two."""
    tau, msd = np.asarray(tau, dtype=np.float64), np.asarray(msd, dtype=np.float64)
    ok = np.isfinite(msd) & (msd > 0) & (tau > 0)
    if ok.sum() < 2:
        return math.nan, math.nan
    n, log_a = np.polyfit(np.log(tau[ok]), np.log(msd[ok]), 1)
    return float(n), float(np.exp(log_a))


def _loc_error(offset: np.ndarray, ndim: int) -> np.ndarray:
    off = np.asarray(offset, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(off >= 0, np.sqrt(np.maximum(off, 0.0) / (2 * ndim)), np.nan)


def track_statistics(tracks: Tracks, params: StatsParams | None = None,
                     **overrides: Any) -> TrackStatistics:
    """Per-track statistics of ``tracks`` (see the module docstring for the fits).

    ``track_statistics(tracks, pixel_size=0.1, frame_interval=0.05)`` gives D in um^2/s;
    without them, px^2 per frame.  ``overrides`` are :class:`StatsParams` fields (``None``
    for pixel_size or frame_interval means not given).  Tracks with fewer than
    ``min_length`` points are left out, before the drift is estimated.  Raises
    :class:`InputError` on non-finite coordinates or a track with two vertices in one frame.
    """
    for key in ("pixel_size", "frame_interval"):
        if key in overrides and overrides[key] is None:
            overrides[key] = 0.0
    p = (params or StatsParams()).replace(**overrides) if overrides else (params or StatsParams())
    bad = ~np.all(np.isfinite(tracks.coords), axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError("tracks", f"track {tracks.track_id[i]} has a non-finite position in "
                         f"frame {tracks.frame[i]}", row=i)
    ids_all, counts_all = np.unique(tracks.track_id, return_counts=True)
    keep_ids = ids_all[counts_all >= p.min_length]
    rows = np.isin(tracks.track_id, keep_ids)
    tid, frame = tracks.track_id[rows], tracks.frame[rows]          # sorted (track_id, frame)
    px = p.pixel_size if p.pixel_size > 0 else 1.0
    dt = _dt(p)
    ndim = tracks.ndim
    kept = Tracks(tid, frame, tracks.coords[rows] * px)              # length units
    _check_one_vertex_per_frame(kept)
    drift = compute_drift(kept, p.drift_smoothing)
    if p.drift == "subtract":
        kept = subtract_drift(kept, drift)
    x = kept.coords
    ids, start, n_points = np.unique(tid, return_index=True, return_counts=True)
    inv = np.repeat(np.arange(len(ids)), n_points)
    n, L = len(ids), p.max_lag
    sq_sum = np.zeros(n * L)
    cnt = np.zeros(n * L, dtype=np.int64)
    speed_sum = np.zeros(n)
    links = np.zeros(n, dtype=np.int64)
    pending_idx: list[np.ndarray] = []
    pending_sq: list[np.ndarray] = []
    pending = 0

    def flush() -> None:
        nonlocal pending
        if pending_idx:
            idx, sq = np.concatenate(pending_idx), np.concatenate(pending_sq)
            sq_sum[:] += np.bincount(idx, weights=sq, minlength=n * L)
            cnt[:] += np.bincount(idx, minlength=n * L)
            pending_idx.clear()
            pending_sq.clear()
            pending = 0

    cols = [np.ascontiguousarray(x[:, j]) for j in range(ndim)]   # contiguous: faster steps
    # row offset k pairs each vertex with the k-th next one; their frame difference is the
    # lag (>= k), so a gap moves the pair to a longer lag instead of miscounting it
    for k in range(1, len(tid)):
        same = inv[k:] == inv[:-k]
        df = frame[k:] - frame[:-k]
        ok = same & (df <= L)
        sq = sum((c[k:] - c[:-k]) ** 2 for c in cols)
        if k == 1:
            link = np.flatnonzero(same)
            speed_sum += np.bincount(inv[link], weights=np.sqrt(sq[link]) / (df[link] * dt),
                                     minlength=n)
            links += np.bincount(inv[link], minlength=n)
        if not ok.any():
            break   # frame differences only grow with k
        sel = np.flatnonzero(ok)
        pending_idx.append(inv[sel] * L + df[sel] - 1)
        pending_sq.append(sq[sel])
        pending += len(sel)
        if pending > _CHUNK:
            flush()
    flush()
    sq_sum2, cnt2 = sq_sum.reshape(n, L), cnt.reshape(n, L)
    lag = np.arange(1, L + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        msd = np.where(cnt2 > 0, sq_sum2 / np.maximum(cnt2, 1), np.nan)
        mean_speed = np.where(links > 0, speed_sum / np.maximum(links, 1), np.nan)
    D, offset = _diffusion_fit(lag, msd, cnt2, p.fit_lags, ndim, dt)
    alpha = _alpha_fit(lag, msd, cnt2, offset, p.alpha_lags)
    first = frame[start] if n else np.empty(0, dtype=np.int64)
    last = frame[start + n_points - 1] if n else np.empty(0, dtype=np.int64)
    columns = {"track_id": ids, "n_points": n_points, "start_frame": first, "end_frame": last,
               "duration": (last - first) * dt, "mean_speed": mean_speed, "D": D,
               "alpha": alpha, "msd_offset": offset, "loc_error": _loc_error(offset, ndim),
               **motility(inv, n, x)}
    flags = fit_flags(n_points, D, alpha, offset, p)
    return TrackStatistics(columns, lag, sq_sum2, cnt2, ndim, p, units_for(p), flags, drift,
                           *step_lengths(inv, frame, x))


def _check_one_vertex_per_frame(tracks: Tracks) -> None:
    same = (tracks.track_id[1:] == tracks.track_id[:-1]) & (tracks.frame[1:] == tracks.frame[:-1])
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise InputError("tracks", f"track {tracks.track_id[i]} has two vertices in frame "
                         f"{tracks.frame[i]}")


def _cell(v: Any) -> str:
    if isinstance(v, (np.integer, int)):
        return str(int(v))
    return repr(float(v))


def write_stats(path: str | os.PathLike, stats: TrackStatistics) -> None:
    """STATS.csv: one row per track, :data:`COLUMNS` (NaN where a fit had too few lags)
    and ``flags`` (the values the data cannot support, e.g. ``D:short alpha:short``; the
    numbers stay), written atomically; opens in pandas, trackpy users' spreadsheets and
    TrackMate's table importer."""
    with atomic_write(path) as fh:
        w = csv.writer(fh)
        w.writerow((*COLUMNS, "flags"))
        cols = [stats.columns[c] for c in COLUMNS]
        flags = stats.flag_column()
        for i in range(len(stats)):
            w.writerow([*(_cell(c[i]) for c in cols), flags[i]])


