"""The Track dock widget: run MHT, a transformer, LAP or the hybrid on a Points layer, show
what it got.

Tracking and scoring are the core's (:func:`napari_mpt.api.track`,
:func:`napari_mpt.api.evaluate`) and run on a napari thread worker, so the viewer stays
responsive; the widget turns their results into layers, a readout and a table of every
run on the current detections.  A run that cannot start, fails on its input or is
cancelled leaves every layer as it was and says why.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton, Table

from ..api import TRACKERS
from ..core.errors import Cancelled, CheckpointError, InputError, MPTError
from ..core.params import HybridParams, LAPParams, MHTParams, SimulationParams, known_priors
from ..io import with_detection_positions
from .controls import ESTIMATE, ParamForm
from .docks import ScrollingContainer
from .grid import overlay, side_by_side
from .job import Job, TimeLeft
from .layers import (
    KEY,
    TAIL_LENGTH,
    axis_labels,
    dataset_of,
    detections_from_points,
    error_colormap_name,
    error_colormaps,
    link_error_data,
    mpt_meta,
    result_layer_data,
    set_tracks,
    track_colormap,
    tracks_from_layer,
    with_spot_features,
)
from .messages import Level, breakable, notify, plain, wrap_label
from .reader import offer_csv_reader
from .runs import (
    COLUMNS,
    TOOLTIPS,
    RunHistory,
    RunRecord,
    detections_key,
    run_label,
    seconds,
    table_columns,
)
from .step_histogram import StepHistogram
from .tracking import JobOutput, run_tracking, uneven_frames
from .transformer_controls import ASSOCIATION, MENUS, Menus, TransformerControls
from .trust_layers import TRUST_EVENTS, with_trust

if TYPE_CHECKING:
    import napari

MHT, TRANSFORMER, LAP, HYBRID = "mht", "transformer", "lap", "hybrid"   # TRACKERS' keys
MHT_FIELDS = ("lookback", "motion_model", "process_noise", "measurement_noise",
              "detection_probability", "clutter_density", "birth_density", "max_gap",
              "velocity_prior", "mode", "smooth", "link_confidence")
MHT_LABELS = {"lookback": "lookback K", "motion_model": "motion model",
              "process_noise": "eta'", "measurement_noise": "nu'",
              "detection_probability": "detection probability P_D",
              "clutter_density": "clutter /px^D/frame", "birth_density": "births /px^D/frame",
              "max_gap": "max gap (frames)", "velocity_prior": "velocity prior", "mode": "search",
              "smooth": "smoothed positions"}
PRIOR_FIELDS = ("process_noise", "measurement_noise", "detection_probability",
                "clutter_density", "birth_density")
FROM_SIMULATION = "noise and detection priors: from the simulation (known priors)"
FROM_DATA = "noise and detection priors: 'estimate' = estimated from the data"
LAP_LABELS = {"max_link_distance": "max link distance", "gap_closing_frames": "gap frames",
              "gap_closing_distance": "gap distance"}
# the hybrid: the MHT's settings (its exact search only) and which links the association
# transformer's scores let into the MHT's trees
HYBRID_FIELDS = (*(f for f in MHT_FIELDS if f != "mode"), "min_score", "top_links",
                 "checkpoint", "device")
HYBRID_LABELS = {**MHT_LABELS, "min_score": "keep links scoring >=",
                 "top_links": "and each spot's best", "checkpoint": "scores from"}
OUTPUT_KINDS = ("result", "link_errors")
DATA_KINDS = ("detections", "truth")
ERROR_TAIL = 5   # frames a link error stays drawn after the frame it arrives in
PRELOAD_DELAY_MS = 1000
KEEP, REPLACE = "keep every run", "replace the last run"
# where each method's form sets the command line's --checkpoint
CHECKPOINT_CONTROLS = {TRANSFORMER: "the checkpoint menu", HYBRID: "'scores from'"}
LEGEND = "link errors:\nmagenta = wrong link made (FP)\ncyan = true link missed (FN)"


POSITION_ERRORS = "by position (link Jaccard)"
EDGE_ERRORS = "traccuracy's edge flags"


class TrackWidget(ScrollingContainer):
    """Input layer, method and its settings, Run/Cancel, progress, readout, run table."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, menus: Menus = MENUS):
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.input = ComboBox(label="detections", choices=self._points_choices,
                              tooltip="any Points layer whose first axis is time (t, y, x)")
        self.truth = ComboBox(label="ground truth", choices=self._truth_choices, nullable=True,
                              tooltip="Tracks layer to score against (none: no scoring)")
        self.errors_from = ComboBox(
            label="link errors", value=POSITION_ERRORS, choices=[POSITION_ERRORS, EDGE_ERRORS],
            tooltip="which matching draws the FP / FN links layer of the runs made from now "
            "on: the link Jaccard's (links matched by their positions) or traccuracy's edge "
            "flags (its PointMatcher)")
        self.method = ComboBox(label="method", value=MHT, choices=[
            (t.title, m) for m, t in TRACKERS.items()])
        self.rerun = ComboBox(label="new run", choices=[KEEP, REPLACE], value=KEEP,
                              tooltip="keep every run (a run with other settings gets its own "
                              "layer and row, labelled by what differs), or let the next run "
                              "replace the last one's layers and row")
        self.grid = CheckBox(text="side by side", value=False,
                             tooltip="one grid panel per run on these detections (with its link "
                             "errors and a legend), the data in the first; unticked: the runs "
                             "lie on top of each other")
        self.mht = ParamForm(MHTParams, MHT_FIELDS, labels=MHT_LABELS, sliders=("lookback",),
                             maxima={"lookback": 16})
        # where the MHT's priors come from: the Simulate widget's own parameters when the
        # detections are its simulation (the paper's known priors), else the data
        self.priors_note = wrap_label(Label(value=FROM_DATA))
        self._priors_of: Any = None   # the simulation the MHT priors were taken from
        self.transformer = TransformerControls(menus, visible=False)
        self.lap = ParamForm(LAPParams, labels=LAP_LABELS, visible=False)
        self.hybrid = ParamForm(HybridParams, HYBRID_FIELDS, labels=HYBRID_LABELS,
                                sliders=("lookback",), maxima={"lookback": 16}, visible=False)
        # one form per tracker of the registry: these four have their own, any other the
        # plain form of its parameter class
        own = {MHT: self.mht, TRANSFORMER: self.transformer, LAP: self.lap, HYBRID: self.hybrid}
        self.forms: dict[str, Any] = {m: own.get(m) or ParamForm(t.params, visible=False)
                                      for m, t in TRACKERS.items()}
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(min=0, max=100, value=0, label="progress")
        self.timing = wrap_label(Label(value=""))
        self.status = wrap_label(Label(value=""))
        self.readout = wrap_label(Label(value=""))
        self.steps = StepHistogram()     # the last run's linked step lengths
        self.table = Table(value={"data": [], "index": [], "columns": list(COLUMNS)})
        self.table.read_only = True
        # the run label is the row header: it stays in view when the table scrolls sideways
        from qtpy.QtCore import Qt

        self.table.native.verticalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.native.setMinimumSize(50, 110)   # a few rows always in view
        header = Container(widgets=[self.input, self.truth, self.errors_from, self.method,
                                    self.rerun, self.grid])
        buttons = Container(widgets=[self.run_button, self.cancel_button], layout="horizontal",
                            labels=False)
        self.extend([header, self.mht, self.priors_note,
                     *(f for m, f in self.forms.items() if m != MHT), buttons,
                     self.progress,
                     self.timing, self.status, self.readout, self.steps, self.table])
        self.grow(self.table)

        self.history = RunHistory()
        self._job: Job[JobOutput] | None = None
        self._pending: dict[str, Any] = {}
        self._watched: Any = None
        self._source: Any = None
        self._started = 0.0
        self._time_left = TimeLeft()
        self._ticker = self._make_ticker()
        self.method.changed.connect(self._method_changed)
        self.input.changed.connect(self._input_changed)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.grid.changed.connect(self._grid_changed)
        self.native.destroyed.connect(self._cancel_silently)
        self.viewer.layers.events.inserted.connect(self._layer_added)
        self.native.destroyed.connect(self._disconnect)
        TRUST_EVENTS.changed.connect(self.refresh_table)
        self._input_changed(self.input.value)
        # torch's import on a background thread, not when the user needs it; started once
        # the dock is up, so that it does not compete with docking for the GIL
        from qtpy.QtCore import QTimer

        QTimer.singleShot(PRELOAD_DELAY_MS, menus.preload)
        offer_csv_reader(napari_viewer)   # File > Open: CSVs through this plugin?

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
            self._watched.events.data.disconnect(self._priors_from_input)
        self._watched = layer
        if layer is not None:
            layer.events.data.connect(self.refresh_table)
            layer.events.data.connect(self._priors_from_input)
        self.refresh_table()
        runs = self.history.for_key(detections_key(layer.data)) if layer is not None else []
        self._show_readout(runs[-1] if runs else None)
        if trackable(layer) and layer is not self._source:
            self._source = layer
            self.show_dataset(layer)
            if self.grid.value:
                self.arrange()
        self._priors_from_input()
        self._suit_checkpoint()

    def _priors_from_input(self, *_: Any) -> None:
        """Start the MHT's priors from the input's simulation (the Simulate widget's
        parameters), or at "estimate" for other data; done again only when the input's
        simulation changes, so the user's edits otherwise stay."""
        layer = self.input.value
        sim = mpt_meta(layer).get("simulation") if layer is not None else None
        sim = sim or None
        if sim == self._priors_of:
            return
        self._priors_of = sim
        priors: dict[str, Any] = {}
        note = FROM_DATA
        if sim is not None:
            try:
                params = SimulationParams(**sim)
                priors = dict(known_priors(params))
                note = FROM_SIMULATION + densities_note(params)
            except (MPTError, TypeError):   # a simulation record this version cannot read
                priors = {}
        for name in PRIOR_FIELDS:
            for form in (self.mht, self.hybrid):
                form[name].value = f"{priors[name]:.4g}" if name in priors else ESTIMATE
        self.priors_note.value = note

    def _disconnect(self, *_: Any) -> None:
        self.viewer.layers.events.inserted.disconnect(self._layer_added)
        TRUST_EVENTS.changed.disconnect(self.refresh_table)

    def _layer_added(self, event: Any) -> None:
        """Follow new data: new detections become the input, their truth its truth."""
        from napari.layers import Points, Tracks

        layer = event.value
        if isinstance(layer, Points) and trackable(layer):
            self.input.reset_choices()
            self.input.value = layer
        elif isinstance(layer, Tracks) and mpt_meta(layer).get("kind") == "truth":
            pair = mpt_meta(self.input.value).get("pair") if self.input.value else None
            if pair is not None and mpt_meta(layer).get("pair") == pair:
                self.truth.reset_choices()
                self.truth.value = layer

    def dataset(self, layer: Any) -> str:
        """What a run's layers are grouped by: the detections' pair id, or their name."""
        return dataset_of(layer)

    def show_dataset(self, layer: Any) -> None:
        """Show ``layer``'s data and results, hide (never delete) other datasets' ones, and
        move the time slider into its frames."""
        source = self.dataset(layer)
        pair = mpt_meta(layer).get("pair")
        for other in self.viewer.layers:
            m = mpt_meta(other)
            if m.get("kind") in OUTPUT_KINDS:
                other.visible = m.get("source") == source
            elif m.get("kind") in DATA_KINDS and m.get("pair") is not None:
                other.visible = m.get("pair") == pair
        layer.visible = True
        truth = self.truth.value
        if truth is not None:
            truth.visible = True
        self._into_frames(layer)

    def _into_frames(self, layer: Any) -> None:
        data = np.asarray(layer.data)
        if not trackable(layer) or self.viewer.dims.ndim < layer.ndim:
            return
        axis = self.viewer.dims.ndim - layer.ndim   # the layer's time axis in the viewer
        lo, hi = float(np.nanmin(data[:, 0])), float(np.nanmax(data[:, 0]))
        now = float(self.viewer.dims.point[axis])
        if not lo <= now <= hi:
            self.viewer.dims.set_point(axis, hi if now > hi else lo)

    def reset_choices(self, *args: Any) -> None:
        super().reset_choices(*args)
        # a freshly added detections layer with its truth: score against that truth
        truth = self.paired_truth(self.input.value)
        if truth is not None and self.truth.value is None:
            self.truth.value = truth

    def _grid_changed(self, on: bool) -> None:
        if on:
            self.arrange()
        else:
            overlay(self.viewer)

    def arrange(self) -> bool:
        """The runs on the input side by side (the box ticked); says why when they cannot be."""
        if side_by_side(self.viewer, self.input.value):
            return True
        with self.grid.changed.blocked():
            self.grid.value = False
        self.say("side by side needs two runs or more on these detections: run another "
                 "method or other settings (new run: keep every run)", "warning")
        return False

    def _method_changed(self, method: str) -> None:
        for m, form in self.forms.items():
            form.visible = m == method
        self.priors_note.visible = TRACKERS[method].priors
        if method == TRANSFORMER and not self.transformer.loaded:
            # the menus need the transformer module (torch): asked on a worker thread
            self.status.value = "loading the transformer's checkpoints and devices…"
            self.transformer.load(on_done=self._transformer_loaded,
                                  on_error=lambda exc: self.say(str(exc)))
        self._suit_checkpoint()

    def _transformer_loaded(self) -> None:
        if self.status.value.startswith("loading the transformer"):
            self.status.value = ""
        self._suit_checkpoint()

    def _uneven(self) -> str | None:
        """Why the input does not suit an encoder-decoder checkpoint, if it does not."""
        layer = self.input.value
        data = getattr(layer, "data", None)
        if data is None or getattr(data, "ndim", 0) != 2 or data.shape[1] < 3:
            return None
        return uneven_frames(np.round(np.asarray(data[:, 0], dtype=np.float64)))

    def _suit_checkpoint(self, *_: Any) -> None:
        """Transformer on detections whose counts differ between frames: take the
        association checkpoint instead of an encoder-decoder one, and say so."""
        if self.method.value != TRANSFORMER or not self.transformer.loaded:
            return
        reason = self._uneven()
        if reason is not None and self.transformer.choose_any_count():
            self.say(f"checkpoint {ASSOCIATION!r} chosen: {reason}, and the encoder-decoder "
                     "checkpoints need the same number in every frame (command line: "
                     f"--checkpoint {ASSOCIATION})", "info")

    # --- running -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def say(self, text: str, level: Level = "error") -> None:
        """Show ``text`` whole: wrapped in the status line, and as a notification."""
        self.status.value = breakable(notify(text, level))
        self.reveal(self.status)

    @property
    def message(self) -> str:
        """The status line's text as written."""
        return plain(self.status.value)

    def _show_readout(self, record: RunRecord | None) -> None:
        if record is None:
            self.steps.draw("", None)
        self.readout.value = record.readout() if record is not None else ""
        self.readout.tooltip = record.flops_detail if record is not None else ""

    def _make_ticker(self) -> Any:
        from qtpy.QtCore import QTimer

        timer = QTimer(self.native)
        timer.setInterval(500)
        timer.timeout.connect(self._tick)
        return timer

    def _tick(self) -> None:
        self._show_timing()

    def _show_timing(self) -> None:
        """Elapsed time and the time left, estimated from the work done (:class:`TimeLeft`)."""
        left = self._time_left.seconds()
        self.timing.value = (f"elapsed {seconds(time.monotonic() - self._started)} · "
                             + ("estimating the time left…" if left is None
                                else f"about {seconds(left)} left"))

    def tracker_params(self) -> Any:
        return self.forms[self.method.value].params()

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
            self._check_fixed_count()
            params = self.tracker_params()
            truth_layer = self.truth.value
            truth = tracks_from_layer(truth_layer) if truth_layer is not None else None
        except MPTError as exc:
            self._show_readout(None)    # the readout never shows a run other than the named
            self.say(str(exc))
            return False
        self._pending = self._pending_for(layer, detections, params)
        self._job = Job(lambda control: run_tracking(detections, params, truth, control),
                        on_done=self._done, on_refused=self._refused,
                        on_progress=self._progress, on_error=self._crashed,
                        on_finished=self._finished)
        self.progress.value = 0
        self.cancel_button.enabled = True
        self.status.value = breakable(f"running {TRACKERS[self.method.value].title} on "
                                      f"{layer.name!r}…")
        self._show_readout(None)
        self._started = time.monotonic()
        self._time_left = TimeLeft()
        self._show_timing()
        self._ticker.start()
        self._job.start()
        return True

    def _check_fixed_count(self) -> None:
        """Refuse an encoder-decoder checkpoint on detections it cannot take, naming the
        menu entry that can (and the command line's flag)."""
        reason = self._uneven() if self.method.value == TRANSFORMER else None
        if reason is not None and self.transformer.loaded and self.transformer.fixed_count():
            raise CheckpointError(
                f"Transformer: {reason}, and the encoder-decoder checkpoint "
                f"{self.transformer.checkpoint.value!r} needs the same number of spots in "
                f"every frame: choose {ASSOCIATION!r} in the checkpoint menu (command line: "
                f"--checkpoint {ASSOCIATION}); layer {self.input.value.name!r}")

    def _pending_for(self, layer: Any, detections: Any, params: Any) -> dict[str, Any]:
        """What a run on ``layer`` needs when it is done."""
        return {"key": detections_key(layer.data), "params": params,
                "detections": detections, "dataset": layer.name,
                "source": dataset_of(layer), "layer": layer}

    def add_run(self, out: JobOutput, params: Any, layer: Any) -> None:
        """A run made elsewhere on ``layer``'s detections (the Review dock's re-solve with
        the user's links fixed): its layers and table row, as if run here."""
        if self.running:        # a run of this widget owns the pending state
            self.say(f"{out.result.label}: not added while a run is in progress; re-solve "
                     "again once it is done", "warning")
            return
        self._pending = self._pending_for(layer, detections_from_points(layer), params)
        self._started = time.monotonic()
        self._done(out)

    def cancel(self) -> None:
        if self.running:
            self._job.cancel()   # type: ignore[union-attr]
            self.status.value = "cancelling…"

    def _cancel_silently(self, *_: Any) -> None:
        if self._job is not None:
            self._job.cancel()

    def _progress(self, done: int, total: int) -> None:
        self.progress.value = int(100 * done / total) if total else 0
        self._time_left.report(done, total)
        self._show_timing()

    def _finished(self) -> None:
        self.cancel_button.enabled = False
        self._ticker.stop()

    def _crashed(self, exc: BaseException) -> None:
        self._ticker.stop()
        # a bug, not bad input: napari's worker already reported it with the traceback
        self._show_readout(None)
        self.status.value = breakable(f"the run failed: {type(exc).__name__}: {exc}")

    def _refused(self, error: MPTError) -> None:
        self._ticker.stop()
        if isinstance(error, Cancelled):
            self.say("Run cancelled: nothing was added and the layers are unchanged.", "info")
        else:
            self.say(in_widget_words(str(error), self.method.value))
        self.progress.value = 0
        self.timing.value = ""
        self._show_readout(None)

    def _done(self, out: JobOutput) -> None:
        self._ticker.stop()    # the timing line says the result's times from here on
        pending = self._pending
        if not len(out.result.tracks):      # never an empty layer: say so instead
            self.progress.value = 100
            self.timing.value = ""
            self.say(f"{out.result.label} found no tracks in {pending['dataset']!r}: nothing "
                     "added", "warning")
            return
        key, source = pending["key"], pending["source"]
        earlier = self.history.for_key(key)
        replaced = earlier[-1] if self.rerun.value == REPLACE and earlier else None
        if replaced is not None:
            earlier = earlier[:-1]
        label = run_label(out.result.label, RunRecord.from_result(
            key, pending["params"], out.result, None).settings, earlier)
        record = RunRecord.from_result(key, pending["params"], out.result, out.score, label)
        if replaced is not None:
            self.history.remove(replaced)
            self._relabel(replaced.label, label, source)
        self.history.add(record)
        drawing = time.monotonic()
        self._show_layers(out, label, source)
        self.progress.value = 100
        self._show_readout(record)   # its tooltip says how the FLOPs were counted
        self.steps.draw(record.label, out.result)
        self.refresh_table()
        total_s = time.monotonic() - self._started
        self.timing.value = (f"click to result {seconds(total_s)} · tracker "
                             f"{seconds(record.wall_s)} (hover: where the time went)")
        self.timing.tooltip = timing_text(total_s, out, time.monotonic() - drawing)
        if out.score_error:
            self.say(f"tracked, but not scored: {out.score_error}", "warning")
        elif record.warning:     # never silently inexact
            self.say(f"{record.label}: {record.warning}", "warning")
        else:
            self.status.value = breakable(f"done: {record.label}")
        if self.grid.value:
            self.arrange()                          # the new run gets its panel
        self.reveal(self.readout, self.table)   # the result in view, whatever the dock's size

    # --- output layers -------------------------------------------------------------
    def _output_layer(self, kind: str, label: str, source: str) -> Any:
        for layer in self.viewer.layers:
            m = mpt_meta(layer)
            if m.get("kind") == kind and m.get("label") == label and m.get("source") == source:
                return layer
        return None

    def _put_tracks(self, kind: str, label: str, source: str, data: Any, features: dict,
                    **kwargs: Any) -> Any:
        """Update this run's layer of ``kind`` in place, or add it, named after the run and
        the dataset it tracked (:func:`output_name`)."""
        layer = self._output_layer(kind, label, source)
        if layer is not None:
            set_tracks(layer, data, features)
            return layer
        dataset = self._pending["dataset"]
        meta = {KEY: {"kind": kind, "label": label, "source": source, "dataset": dataset,
                      "method": self._pending["params"].method,    # for the Review dock
                      "params": self._pending["params"].to_dict()}}
        spots = self._pending.get("layer")    # its calibration: the tracks on the spots
        place = ({"scale": tuple(spots.scale), "translate": tuple(spots.translate)}
                 if spots is not None and spots.ndim == data.shape[1] - 1 else {})
        return self.viewer.add_tracks(data, features=features, metadata=meta,
                                      name=output_name(kind, label, dataset),
                                      colormaps_dict=error_colormaps(),
                                      axis_labels=axis_labels(data.shape[1] - 2),
                                      **place, **kwargs)

    def _relabel(self, old: str, new: str, source: str) -> None:
        """The layers of run ``old`` become run ``new``'s (the user chose "replace")."""
        for kind in OUTPUT_KINDS:
            layer = self._output_layer(kind, old, source)
            if layer is not None:
                layer.metadata = {**layer.metadata, KEY: {**mpt_meta(layer), "label": new}}
                layer.name = output_name(kind, new, mpt_meta(layer).get("dataset", ""))

    def _show_layers(self, out: JobOutput, label: str, source: str) -> None:
        result = out.result
        # the detection each vertex took, beside the estimate, and that spot's own features
        # (trackpy's mass, TrackMate's QUALITY): saved by the writer too
        detections = self._pending["detections"]
        tracks = with_spot_features(with_detection_positions(result.tracks, detections),
                                    detections)
        data, feats = result_layer_data(tracks, out.score)
        self._put_tracks("result", label, source, data, feats,
                         tail_width=3, tail_length=TAIL_LENGTH, colormap=track_colormap())
        if out.score is None:
            return
        errors = link_error_data(self._error_score(out.score))
        existing = self._output_layer("link_errors", label, source)
        if errors is None:
            if existing is not None:
                self.viewer.layers.remove(existing)
            return
        # the controls name the colormap that is drawn (not napari's default "turbo")
        self._put_tracks("link_errors", label, source, *errors, color_by="error_type",
                         colormap=error_colormap_name(), tail_width=6, tail_length=ERROR_TAIL,
                         blending="translucent_no_depth")
        show_legend(self.viewer)

    def _error_score(self, score: Any) -> Any:
        """The score whose FP / FN links the errors layer draws: the link Jaccard's, or
        traccuracy's edge flags when chosen (and measured: without traccuracy installed,
        or on a run it could not score, the link Jaccard's, and the status says so)."""
        if self.errors_from.value != EDGE_ERRORS:
            return score
        if score.traccuracy is None:
            self.say("link errors: traccuracy did not score this run; the layer shows the "
                     "link Jaccard's errors", "warning")
            return score
        return score.traccuracy

    def refresh_table(self, *_: Any) -> None:
        """Show the runs on the detections the input layer holds now."""
        layer = self.input.value
        key = detections_key(layer.data) if layer is not None else None
        runs = with_trust(self.history.for_key(key), self._result_layers())
        columns = table_columns(runs)
        self.table.value = {"data": [[r.cell(c) for c in columns] for r in runs],
                            "index": [r.label for r in runs], "columns": list(columns)}
        native = self.table.native
        for i, name in enumerate(columns):
            item = native.horizontalHeaderItem(i)
            if item is not None:
                item.setToolTip(TOOLTIPS[name])
        for i, r in enumerate(runs):
            item = native.verticalHeaderItem(i)
            if item is not None:
                item.setToolTip(f"{r.label}: {r.parameters}")
            cell = native.item(i, COLUMNS.index("disagree"))
            if cell is not None and r.disagree:
                cell.setToolTip("\n".join(f"vs {o}: {100 * v:.1f} %"
                                          for o, v in r.disagree.items()))
        native.resizeColumnsToContents()

    def _result_layers(self) -> list[Any]:
        """The result layers of the runs on the input's dataset."""
        layer = self.input.value
        source = dataset_of(layer) if layer is not None else None
        return [x for x in self.viewer.layers if mpt_meta(x).get("kind") == "result"
                and mpt_meta(x).get("source") == source]


def densities_note(sim: SimulationParams) -> str:
    """How the simulation's clutter and births per frame (the Simulate widget's unit) became
    the MHT's densities per px^D per frame."""
    area = f"{sim.field_of_view:g}^{sim.ndim} px^{sim.ndim}"
    parts = [f"{what} {per_frame:g} per frame / {area} = {per_frame / sim.field_of_view ** sim.ndim:.4g}"
             for what, per_frame in (("clutter", sim.clutter), ("births", sim.birth_rate))
             if per_frame]
    return f"; {', '.join(parts)} per px^{sim.ndim} per frame" if parts else ""


def trackable(layer: Any) -> bool:
    """Whether ``layer`` holds points with a time axis, (t, y, x) or (t, z, y, x): only
    then is it a dataset to show (the others hidden) and to move the time slider into.  An
    empty or 2-D layer changes nothing on the canvas when it is chosen (its run is refused
    with the reason)."""
    data = getattr(layer, "data", None)
    return (data is not None and getattr(layer, "ndim", 0) >= 3 and np.ndim(data) == 2
            and len(data) > 0)


def output_name(kind: str, label: str, dataset: str) -> str:
    """A run's layer name: the run's label and the dataset it tracked (the input layer's
    name), so that runs on several files are told apart in the layer list."""
    return f"{label}{' link errors' if kind == 'link_errors' else ''} on {dataset}"


def in_widget_words(text: str, method: str) -> str:
    """A core message's command-line flag (``--checkpoint association``) with the control
    of this widget that sets it."""
    control = CHECKPOINT_CONTROLS.get(method)
    if control is None:
        return text
    return re.sub(r"--checkpoint (\S+)",
                  lambda m: f"{m.group(1)!r} in {control} (command line: {m.group(0)})", text)


def timing_text(total_s: float, out: JobOutput, drawing_s: float) -> str:
    """Where the time from the click to the result went."""
    track_s = out.track_s or out.result.wall_s
    other = max(total_s - track_s - out.score_s - drawing_s, 0.0)
    return (f"click to result {seconds(total_s)}:\n"
            f"  tracker {seconds(out.result.wall_s)} (with loading and FLOP count "
            f"{seconds(track_s)}, on the worker)\n"
            f"  scoring {seconds(out.score_s)} (on the worker)\n"
            f"  drawing the layers {seconds(drawing_s)} (napari, GUI thread)\n"
            f"  Qt events and thread hand-over {seconds(other)}")


def show_legend(viewer: Any) -> None:
    """Say on the canvas what the link-error colours mean."""
    canvas = getattr(viewer, "canvas", None)           # napari >= 0.9
    overlay = canvas.overlays.text if canvas is not None else viewer.text_overlay
    overlay.text = LEGEND
    overlay.position = "top_left"
    overlay.font_size = 9
    overlay.visible = True
