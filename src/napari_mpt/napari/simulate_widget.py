"""The Simulate dock widget: simulated detections as a points layer and its ground truth.

Its controls come from :class:`~napari_mpt.core.params.SimulationParams` field metadata (the
same help, ranges and defaults as ``napari-mpt simulate``); the preset box fills them with
an ISBI-like scenario (``--preset``), which the user may then edit.  With "movie" checked
it also renders the simulation as a fluorescence movie (:class:`~napari_mpt.core.params.MovieParams`,
as ``napari-mpt simulate --movie``), an Image layer below the points that shares the
simulation's ``pair`` id, so spots the Detect spots widget finds in it are scored against
this simulation's truth.  Running it again updates its layers in place, so repeated
simulations do not pile up layers.

The simulation, the movie and the new layers are made on a :class:`~.job.Job`'s worker
thread (1000 particles over 100 frames held the GUI 3.2 s when they were not), with the
step it is at in the progress bar and the status line, and Cancel between steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, ProgressBar, PushButton

from ..core.data import Simulation
from ..core.errors import Cancelled, MPTError
from ..core.params import MovieParams, SimulationParams
from ..core.results import RunControl
from ..simulation.movie import render_movie
from ..simulation.presets import PRESETS, preset_params
from ..simulation.simulate import simulate
from .controls import ParamForm
from .docks import ScrollingContainer
from .job import Job
from .layers import KEY, axis_labels, new_pair_id, set_tracks, simulation_layers, tracks_features
from .messages import Level, breakable, notify, wrap_label

if TYPE_CHECKING:
    import napari

LABELS = {"particles": "particles N", "frames": "frames T", "process_noise": "process noise mu",
          "measurement_noise": "measurement noise sigma", "drift": "drift (dy, dx)",
          "separation": "separation", "field_of_view": "field of view", "ndim": "dimensions",
          "seed": "seed", "detection_probability": "detection probability P_D",
          "clutter": "clutter per frame", "birth_rate": "births per frame",
          "survival": "survival per frame", "motion": "motion", "speed": "speed (px/frame)",
          "switch_probability": "switch probability", "end_at_edge": "end at the edge"}
NO_PRESET = "(none)"
MOVIE_FIELDS = ("snr", "psf_sigma", "background")
MOVIE_LABELS = {"snr": "SNR", "psf_sigma": "PSF sigma (px)", "background": "background"}
STAGES = ("simulating", "rendering the movie", "making the layers")


class SimulateWidget(ScrollingContainer):
    """Simulate, then add (first time) or update (afterwards) the two layers."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        # scrollable: the dock scrolls rather than stretching the window past the screen
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.preset = ComboBox(label="preset", choices=[NO_PRESET, *PRESETS], value=NO_PRESET,
                               tooltip="fill the controls with an ISBI-like scenario "
                               "(simulated, not the challenge's data)")
        self.form = ParamForm(SimulationParams, labels=LABELS)
        self.movie = CheckBox(text="movie", value=False,
                              tooltip="also render a fluorescence movie of the simulation "
                              "(Gaussian spots, Poisson noise) to detect spots in")
        self.movie_form = ParamForm(MovieParams, MOVIE_FIELDS, labels=MOVIE_LABELS,
                                    visible=False)
        self.run_button = PushButton(text="Simulate")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(min=0, max=100, value=0, label="progress")
        self.status = wrap_label(Label(value=""))
        self.extend([self.preset, self.form, self.movie, self.movie_form])
        # below the scrolling form: in view at any dock height
        self.pin([Container(widgets=[self.run_button, self.cancel_button], layout="horizontal",
                            labels=False), self.progress, self.status])
        self.layers: list[Any] = []
        self._job: Job[SimOutput] | None = None
        self.preset.changed.connect(self._apply_preset)
        self.movie.changed.connect(lambda on: setattr(self.movie_form, "visible", bool(on)))
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.native.destroyed.connect(lambda *_: self.cancel())
        self._points: Any = None
        self._truth: Any = None
        self._image: Any = None
        self._pair = new_pair_id()

    def _apply_preset(self, name: str) -> None:
        self.form.set_params(preset_params(name) if name != NO_PRESET else SimulationParams())

    def params(self) -> SimulationParams:
        return self.form.params()

    def _alive(self, layer: Any) -> bool:
        return layer is not None and layer in self.viewer.layers

    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def run(self) -> bool:
        """Start the simulation on a worker thread; False (with a message) when it cannot
        start.  When it is done, :attr:`layers` holds [points, truth(, movie)]; a refusal
        or a cancel leaves every layer as it was."""
        if self.running:
            self.say("A simulation is already running: wait or press Cancel.", "warning")
            return False
        try:
            params = self.params()
            movie_params = self.movie_form.params(seed=params.seed) if self.movie.value else None
        except MPTError as exc:
            self.say(str(exc))
            return False
        # new layers are made on the worker too; layers to update in place stay here
        fresh = not self._reusable(params.ndim)
        self._job = Job(lambda control: simulate_job(params, movie_params, self._pair, fresh,
                                                     control),
                        on_done=self._done, on_refused=self._refused,
                        on_progress=self._progress, on_error=self._crashed,
                        on_finished=self._finished)
        self.layers = []
        self.progress.value = 0
        self.cancel_button.enabled = True
        self.run_button.enabled = False
        self.status.value = f"{STAGES[0]}…"
        self._job.start()
        return True

    def cancel(self) -> None:
        if self.running:
            self._job.cancel()   # type: ignore[union-attr]
            self.status.value = "cancelling…"

    def say(self, text: str, level: Level = "error") -> None:
        self.status.value = breakable(notify(text, level))
        self.reveal(self.status)

    def _progress(self, done: int, total: int) -> None:
        self.progress.value = int(100 * done / total) if total else 0
        if done < len(STAGES):
            self.status.value = f"{STAGES[done]}… (step {done + 1} of {total})"

    def _finished(self) -> None:
        self.cancel_button.enabled = False
        self.run_button.enabled = True

    def _crashed(self, exc: BaseException) -> None:
        self.status.value = breakable(f"the simulation failed: {type(exc).__name__}: {exc}")

    def _refused(self, error: MPTError) -> None:
        if isinstance(error, Cancelled):
            self.say("Simulation cancelled: the layers are unchanged.", "info")
        else:
            self.say(str(error))
        self.progress.value = 0

    def _reusable(self, ndim: int) -> bool:
        return (self._alive(self._points) and self._alive(self._truth)
                and self._points.data.shape[1] == ndim + 1)

    def _done(self, out: SimOutput) -> None:
        """Add (first time) or update (afterwards) the layers, on the GUI thread."""
        sim, params = out.sim, out.params
        points_t, truth_t = out.tuples
        if self._reusable(params.ndim):
            # metadata first: the Track widget reads the simulation when the data changes
            self._points.metadata = points_t[1]["metadata"]
            self._points.data = points_t[0]
            set_tracks(self._truth, truth_t[0], tracks_features(sim.truth))
            self._truth.metadata = truth_t[1]["metadata"]
        else:
            for layer in (self._points, self._truth):
                if self._alive(layer):
                    self.viewer.layers.remove(layer)
            points, truth = out.new_layers or [_make_layer(t) for t in out.tuples]
            self._truth = self.viewer.add_layer(truth)
            self._points = self.viewer.add_layer(points)
            self.viewer.layers.selection.active = self._points
        self._put_movie(out.movie, params, out.movie_params)
        self.progress.value = 100
        self.status.value = (f"{len(sim.detections)} detections: N={params.particles}, "
                             f"T={params.frames}, seed={params.seed}"
                             + (f"; movie SNR {out.movie_params.snr:g}" if out.movie_params
                                else ""))
        self.layers = [self._points, self._truth] + ([self._image] if out.movie is not None
                                                     else [])

    def _put_movie(self, movie: Any, params: SimulationParams,
                   movie_params: MovieParams | None) -> None:
        """Add, update or (movie unchecked) remove the movie layer, kept below the points."""
        if movie is None or movie_params is None:
            if self._alive(self._image):
                self.viewer.layers.remove(self._image)
            self._image = None
            return
        meta = {KEY: {"kind": "movie", "pair": self._pair, "simulation": params.to_dict(),
                      "movie": movie_params.to_dict()}}
        if self._alive(self._image) and self._image.data.ndim == movie.ndim:
            self._image.data = movie
            self._image.metadata = meta
            self._image.reset_contrast_limits()
            return
        if self._alive(self._image):
            self.viewer.layers.remove(self._image)
        from napari.layers import Image

        self._image = Image(movie, name="simulated movie", colormap="gray", metadata=meta,
                            axis_labels=axis_labels(movie.ndim - 1))
        # below every layer of this widget, so the points and tracks draw over it
        below = min(self.viewer.layers.index(layer) for layer in (self._points, self._truth))
        self.viewer.layers.insert(below, self._image)


@dataclass
class SimOutput:
    """What the worker hands the GUI thread: the simulation, its movie, its layers' data
    and, when there are no layers to update in place, the new layers themselves."""

    params: SimulationParams
    sim: Simulation
    movie: np.ndarray | None
    movie_params: MovieParams | None
    tuples: list[tuple]
    new_layers: list[Any] | None


def simulate_job(params: SimulationParams, movie_params: MovieParams | None, pair: str,
                 fresh: bool, control: RunControl) -> SimOutput:
    """The worker's part: simulate, render the movie, make the layers' data (and the new
    layers: napari layers are plain models, only adding them needs the GUI thread)."""
    steps = len(STAGES)
    control.step(0, steps)
    sim = simulate(params)
    control.step(1, steps)
    movie = (render_movie(sim, movie_params, frames=params.frames)
             if movie_params is not None else None)
    control.step(2, steps)
    tuples = simulation_layers(sim, pair)
    layers = [_make_layer(t) for t in tuples] if fresh else None
    control.step(steps, steps)
    return SimOutput(params, sim, movie, movie_params, tuples, layers)


def _make_layer(layer_tuple: tuple) -> Any:
    from napari.layers import Layer

    data, kwargs, kind = layer_tuple
    return Layer.create(data, kwargs, kind)

