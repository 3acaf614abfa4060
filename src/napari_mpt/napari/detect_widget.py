"""The Detect spots dock widget: an Image layer (a movie) in, a Points layer of spots out.

Detection is the core's (:mod:`napari_mpt.detection`).  The workflow is trackpy's
``annotate`` / TrackMate's threshold preview: **Preview frame** estimates the settings
from the movie once (polarity, spot size, threshold; on a thread worker, cached until
the movie or a setting other than the threshold changes), detects in the frame on
screen and draws the quality histogram of the sampled peaks, the spots' sign beside the
opposite sign (what the background alone makes), with the threshold as a red line.
Dragging the line (or typing a number into ``threshold``) sets the threshold and, with
"live preview" on, redraws the frame's spots at once, as does moving to another frame.
**Detect all frames** then runs every frame with the same settings (thread worker,
throttled progress, Cancel).  The spots layer holds ``(t, [z,] y, x)`` points with the
detector's features (quality, mass, amplitude, ...), the image's scale and translate,
and, for a simulated movie, the movie's ``pair`` id, so the Track widget offers it and
scores against the movie's ground truth.  The Image layer is only read; a run that
fails, is cancelled or finds no spot leaves every layer as it was and says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton

from ..core.data import Detections
from ..core.errors import Cancelled, InputError, MPTError
from ..core.params import DetectParams
from ..detection.detect import detect, detect_frame
from ..detection.estimate import DetectSettings, estimate_settings
from ..io import check_movie_axes
from .controls import ParamForm
from .docks import ScrollingContainer
from .job import Job
from .layers import KEY, axis_labels, mpt_meta, points_data
from .messages import Level, notify, wrap_label

if TYPE_CHECKING:
    import napari

LABELS = {"engine": "detector", "polarity": "spots are", "spot_sigma": "spot sigma (px)",
          "spot_sigma_z": "spot sigma z (px)", "threshold": "threshold (quality)",
          "min_distance": "min distance (px)", "border": "border (px)", "workers": "threads",
          "multi_emitter": "fit overlapping spots", "residual_rounds": "residual rounds"}
PREVIEW, SPOTS = "spots_preview", "spots"
RING_SIGMAS = 5.0   # ring diameter in spot sigmas: just outside a spot's visible extent
ESTIMATED_BY = ("polarity", "spot_sigma", "spot_sigma_z", "min_distance", "border")
"""The settings the estimate depends on: the threshold does not (it is applied after)."""


def movie_of(layer: Any) -> Any:
    """The ``(T, [Z,] Y, X)`` data of an Image layer, checked (not copied)."""
    from napari.layers import Labels

    src = f"layer {layer.name!r}"
    if isinstance(layer, Labels):
        raise InputError(src, "is a Labels layer (a segmentation); spot detection needs a "
                         "movie: an Image layer (T, Y, X) or (T, Z, Y, X)")
    if getattr(layer, "rgb", False):
        raise InputError(src, "is an RGB image; spot detection needs one channel "
                         "(split the channels first)")
    if getattr(layer, "multiscale", False):
        raise InputError(src, "is a multiscale image; open the full-resolution level only")
    return check_movie_axes(layer.data, src)


@dataclass
class SettingsCache:
    """The settings estimated for one movie and the parameters they came from, reused
    while only the threshold (or settings the estimate ignores) changes."""

    key: tuple | None = None
    settings: DetectSettings | None = None

    @staticmethod
    def key_of(layer: Any, params: DetectParams) -> tuple:
        return (id(layer), id(layer.data), np.shape(layer.data),
                *(getattr(params, name) for name in ESTIMATED_BY))

    def get(self, layer: Any, params: DetectParams) -> DetectSettings | None:
        """The cached settings for ``layer`` with ``params``' threshold, or ``None``."""
        if self.settings is None or self.key != self.key_of(layer, params):
            return None
        return self.settings.with_threshold(params.threshold)

    def put(self, layer: Any, params: DetectParams, settings: DetectSettings) -> None:
        self.key, self.settings = self.key_of(layer, params), settings


class DetectWidget(ScrollingContainer):
    """Image layer, DetectParams controls, quality histogram, Preview / Run / Cancel."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure
        from qtpy.QtCore import QTimer

        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.image = ComboBox(label="movie", choices=self._image_choices,
                              tooltip="an Image layer (T, Y, X) or (T, Z, Y, X)")
        self.form = ParamForm(DetectParams, labels=LABELS)
        self.live = CheckBox(value=True, text="live preview",
                             tooltip="after a first preview, redraw the frame's spots when "
                             "the frame, the threshold or a setting changes")
        self.preview_button = PushButton(text="Preview frame",
                                         tooltip="estimate the settings (once) and detect in "
                                         "the frame on screen only")
        self.run_button = PushButton(text="Detect all frames")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(min=0, max=100, value=0, label="progress")
        # wraps: a long message (the features list, a path) must not widen the dock area
        self.status = wrap_label(Label(value=""))
        buttons = Container(widgets=[self.preview_button, self.run_button, self.cancel_button],
                            layout="horizontal", labels=False)
        self.extend([Container(widgets=[self.image]), self.form, self.live, buttons,
                     self.progress, self.status])
        self.figure = Figure(figsize=(3.6, 2.2), dpi=90)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(190)
        self.canvas.setToolTip("quality of the peaks of a few frames; drag the red line to "
                               "set the threshold")
        self.add_native(self.canvas)
        self.cache = SettingsCache()
        self._job: Job[Any] | None = None
        self._pending: dict[str, Any] = {}
        self._previewed = False
        self._dragging = False
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)          # one redraw per pause in dragging or typing
        self._timer.timeout.connect(self._live_update)
        self.preview_button.changed.connect(self.preview)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.form.changed.connect(self._schedule)
        self.viewer.dims.events.current_step.connect(self._schedule)
        self.canvas.mpl_connect("button_press_event", self._press)
        self.canvas.mpl_connect("motion_notify_event", self._drag)
        self.canvas.mpl_connect("button_release_event", self._release)
        self._alive = True
        self.native.destroyed.connect(self._destroyed)

    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Image, Labels

        return [(layer.name if isinstance(layer, Image) else f"{layer.name} (labels)", layer)
                for layer in self.viewer.layers if isinstance(layer, (Image, Labels))]

    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def say(self, text: str, level: Level = "error") -> None:
        self.status.value = notify(text, level)

    def _inputs(self) -> tuple[Any, Any, DetectParams]:
        layer = self.image.value
        if layer is None:
            raise InputError("Detect spots", "no Image layer: open a movie (T, Y, X) or the "
                             "sample 'Beads in water (real, trackpy)'")
        return layer, movie_of(layer), self.form.params()

    # --- preview -------------------------------------------------------------------
    def current_frame(self, layer: Any, frames: int) -> int:
        point = self.viewer.dims.point[-layer.ndim:]
        t = round(float(layer.world_to_data(point)[0]))
        return min(max(t, 0), frames - 1)

    def preview(self) -> Any:
        """Detect in the frame on screen, estimating the settings first when the cache
        has none (then in the background: the preview follows when they are ready).
        Returns the preview Points layer when it was drawn now, else ``None``."""
        if self.running:
            self.say("Detection is already running: wait or press Cancel.", "warning")
            return None
        try:
            layer, movie, params = self._inputs()
        except MPTError as exc:
            self.say(str(exc))
            return None
        settings = self.cache.get(layer, params)
        if settings is None:
            self._start(layer, movie, params, frames=False)
            return None
        return self._preview_with(layer, movie, params, settings)

    def _preview_with(self, layer: Any, movie: Any, params: DetectParams,
                      settings: DetectSettings) -> Any:
        self._previewed = True
        self.plot(settings)
        t = self.current_frame(layer, len(movie))
        try:
            frame = np.asarray(movie[t], dtype=np.float32)
            if not np.all(np.isfinite(frame)):
                raise InputError(f"layer {layer.name!r}", f"frame {t} has NaN or infinite pixels")
            spots = detect_frame(frame, params, settings)
        except MPTError as exc:
            self.say(str(exc))
            return None
        if not len(spots):
            for old in self._outputs(layer, PREVIEW):      # no stale spots, no empty layer
                self.viewer.layers.remove(old)
            self.status.value = (f"frame {t}: no spot passed the threshold "
                                 f"{settings.threshold:.3g} (preview); {settings.describe()}")
            return None
        det = Detections(np.full(len(spots), t), spots.coords, features=spots.features)
        out = self._put_points(layer, det, PREVIEW, f"{layer.name} spots (preview)",
                               settings, border_color="cyan")
        self.status.value = f"frame {t}: {len(spots)} spots (preview); {settings.describe()}"
        return out

    def _schedule(self, *_: Any) -> None:
        if self._alive and self._previewed and self.live.value and not self.running:
            self._timer.start()

    def _live_update(self) -> None:
        """Redraw the preview when the cached settings allow it (no re-estimation)."""
        if not self._alive:
            return
        try:
            layer, movie, params = self._inputs()
        except MPTError:
            return
        settings = self.cache.get(layer, params)
        if settings is None:
            self.status.value = ("the movie or a setting the estimate uses changed: press "
                                 "Preview frame to estimate the settings again")
        else:
            self._preview_with(layer, movie, params, settings)

    # --- the quality histogram -------------------------------------------------------
    def plot(self, settings: DetectSettings) -> None:
        """The sampled peaks' quality histogram with the threshold line."""
        edges, spots, background = settings.histogram()
        other = "dark" if settings.polarity == "bright" else "bright"
        self.figure.clear()
        ax = self.figure.add_subplot(111)
        ax.stairs(spots, edges, label=f"{settings.polarity} peaks", color="tab:blue")
        ax.stairs(background, edges, label=f"{other} (background)", color="0.55")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        self._line = ax.axvline(settings.threshold, color="red", lw=1.5, label="threshold")
        ax.set_xlabel("quality (noise sd)")
        ax.set_ylabel("peaks")
        # above the axes: inside, the legend would hide the spots' tail and the line
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3,
                  frameon=False, borderaxespad=0.2, handlelength=1.2, columnspacing=0.8)
        ax.tick_params(labelsize=7)
        self.figure.tight_layout()
        self.canvas.draw_idle()

    def _set_threshold_at(self, x: float | None) -> None:
        if x is None or not np.isfinite(x) or x <= 0:
            return
        self.form["threshold"].value = f"{x:.4g}"     # the form's change redraws the preview
        if getattr(self, "_line", None) is not None:
            self._line.set_xdata([x, x])
            self.canvas.draw_idle()

    def _press(self, event: Any) -> None:
        if event.inaxes is not None and event.button == 1:
            self._dragging = True
            self._set_threshold_at(event.xdata)

    def _drag(self, event: Any) -> None:
        if self._dragging and event.inaxes is not None:
            self._set_threshold_at(event.xdata)

    def _release(self, _event: Any) -> None:
        self._dragging = False

    # --- full run ------------------------------------------------------------------
    def run(self) -> bool:
        """Start detection on every frame in a worker thread (estimating the settings
        first unless cached); False (with a message) when it cannot start."""
        if self.running:
            self.say("Detection is already running: wait or press Cancel.", "warning")
            return False
        try:
            layer, movie, params = self._inputs()
        except MPTError as exc:
            self.say(str(exc))
            return False
        self._start(layer, movie, params, frames=True)
        return True

    def _start(self, layer: Any, movie: Any, params: DetectParams, frames: bool) -> None:
        """Estimate (unless cached) and, with ``frames``, detect every frame, in a job."""
        cached = self.cache.get(layer, params)
        self._pending = {"layer": layer, "movie": movie, "params": params, "frames": frames}
        source = f"layer {layer.name!r}"

        def work(control: Any) -> tuple[DetectSettings, Detections | None]:
            settings = cached or estimate_settings(movie, params, source, control)
            det = detect(movie, params, control, source=source, settings=settings) if frames \
                else None
            return settings, det

        self._job = Job(work, on_done=self._done, on_refused=self._refused,
                        on_progress=self._progress, on_error=self._crashed,
                        on_finished=self._finished)
        self.progress.value = 0
        self.cancel_button.enabled = True
        self.status.value = (f"detecting in {layer.name!r}…" if frames else
                             f"estimating the settings of {layer.name!r}…")
        self._job.start()

    def cancel(self) -> None:
        if self.running:
            self._job.cancel()   # type: ignore[union-attr]
            self.status.value = "cancelling…"

    def _progress(self, done: int, total: int) -> None:
        if self._alive:
            self.progress.value = int(100 * done / total) if total else 0

    def _destroyed(self, *_: Any) -> None:
        self._alive = False          # a job or timer ending later must not touch deleted controls
        self.viewer.dims.events.current_step.disconnect(self._schedule)
        self.cancel()

    def _finished(self) -> None:
        if self._alive:
            self.cancel_button.enabled = False

    def _crashed(self, exc: BaseException) -> None:
        if self._alive:
            self.status.value = f"detection failed: {type(exc).__name__}: {exc}"

    def _refused(self, error: MPTError) -> None:
        if not self._alive:
            return
        if isinstance(error, Cancelled):
            self.say("Detection cancelled: nothing was added and the layers are unchanged.",
                     "info")
        else:
            self.say(str(error))
        self.progress.value = 0

    def _done(self, result: tuple[DetectSettings, Detections | None]) -> None:
        if not self._alive:
            return
        settings, det = result
        layer, params = self._pending["layer"], self._pending["params"]
        if layer not in self.viewer.layers:
            self.say(f"layer {layer.name!r} was removed during detection; nothing added",
                     "warning")
            return
        self.cache.put(layer, params, settings)
        if det is None:                       # the estimate a preview asked for
            self._preview_with(layer, self._pending["movie"], params, settings)
            return
        self.plot(settings)
        self.progress.value = 100
        for old in self._outputs(layer, PREVIEW):       # the whole movie supersedes it
            self.viewer.layers.remove(old)
        if not len(det):
            self.say(f"no spot in any frame passed the threshold {settings.threshold:.3g}: "
                     "nothing added; lower the threshold (drag the red line) or check the "
                     f"polarity ({settings.describe()})", "warning")
            return
        self._put_points(layer, det, SPOTS, f"{layer.name} spots", settings,
                         params=params.to_dict())
        counts = det.counts()
        self.status.value = (f"{len(det)} spots in {len(counts)} of {len(layer.data)} frames; "
                             f"{settings.describe()} (features: {', '.join(det.features)})")

    # --- output --------------------------------------------------------------------
    def _outputs(self, image: Any, kind: str) -> list[Any]:
        """The spots layers of ``kind`` made from ``image``."""
        return [layer for layer in self.viewer.layers
                if mpt_meta(layer).get("output") == kind and mpt_meta(layer).get("image") == id(image)]

    def _put_points(self, image: Any, det: Detections, kind: str, name: str,
                    settings: DetectSettings, **style: Any) -> Any:
        """Update the spots layer of ``kind`` made from ``image`` in place, or add it."""
        params = style.pop("params", None)
        source = id(image)
        # only the full run's layer is paired with the movie's truth (the Track widget's
        # scoring); a one-frame preview is not something to track
        pair = mpt_meta(image).get("pair") if kind == SPOTS else None
        meta = {KEY: {"kind": "detections" if kind == SPOTS else kind, "output": kind,
                      "image": source, "pair": pair, "detect": params,
                      "settings": settings.to_dict()}}
        data = points_data(det.frame, det.coords)
        features = {k: np.asarray(v) for k, v in det.features.items()}
        size = RING_SIGMAS * settings.sigmas[-1]
        for layer in self._outputs(image, kind):
            layer.data = data
            layer.features = features
            layer.metadata = meta
            layer.size = size
            return layer
        # rings around the spots, so the spots themselves stay visible
        kwargs = {"face_color": "transparent", "border_color": "yellow", "border_width": 0.12,
                  "border_width_is_relative": True, **style}
        extra = {"units": image.units} if hasattr(image, "units") else {}
        return self.viewer.add_points(
            data, features=features, name=name, size=size, scale=tuple(image.scale),
            translate=tuple(image.translate), axis_labels=axis_labels(det.ndim),
            metadata=meta, **extra, **kwargs)

