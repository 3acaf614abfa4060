"""The Track dock widget: run MHT, a transformer or LAP on a Points layer, show what it got.

Tracking and scoring are the core's (:func:`napari_mpt.api.track`,
:func:`napari_mpt.api.evaluate`) and run on a napari thread worker, so the viewer stays
responsive; the widget turns their results into layers, a readout and a table of every
run on the current detections.  A run that cannot start, fails on its input or is
cancelled leaves every layer as it was and says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, Label, ProgressBar, PushButton, Table

from ..errors import Cancelled, InputError, MPTError
from ..io import with_detection_positions
from ..params import LAPParams, MHTParams
from ._worker import JobOutput, TrackingJob
from .controls import ParamForm
from .layers import (
    KEY,
    axis_labels,
    detections_from_points,
    error_colormaps,
    link_error_data,
    mpt_meta,
    result_layer_data,
    set_tracks,
    track_colormap,
    tracks_from_layer,
)
from .messages import Level, notify
from .runs import COLUMNS, RunHistory, RunRecord, detections_key
from .transformer_controls import TransformerControls

if TYPE_CHECKING:
    import napari

MHT, TRANSFORMER, LAP = "MHT", "Transformer", "LAP"
MHT_FIELDS = ("lookback", "motion_model", "process_noise", "measurement_noise",
              "velocity_prior", "mode", "smooth")
MHT_LABELS = {"lookback": "lookback K", "motion_model": "motion model",
              "process_noise": "eta'", "measurement_noise": "nu'",
              "velocity_prior": "velocity prior", "mode": "search",
              "smooth": "smoothed positions"}
LAP_LABELS = {"max_link_distance": "max link distance", "gap_closing_frames": "gap frames",
              "gap_closing_distance": "gap distance"}
OUTPUT_KINDS = ("result", "link_errors")
ERROR_TAIL = 5   # frames a link error stays drawn after the frame it arrives in


class TrackWidget(Container):
    """Input layer, method and its settings, Run/Cancel, progress, readout, run table."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.input = ComboBox(label="detections", choices=self._points_choices,
                              tooltip="any Points layer whose first axis is time (t, y, x)")
        self.truth = ComboBox(label="ground truth", choices=self._truth_choices, nullable=True,
                              tooltip="Tracks layer to score against (none: no scoring)")
        self.method = ComboBox(label="method", choices=[MHT, TRANSFORMER, LAP], value=MHT)
        self.mht = ParamForm(MHTParams, MHT_FIELDS, labels=MHT_LABELS, sliders=("lookback",),
                             maxima={"lookback": 16})
        self.transformer = TransformerControls(visible=False)
        self.lap = ParamForm(LAPParams, labels=LAP_LABELS, visible=False)
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(min=0, max=100, value=0, label="progress")
        self.status = Label(value="")
        self.readout = Label(value="")
        self.table = Table(value={"data": [], "index": [], "columns": list(COLUMNS)})
        self.table.read_only = True
        self.table.native.verticalHeader().hide()
        header = Container(widgets=[self.input, self.truth, self.method])
        buttons = Container(widgets=[self.run_button, self.cancel_button], layout="horizontal",
                            labels=False)
        self.extend([header, self.mht, self.transformer, self.lap, buttons, self.progress, self.status,
                     self.readout, self.table])

        self.history = RunHistory()
        self._job: TrackingJob | None = None
        self._pending: dict[str, Any] = {}
        self._watched: Any = None
        self.method.changed.connect(self._method_changed)
        self.input.changed.connect(self._input_changed)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.native.destroyed.connect(self._cancel_silently)
        self._input_changed(self.input.value)

    # --- layer menus ---------------------------------------------------------------
    def _points_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Points

        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Points)]

    def _truth_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Tracks

        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, Tracks) and mpt_meta(layer).get("kind") not in OUTPUT_KINDS]

    def paired_truth(self, points: Any) -> Any:
        """The truth layer made together with ``points`` (simulation or reader), if any."""
        pair = mpt_meta(points).get("pair") if points is not None else None
        if pair is None:
            return None
        for _name, layer in self._truth_choices():
            if mpt_meta(layer).get("pair") == pair:
                return layer
        return None

    def _input_changed(self, layer: Any) -> None:
        # another layer's truth would score nonsense: take this layer's own truth, or none
        # (the user can still pick any Tracks layer afterwards)
        self.truth.value = self.paired_truth(layer)
        if self._watched is not None:
            self._watched.events.data.disconnect(self.refresh_table)
        self._watched = layer
        if layer is not None:
            layer.events.data.connect(self.refresh_table)
        self.refresh_table()

    def reset_choices(self, *args: Any) -> None:
        super().reset_choices(*args)
        # a freshly added detections layer with its truth: score against that truth
        truth = self.paired_truth(self.input.value)
        if truth is not None and self.truth.value is None:
            self.truth.value = truth

    def _method_changed(self, method: str) -> None:
        self.mht.visible = method == MHT
        self.transformer.visible = method == TRANSFORMER
        self.lap.visible = method == LAP
        if method == TRANSFORMER and not self.transformer.loaded:
            try:
                self.transformer.refresh()
            except MPTError as exc:
                self.say(str(exc))

    # --- running -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def say(self, text: str, level: Level = "error") -> None:
        self.status.value = notify(text, level)

    def tracker_params(self) -> Any:
        if self.method.value == LAP:
            return self.lap.params()
        return self.mht.params() if self.method.value == MHT else self.transformer.params()

    def run(self) -> bool:
        """Start a run on a worker thread; False (with a message) when it cannot start."""
        if self.running:
            self.say("A run is already in progress: wait for it to finish or press Cancel.",
                     "warning")
            return False
        try:
            layer = self.input.value
            if layer is None:
                raise InputError("Track", "no Points layer to track: simulate spots, open a "
                                 "detections CSV, or add a Points layer with a time axis")
            detections = detections_from_points(layer)
            params = self.tracker_params()
            truth_layer = self.truth.value
            truth = tracks_from_layer(truth_layer) if truth_layer is not None else None
        except MPTError as exc:
            self.say(str(exc))
            return False
        self._pending = {"key": detections_key(layer.data), "params": params,
                         "detections": detections,
                         "source": mpt_meta(layer).get("pair") or layer.name}
        self._job = TrackingJob(detections, params, truth, on_progress=self._progress,
                                on_done=self._done, on_error=self._crashed,
                                on_finished=self._finished)
        self.progress.value = 0
        self.cancel_button.enabled = True
        self.status.value = f"running on {layer.name!r}…"
        self._job.start()
        return True

    def cancel(self) -> None:
        if self.running:
            self._job.cancel()   # type: ignore[union-attr]
            self.status.value = "cancelling…"

    def _cancel_silently(self, *_: Any) -> None:
        if self._job is not None:
            self._job.cancel()

    def _progress(self, done: int, total: int) -> None:
        self.progress.value = int(100 * done / total) if total else 0

    def _finished(self) -> None:
        self.cancel_button.enabled = False

    def _crashed(self, exc: BaseException) -> None:
        # a bug, not bad input: napari's worker already reported it with the traceback
        self.status.value = f"the run failed: {type(exc).__name__}: {exc}"

    def _done(self, out: JobOutput) -> None:
        if out.error is not None:
            if isinstance(out.error, Cancelled):
                self.say("Run cancelled: nothing was added and the layers are unchanged.",
                         "info")
            else:
                self.say(str(out.error))
            self.progress.value = 0
            return
        assert out.result is not None
        pending = self._pending
        record = RunRecord.from_result(pending["key"], pending["params"], out.result, out.score)
        self.history.add(record)
        self._show_layers(out, pending["source"])
        self.progress.value = 100
        self.readout.value = record.readout()
        self.readout.tooltip = record.flops_detail   # how the FLOPs were counted
        self.refresh_table()
        if out.score_error:
            self.say(f"tracked, but not scored: {out.score_error}", "warning")
        else:
            self.status.value = f"done: {record.label}"

    # --- output layers -------------------------------------------------------------
    def _output_layer(self, kind: str, label: str, source: str) -> Any:
        for layer in self.viewer.layers:
            m = mpt_meta(layer)
            if m.get("kind") == kind and m.get("label") == label and m.get("source") == source:
                return layer
        return None

    def _put_tracks(self, kind: str, name: str, label: str, source: str, data: Any,
                    features: dict, **kwargs: Any) -> Any:
        """Update this run's layer of ``kind`` in place, or add it."""
        layer = self._output_layer(kind, label, source)
        if layer is not None:
            set_tracks(layer, data, features)
            return layer
        meta = {KEY: {"kind": kind, "label": label, "source": source}}
        return self.viewer.add_tracks(data, features=features, name=name, metadata=meta,
                                      colormaps_dict=error_colormaps(),
                                      axis_labels=axis_labels(data.shape[1] - 2), **kwargs)

    def _show_layers(self, out: JobOutput, source: str) -> None:
        result = out.result
        assert result is not None
        # the detection each vertex took, beside the estimate: saved by the writer too
        tracks = with_detection_positions(result.tracks, self._pending["detections"])
        data, feats = result_layer_data(tracks, out.score)
        self._put_tracks("result", result.label, result.label, source, data, feats,
                         tail_width=3, tail_length=30, colormap=track_colormap())
        if out.score is None:
            return
        errors = link_error_data(out.score)
        existing = self._output_layer("link_errors", result.label, source)
        if errors is None:
            if existing is not None:
                self.viewer.layers.remove(existing)
            return
        self._put_tracks("link_errors", f"{result.label} link errors", result.label, source,
                         *errors, color_by="error_type", tail_width=6, tail_length=ERROR_TAIL,
                         blending="translucent_no_depth")

    def refresh_table(self, *_: Any) -> None:
        """Show the runs on the detections the input layer holds now."""
        layer = self.input.value
        key = detections_key(layer.data) if layer is not None else None
        rows = [list(r.cells()) for r in self.history.for_key(key)]
        self.table.value = {"data": rows, "index": list(range(len(rows))),
                            "columns": list(COLUMNS)}
        self.table.native.resizeColumnsToContents()
