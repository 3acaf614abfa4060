"""The Track statistics widget's per-track table: a Qt model straight over the numpy
columns of :class:`napari_mpt.analysis.stats.TrackStatistics`, a units line under each
header, flagged values (:mod:`napari_mpt.analysis.flags`) shown as a dash with the reason
as tooltip, and a proxy that sorts numerically and hides short tracks."""

from __future__ import annotations

import math
from typing import Any

from qtpy.QtCore import QAbstractTableModel, QSortFilterProxyModel, Qt
from qtpy.QtGui import QColor

from ..analysis.motility import MOTILITY
from ..analysis.plots import pretty
from ..analysis.stats import TrackStatistics, Units

TABLE_COLUMNS = ("track_id", "n_points", "D", "alpha", "mean_speed", "loc_error", *MOTILITY)
# short headers so the table fits the dock, the unit on a second line; the tooltip says
# what the column is
HEADERS = {"track_id": "track", "n_points": "points", "D": "D", "alpha": "\u03b1",
           "mean_speed": "speed", "loc_error": "\u03c3 loc", "duration": "duration",
           "confinement_ratio": "conf.", "straightness": "straight.",
           "radius_of_gyration": "R\u0261"}
FLAGGED_GREY = QColor(128, 128, 128)
DASH = "\u2013"     # a value the fit cannot support
TIPS = {
    "track_id": "track id in the layer",
    "n_points": "number of vertices (frames in which the track is seen)",
    "D": "diffusion coefficient: slope / (2 d) of a fit of MSD(tau) = 2 d D tau + 2 d sigma^2 "
         "on the first lags (fit lags)",
    "alpha": "anomalous exponent, MSD ~ tau^alpha (log-log fit after removing the "
             "localisation offset): 1 Brownian, 2 directed, < 1 confined",
    "mean_speed": "mean over the track's links of distance / time",
    "loc_error": "localisation error sigma from the MSD offset 2 d sigma^2 (a dash when the "
                 "offset is negative)",
    "duration": "time from the first to the last vertex",
    "confinement_ratio": "net distance / total distance travelled (TrackMate's confinement "
                         "ratio): 1 straight",
    "straightness": "mean cosine of the angle between successive steps: 1 straight, 0 "
                    "Brownian, < 0 reversing",
    "radius_of_gyration": "root mean square distance of the vertices from their centre",
}


def fmt(v: float) -> str:
    """A number as the table shows it: integers plain, others to 3 digits, NaN empty."""
    if not math.isfinite(v):
        return ""
    return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e9 else f"{v:.3g}"


class StatsModel(QAbstractTableModel):
    """The per-track table as a Qt model over the numpy columns: nothing is copied into
    items, so 1000 tracks show at once.  ``VALUE_ROLE`` holds the number; ``SORT_ROLE`` the
    same with NaN as +inf, so Qt sorts natively (no Python comparison per pair)."""

    SORT_ROLE = Qt.ItemDataRole.UserRole
    VALUE_ROLE = Qt.ItemDataRole.UserRole + 1

    def __init__(self) -> None:
        super().__init__()
        self.stats: TrackStatistics | None = None

    def set_stats(self, stats: TrackStatistics | None) -> None:
        self.beginResetModel()
        self.stats = stats
        self.endResetModel()

    def rowCount(self, parent: Any = None) -> int:
        return 0 if self.stats is None or (parent is not None and parent.isValid()) else len(self.stats)

    def columnCount(self, parent: Any = None) -> int:
        return len(TABLE_COLUMNS)

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.stats is None or not index.isValid():
            return None
        name, row = TABLE_COLUMNS[index.column()], index.row()
        value = float(self.stats[name][row])
        why = self.stats.why(name, row)      # '' unless the fit cannot support the value
        if role == Qt.ItemDataRole.DisplayRole:
            return DASH if why else fmt(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return why or None
        if role == Qt.ItemDataRole.ForegroundRole:
            return FLAGGED_GREY if why else None
        if role == self.VALUE_ROLE:
            return value
        if role == self.SORT_ROLE:
            return value if math.isfinite(value) and not why else math.inf
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        name = TABLE_COLUMNS[section]
        unit = pretty((self.stats.units if self.stats is not None else Units()).of(name))
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{HEADERS[name]}\n{unit}" if unit else HEADERS[name]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{name}: {TIPS[name]}" + (f" ({unit})" if unit else "")
        return None


class LengthFilter(QSortFilterProxyModel):
    """Sorts by number (NaN as +inf) and hides tracks shorter than ``min_length``."""

    def __init__(self, model: StatsModel) -> None:
        super().__init__()
        self.stats_model = model
        self.min_length = 1
        self.setSourceModel(model)
        self.setSortRole(StatsModel.SORT_ROLE)

    def set_min_length(self, n: int) -> None:
        self.min_length = int(n)
        self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: Any) -> bool:
        stats = self.stats_model.stats
        return stats is not None and int(stats["n_points"][row]) >= self.min_length
