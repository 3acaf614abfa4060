"""Track statistics: units, MSD lags and fits."""

from __future__ import annotations

from dataclasses import dataclass

from .base import _f, _Validated


@dataclass(frozen=True)
class StatsParams(_Validated):
    """Track statistics: physical units, the MSD lags and which lags the fits use."""

    pixel_size: float = _f(0.0, "pixel size (um per px); 0: lengths in px", lo=0.0)
    frame_interval: float = _f(0.0, "time between frames (s); 0: time in frames", lo=0.0)
    max_lag: int = _f(100, "longest lag of the MSD curves (frames)", lo=1, hi=100_000)
    fit_lags: int = _f(
        4, "D and the localisation offset are fitted on MSD lags 1..n (few lags are best: "
        "Michalet 2010)", lo=2, hi=100_000)
    alpha_lags: int = _f(10, "alpha is fitted (log-log) on MSD lags 1..n (at most max_lag)", lo=2, hi=100_000)
    min_length: int = _f(3, "tracks with fewer points are left out", lo=1)
