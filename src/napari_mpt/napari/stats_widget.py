"""The Track statistics dock widget: per-track table, length filter, colour by a statistic,
ensemble MSD plot, in the units of the layer's scale.

The numbers are the core's (:func:`napari_mpt.analysis.stats.track_statistics`, run on a thread
worker so 1000 tracks never block the GUI); this module only shows them.  Canvas side:

* colour by a statistic writes the per-track statistics as per-vertex features of the
  Tracks layer (so the layer's own *color by* menu offers them too and the writer saves
  them), sets ``color_by`` and, because napari scales a feature over *all* vertices and
  has no per-track visibility, then sets ``track_colors`` itself: the colour range spans
  the tracks shown, hidden tracks (shorter than the filter) get alpha 0, and when rows are
  selected the other tracks are dimmed.  Whenever napari recolours the layer (its colour
  menu, colormap, new data) this is re-applied.
* selecting rows highlights those tracks (others dimmed) and moves the time slider into
  the track when it is out of view; clicking a track on the canvas (the layer selected,
  a click without drag) selects its row: the nearest vertex drawn at the current time,
  tail included, within 10 screen pixels.
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FloatSpinBox, Label, SpinBox
from magicgui.widgets.bases import ValueWidget
from qtpy.QtCore import QAbstractTableModel, QSortFilterProxyModel, Qt
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from ..analysis.stats import TrackStatistics, Units, plot_msd, track_statistics
from ..core.data import Tracks
from ..core.errors import MPTError
from ..core.params import StatsParams
from .controls import control_for
from .job import Job
from .layers import mpt_meta, tracks_from_layer

if TYPE_CHECKING:
    import napari

LAYER_COLOURS = "(layer's own)"
TABLE_COLUMNS = ("track_id", "n_points", "D", "alpha", "mean_speed", "loc_error")
# short headers so the table fits the dock; the units are on the line above the table,
# the tooltip says what the column is
HEADERS = {"track_id": "track", "n_points": "points", "D": "D", "alpha": "\u03b1",
           "mean_speed": "speed", "loc_error": "\u03c3 loc", "duration": "duration"}
LAG_FIELDS = {"max_lag": "max lag", "fit_lags": "D fit lags", "alpha_lags": "\u03b1 fit lags"}
COLOUR_STATS = ("D", "alpha", "mean_speed", "n_points", "loc_error", "duration")
TIPS = {
    "track_id": "track id in the layer",
    "n_points": "number of vertices (frames in which the track is seen)",
    "D": "diffusion coefficient: slope / (2 d) of a fit of MSD(tau) = 2 d D tau + 2 d sigma^2 "
         "on the first lags (fit lags)",
    "alpha": "anomalous exponent, MSD ~ tau^alpha (log-log fit after removing the "
             "localisation offset): 1 Brownian, 2 directed, < 1 confined",
    "mean_speed": "mean over the track's links of distance / time",
    "loc_error": "localisation error sigma from the MSD offset 2 d sigma^2 (empty when the "
                 "offset is negative)",
    "duration": "time from the first to the last vertex",
}
DIM = 0.2          # alpha of the tracks not selected while some are
PICK_PX = 10.0     # a click selects a track within this many screen pixels


def _pretty(unit: str) -> str:
    return unit.replace("um", "\u00b5m").replace("^2", "\u00b2")


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return ""
    return f"{int(v)}" if float(v).is_integer() and abs(v) < 1e9 else f"{v:.3g}"


def layer_scale(layer: Any) -> tuple[float, float]:
    """Pixel size (um) and frame interval (s) from a layer's scale and units; 0 where the
    axis is in plain pixels/frames with scale 1.  A scale other than 1 without units is
    taken as um per px and s per frame."""
    scale = np.asarray(layer.scale, dtype=np.float64)
    units = getattr(layer, "units", None) or (None,) * len(scale)

    def convert(value: float, unit: Any, target: str) -> float:
        if unit is None or str(unit) == "pixel":
            return 0.0 if value == 1.0 else float(value)
        try:
            return float((value * unit).to(target).magnitude)
        except (TypeError, ValueError, AttributeError):
            return float(value)

    return convert(scale[-1], units[-1], "micrometer"), convert(scale[0], units[0], "second")


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
        value = float(self.stats[TABLE_COLUMNS[index.column()]][index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return _fmt(value)
        if role == self.VALUE_ROLE:
            return value
        if role == self.SORT_ROLE:
            return value if math.isfinite(value) else math.inf
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        name = TABLE_COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[name]
        if role == Qt.ItemDataRole.ToolTipRole:
            unit = _pretty((self.stats.units if self.stats is not None else Units()).of(name))
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


class StatsWidget(Container):
    """Tracks layer, units, lags, length filter, colour-by, table and ensemble MSD plot."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure
        super().__init__()
        self.viewer = napari_viewer
        self.layer = ComboBox(label="tracks", choices=self._tracks_choices,
                              tooltip="the Tracks layer to analyse")
        defaults = StatsParams()
        self.pixel_size = FloatSpinBox(
            label="pixel size (\u00b5m)", min=0.0, max=1e6, step=0.01, value=0.0,
            tooltip="from the layer's scale (last axis); 0: lengths in px")
        self.frame_interval = FloatSpinBox(
            label="frame interval (s)", min=0.0, max=1e6, step=0.01, value=0.0,
            tooltip="from the layer's scale (time axis); 0: time in frames")
        by_name = {f.name: f for f in fields(StatsParams)}
        self.lags: list[ValueWidget] = []
        for name, label in LAG_FIELDS.items():
            control = control_for(by_name[name], label)
            assert isinstance(control, ValueWidget)   # int fields: spin boxes
            self.lags.append(control)
        self.min_length = SpinBox(label="min length", min=1, max=2**31 - 1,
                                  value=defaults.min_length,
                                  tooltip="hide tracks with fewer points (table, canvas, "
                                  "ensemble MSD)")
        self.colour_by = ComboBox(label="colour by", choices=[LAYER_COLOURS, *COLOUR_STATS],
                                  value=LAYER_COLOURS,
                                  tooltip="colour the tracks by a statistic (the layer's "
                                  "colormap, spanning the tracks shown)")
        self.units_label = Label(value="")
        self.colour_label = Label(value="", visible=False)
        self.status = Label(value="")
        for spin, unset in ((self.pixel_size, "none (px)"), (self.frame_interval, "none (frames)")):
            spin.native.setDecimals(4)
            spin.native.setSpecialValueText(unset)    # shown at 0
        self.extend([self.layer, self.pixel_size, self.frame_interval, *self.lags,
                     self.min_length, self.colour_by, self.colour_label, self.units_label,
                     self.status])
        for lab in (self.units_label, self.colour_label, self.status):
            lab.native.setWordWrap(True)

        self.model = StatsModel()
        self.rows = LengthFilter(self.model)
        self.rows.set_min_length(self.min_length.value)
        self.table = QTableView()
        self.table.setModel(self.rows)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)   # by track id until the user sorts
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        vheader, hheader = self.table.verticalHeader(), self.table.horizontalHeader()
        if vheader is not None:
            vheader.hide()
        if hheader is not None:
            hheader.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            hheader.setResizeContentsPrecision(64)   # size columns on 64 rows, not all
        self.table.setMinimumHeight(160)
        # napari's stylesheet pads cells generously; tighter cells fit the dock's width
        self.table.setStyleSheet("QHeaderView::section { padding: 1px 4px; } "
                                 "QTableView::item { padding: 0px 4px; }")
        self.figure = Figure(figsize=(3.6, 2.6), dpi=90)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(230)
        self.native.layout().addWidget(self.table)
        self.native.layout().addWidget(self.canvas)

        self.stats: TrackStatistics | None = None
        self._stats_layer: Any = None      # the layer ``stats`` describes
        self._watched: Any = None
        self._seq = 0                      # discards results of superseded computations
        self._applying = False
        self._job: Job[TrackStatistics] | None = None
        self.layer.changed.connect(self._layer_changed)
        self.pixel_size.changed.connect(self.refresh)
        self.frame_interval.changed.connect(self.refresh)
        for w in self.lags:
            w.changed.connect(self.refresh)
        self.min_length.changed.connect(self._filter_changed)
        self.colour_by.changed.connect(self._colour_changed)
        selection = self.table.selectionModel()
        assert selection is not None
        selection.selectionChanged.connect(self._selection_changed)
        self.native.destroyed.connect(self._forget)
        self._layer_changed(self.layer.value)

    # --- layer ---------------------------------------------------------------------
    def _tracks_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Tracks as TracksLayer

        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, TracksLayer) and mpt_meta(layer).get("kind") != "link_errors"]

    def reset_choices(self, *args: Any) -> None:
        super().reset_choices(*args)
        # the menu does not always say when its layer was deleted (no choices left)
        if self.layer.value is not self._watched:
            self._layer_changed(self.layer.value)

    def _layer_changed(self, layer: Any) -> None:
        if layer is self._watched and self.stats is not None:
            return
        self._unwatch()
        self._watched = layer
        if layer is not None:
            layer.events.data.connect(self.refresh)
            layer.events.color_by.connect(self._layer_recoloured)
            layer.events.colormap.connect(self._layer_recoloured)
            layer.mouse_drag_callbacks.append(self._on_click)
            px, dt = layer_scale(layer)
            # set both first, then compute once
            with self.pixel_size.changed.blocked(), self.frame_interval.changed.blocked():
                self.pixel_size.value, self.frame_interval.value = px, dt
            colour = layer.color_by if layer.color_by in COLOUR_STATS else LAYER_COLOURS
            with self.colour_by.changed.blocked():
                self.colour_by.value = colour
        self.refresh()

    def _unwatch(self) -> None:
        old = self._watched
        if old is None:
            return
        old.events.data.disconnect(self.refresh)
        old.events.color_by.disconnect(self._layer_recoloured)
        old.events.colormap.disconnect(self._layer_recoloured)
        if self._on_click in old.mouse_drag_callbacks:
            old.mouse_drag_callbacks.remove(self._on_click)
        if old in self.viewer.layers and len(old.data):
            old.color_by = old.color_by     # napari's own colours again: no hidden or dimmed tracks
        self._watched = None
        self._stats_layer = None

    def _forget(self, *_: Any) -> None:
        self._seq += 1
        try:
            self._unwatch()
        except RuntimeError:   # Qt objects already gone at shutdown
            pass

    def params(self) -> StatsParams:
        return StatsParams(pixel_size=self.pixel_size.value, frame_interval=self.frame_interval.value,
                           min_length=1, **{w.name: w.value for w in self.lags})

    # --- computing -----------------------------------------------------------------
    def _tracks(self, layer: Any) -> Tracks:
        """The layer's tracks with anisotropic spatial scales folded into the coordinates,
        so one pixel size (the last axis's) applies to all axes."""
        tracks = tracks_from_layer(layer)
        spatial = np.asarray(layer.scale, dtype=np.float64)[1:]
        ratio = spatial / spatial[-1]
        if np.allclose(ratio, 1.0):
            return tracks
        return Tracks(tracks.track_id, tracks.frame, tracks.coords * ratio, tracks.detection)

    def refresh(self, *_: Any) -> None:
        """Recompute the statistics of the chosen layer on a worker thread."""
        self._seq += 1
        seq = self._seq
        layer = self.layer.value
        if layer is None:
            self._show(None, None)
            self.status.value = "no Tracks layer: track some spots or open a tracks CSV"
            return
        try:
            params = self.params()
            tracks = self._tracks(layer)
        except MPTError as exc:
            self._show(None, None)
            self.status.value = str(exc)
            return
        self.status.value = f"computing statistics of {len(tracks.ids())} tracks…"

        def done(result: TrackStatistics) -> None:
            if seq == self._seq:   # else the layer or a setting changed: a newer run follows
                self._show(result, layer)

        def refused(error: MPTError) -> None:
            if seq == self._seq:
                self._show(None, None)
                self.status.value = str(error)

        self._job = Job(lambda _control: track_statistics(tracks, params), on_done=done,
                        on_refused=refused).start()

    @property
    def busy(self) -> bool:
        """True while a computation runs (tests wait on it)."""
        return self._job is not None and self._job.running

    # --- showing -------------------------------------------------------------------
    def _show(self, stats: TrackStatistics | None, layer: Any) -> None:
        self.stats, self._stats_layer = stats, layer
        self._fill_table()
        units = stats.units if stats is not None else Units()
        scale = ("from the layer's scale" if layer is None
                 or layer_scale(layer) == (self.pixel_size.value, self.frame_interval.value)
                 else "as set above")
        shown = ", ".join(f"{HEADERS[c]} {_pretty(units.of(c))}" for c in TABLE_COLUMNS if units.of(c))
        self.units_label.value = f"units {scale}: {shown}"
        if stats is not None:
            self.status.value = f"{len(stats)} tracks"
            if self.colour_by.value != LAYER_COLOURS:
                self._write_features()
                self._set_color_by(self.colour_by.value)
        self._filter_changed()

    def _fill_table(self) -> None:
        self.model.set_stats(self.stats)

    def visible_mask(self) -> np.ndarray:
        """Which rows of ``stats`` pass the length filter."""
        if self.stats is None:
            return np.zeros(0, dtype=bool)
        return self.stats["n_points"] >= self.min_length.value

    def _filter_changed(self, *_: Any) -> None:
        self.rows.set_min_length(self.min_length.value)
        mask = self.visible_mask()
        if self.stats is not None:
            shown = int(mask.sum())
            self.status.value = (f"{shown} of {len(self.stats)} tracks shown"
                                 + (f" ({len(self.stats) - shown} shorter than "
                                    f"{self.min_length.value} points hidden)"
                                    if shown < len(self.stats) else ""))
        self._plot()
        self.apply_colours()

    def shown_ids(self) -> list[int]:
        """Track ids of the table's rows, top to bottom (sorted and filtered as shown)."""
        return [int(self.rows.index(r, 0).data(StatsModel.VALUE_ROLE)) for r in range(self.rows.rowCount())]

    def cell(self, row: int, column: str) -> float:
        """The number in a shown row (0 = top) and column."""
        return float(self.rows.index(row, TABLE_COLUMNS.index(column)).data(StatsModel.VALUE_ROLE))

    def _plot(self) -> None:
        self.figure.clear()
        ax = self.figure.add_subplot()
        mask = self.visible_mask()
        if self.stats is not None and mask.any():
            plot_msd(ax, self.stats.ensemble(mask))
        else:
            ax.text(0.5, 0.5, "no tracks to plot", ha="center", va="center", transform=ax.transAxes)
        ax.tick_params(labelsize="small")
        self.figure.tight_layout()
        self.canvas.draw_idle()

    def selected_ids(self) -> list[int]:
        selection = self.table.selectionModel()
        if selection is None or self.stats is None:
            return []
        rows = sorted({self.rows.mapToSource(i).row() for i in selection.selectedRows()})
        return [int(self.stats["track_id"][r]) for r in rows]

    def select_track(self, track_id: int) -> bool:
        """Select the row of ``track_id`` (False when it has no shown row)."""
        if self.stats is None:
            return False
        hit = np.flatnonzero(self.stats["track_id"] == int(track_id))
        if not len(hit):
            return False
        index = self.rows.mapFromSource(self.model.index(int(hit[0]), 0))
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def _selection_changed(self, *_: Any) -> None:
        ids = self.selected_ids()
        layer = self._stats_layer
        if ids and layer is not None and self.stats is not None:
            self.viewer.layers.selection.active = layer   # so a click on the canvas reaches it
            self._show_time_of(ids[0])
        self.apply_colours()

    def _show_time_of(self, track_id: int) -> None:
        """Move the time slider to the track's last frame when its span is out of view."""
        layer, stats = self._stats_layer, self.stats
        assert layer is not None and stats is not None
        i = int(np.flatnonzero(stats["track_id"] == track_id)[0])
        axis = self.viewer.dims.ndim - layer.ndim          # the layer's time axis in the viewer
        world = float(self.viewer.dims.point[axis])
        first, last = (float(stats["start_frame"][i]), float(stats["end_frame"][i]))
        scale, shift = float(layer.scale[0]), float(layer.translate[0])
        if not first * scale + shift <= world <= last * scale + shift:
            self.viewer.dims.set_point(axis, last * scale + shift)

    # --- colours on the canvas -------------------------------------------------------
    def _vertex_rows(self, layer: Any) -> np.ndarray:
        """Row of ``stats`` for each vertex of the layer (its sorted data order); -1 none."""
        assert self.stats is not None
        tid = np.asarray(layer.data)[:, 0].astype(np.int64)
        ids = self.stats["track_id"]
        pos = np.clip(np.searchsorted(ids, tid), 0, max(len(ids) - 1, 0))
        return np.where((len(ids) > 0) & (ids[pos] == tid), pos, -1) if len(ids) else np.full(len(tid), -1)

    def _write_features(self) -> None:
        """Per-track statistics as per-vertex features of the layer (kept: its own)."""
        layer, stats = self._stats_layer, self.stats
        if layer is None or stats is None:
            return
        rows = self._vertex_rows(layer)
        feats = {str(k): np.asarray(layer.features[k]) for k in layer.features.columns}
        for name in COLOUR_STATS:
            col = np.asarray(stats[name], dtype=np.float64)
            feats[name] = np.where(rows >= 0, col[np.maximum(rows, 0)], np.nan)
        self._applying = True
        try:
            layer.features = feats
        finally:
            self._applying = False

    def _colour_changed(self, value: str) -> None:
        layer = self._stats_layer
        if layer is None or self.stats is None:
            return
        if value != LAYER_COLOURS:
            self._write_features()
            self._set_color_by(value)
        elif layer.color_by in COLOUR_STATS:
            self._set_color_by("track_id")
        self.apply_colours()

    def _set_color_by(self, name: str) -> None:
        self._applying = True
        try:
            self._stats_layer.color_by = name
        finally:
            self._applying = False

    def _layer_recoloured(self, *_: Any) -> None:
        if self._applying:
            return
        layer = self._stats_layer
        chosen = self.colour_by.value
        if chosen != LAYER_COLOURS and layer is not None and chosen not in layer.features.columns:
            return   # new data dropped our features; the recomputation re-applies the choice
        if layer is not None:   # the user picked a colouring in the layer's own controls
            value = layer.color_by if layer.color_by in COLOUR_STATS else LAYER_COLOURS
            with self.colour_by.changed.blocked():
                self.colour_by.value = value
        self.apply_colours()

    def apply_colours(self) -> None:
        """Colour (when colouring by a statistic), hide filtered tracks and dim unselected
        ones by setting the layer's ``track_colors``."""
        layer, stats = self._stats_layer, self.stats
        if layer is None or stats is None or self._applying:
            return
        if len(layer.data) == 0 or len(stats) == 0:
            return
        from napari.utils.colormaps import AVAILABLE_COLORMAPS

        rows = self._vertex_rows(layer)
        mask = self.visible_mask()
        self._applying = True
        try:
            layer.color_by = layer.color_by    # napari's own colours as the base
            colours = np.array(layer.track_colors, dtype=np.float32, copy=True)
            stat = self.colour_by.value
            if stat != LAYER_COLOURS and layer.color_by == stat:
                value = np.asarray(stats[stat], dtype=np.float64)
                finite = np.isfinite(value) & mask
                lo, hi = (value[finite].min(), value[finite].max()) if finite.any() else (0.0, 1.0)
                norm = np.clip((value - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
                cmap = AVAILABLE_COLORMAPS[layer.colormap]
                per_track = np.asarray(cmap.map(np.nan_to_num(norm)), dtype=np.float32)
                per_track[~np.isfinite(value)] = (0.5, 0.5, 0.5, 1.0)   # no value: grey
                colours = per_track[np.maximum(rows, 0)]
                self.colour_label.value = (f"colour: {HEADERS[stat] if stat in HEADERS else stat} "
                                           f"from {_fmt(lo)} to {_fmt(hi)} ({layer.colormap}); "
                                           "grey: no value")
                self.colour_label.visible = True
            else:
                self.colour_label.visible = False
            alpha = np.ones(len(rows), dtype=np.float32)
            selected = self.selected_ids()
            if selected:
                alpha[~np.isin(np.asarray(layer.data)[:, 0].astype(np.int64), selected)] = DIM
            hidden = (rows < 0) | ~mask[np.maximum(rows, 0)]
            alpha[hidden] = 0.0
            colours[:, 3] = alpha
            layer.track_colors = colours
        finally:
            self._applying = False

    # --- picking on the canvas -------------------------------------------------------
    def track_at(self, world_position: Any) -> int | None:
        """The track drawn nearest ``world_position`` (time, [z,] y, x) at that time, tail
        included, within :data:`PICK_PX` screen pixels in the (y, x) view; None when none is."""
        layer = self._stats_layer
        if layer is None or len(layer.data) == 0:
            return None
        data = np.asarray(layer.data, dtype=np.float64)
        pos = np.asarray(layer.world_to_data(world_position), dtype=np.float64)
        t = pos[0]
        drawn = (data[:, 1] <= t + layer.head_length) & (data[:, 1] >= t - layer.tail_length)
        if self.stats is not None:
            rows = self._vertex_rows(layer)
            drawn &= (rows >= 0) & self.visible_mask()[np.maximum(rows, 0)]
        if not drawn.any():
            return None
        spatial_scale = np.asarray(layer.scale, dtype=np.float64)[1:]
        n_space = data.shape[1] - 2
        shown = [n_space - 2, n_space - 1]     # the displayed (y, x) of a 2D view
        d = (data[drawn][:, 2:] - pos[1:])[:, shown] * spatial_scale[shown]
        dist = np.sqrt((d * d).sum(axis=1))
        best = int(np.argmin(dist))
        zoom = self._zoom()
        if dist[best] * zoom > PICK_PX:
            return None
        return int(data[drawn][best, 0])

    def _zoom(self) -> float:
        """Screen pixels per world unit (napari >= 0.9 keeps the camera on the scene)."""
        scene = getattr(self.viewer, "scene", None)
        camera = scene.camera if scene is not None else self.viewer.camera
        return float(camera.zoom) or 1.0

    def _on_click(self, layer: Any, event: Any) -> Any:
        """A click without drag on the layer (2D view) selects the track's row."""
        if getattr(event, "button", 1) != 1 or self.viewer.dims.ndisplay != 2:
            return
        start = np.asarray(event.position, dtype=np.float64)
        yield
        while event.type == "mouse_move":
            yield
        moved = np.abs(np.asarray(event.position) - start).max() * self._zoom()
        if moved < 3:
            tid = self.track_at(event.position)
            if tid is not None:
                self.select_track(tid)
