"""Physical size of a pixel and of a frame, as files and napari layers state them.

Coordinates stay in pixels and frames everywhere in the package (a detection's position is
where the detector found it in the image); a :class:`Calibration` says what one pixel and
one frame are, so that a writer can state it (GEFF axes, TrackMate's ImageData) and a
reader can hand it to napari as the layer's ``scale`` and ``units``.  Unit names are
OME-NGFF's (``micrometer``, ``second``), the names GEFF validates and pint (napari's
units) reads; other spellings found in files (TrackMate's ``µm``, ``sec``) are normalised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InputError

PIXEL = "pixel"
FRAME = "frame"
_SPACE = {"µm": "micrometer", "um": "micrometer", "micron": "micrometer",
          "microns": "micrometer", "μm": "micrometer", "nm": "nanometer", "mm": "millimeter",
          "m": "meter", "pixels": PIXEL, "px": PIXEL}
_TIME = {"s": "second", "sec": "second", "secs": "second", "seconds": "second",
         "ms": "millisecond", "min": "minute", "mins": "minute", "minutes": "minute",
         "h": "hour", "hours": "hour", "frames": FRAME}


def space_unit(text: str | None) -> str:
    """OME-NGFF name of a length unit (``µm`` -> ``micrometer``); empty or None: pixel."""
    t = (text or "").strip()
    return _SPACE.get(t, _SPACE.get(t.lower(), t.lower() or PIXEL))


def time_unit(text: str | None) -> str:
    """OME-NGFF name of a time unit (``sec`` -> ``second``); empty or None: frame."""
    t = (text or "").strip().lower()
    return _TIME.get(t, t or FRAME)


@dataclass(frozen=True)
class Calibration:
    """``pixel_size`` per spatial axis in napari order (``(y, x)`` or ``(z, y, x)``), in
    ``space_unit`` per pixel; ``frame_interval`` in ``time_unit`` per frame.  The default
    is no calibration: lengths in pixels, time in frames."""

    pixel_size: tuple[float, ...] = ()
    frame_interval: float = 1.0
    space_unit: str = PIXEL
    time_unit: str = FRAME

    def __post_init__(self) -> None:
        for name, values in (("pixel size", self.pixel_size),
                             ("frame interval", (self.frame_interval,))):
            for v in values:
                if not (math.isfinite(v) and v > 0):
                    raise InputError("calibration", f"{name} must be a positive number, got {v}")
        object.__setattr__(self, "pixel_size", tuple(float(v) for v in self.pixel_size))
        object.__setattr__(self, "space_unit", space_unit(self.space_unit))
        object.__setattr__(self, "time_unit", time_unit(self.time_unit))

    @property
    def known(self) -> bool:
        """Whether anything physical is stated (a unit other than pixel or frame)."""
        return self.space_unit != PIXEL or self.time_unit != FRAME

    def spatial(self, ndim: int) -> tuple[float, ...]:
        """The pixel size of each of ``ndim`` spatial axes (1 where not stated)."""
        size = self.pixel_size
        if len(size) == ndim:
            return size
        if len(size) == 1:
            return size * ndim
        if len(size) == 3 and ndim == 2:
            return size[1:]
        return (1.0,) * ndim

    def scale(self, ndim: int) -> tuple[float, ...]:
        """A napari layer's ``scale`` for ``(t, [z,] y, x)`` data."""
        return (self.frame_interval, *self.spatial(ndim))

    def units(self, ndim: int) -> tuple[str, ...]:
        """A napari layer's ``units`` for ``(t, [z,] y, x)`` data."""
        return (self.time_unit, *(self.space_unit,) * ndim)

    def layer_kwargs(self, ndim: int) -> dict[str, Any]:
        """``scale`` and ``units`` for a layer, or nothing when uncalibrated (napari's own
        defaults then hold, and a movie without a calibration lines up)."""
        return {"scale": self.scale(ndim), "units": self.units(ndim)} if self.known else {}

    @classmethod
    def from_layer(cls, scale: Sequence[float] | None, units: Sequence[Any] | None) -> Calibration:
        """From a ``(t, [z,] y, x)`` layer's ``scale`` and ``units`` (pint units or text);
        napari's default unit (pixel on every axis, time included) means none stated."""
        if scale is None or len(scale) < 2:
            return cls()
        names = [str(u) for u in units] if units is not None else []
        t_unit = names[0] if names and names[0] != PIXEL else FRAME
        s_unit = names[-1] if names else PIXEL
        return cls(tuple(float(s) for s in scale[1:]), float(scale[0]), s_unit, t_unit)
