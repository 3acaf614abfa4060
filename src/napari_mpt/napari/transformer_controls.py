"""The Transformer controls: shipped checkpoints or a file, and this machine's devices.

Asked of :mod:`napari_mpt.trackers.transformer` lazily (it imports torch, about 2 s): on a worker
thread, started when the Track widget is docked (:func:`preload`) or when the user picks the
transformer (:meth:`TransformerControls.load`), so that the GUI thread never waits for it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from magicgui.widgets import ComboBox, Container, FileEdit, Label

from ..core.errors import CheckpointError, ParameterError
from ..core.params import TransformerParams
from .controls import control_for
from .messages import wrap_label


def transformer_installed() -> bool:
    try:
        spec = importlib.util.find_spec("napari_mpt.trackers.transformer")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None   # a bare folder is not the module


def _names(items: object) -> list[str]:
    if isinstance(items, dict):
        items = list(items)
    out = []
    for it in items or ():  # type: ignore[attr-defined]
        name = getattr(it, "name", it)
        out.append(Path(name).stem if isinstance(name, Path) else str(name))
    return out


def checkpoint_names() -> list[str]:
    """Names of the shipped checkpoints (empty when the transformer part is missing)."""
    if not transformer_installed():
        return []
    from ..trackers.transformer import available_checkpoints

    return _names(available_checkpoints())


def checkpoint_descriptions() -> dict[str, str]:
    """Shipped checkpoint name -> one line on what it accepts (reads each checkpoint)."""
    if not transformer_installed():
        return {}
    from ..trackers.transformer import checkpoint_descriptions as describe

    return describe()


def device_names() -> list[str]:
    """Devices this machine has: ``cpu``, plus ``cuda`` where torch sees a GPU."""
    if not transformer_installed():
        return ["cpu"]
    from ..trackers.transformer import available_devices

    names = [str(d) for d in available_devices()]
    return [d for d in names if d != "auto"] or ["cpu"]


FROM_FILE = "checkpoint file…"
_preloading: threading.Thread | None = None
# the menus (checkpoints, devices, checkpoint descriptions), once preload() is done
_preloaded: tuple[list[str], list[str], dict[str, str]] | None = None


def preload() -> None:
    """Import the transformer module (and torch) on a background thread, once.

    Docking the Track widget starts it, so that neither the first switch to the
    transformer nor the first transformer run pays the import on the GUI thread.
    """
    global _preloading
    if _preloading is not None or not transformer_installed():
        return

    def work() -> None:
        global _preloaded
        try:
            _preloaded = _menu_lists()      # imports torch, asks it for the devices
        except Exception:   # reported when the user picks the transformer (load())
            pass

    _preloading = threading.Thread(target=work, name="napari-mpt torch import", daemon=True)
    _preloading.start()


def _menu_lists() -> tuple[list[str], list[str], dict[str, str]]:
    return checkpoint_names(), device_names(), checkpoint_descriptions()


class TransformerControls(Container):
    """Checkpoint picker (shipped ones, or a file), device menu and batch size.

    The menus are filled on first :meth:`refresh`, when the user picks the transformer.
    """

    def __init__(self, **kwargs):
        batch = next(f for f in fields(TransformerParams) if f.name == "batch_size")
        self._checkpoints: list[str] = []
        self._devices: list[str] = ["cpu"]
        self._descriptions: dict[str, str] = {}
        # callables, so that napari's reset_choices (on every layer change) keeps them
        self.checkpoint = ComboBox(name="checkpoint", label="checkpoint",
                                   choices=self._checkpoint_choices,
                                   tooltip="a shipped checkpoint, or a .pt file chosen below")
        self.file = FileEdit(name="file", label="file", mode="r", filter="*.pt",
                             tooltip="a napari-mpt transformer checkpoint (.pt)")
        self.device = ComboBox(name="device", label="device", choices=self._device_choices,
                               tooltip="only the devices this machine has")
        self.batch_size = control_for(batch, "batch size")
        # what the chosen checkpoint accepts: the encoder-decoder needs the same number of
        # detections in every frame, the association transformer does not
        self.description = wrap_label(Label(name="accepts", label="accepts", value=""))
        super().__init__(widgets=[self.checkpoint, self.description, self.file, self.device,
                                  self.batch_size], **kwargs)
        self.loaded = False
        self.loading = False
        self.checkpoint.changed.connect(self._describe)

    def _describe(self, name: object = None) -> None:
        name = self.checkpoint.value if name is None else name
        if name == FROM_FILE:
            text = "the checkpoint file chosen below (what it accepts shows when it runs)"
        else:
            text = self._descriptions.get(str(name), "")
        self.description.value = text
        self.checkpoint.tooltip = text or "a shipped checkpoint, or a .pt file chosen below"

    def _checkpoint_choices(self, _widget: object = None) -> list[str]:
        return [*self._checkpoints, FROM_FILE]

    def _device_choices(self, _widget: object = None) -> list[str]:
        return list(self._devices)

    def load(self, on_done: Callable[[], None], on_error: Callable[[BaseException], None]) -> None:
        """Fill the menus from a worker thread (importing torch there); ``on_done`` then."""
        from napari.qt.threading import create_worker

        if self.loaded or self.loading:
            return
        if _preloaded is not None:          # torch already imported in the background
            self._fill(*_preloaded)
            on_done()
            return
        self.loading = True

        def done(lists: tuple[list[str], list[str], dict[str, str]]) -> None:
            self.loading = False
            if not self.loaded:     # not filled meanwhile by a synchronous refresh()
                self._fill(*lists)
            on_done()

        def failed(exc: BaseException) -> None:
            self.loading = False
            on_error(exc)

        worker = create_worker(_menu_lists, _start_thread=False, _connect={"errored": failed})
        worker.returned.connect(done)
        worker.start()

    def refresh(self) -> None:
        """Ask the transformer part for its checkpoints and this machine's devices."""
        self._fill(checkpoint_names(), device_names(), checkpoint_descriptions())

    def _fill(self, checkpoints: list[str], devices: list[str],
              descriptions: dict[str, str] | None = None) -> None:
        self._checkpoints = checkpoints
        self._devices = devices
        self._descriptions = dict(descriptions or {})
        # Qt keeps existing entries in place: drop the file entry so that the shipped
        # checkpoints come first and the first of them is selected
        chosen_file = self.file.value is not None and Path(self.file.value).is_file()
        self.checkpoint.del_choice(FROM_FILE)
        self.checkpoint.reset_choices()
        self.device.reset_choices()
        if chosen_file:    # a file picked while the menus were loading stays picked
            self.checkpoint.value = FROM_FILE
        self._describe()
        self.loaded = True

    def params(self) -> TransformerParams:
        """The validated parameters; raises an MPTError saying what to fix."""
        if not transformer_installed():
            raise ParameterError("method", "the transformer is not part of this installation; "
                                 "use MHT or install napari-mpt with its transformer module")
        if self.loading and not self.loaded:
            raise ParameterError("method", "the transformer is still loading (its first use "
                                 "imports torch): press Run again in a moment")
        if not self.loaded:
            self.refresh()
        checkpoint = self.checkpoint.value
        if checkpoint == FROM_FILE:
            path = self.file.value
            if path is None or not str(path).strip() or Path(path).is_dir():
                raise CheckpointError("no checkpoint file chosen: pick a shipped checkpoint or "
                                      "choose a .pt file")
            checkpoint = str(path)
        return TransformerParams(checkpoint=checkpoint, device=self.device.value,
                                 batch_size=self.batch_size.value)
