"""Which per-track fit values the data can support, and why not when it cannot.

A least-squares fit returns a number whatever it is given: on a track of 7 points the D fit
returns negative values and alpha anything from -1 to 3 (simulated Brownian tracks, in the
table of ``docs/guide/statistics.md``).  Such values are flagged, not dropped: the number
stays in the table's data and in STATS.csv, with a reason code, so nothing is lost, while
the widget blanks it with the reason as a tooltip, and colour scales and the summaries
leave it out.  The rules (thresholds are :class:`StatsParams` fields):

* **D** (and its intercept ``msd_offset``): no fit (fewer than two lags), a track shorter
  than ``fit_min_points``, or D <= 0 (the MSD does not grow: no physical D is negative;
  the motion is below the localisation noise, or the particle is immobile).
* **alpha**: no fit, a track shorter than ``alpha_min_points``, D flagged as not
  growing (alpha of an offset-corrected MSD that does not grow is noise), or alpha < 0
  (an MSD that falls with the lag: no motion does that on average).
* **loc_error**: D flagged (the offset comes from the same fit), or a negative offset
  (motion blur or noise; ``sqrt`` of a negative number has no meaning).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..core.params import StatsParams


class Reason(IntEnum):
    OK = 0
    NO_FIT = 1
    SHORT = 2
    NOT_GROWING = 3
    NEGATIVE_OFFSET = 4
    FALLING = 5


FLAGGED = ("D", "msd_offset", "loc_error", "alpha")
"""The per-track columns that come from fits and so carry flags."""

_CODE = {Reason.NO_FIT: "no_fit", Reason.SHORT: "short", Reason.NOT_GROWING: "not_growing",
         Reason.NEGATIVE_OFFSET: "negative_offset", Reason.FALLING: "falling"}


def fit_flags(n_points: np.ndarray, D: np.ndarray, alpha: np.ndarray, offset: np.ndarray,
              params: StatsParams) -> dict[str, np.ndarray]:
    """Reason code per track (``Reason.OK`` where the value is supported) for each of
    :data:`FLAGGED`."""
    n = np.asarray(n_points)
    d = np.asarray(D, dtype=np.float64)
    code_d = np.full(len(n), Reason.OK, dtype=np.int8)
    code_d[~(d > 0)] = Reason.NOT_GROWING              # NaN too, overwritten next
    code_d[n < params.fit_min_points] = Reason.SHORT
    code_d[~np.isfinite(d)] = Reason.NO_FIT
    a = np.asarray(alpha, dtype=np.float64)
    code_a = np.full(len(n), Reason.OK, dtype=np.int8)
    code_a[a < 0] = Reason.FALLING
    code_a[code_d == Reason.NOT_GROWING] = Reason.NOT_GROWING
    code_a[n < params.alpha_min_points] = Reason.SHORT
    code_a[~np.isfinite(a)] = Reason.NO_FIT
    code_loc = code_d.copy()
    code_loc[(code_d == Reason.OK) & ~(np.asarray(offset) >= 0)] = Reason.NEGATIVE_OFFSET
    return {"D": code_d, "msd_offset": code_d.copy(), "loc_error": code_loc, "alpha": code_a}


def flag_text(flags: dict[str, np.ndarray], i: int) -> str:
    """Track ``i``'s flags for STATS.csv: ``column:reason`` pairs, space separated
    ('' when every value is supported)."""
    return " ".join(f"{c}:{_CODE[Reason(int(flags[c][i]))]}" for c in FLAGGED
                    if flags[c][i] != Reason.OK)


def explain(column: str, code: int, n_points: int, params: StatsParams) -> str:
    """Why ``column``'s value of a track with ``n_points`` points is flagged ('' if not)."""
    name = {"D": "D", "msd_offset": "the MSD offset", "loc_error": "the localisation error",
            "alpha": "\u03b1"}.get(column, column)
    reason = Reason(int(code))
    if reason == Reason.OK:
        return ""
    if reason == Reason.NO_FIT:
        return f"no {name}: fewer than two MSD lags have displacements"
    if reason == Reason.SHORT:
        need, option = ((params.alpha_min_points, "alpha_min_points") if column == "alpha"
                        else (params.fit_min_points, "fit_min_points"))
        return (f"not shown: the track has {n_points} points and {name} is fitted on tracks "
                f"of at least {need} ({option}); shorter tracks scatter too widely to read")
    if reason == Reason.NOT_GROWING:
        return (f"not shown: the MSD does not grow over lags 1-{params.fit_lags} (D <= 0): "
                "motion below the localisation noise, or an immobile particle")
    if reason == Reason.FALLING:
        return ("not shown: \u03b1 < 0, the MSD falls with the lag (alpha_lags): no motion "
                "does that on average, the fit is noise")
    return ("not shown: the MSD offset is negative (motion blur or noise), so it gives no "
            "localisation error")
