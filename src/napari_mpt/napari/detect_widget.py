"""The Detect spots dock widget: an Image layer (a movie) in, a Points layer of spots out.

Detection is the core's (:func:`napari_mpt.detection.detect.detect`) and runs on a napari thread
worker with progress and Cancel; "Preview frame" runs it on the frame on screen only.  The
spots layer holds ``(t, [z,] y, x)`` points with the detector's features (amplitude,
background, width, snr, fitted), the image's scale and translate, and, for a simulated
movie, the movie's ``pair`` id, so the Track widget offers it and scores against the
movie's ground truth.  The Image layer is only read; a run that fails or is cancelled
leaves every layer as it was and says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, ProgressBar, PushButton

from ..core.data import Detections
from ..core.errors import Cancelled, InputError, MPTError
from ..core.params import DetectParams
from ..detection.detect import detect, detect_frame
from ..io import check_movie_axes
from .controls import ParamForm
from .job import Job
from .layers import KEY, axis_labels, mpt_meta, points_data
from .messages import Level, notify, wrap_label

if TYPE_CHECKING:
    import napari

LABELS = {"spot_sigma": "spot sigma (px)", "spot_sigma_z": "spot sigma z (px)",
          "threshold": "threshold (noise sd)", "min_distance": "min distance (px)",
          "border": "border (px)", "workers": "threads",
          "multi_emitter": "fit overlapping spots", "residual_rounds": "residual rounds"}
PREVIEW, SPOTS = "spots_preview", "spots"
RING_SIGMAS = 5.0   # ring diameter in spot sigmas: just outside a spot's visible extent


def movie_of(layer: Any) -> Any:
    """The ``(T, [Z,] Y, X)`` data of an Image layer, checked (not copied)."""
    src = f"layer {layer.name!r}"
    if getattr(layer, "rgb", False):
        raise InputError(src, "is an RGB image; spot detection needs one channel "
                         "(split the channels first)")
    if getattr(layer, "multiscale", False):
        raise InputError(src, "is a multiscale image; open the full-resolution level only")
    return check_movie_axes(layer.data, src)


class DetectWidget(Container):
    """Image layer, DetectParams controls, Preview / Run / Cancel, progress and status."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.image = ComboBox(label="movie", choices=self._image_choices,
                              tooltip="an Image layer (T, Y, X) or (T, Z, Y, X)")
        self.form = ParamForm(DetectParams, labels=LABELS)
        self.preview_button = PushButton(text="Preview frame",
                                         tooltip="detect in the frame on screen only")
        self.run_button = PushButton(text="Detect all frames")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(min=0, max=100, value=0, label="progress")
        # wraps: a long message (the features list, a path) must not widen the dock area
        self.status = wrap_label(Label(value=""))
        buttons = Container(widgets=[self.preview_button, self.run_button, self.cancel_button],
                            layout="horizontal", labels=False)
        self.extend([Container(widgets=[self.image]), self.form, buttons, self.progress,
                     self.status])
        self._job: Job[Detections] | None = None
        self._pending: dict[str, Any] = {}
        self.preview_button.changed.connect(self.preview)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.native.destroyed.connect(lambda *_: self.cancel())

    def _image_choices(self, _widget: Any = None) -> list[tuple[str, Any]]:
        from napari.layers import Image

        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Image)]

    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def say(self, text: str, level: Level = "error") -> None:
        self.status.value = notify(text, level)

    def _inputs(self) -> tuple[Any, Any, DetectParams]:
        layer = self.image.value
        if layer is None:
            raise InputError("Detect spots", "no Image layer: open a movie (T, Y, X) or the "
                             "sample 'simulated movie, SNR 4'")
        return layer, movie_of(layer), self.form.params()

    # --- preview -------------------------------------------------------------------
    def current_frame(self, layer: Any, frames: int) -> int:
        point = self.viewer.dims.point[-layer.ndim:]
        t = round(float(layer.world_to_data(point)[0]))
        return min(max(t, 0), frames - 1)

    def preview(self) -> Any:
        """Detect in the frame on screen; returns the preview Points layer (or None)."""
        try:
            layer, movie, params = self._inputs()
            t = self.current_frame(layer, len(movie))
            frame = np.asarray(movie[t], dtype=np.float32)
            if not np.all(np.isfinite(frame)):
                raise InputError(f"layer {layer.name!r}", f"frame {t} has NaN or infinite pixels")
            spots = detect_frame(frame, params)
        except MPTError as exc:
            self.say(str(exc))
            return None
        det = Detections(np.full(len(spots), t), spots.coords, features=spots.features)
        out = self._put_points(layer, det, PREVIEW, f"{layer.name} spots (preview)",
                               border_color="cyan")
        self.status.value = f"frame {t}: {len(spots)} spots (preview)"
        return out

    # --- full run ------------------------------------------------------------------
    def run(self) -> bool:
        """Start detection on every frame in a worker thread; False (with a message) when it
        cannot start."""
        if self.running:
            self.say("Detection is already running: wait or press Cancel.", "warning")
            return False
        try:
            layer, movie, params = self._inputs()
        except MPTError as exc:
            self.say(str(exc))
            return False
        self._pending = {"layer": layer, "params": params}
        source = f"layer {layer.name!r}"
        self._job = Job(lambda control: detect(movie, params, control, source=source),
                        on_done=self._done, on_refused=self._refused,
                        on_progress=self._progress, on_error=self._crashed,
                        on_finished=self._finished)
        self.progress.value = 0
        self.cancel_button.enabled = True
        self.status.value = f"detecting in {layer.name!r}…"
        self._job.start()
        return True

    def cancel(self) -> None:
        if self.running:
            self._job.cancel()   # type: ignore[union-attr]
            self.status.value = "cancelling…"

    def _progress(self, done: int, total: int) -> None:
        self.progress.value = int(100 * done / total) if total else 0

    def _finished(self) -> None:
        self.cancel_button.enabled = False

    def _crashed(self, exc: BaseException) -> None:
        self.status.value = f"detection failed: {type(exc).__name__}: {exc}"

    def _refused(self, error: MPTError) -> None:
        if isinstance(error, Cancelled):
            self.say("Detection cancelled: nothing was added and the layers are unchanged.",
                     "info")
        else:
            self.say(str(error))
        self.progress.value = 0

    def _done(self, det: Detections) -> None:
        layer = self._pending["layer"]
        if layer not in self.viewer.layers:
            self.say(f"layer {layer.name!r} was removed during detection; nothing added",
                     "warning")
            return
        self._put_points(layer, det, SPOTS, f"{layer.name} spots",
                         params=self._pending["params"].to_dict())
        self.progress.value = 100
        counts = det.counts()
        self.status.value = (f"{len(det)} spots in {len(counts)} of {len(layer.data)} frames "
                             f"(features: {', '.join(det.features)})")

    # --- output --------------------------------------------------------------------
    def _spot_sigma(self) -> float:
        try:
            return float(self.form.params().spot_sigma)
        except MPTError:
            return float(DetectParams().spot_sigma)

    def _put_points(self, image: Any, det: Detections, kind: str, name: str, **style: Any) -> Any:
        """Update the spots layer of ``kind`` made from ``image`` in place, or add it."""
        params = style.pop("params", None)
        source = id(image)
        # only the full run's layer is paired with the movie's truth (the Track widget's
        # scoring); a one-frame preview is not something to track
        pair = mpt_meta(image).get("pair") if kind == SPOTS else None
        meta = {KEY: {"kind": "detections" if kind == SPOTS else kind, "output": kind,
                      "image": source, "pair": pair, "detect": params}}
        data = points_data(det.frame, det.coords)
        if not len(data):
            data = np.empty((0, det.ndim + 1))
        features = {k: np.asarray(v) for k, v in det.features.items()}
        for layer in self.viewer.layers:
            m = mpt_meta(layer)
            if m.get("output") == kind and m.get("image") == source:
                layer.data = data
                layer.features = features
                layer.metadata = meta
                return layer
        # rings around the spots, so the spots themselves stay visible
        kwargs = {"face_color": "transparent", "border_color": "yellow", "border_width": 0.12,
                  "border_width_is_relative": True, **style}
        return self.viewer.add_points(
            data, features=features, name=name, size=RING_SIGMAS * self._spot_sigma(),
            scale=tuple(image.scale), translate=tuple(image.translate),
            axis_labels=axis_labels(det.ndim), metadata=meta, **kwargs)

