"""The Transformer controls: shipped checkpoints or a file, and this machine's devices.

Asked of :mod:`napari_mpt.trackers.transformer` lazily (it imports torch, about 2 s): on a worker
thread, started when the Track widget is docked (:meth:`Menus.preload`) or when the user picks
the transformer (:meth:`TransformerControls.load`), so that the GUI thread never waits for it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from magicgui.types import FileDialogMode
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
ASSOCIATION = "association"
"""The shipped association checkpoint: any number of detections per frame."""

MenuLists = tuple[list[str], list[str], dict[str, str]]
"""Checkpoint names, device names, checkpoint name -> what it accepts."""


def menu_lists() -> MenuLists:
    """The Transformer menus' contents (imports torch, asks it for the devices)."""
    return checkpoint_names(), device_names(), checkpoint_descriptions()


class Menus:
    """The Transformer menus' contents, asked of ``ask`` (by default :func:`menu_lists`) on
    a background thread once (:meth:`preload`): docking the Track widget starts it, so that
    neither the first switch to the transformer nor its first run waits for torch's import
    on the GUI thread.  One instance serves the process (:data:`MENUS`); a test gives a
    widget its own."""

    def __init__(self, ask: Callable[[], MenuLists] = menu_lists):
        self.ask = ask
        self.lists: MenuLists | None = None      # once preload() is done
        self._thread: threading.Thread | None = None

    def preload(self) -> None:
        if self._thread is not None or not transformer_installed():
            return

        def work() -> None:
            try:
                self.lists = self.ask()
            except Exception:   # reported when the user picks the transformer (load())
                pass

        self._thread = threading.Thread(target=work, name="napari-mpt torch import",
                                        daemon=True)
        self._thread.start()


MENUS = Menus()


class TransformerControls(Container):
    """Checkpoint picker (shipped ones, or a file), device menu and batch size.

    The menus are filled from ``menus`` when the user picks the transformer (:meth:`load`).
    """

    def __init__(self, menus: Menus = MENUS, **kwargs):
        self.menus = menus
        batch = next(f for f in fields(TransformerParams) if f.name == "batch_size")
        self._checkpoints: list[str] = []
        self._devices: list[str] = ["cpu"]
        self._descriptions: dict[str, str] = {}
        # callables, so that napari's reset_choices (on every layer change) keeps them
        self.checkpoint = ComboBox(name="checkpoint", label="checkpoint",
                                   choices=self._checkpoint_choices,
                                   tooltip="a shipped checkpoint, or a .pt file chosen below")
        self.file = FileEdit(name="file", label="file", mode=FileDialogMode.EXISTING_FILE, filter="*.pt",
                             tooltip="a napari-mpt transformer checkpoint (.pt)")
        self.device = ComboBox(name="device", label="device", choices=self._device_choices,
                               tooltip="only the devices this machine has")
        self.batch_size: Any = control_for(batch, "batch size")   # a spin box
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
        if self.menus.lists is not None:     # torch already imported in the background
            self._fill(*self.menus.lists)
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

        worker = create_worker(self.menus.ask, _start_thread=False, _connect={"errored": failed})
        worker.returned.connect(done)
        worker.start()

    def refresh(self) -> None:
        """Ask the transformer part for its checkpoints and this machine's devices."""
        self._fill(*self.menus.ask())

    def _fill(self, checkpoints: list[str], devices: list[str],
              descriptions: dict[str, str] | None = None) -> None:
        self._checkpoints = checkpoints
        self._devices = devices
        self._descriptions = dict(descriptions or {})
        # Qt keeps existing entries in place: drop the file entry so that the shipped
        # checkpoints come first and the first of them is selected
        chosen_file = self.file.value is not None and Path(str(self.file.value)).is_file()
        self.checkpoint.del_choice(FROM_FILE)
        self.checkpoint.reset_choices()
        self.device.reset_choices()
        if chosen_file:    # a file picked while the menus were loading stays picked
            self.checkpoint.value = FROM_FILE
        self._describe()
        self.loaded = True

    def fixed_count(self) -> bool:
        """Whether the chosen checkpoint is a shipped encoder-decoder (the same number of
        detections in every frame); a file says what it is only when it runs."""
        name = self.checkpoint.value
        return name in self._checkpoints and name != ASSOCIATION

    def choose_any_count(self) -> bool:
        """Choose the shipped association checkpoint in place of an encoder-decoder one;
        whether the choice changed."""
        if not self.fixed_count() or ASSOCIATION not in self._checkpoints:
            return False
        self.checkpoint.value = ASSOCIATION
        return True

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
            if path is None or not str(path).strip() or Path(str(path)).is_dir():
                raise CheckpointError("no checkpoint file chosen: pick a shipped checkpoint or "
                                      "choose a .pt file")
            checkpoint = str(path)
        return TransformerParams(checkpoint=checkpoint, device=self.device.value,
                                 batch_size=self.batch_size.value)
