"""The Simulate dock widget: simulated detections as a points layer and its ground truth.

Its controls come from :class:`~napari_mpt.core.params.SimulationParams` field metadata (the
same help, ranges and defaults as ``napari-mpt simulate``); the preset box fills them with
an ISBI-like scenario (``--preset``), which the user may then edit.  With "movie" checked
it also renders the simulation as a fluorescence movie (:class:`~napari_mpt.core.params.MovieParams`,
as ``napari-mpt simulate --movie``), an Image layer below the points that shares the
simulation's ``pair`` id, so spots the Detect spots widget finds in it are scored against
this simulation's truth.  Running it again updates its layers in place, so repeated
simulations do not pile up layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Label, PushButton

from ..core.errors import MPTError
from ..core.params import MovieParams, SimulationParams
from ..simulation.movie import render_movie
from ..simulation.presets import PRESETS, preset_params
from ..simulation.simulate import simulate
from .controls import ParamForm, ScrollingContainer
from .layers import KEY, axis_labels, new_pair_id, set_tracks, simulation_layers, tracks_features
from .messages import breakable, notify, wrap_label
from .reader import prefer_this_plugin_for_csv

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
        self.status = wrap_label(Label(value=""))
        self.extend([self.preset, self.form, self.movie, self.movie_form, self.run_button,
                     self.status])
        self.preset.changed.connect(self._apply_preset)
        self.movie.changed.connect(lambda on: setattr(self.movie_form, "visible", bool(on)))
        self.run_button.changed.connect(self.run)
        self._points: Any = None
        self._truth: Any = None
        self._image: Any = None
        self._pair = new_pair_id()
        prefer_this_plugin_for_csv()   # File > Open reads CSVs through this plugin

    def _apply_preset(self, name: str) -> None:
        self.form.set_params(preset_params(name) if name != NO_PRESET else SimulationParams())

    def params(self) -> SimulationParams:
        return self.form.params()

    def _alive(self, layer: Any) -> bool:
        return layer is not None and layer in self.viewer.layers

    def run(self) -> list[Any]:
        """Simulate with the current settings; returns [points layer, truth layer], or []
        after telling the user what is wrong (existing layers are left as they were)."""
        try:
            params = self.params()
            sim = simulate(params)
            movie_params = self.movie_form.params(seed=params.seed) if self.movie.value else None
            movie = (render_movie(sim, movie_params, frames=params.frames)
                     if movie_params is not None else None)
        except MPTError as exc:
            self.status.value = breakable(notify(str(exc)))
            return []
        points_t, truth_t = simulation_layers(sim, self._pair)
        reuse = (self._alive(self._points) and self._alive(self._truth)
                 and self._points.data.shape[1] == points_t[0].shape[1])
        if reuse:
            # metadata first: the Track widget reads the simulation when the data changes
            self._points.metadata = points_t[1]["metadata"]
            self._points.data = points_t[0]
            set_tracks(self._truth, truth_t[0], tracks_features(sim.truth))
            self._truth.metadata = truth_t[1]["metadata"]
        else:
            for layer in (self._points, self._truth):
                if self._alive(layer):
                    self.viewer.layers.remove(layer)
            self._truth = self.viewer.add_layer(_make_layer(truth_t))
            self._points = self.viewer.add_layer(_make_layer(points_t))
            self.viewer.layers.selection.active = self._points
        self._put_movie(movie, params, movie_params)
        self.status.value = (f"{len(sim.detections)} detections: N={params.particles}, "
                             f"T={params.frames}, seed={params.seed}"
                             + (f"; movie SNR {movie_params.snr:g}" if movie_params else ""))
        return [self._points, self._truth] + ([self._image] if movie is not None else [])

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


def _make_layer(layer_tuple: tuple) -> Any:
    from napari.layers import Layer

    data, kwargs, kind = layer_tuple
    return Layer.create(data, kwargs, kind)

