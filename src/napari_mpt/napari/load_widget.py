"""The Load spots dock widget: a detections CSV and, optionally, its truth.

The same as dropping the files on the viewer (the reader contribution), but the truth
can be any file (CSV or ISBI 2012 XML), not only the ``*truth*.csv`` beside the
detections, and the detections file is always read as spots to track: a trackpy or
TrackMate export that also holds tracks gives its spots.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.types import FileDialogMode
from magicgui.widgets import FileEdit, Label, PushButton

from ..core.errors import InputError, MPTError
from .docks import ScrollingContainer
from .messages import breakable, notify, wrap_label
from .reader import offer_csv_reader, read_csv, truth_path_for

if TYPE_CHECKING:
    import napari


def _chosen(value: Any) -> str | None:
    text = str(value or "").strip()
    return text if text and text != "." and not Path(text).is_dir() else None


class LoadSpotsWidget(ScrollingContainer):
    """Read the files, then add a Points layer (and a paired Tracks layer for the truth)."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.detections = FileEdit(label="detections CSV", mode=FileDialogMode.EXISTING_FILE, filter="*.csv",
                                   tooltip="frame, y, x (and z) columns; row i is detection i; "
                                   "trackpy's (x, y, frame) and TrackMate's spot tables "
                                   "(POSITION_X, POSITION_Y, FRAME) too")
        self.truth = FileEdit(label="truth (optional)", mode=FileDialogMode.EXISTING_FILE,
                              filter="*.csv *.xml",
                              tooltip="track_id, frame, y, x CSV or ISBI 2012 challenge XML; "
                              "empty: the *truth*.csv beside the detections, if there is one")
        self.load_button = PushButton(text="Load")
        self.status = wrap_label(Label(value=""))
        self.extend([self.detections, self.truth, self.load_button, self.status])
        self.load_button.changed.connect(self.load)
        offer_csv_reader(napari_viewer)   # File > Open: CSVs through this plugin?

    def load(self) -> list[Any]:
        """Add the layers; on a bad file, say which line is wrong and add nothing."""
        from napari.layers import Layer

        try:
            det = _chosen(self.detections.value)
            if det is None:
                raise InputError("Load spots", "choose a detections CSV first")
            truth = _chosen(self.truth.value) or truth_path_for(det)
            tuples = read_csv(det, truth, as_detections=True)
        except MPTError as exc:
            self.status.value = breakable(notify(str(exc)))
            return []
        layers = [self.viewer.add_layer(Layer.create(*t)) for t in tuples]
        self.status.value = f"loaded {', '.join(repr(layer.name) for layer in layers)}"
        return layers
