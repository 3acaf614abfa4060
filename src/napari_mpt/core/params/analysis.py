"""Track statistics: units, drift, MSD lags, fits and which fits a track can support."""

from __future__ import annotations

from dataclasses import dataclass

from .base import _f, _Validated

DRIFT_MODES = ("none", "subtract")


@dataclass(frozen=True)
class StatsParams(_Validated):
    """Track statistics: physical units, drift, the MSD lags and which lags the fits use."""

    pixel_size: float = _f(0.0, "pixel size (um per px); 0: lengths in px", lo=0.0)
    frame_interval: float = _f(0.0, "time between frames (s); 0: time in frames", lo=0.0)
    max_lag: int = _f(100, "longest lag of the MSD curves (frames)", lo=1, hi=100_000)
    fit_lags: int = _f(
        4, "D and the localisation offset are fitted on MSD lags 1..n (few lags are best: "
        "Michalet 2010)", lo=2, hi=100_000)
    alpha_lags: int = _f(10, "alpha is fitted (log-log) on MSD lags 1..n (at most max_lag)", lo=2, hi=100_000)
    min_length: int = _f(3, "tracks with fewer points are left out", lo=1)
    drift: str = _f("none", "sample drift, estimated from the tracks (mean frame-to-frame "
                    "displacement of the particles linked in both frames, summed, as "
                    "trackpy's compute_drift): none (reported, warned about when larger than "
                    "the localisation noise) or subtract it before every statistic",
                    choices=DRIFT_MODES)
    drift_smoothing: int = _f(0, "average the drift steps over this many frames (trackpy's "
                              "smoothing); 0: none", lo=0, hi=100_000)
    fit_min_points: int = _f(10, "D, the MSD offset and the localisation error of shorter "
                             "tracks are flagged, not shown (their fits scatter from negative "
                             "to several times the true D)", lo=2)
    alpha_min_points: int = _f(20, "alpha of shorter tracks is flagged, not shown", lo=2)
