"""Which torch device runs a model: ``cpu``, ``cuda``, or ``auto`` (the best there is)."""

from __future__ import annotations

import torch

from ....core.errors import DeviceError


def available_devices() -> list[str]:
    """Torch devices this machine can run on: ``cpu``, plus ``cuda`` with a visible GPU."""
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def resolve_device(name: str) -> tuple[str, str | None]:
    """The device to use for ``auto|cpu|cuda`` and a note when ``auto`` fell back."""
    have = available_devices()
    if name == "auto":
        if "cuda" in have:
            return "cuda", None
        return "cpu", "auto: no CUDA GPU visible to torch, running on the CPU"
    if name not in have:
        raise DeviceError(f"device {name!r} is not available on this machine (available: "
                          f"{', '.join(have)}; 'auto' picks the best of them)")
    return name, None
