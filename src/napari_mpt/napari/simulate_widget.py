"""The Simulate dock widget: simulated detections as a points layer and its ground truth.

Its controls come from :class:`~napari_mpt.params.SimulationParams` field metadata (the
same help, ranges and defaults as ``napari-mpt simulate``); the preset box fills them with
an ISBI-like scenario (``--preset``), which the user may then edit.  Running it again
updates its two layers in place, so repeated simulations do not pile up layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Label, PushButton

from ..errors import MPTError
from ..params import SimulationParams
from ..presets import PRESETS, preset_params
from ..simulate import simulate
from .controls import ParamForm, ScrollingContainer
from .layers import new_pair_id, set_tracks, simulation_layers, tracks_features
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
        self.run_button = PushButton(text="Simulate")
        self.status = wrap_label(Label(value=""))
        self.extend([self.preset, self.form, self.run_button, self.status])
        self.preset.changed.connect(self._apply_preset)
        self.run_button.changed.connect(self.run)
        self._points: Any = None
        self._truth: Any = None
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
        except MPTError as exc:
            self.status.value = breakable(notify(str(exc)))
            return []
        points_t, truth_t = simulation_layers(sim, self._pair)
        reuse = (self._alive(self._points) and self._alive(self._truth)
                 and self._points.data.shape[1] == points_t[0].shape[1])
        if reuse:
            self._points.data = points_t[0]
            self._points.metadata = points_t[1]["metadata"]
            set_tracks(self._truth, truth_t[0], tracks_features(sim.truth))
            self._truth.metadata = truth_t[1]["metadata"]
        else:
            for layer in (self._points, self._truth):
                if self._alive(layer):
                    self.viewer.layers.remove(layer)
            self._truth = self.viewer.add_layer(_make_layer(truth_t))
            self._points = self.viewer.add_layer(_make_layer(points_t))
            self.viewer.layers.selection.active = self._points
        self.status.value = (f"{len(sim.detections)} detections: N={params.particles}, "
                             f"T={params.frames}, seed={params.seed}")
        return [self._points, self._truth]


def _make_layer(layer_tuple: tuple) -> Any:
    from napari.layers import Layer

    data, kwargs, kind = layer_tuple
    return Layer.create(data, kwargs, kind)

