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
  left out.  ``MSD ~ tau^alpha``: 1 Brownian, 2 directed, < 1 confined.
* **mean speed**: the mean over a track's links of ``|step| / (frame difference * dt)``
  (TrackMate's TRACK_MEAN_SPEED); a link across a gap counts once, over its duration.

Gaps are allowed: displacements are grouped by *frame* difference, never by row, so a
track seen in frames 0, 1, 3 has lag-1 displacement (0, 1) and lag-2 displacement (1, 3).
Units: lengths in um when a pixel size is given (else px), times in s when a frame
interval is given (else frames); D in length^2 per time.  The core needs neither pandas
nor matplotlib; :meth:`TrackStatistics.to_pandas` and :func:`plot_msd` import them when
called.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.data import Tracks
from ..core.errors import InputError
from ..core.params import StatsParams
from ..io import atomic_write

COLUMNS = ("track_id", "n_points", "start_frame", "end_frame", "duration", "mean_speed",
           "D", "alpha", "msd_offset", "loc_error")
"""Per-track columns, in the order of the STATS.csv file."""

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

    def of(self, column: str) -> str:
        """The unit of a per-track column ('' for counts, frames and alpha)."""
        return {"duration": self.time, "mean_speed": self.speed, "D": self.D,
                "msd_offset": self.msd, "loc_error": self.length}.get(column, "")


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
    n_tracks: int
    ndim: int
    fit_lags: int
    alpha_lags: int
    units: Units

    def fit_line(self, tau: np.ndarray) -> np.ndarray:
        """The fitted ``offset + 2 d D tau`` at ``tau``."""
        return self.offset + 2 * self.ndim * self.D * np.asarray(tau, dtype=np.float64)

    def summary(self) -> dict[str, Any]:
        return {"tracks": self.n_tracks, "D": _num(self.D), "alpha": _num(self.alpha),
                "msd_offset": _num(self.offset), "loc_error": _num(self.loc_error),
                "fit_lags": self.fit_lags, "alpha_lags": self.alpha_lags}


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
        return EnsembleMSD(self.lag, self.tau, msd, count, float(D[0]), float(alpha[0]),
                           float(offset[0]), float(_loc_error(offset, self.ndim)[0]),
                           int(keep.sum()), self.ndim, p.fit_lags, p.alpha_lags, self.units)

    def to_pandas(self):
        """The per-track table as a :class:`pandas.DataFrame` (pandas imported here)."""
        import pandas as pd

        return pd.DataFrame({k: self.columns[k] for k in COLUMNS})

    def summary(self) -> dict[str, Any]:
        """Numbers for ``analyze --json``: tracks, median D, ensemble fits, units."""
        ens = self.ensemble()
        d = self.columns["D"]
        finite = d[np.isfinite(d)]
        return {"tracks": len(self), "median_D": _num(np.median(finite)) if len(finite) else None,
                "ensemble": ens.summary(),
                "units": {"length": self.units.length, "time": self.units.time,
                          "D": self.units.D, "speed": self.units.speed},
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
    ``min_length`` points are left out.  Raises :class:`InputError` on non-finite
    coordinates or a track with two vertices in one frame.
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
    x = tracks.coords[rows] * px
    ndim = tracks.ndim
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
        if k == 1 and np.any(same & (df == 0)):
            i = int(np.flatnonzero(same & (df == 0))[0])
            raise InputError("tracks", f"track {tid[i]} has two vertices in frame {frame[i]}")
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
               "alpha": alpha, "msd_offset": offset, "loc_error": _loc_error(offset, ndim)}
    return TrackStatistics(columns, lag, sq_sum2, cnt2, ndim, p, units_for(p))


def _cell(v: Any) -> str:
    if isinstance(v, (np.integer, int)):
        return str(int(v))
    return repr(float(v))


def write_stats(path: str | os.PathLike, stats: TrackStatistics) -> None:
    """STATS.csv: one row per track, :data:`COLUMNS` (NaN where a fit had too few lags),
    written atomically; opens in pandas, trackpy users' spreadsheets and TrackMate's
    table importer."""
    with atomic_write(path) as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        cols = [stats.columns[c] for c in COLUMNS]
        for i in range(len(stats)):
            w.writerow([_cell(c[i]) for c in cols])


def _pretty(unit: str) -> str:
    return unit.replace("um", "\u00b5m").replace("^2", "\u00b2")


def plot_msd(ax: Any, ens: EnsembleMSD) -> None:
    """Draw the ensemble MSD (points), its fit (solid on the fitted lags, dashed beyond) and
    labels on a matplotlib Axes; used by ``analyze --plot`` and the napari widget."""
    ok = np.isfinite(ens.msd)
    ax.plot(ens.tau[ok], ens.msd[ok], "o", ms=3, color="tab:blue", label="ensemble MSD")
    if math.isfinite(ens.D) and ok.any():
        fitted = ens.lag <= ens.fit_lags
        t_fit = np.concatenate([[0.0], ens.tau[ok & fitted]])
        ax.plot(t_fit, ens.fit_line(t_fit), "-", lw=2, color="tab:orange",
                label=f"fit, lags 1-{ens.fit_lags}: D = {ens.D:.3g} {_pretty(ens.units.D)}")
        t_out = ens.tau[ok & (ens.lag >= ens.fit_lags)]
        ax.plot(t_out, ens.fit_line(t_out), "--", lw=1, color="tab:orange")
    ax.set_xlabel(f"lag ({_pretty(ens.units.time)})")
    ax.set_ylabel(f"MSD ({_pretty(ens.units.msd)})")
    alpha = f"\u03b1 = {ens.alpha:.2f}" if math.isfinite(ens.alpha) else "\u03b1: n/a"
    loc = (f", loc. error {ens.loc_error:.2g} {_pretty(ens.units.length)}"
           if math.isfinite(ens.loc_error) else "")
    ax.set_title(f"{ens.n_tracks} tracks, {alpha}{loc}", fontsize="medium")
    if ok.any():
        ax.legend(fontsize="small", loc="upper left")


def save_msd_plot(path: str | os.PathLike, ens: EnsembleMSD) -> None:
    """Write the ensemble MSD plot as PNG (matplotlib's Agg canvas, no pyplot state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:
        raise InputError(str(path), "plotting needs matplotlib (pip install matplotlib)") from exc
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    plot_msd(ax, ens)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png")
