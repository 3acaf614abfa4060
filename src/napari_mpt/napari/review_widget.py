"""The Review dock: where the runs on one set of spots disagree, a queue of links to check,
the user's decisions as a partial ground truth, and each run's error rate from them.

The maths is the core's (:mod:`napari_mpt.evaluation.agreement`, ``.decisions``,
``.sampling``, ``.session``); this widget draws it and takes the decisions.  Keys (in the
viewer, while a tracks layer or the image is selected; napari-track-edit's letters where
it has the same edit):

====  ===================================================================
Y     accept: the link under review is right
B     break: it is wrong
A     link its start to the picked spot instead (click a spot first)
S     swap: it and the link arriving at the picked spot trade their ends
Z     undo the last decision
R     redo
N, P  next and previous link of the queue
====  ===================================================================

Every decision is saved at once to the session file (a temporary file renamed over the
old one), and the session reopens from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.types import FileDialogMode
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    ProgressBar,
    PushButton,
    Select,
    Table,
)

from ..core.data import Detections, Tracks
from ..core.errors import Cancelled, InputError, MPTError
from ..core.params import AdviseParams
from ..evaluation.agreement import (
    CONFIDENCE,
    alternatives,
    disagreement,
    disagreement_matrix,
    link_confidence,
    partner,
)
from ..evaluation.decisions import Review, reviewed_score
from ..evaluation.sampling import RunEstimate, estimate_rates
from ..evaluation.session import (
    PRIORITY,
    SAMPLE,
    ReviewSession,
    fingerprint,
    load_session,
    save_session,
    start_session,
)
from .controls import ParamForm
from .docks import ScrollingContainer
from .job import Job
from .layers import (
    KEY,
    axis_labels,
    dataset_of,
    detections_from_points,
    error_colormap_name,
    error_colormaps,
    link_error_data,
    mpt_meta,
    set_tracks,
    tracks_from_layer,
)
from .messages import Level, breakable, notify, plain, wrap_label
from .trust_layers import (
    ALTERNATIVE_COLOR,
    CURRENT_COLOR,
    DISAGREEMENT_MAP,
    PICKED_COLOR,
    TRUST_EVENTS,
    colormaps,
    contested_data,
    disagreement_data,
    link_lines,
    reviewed_data,
    spot_marker,
)

if TYPE_CHECKING:
    import napari

KEYS = {"y": "accept", "b": "break_link", "a": "relink", "s": "swap", "z": "undo",
        "r": "redo", "n": "next", "p": "previous"}
ADVICE_COLUMNS = ("association JC [95 %]", "beats the next", "time per twin", "settings")
LINE_WIDTH = 1.0         # px of the data: the link under review and its alternatives
QUEUE_ROWS = 60          # rows of the queue shown from the current link on
QUEUE_COLUMNS = ("frame", "link", "made by", "confidence", "verdict")
ESTIMATE_COLUMNS = ("error rate [95 %]", "wrong links [95 %]", "JC vs union [95 %]",
                    "reviewed", "links", "TP / FP / FN reviewed")
TRUST_KINDS = ("disagreement", "contested", "reviewed", "review_link", "review_errors")
VERDICT_TEXT = {1: "right", 0: "wrong", -1: ""}
LEGEND = ("gold = link only {a} makes\nviolet = link only {b} makes\n"
          "white = link under review, orange = its alternatives, cyan = picked spot\n"
          "reviewed: green = right, red = wrong")


def percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def interval(e: RunEstimate, name: str, fmt: Any = percent) -> str:
    value, lo, hi = (getattr(e, name + s) for s in ("", "_lo", "_hi"))
    return fmt(value) if e.exact else f"{fmt(value)} [{fmt(lo)}, {fmt(hi)}]"


class ReviewWidget(ScrollingContainer):
    """Compare the runs on a Points layer, review their links, estimate their errors."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.input = ComboBox(label="detections", choices=self._points_choices,
                              tooltip="the Points layer whose runs (Track widget) to compare")
        self.runs = Select(label="runs", choices=self._run_choices,
                           tooltip="the runs to compare (tracks layers made by the Track "
                           "widget on these detections); ctrl-click to pick")
        self.run_a = ComboBox(label="run A", choices=self._run_choices, nullable=True)
        self.run_b = ComboBox(label="run B", choices=self._run_choices, nullable=True)
        self.compare_button = PushButton(text="Compare runs")
        self.summary = wrap_label(Label(value=""))
        self.matrix = Table(value={"data": [], "index": [], "columns": []})
        self.frames = Table(value={"data": [], "index": [], "columns": ["A only", "B only"]})
        self.mode = ComboBox(label="queue", value=PRIORITY, choices=[
            ("by disagreement, then low confidence", PRIORITY),
            ("random sample (error rates)", SAMPLE)],
            tooltip="the order of the links to review: where the runs disagree and are "
            "least sure first, or a stratified random sample from which each run's error "
            "rate is estimated")
        self.estimate_button = PushButton(text="Estimate error rates",
                                          tooltip="review a random sample of the links: each "
                                          "run's error rate with its 95 % interval below")
        self.queue = Table(value={"data": [], "index": [], "columns": list(QUEUE_COLUMNS)})
        names = {"accept": "Accept (Y)", "break_link": "Break (B)", "relink": "Relink (A)",
                 "swap": "Swap (S)", "undo": "Undo (Z)", "redo": "Redo (R)",
                 "previous": "Previous (P)", "next": "Next (N)"}
        self.buttons = {m: PushButton(text=t) for m, t in names.items()}
        self.status = wrap_label(Label(value=""))
        self.estimates = Table(value={"data": [], "index": [], "columns": list(ESTIMATE_COLUMNS)})
        self.show_errors = CheckBox(text="draw each run's errors against the review",
                                    value=False)
        self.session_file = FileEdit(label="session file", mode=FileDialogMode.OPTIONAL_FILE, filter="*.json",
                                     tooltip="where the review is saved after every "
                                     "decision (and reopened from)")
        self.open_button = PushButton(text="Open session")
        self.resolve_button = PushButton(text="Re-solve MHT and LAP with my links", tooltip=(
            "run the compared MHT and LAP runs again with the accepted links pinned and the "
            "broken ones forbidden; every run is then scored against the review"))
        self.advise_form = ParamForm(AdviseParams, ("twins", "max_particles", "max_frames"))
        self.advise_button = PushButton(text="Advise", tooltip=(
            "which tracker for these spots: simulate look-alike scenes (twins) with a truth, "
            "run every tracker on them, rank them (napari-mpt advise)"))
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(min=0, max=100, value=0, label="progress")
        self.advice = Table(value={"data": [], "index": [], "columns": list(ADVICE_COLUMNS)})
        self.advice_note = wrap_label(Label(value=""))
        self._job: Job[Any] | None = None
        for table in (self.matrix, self.frames, self.queue, self.estimates, self.advice):
            table.read_only = True
            table.native.setMinimumSize(50, 90)
        edit = [Container(widgets=[self.buttons[m] for m in row], layout="horizontal",
                          labels=False)
                for row in (("accept", "break_link", "relink", "swap"),
                            ("undo", "redo", "previous", "next"))]
        self.extend([
            Container(widgets=[self.input, self.runs, self.run_a, self.run_b]),
            self.compare_button, self.summary, self.matrix, self.frames,
            Container(widgets=[self.mode]), self.estimate_button, self.queue, *edit,
            self.status, self.estimates, self.show_errors, self.resolve_button,
            Container(widgets=[self.session_file]), self.open_button,
            self.advise_form, Container(widgets=[self.advise_button, self.cancel_button],
                                        layout="horizontal", labels=False),
            self.progress, self.advice, self.advice_note])

        self.session: ReviewSession | None = None
        self.detections: Detections | None = None
        self.tracks: list[Tracks] = []
        self.run_names: list[str] = []     # the runs' layers
        self.run_labels: list[str] = []    # "A: LAP d=auto gap=1", as the tables show them
        self.confidence = np.zeros(0)
        self.position = 0
        self._queue_offset = 0
        self.picked: int | None = None
        self.compare_button.changed.connect(self.compare)
        self.estimate_button.changed.connect(self.estimate_error_rates)
        self.mode.changed.connect(self._mode_changed)
        self.input.changed.connect(self._input_changed)
        self.show_errors.changed.connect(lambda *_: self._draw_review())
        self.open_button.changed.connect(lambda *_: self.open_session())
        self.advise_button.changed.connect(lambda *_: self.advise())
        self.resolve_button.changed.connect(lambda *_: self.resolve())
        self.cancel_button.changed.connect(self._cancel_job)
        for method, button in self.buttons.items():
            button.changed.connect(lambda *_, m=method: getattr(self, m)())
        self.queue.native.cellClicked.connect(self._queue_clicked)
        self.frames.native.cellClicked.connect(self._frame_clicked)
        for key, method in KEYS.items():
            self.viewer.bind_key(key, lambda _v, m=method: getattr(self, m)(), overwrite=True)
        self.viewer.mouse_drag_callbacks.append(self._pick)
        self.native.destroyed.connect(self._disconnect)
        self.native.destroyed.connect(self._cancel_job)
        self._input_changed(self.input.value)

    # --- menus ---------------------------------------------------------------------------
    def _points_choices(self, _w: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Points

        return [(layer.name, layer) for layer in self.viewer.layers
                if isinstance(layer, Points) and mpt_meta(layer).get("kind") != "review_link"]

    def run_layers(self) -> list[Any]:
        """The result layers of the Track widget's runs on the input detections."""
        layer = self.input.value
        if layer is None:
            return []
        source = dataset_of(layer)
        return [other for other in self.viewer.layers
                if mpt_meta(other).get("kind") == "result"
                and mpt_meta(other).get("source") == source]

    def _run_choices(self, _w: Any = None) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in self.run_layers()]

    def _input_changed(self, *_: Any) -> None:
        self.runs.reset_choices()
        self.run_a.reset_choices()
        self.run_b.reset_choices()
        layers = self.run_layers()
        self.runs.value = layers
        if layers:
            self.run_a.value = layers[0]
            self.run_b.value = layers[1] if len(layers) > 1 else layers[0]
        layer = self.input.value
        path = getattr(getattr(layer, "source", None), "path", None)
        folder = Path(path).parent if path else Path(os.getcwd())
        if layer is not None:
            self.session_file.value = folder / f"review-{layer.name}.json"

    def reset_choices(self, *args: Any) -> None:
        super().reset_choices(*args)
        chosen = list(self.runs.value)
        self.runs.reset_choices()
        self.runs.value = [c for c in chosen if c in self.run_layers()] or self.run_layers()

    def _disconnect(self, *_: Any) -> None:
        for key in KEYS:
            self.viewer.bind_key(key, None)
        if self._pick in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._pick)

    # --- messages ------------------------------------------------------------------------
    def say(self, text: str, level: Level = "error") -> None:
        self.status.value = breakable(notify(text, level))

    @property
    def message(self) -> str:
        return plain(self.status.value)

    # --- comparing -----------------------------------------------------------------------
    def compare(self, *_: Any) -> bool:
        """Compare the chosen runs: disagreement layers and tables, and the review queue
        (decisions made on these detections before are kept, also from the session
        file); False with a message when it cannot."""
        try:
            layer = self.input.value
            if layer is None:
                raise InputError("Review", "no Points layer: simulate or open detections, "
                                 "then track them with the Track widget")
            det = detections_from_points(layer)
            chosen = list(self.runs.value) or self.run_layers()
            if not chosen:
                raise InputError("Review", f"no run on {layer.name!r} yet: track it with the "
                                 "Track widget first (two runs or more to compare)")
            tracks = [tracks_from_layer(x) for x in chosen]
            for x, t in zip(chosen, tracks, strict=True):
                if not (t.detection >= 0).any():
                    raise InputError(f"layer {x.name!r}", "names no detections (no "
                                     "'detection' feature): only runs of these detections "
                                     "can be compared")
            review = self._earlier_review(det)
            runs = [{"label": x.name, "method": mpt_meta(x).get("method", ""),
                     "params": mpt_meta(x).get("params", {})} for x in chosen]
            session = start_session(det, tracks, runs, seed=self.session.seed
                                    if self.session is not None else 0,
                                    truth=self._truth(), review=review)
        except MPTError as exc:
            self.say(str(exc))
            return False
        session.mode = self.mode.value
        self.session, self.detections, self.tracks = session, det, tracks
        self.run_names = [x.name for x in chosen]
        self.run_labels = [f"{chr(65 + k)}: {mpt_meta(x).get('label') or x.name}"
                           for k, x in enumerate(chosen)]
        self.confidence = link_confidence(session.support, tracks)
        self._draw_comparison(layer, chosen)
        self.position = self._first_open(0)
        self._draw_review()
        self.go()
        self._save()
        n = len(session.support.links)
        unsure = [label for label, t in zip(self.run_labels, tracks, strict=True)
                  if not np.isfinite(np.asarray(t.features.get(CONFIDENCE, [np.nan]),
                                                dtype=float)).any()]
        note = (f"; no link confidence from {', '.join(unsure)} (for the MHT: tick 'link "
                "confidence' in the Track form before the run)" if unsure else "")
        self.status.value = breakable(f"{n} links in the runs' union, "
                                      f"{len(session.support.contested())} not made by every "
                                      f"run; {len(session.review)} decisions so far{note}")
        return True

    def _earlier_review(self, det: Detections) -> Review:
        """This widget's decisions on these detections, else the session file's."""
        if self.session is not None and self.session.detections == fingerprint(det):
            return self.session.review
        path = self.session_path()
        if path is not None and path.is_file():
            try:
                saved = load_session(path)
            except MPTError:
                return Review()
            if saved.detections == fingerprint(det):
                return saved.review
        return Review()

    def _truth(self) -> Tracks | None:
        """The truth paired with the input (a simulation's), for FP and FN first."""
        pair = mpt_meta(self.input.value).get("pair")
        for layer in self.viewer.layers:
            m = mpt_meta(layer)
            if pair is not None and m.get("kind") == "truth" and m.get("pair") == pair:
                return tracks_from_layer(layer)
        return None

    def _draw_comparison(self, layer: Any, chosen: list[Any]) -> None:
        assert self.session is not None and self.detections is not None
        det, support = self.detections, self.session.support
        source = dataset_of(layer)
        a, b = self.run_a.value, self.run_b.value
        if a is None or b is None or a is b or a not in chosen or b not in chosen:
            a, b = chosen[0], chosen[-1]
        ia, ib = chosen.index(a), chosen.index(b)
        m = disagreement_matrix(self.tracks)
        self.matrix.value = {"data": [[percent(v) for v in row] for row in m],
                             "index": self.run_labels,
                             "columns": [x[0] for x in self.run_labels]}
        self.matrix.native.setToolTip("share of the links either run makes that only one "
                                      "of them makes (0 %: the same links)")
        if ia != ib:
            d = disagreement(self.tracks[ia], self.tracks[ib])
            frames = int(det.frame.max()) + 1
            per = d.per_frame(det.frame, frames)
            busy = np.flatnonzero(per.sum(axis=1))
            self.frames.value = {"data": per[busy].tolist(),
                                 "index": [str(f) for f in busy],
                                 "columns": [f"only {self.run_labels[ia][0]}",
                                             f"only {self.run_labels[ib][0]}"]}
            na, nb = self.run_labels[ia][3:], self.run_labels[ib][3:]
            self._put("disagreement", f"{na} vs {nb} disagreement", source,
                      *disagreement_data(d, det), color_by="side", colormap=DISAGREEMENT_MAP)
            self.summary.value = breakable(
                f"{self.run_labels[ia]} and {self.run_labels[ib]} disagree on {d.count} "
                f"links ({percent(d.share)} of the links either makes): {len(d.only_a)} "
                f"only {na} makes, {len(d.only_b)} only {nb} makes")
            self._legend(na, nb)
        if len(chosen) >= 3:
            self._put("contested", "links the runs do not all make", source,
                      *contested_data(support, det), color_by="share",
                      colormap=colormaps()["share"].name)
        self.frames.native.resizeColumnsToContents()
        self.matrix.native.resizeColumnsToContents()

    def _legend(self, a: str, b: str) -> None:
        canvas = getattr(self.viewer, "canvas", None)
        overlay = canvas.overlays.text if canvas is not None else self.viewer.text_overlay
        overlay.text = LEGEND.format(a=a, b=b)
        overlay.position = "top_left"
        overlay.font_size = 9
        overlay.visible = True

    def _layer(self, kind: str, source: str) -> Any:
        for layer in self.viewer.layers:
            m = mpt_meta(layer)
            if m.get("kind") == kind and m.get("source") == source:
                return layer
        return None

    def _put(self, kind: str, name: str, source: str, data: np.ndarray, features: dict,
             **kwargs: Any) -> Any:
        """This kind's trust layer on ``source``, updated in place or added."""
        layer = self._layer(kind, source)
        if len(data) == 0:
            if layer is not None:
                self.viewer.layers.remove(layer)
            return None
        if layer is not None:
            set_tracks(layer, data, features)
            layer.name = name
            return layer
        return self.viewer.add_tracks(
            data, features=features, name=name, metadata={KEY: {"kind": kind, "source": source}},
            colormaps_dict={**colormaps(), **error_colormaps()}, tail_width=5, tail_length=3,
            head_length=0, blending="translucent_no_depth",
            axis_labels=axis_labels(data.shape[1] - 2), **self._placement(), **kwargs)

    def _placement(self) -> dict[str, Any]:
        """The input layer's scale and translate (a movie's calibration: µm, s), so that
        the trust layers lie on its spots."""
        layer = self.input.value
        if layer is None:
            return {}
        return {"scale": tuple(layer.scale), "translate": tuple(layer.translate)}

    def _world(self, frame: int, coords: np.ndarray) -> np.ndarray:
        """The input layer's data point ``(frame, *coords)`` in world coordinates."""
        return np.asarray(self.input.value.data_to_world(np.r_[frame, coords]), dtype=float)

    # --- the queue -----------------------------------------------------------------------
    @property
    def order(self) -> np.ndarray:
        return self.session.order if self.session is not None else np.zeros(0, np.int64)

    def current(self) -> tuple[int, int] | None:
        """The link under review (detection rows)."""
        if self.session is None or not len(self.order):
            return None
        a, b = self.session.support.links[self.order[self.position]]
        return int(a), int(b)

    def _verdicts(self) -> np.ndarray:
        assert self.session is not None
        return self.session.review.verdicts(self.session.support.links[self.order])

    def _first_open(self, start: int) -> int:
        """The first link from ``start`` on without a verdict (else ``start``)."""
        if self.session is None or not len(self.order):
            return 0
        known = self._verdicts()
        open_ = np.flatnonzero(known[start:] < 0)
        return int(start + open_[0]) if len(open_) else min(start, len(self.order) - 1)

    def _mode_changed(self, mode: str) -> None:
        if self.session is None:
            return
        self.session.mode = mode
        self.position = self._first_open(0)
        self._draw_review()
        self.go()
        self._save()

    def estimate_error_rates(self, *_: Any) -> bool:
        """Queue a stratified random sample of the links: the error rates below narrow
        as it is reviewed."""
        if self.session is None and not self.compare():
            return False
        self.mode.value = SAMPLE      # _mode_changed does the rest
        self.say("review the links in this order: after each decision the error rates "
                 "below are estimated again from the sample reviewed so far", "info")
        return True

    def _show_queue(self) -> None:
        if self.session is None:
            return
        support, order = self.session.support, self.order
        lo = max(self.position - 3, 0)
        rows = order[lo:lo + QUEUE_ROWS]
        known = self._verdicts()[lo:lo + QUEUE_ROWS]
        det = self.detections
        assert det is not None
        data = []
        for i, v in zip(rows.tolist(), known.tolist(), strict=True):
            a, b = support.links[i]
            made = ", ".join(lab[0] for lab, m in zip(self.run_labels, support.made_by[i], strict=True)
                             if m)
            c = self.confidence[i]
            data.append([f"{det.frame[a]}→{det.frame[b]}", f"{a}→{b}", made,
                         "—" if not np.isfinite(c) else f"{c:.2f}", VERDICT_TEXT[v]])
        self.queue.value = {"data": data, "index": [str(lo + k + 1) for k in range(len(rows))],
                            "columns": list(QUEUE_COLUMNS)}
        self.queue.native.selectRow(self.position - lo)
        self.queue.native.resizeColumnsToContents()
        self._queue_offset = lo

    def _queue_clicked(self, row: int, _col: int) -> None:
        self.position = self._queue_offset + row
        self.go()

    def _frame_clicked(self, row: int, _col: int) -> None:
        item = self.frames.native.verticalHeaderItem(row)
        if item is not None:
            self._set_frame(int(item.text()))

    def _set_frame(self, frame: int) -> None:
        layer = self.input.value
        if layer is None or self.detections is None:
            return
        axis = self.viewer.dims.ndim - layer.ndim
        self.viewer.dims.set_point(axis, self._world(frame, self.detections.coords[0])[0])

    def go(self, position: int | None = None) -> None:
        """Show the link at ``position`` of the queue: time slider and camera on it, the
        link and its alternatives highlighted."""
        if position is not None:
            self.position = position
        link = self.current()
        self.picked = None
        self._show_queue()
        if link is None or self.detections is None:
            return
        det = self.detections
        a, b = link
        self._set_frame(int(det.frame[b]))
        mid = self._world(int(det.frame[b]), (det.coords[a] + det.coords[b]) / 2)
        shown = self.viewer.dims.ndisplay
        scene = getattr(self.viewer, "scene", None)          # napari >= 0.9
        camera = scene.camera if scene is not None else self.viewer.camera
        camera.center = tuple(mid[-shown:])
        self._highlight()

    def _highlight(self) -> None:
        link = self.current()
        if link is None or self.session is None or self.detections is None:
            return
        det, support = self.detections, self.session.support
        i = int(self.order[self.position])
        lines = link_lines(link, det)
        colors = [CURRENT_COLOR] * len(lines)
        for j in alternatives(support, i):
            more = link_lines((int(support.links[j, 0]), int(support.links[j, 1])), det)
            lines += more
            colors += [ALTERNATIVE_COLOR] * len(more)
        shapes, types = list(lines), ["line"] * len(lines)
        if self.picked is not None:
            shapes.append(spot_marker(self.picked, det))
            types.append("ellipse")
            colors.append(PICKED_COLOR)
        source = dataset_of(self.input.value)
        layer = self._layer("review_link", source)
        if layer is None:
            layer = self.viewer.add_shapes(
                name="link under review", ndim=det.ndim + 1, face_color="transparent",
                metadata={KEY: {"kind": "review_link", "source": source}},
                axis_labels=axis_labels(det.ndim), **self._placement())
        layer.data = []
        layer.add(shapes, shape_type=types, edge_color=colors, edge_width=LINE_WIDTH,
                  face_color="transparent")
        layer.editable = False
        # the viewer's keys (Y, B, A, ...) reach the review only when the selected layer
        # has none of its own (a Points or Shapes layer takes A, S, Z, P): select a Tracks
        # layer of the review
        quiet = [self._layer(k, source) for k in ("reviewed", "disagreement", "contested")]
        quiet = [x for x in quiet if x is not None] or self.run_layers_chosen()
        if quiet:
            self.viewer.layers.selection.active = quiet[0]

    def _pick(self, viewer: Any, event: Any) -> Any:
        """A click (not a drag) on the canvas picks the nearest spot of the frame shown."""
        if self.session is None or self.detections is None or event.type != "mouse_press":
            return
        yield
        dragged = False
        while event.type == "mouse_move":
            dragged = True
            yield
        if not dragged:
            self.pick_at(np.asarray(event.position, dtype=np.float64))

    def pick_at(self, position: np.ndarray) -> int | None:
        """Pick the spot nearest to the world ``position`` (a click: the time slider's and
        the canvas's coordinates) in its frame."""
        det, layer = self.detections, self.input.value
        if det is None or layer is None:
            return None
        point = np.asarray(layer.world_to_data(position[-layer.ndim:]), dtype=float)
        rows = np.flatnonzero(det.frame == round(point[0]))
        if not len(rows):
            return None
        spatial = point[-det.ndim:]
        self.picked = int(rows[np.argmin(((det.coords[rows] - spatial) ** 2).sum(axis=1))])
        self._highlight()
        return self.picked

    # --- decisions -----------------------------------------------------------------------
    def _decide(self, make: Any) -> bool:
        link = self.current()
        if link is None:
            self.say("nothing to review: press Compare runs first", "warning")
            return False
        try:
            make(link)
        except MPTError as exc:
            self.say(str(exc))
            return False
        self.status.value = ""
        self._save()
        self.position = self._first_open(self.position)
        self._draw_review()
        self.go()
        return True

    def _review(self) -> Review:
        assert self.session is not None
        return self.session.review

    def accept(self) -> bool:
        return self._decide(lambda link: self._review().accept(link))

    def break_link(self) -> bool:
        return self._decide(lambda link: self._review().break_link(link))

    def relink(self) -> bool:
        """The link's start goes on to the picked spot (click it first)."""
        if self.picked is None or self.detections is None:
            self.say("click the spot the link should go to, then press A", "warning")
            return False
        to, det = self.picked, self.detections

        def make(link: tuple[int, int]) -> None:
            if det.frame[to] <= det.frame[link[0]]:
                raise InputError("relink", f"the picked spot (frame {det.frame[to]}) is not "
                                 f"after the link's start (frame {det.frame[link[0]]})")
            self._review().relink(link, to)

        return self._decide(make)

    def swap(self) -> bool:
        """The link and the link arriving at the picked spot (in the same frame as its
        end) trade their ends."""
        if self.picked is None or self.session is None or self.detections is None:
            self.say("click the spot whose incoming link to swap with, then press S",
                     "warning")
            return False
        picked, det, support = self.picked, self.detections, self.session.support

        def make(link: tuple[int, int]) -> None:
            if det.frame[picked] != det.frame[link[1]]:
                raise InputError("swap", "the picked spot is not in the frame the link "
                                 "arrives in; pick a spot of that frame")
            j = partner(support, int(self.order[self.position]), picked)
            if j is None:
                raise InputError("swap", "no run links into the picked spot: use A to "
                                 "relink instead")
            other = (int(support.links[j, 0]), int(support.links[j, 1]))
            self._review().swap(link, other)

        return self._decide(make)

    def undo(self) -> bool:
        return self._walk(self.session.review.undo if self.session else None, "undo")

    def redo(self) -> bool:
        return self._walk(self.session.review.redo if self.session else None, "redo")

    def _walk(self, step: Any, what: str) -> bool:
        if step is None or step() is None:
            self.say(f"nothing to {what}", "info")
            return False
        self._save()
        self._draw_review()
        self.go()
        return True

    def next(self) -> None:
        if len(self.order):
            self.go(min(self.position + 1, len(self.order) - 1))

    def previous(self) -> None:
        if len(self.order):
            self.go(max(self.position - 1, 0))

    # --- what the decisions give ---------------------------------------------------------
    def _draw_review(self) -> None:
        """The reviewed layer, the estimates table and (ticked) each run's errors."""
        if self.session is None or self.detections is None:
            return
        det, review = self.detections, self.session.review
        source = dataset_of(self.input.value)
        self._put("reviewed", "reviewed links", source, *reviewed_data(review, det),
                  color_by="verdict", colormap=colormaps()["verdict"].name)
        est = estimate_rates(self.session.support, self.session.verdicts())
        scores = [reviewed_score(t, det, review) for t in self.tracks]
        rows = [[interval(e, "rate"), interval(e, "wrong", lambda v: f"{v:.0f}"),
                 interval(e, "jaccard", lambda v: f"{v:.3f}"), str(e.reviewed), str(e.links),
                 f"{s.tp} / {s.fp} / {s.fn}"] for e, s in zip(est, scores, strict=True)]
        self.estimates.value = {"data": rows, "index": self.run_labels,
                                "columns": list(ESTIMATE_COLUMNS)}
        self.estimates.native.resizeColumnsToContents()
        self.estimates.native.setToolTip(
            "error rate: the share of the run's links a reviewer would call wrong, estimated "
            "from the sample reviewed so far (queue: random sample) with its 95 % interval; "
            "JC vs union: its link Jaccard against the right links of all runs; TP / FP / FN "
            "reviewed: its links known right, known wrong, and the right links it misses")
        for layer, e in zip(self.run_layers_chosen(), est, strict=False):
            layer.metadata = {**layer.metadata, KEY: {
                **mpt_meta(layer), "error_rate": [e.rate, e.rate_lo, e.rate_hi, e.reviewed]}}
        TRUST_EVENTS.changed.emit()          # the Track widget's run table shows them
        for layer, s in zip(self.run_layers_chosen(), scores, strict=False):
            kind_source = f"{source}/{layer.name}"
            errors = link_error_data(s) if self.show_errors.value else None
            if errors is None:
                old = self._layer("review_errors", kind_source)
                if old is not None:
                    self.viewer.layers.remove(old)
                continue
            self._put("review_errors", f"{layer.name} errors vs review", kind_source,
                      *errors, color_by="error_type", colormap=error_colormap_name())

    def run_layers_chosen(self) -> list[Any]:
        by_name = {layer.name: layer for layer in self.run_layers()}
        return [by_name[n] for n in self.run_names if n in by_name]

    def estimates_now(self) -> list[RunEstimate]:
        """Each compared run's estimate from the sample reviewed so far."""
        if self.session is None:
            return []
        return estimate_rates(self.session.support, self.session.verdicts())

    # --- the session file ----------------------------------------------------------------
    def session_path(self) -> Path | None:
        """The session file chosen (None: none)."""
        value = self.session_file.value
        text = str(value) if isinstance(value, (str, os.PathLike)) else ""
        return Path(text) if text not in ("", ".") else None

    def _save(self) -> None:
        path = self.session_path()
        if self.session is None or path is None or path.is_dir():
            return
        try:
            save_session(path, self.session)
        except OSError as exc:
            self.say(f"{path}: the review could not be saved ({exc.strerror or exc}); "
                     "choose another session file")

    def open_session(self, path: str | os.PathLike | None = None) -> bool:
        """Reopen the session at ``path`` (default: the session file) on the input
        detections: its decisions, queue and runs' settings."""
        path = path or self.session_path()
        try:
            if path is None:
                raise InputError("Review", "choose the session file to open")
            saved = load_session(path)
            layer = self.input.value
            if layer is None:
                raise InputError("Review", "no Points layer to reopen the session on")
            saved.check(detections_from_points(layer))
        except MPTError as exc:
            self.say(str(exc))
            return False
        self.session_file.value = Path(path)
        by_name = {x.name: x for x in self.run_layers()}
        missing = [r.get("label") for r in saved.runs if r.get("label") not in by_name]
        if missing:
            self.say(f"the session's runs {', '.join(map(str, missing))} are not in the "
                     "viewer: its decisions are kept and apply to the runs there", "warning")
        self.runs.value = [by_name[r["label"]] for r in saved.runs if r.get("label") in by_name]
        self.session = saved     # compare() carries its decisions over
        with self.mode.changed.blocked():
            self.mode.value = saved.mode
        return self.compare() if self.run_layers() else True

    # --- which tracker: the data twin --------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.running

    def advise(self) -> bool:
        """Rank every tracker on twins of the input detections, on a worker thread."""
        try:
            layer = self.input.value
            if layer is None:
                raise InputError("Advise", "no Points layer to advise on")
            det = detections_from_points(layer)
            params = self.advise_form.params()
        except MPTError as exc:
            self.say(str(exc))
            return False
        from .. import api

        if not self._start(lambda control: api.advise(det, params, control), self._advised):
            return False
        self.advice_note.value = breakable(f"simulating {params.twins} twin(s) of "
                                           f"{layer.name!r} and running every tracker…")
        return True

    def _start(self, work: Any, done: Any) -> bool:
        """Run ``work(control)`` on a worker thread (one at a time), ``done`` after."""
        if self.busy:
            self.say("the dock is still working: wait, or press Cancel", "warning")
            return False
        self._job = Job(work, on_done=done, on_refused=self._job_refused,
                        on_progress=self._job_progress,
                        on_finished=lambda: setattr(self.cancel_button, "enabled", False))
        self.cancel_button.enabled = True
        self.progress.value = 0
        self._job.start()
        return True

    def _cancel_job(self, *_: Any) -> None:
        if self._job is not None:
            self._job.cancel()

    def _job_progress(self, done: int, total: int) -> None:
        self.progress.value = int(100 * done / total) if total else 0

    def _job_refused(self, error: MPTError) -> None:
        self.progress.value = 0
        self.advice_note.value = ""
        if isinstance(error, Cancelled):
            self.say("cancelled: nothing was added", "info")
        else:
            self.say(str(error))

    # --- re-solving with the decisions fixed --------------------------------------------
    def resolve(self) -> bool:
        """Run the compared MHT and LAP runs again with the accepted links pinned and the
        broken ones forbidden; the new runs join the Track widget's table and the
        comparison, where every run is scored against the review."""
        from .. import api
        from ..core.fixed import FixedLinks
        from .tracking import run_tracking

        session, det, layer = self.session, self.detections, self.input.value
        if session is None or det is None or layer is None:
            self.say("compare the runs and review some links first", "warning")
            return False
        fixed = FixedLinks(pinned=np.array(session.review.right(), dtype=np.int64),
                           forbidden=np.array(session.review.wrong(), dtype=np.int64))
        if not fixed:
            self.say("no decision yet: accept or break links first (Y, B)", "warning")
            return False
        todo = []
        for run in self.run_layers_chosen():
            meta = mpt_meta(run)
            tracker = api.TRACKERS.get(meta.get("method", ""))
            if tracker is not None and tracker.fixed and "pinned" not in run.name:
                todo.append(tracker.make(**meta.get("params", {})))
        if not todo:
            self.say("no MHT or LAP run among the compared runs: track with one of them "
                     "first (the others cannot keep links fixed)", "warning")
            return False
        truth = self._truth()

        def work(control: Any) -> list[tuple[Any, Any]]:
            out = []
            for params in todo:
                done = run_tracking(det, params, truth, control, fixed)
                done.result.label = f"{done.result.label} pinned"
                out.append((done, params))
            return out

        if not self._start(work, self._resolved):
            return False
        self.status.value = breakable(f"re-solving {len(todo)} run(s) with "
                                      f"{len(fixed.pinned)} links pinned and "
                                      f"{len(fixed.forbidden)} forbidden…")
        return True

    def _resolved(self, outs: list[tuple[Any, Any]]) -> None:
        self.progress.value = 100
        layer = self.input.value
        track = self.viewer.window.add_plugin_dock_widget("napari-mpt", "Track")[1]
        before = {x.name for x in self.run_layers()}
        notes = []
        for out, params in outs:
            track.add_run(out, params, layer)
            held = out.result.info.get("fixed", {})
            notes.append(f"{out.result.label}: {held.get('pinned_made', 0)} of "
                         f"{held.get('pinned', 0)} pinned links made, "
                         f"{held.get('forbidden_made', 0)} forbidden ones")
        new = [x for x in self.run_layers() if x.name not in before]
        self.runs.reset_choices()
        self.runs.value = [*self.run_layers_chosen(), *new]
        self.compare()
        self.status.value = breakable("; ".join(notes))

    def _advised(self, advice: Any) -> None:
        self.progress.value = 100
        rows = [[f"{r.value:.4f} [{r.lo:.4f}, {r.hi:.4f}]",
                 "" if r.p_better is None else f"{100 * r.p_better:.0f} %",
                 f"{r.time_s:.2f} s", r.label] for r in advice.ranking]
        self.advice.value = {"data": rows, "index": [r.method for r in advice.ranking],
                             "columns": list(ADVICE_COLUMNS)}
        self.advice.native.resizeColumnsToContents()
        p = advice.recipe.params
        skipped = "".join(f"\n{m} not run: {why}" for m, why in advice.skipped.items())
        self.advice_note.value = breakable(
            f"best on the twins: {advice.best.method}. Twins ({advice.twins}, "
            f"{p.particles} particles in {p.field_of_view:.0f} px, {p.frames} frames): "
            f"{p.motion} motion, mu {p.process_noise:.2f} px, sigma "
            f"{p.measurement_noise:.2f} px, P_D {p.detection_probability:.2f}, clutter "
            f"{p.clutter:g}/frame, births {p.birth_rate:g}/frame, survival "
            f"{p.survival:.3f}{skipped}")
        self.advice.native.setToolTip(
            "association link Jaccard pooled over the twins, 95 % bootstrap interval over "
            "frames; 'beats the next': share of resamples in which it beats the next row")
