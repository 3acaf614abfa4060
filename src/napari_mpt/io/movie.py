"""Movie files (TIFF, through tifffile): read as a single-channel time series with their
calibration, written atomically as ImageJ hyperstacks.

Any microscope's movie should open: 8- or 16-bit integers or floats (the detector works in
float32 frame by frame, and its band-pass filter removes any camera offset), ``(T, Y,
X)`` or ``(T, Z, Y, X)``.  A movie larger than :data:`IN_MEMORY_BYTES` is not loaded: it
is memory-mapped when its pixels lie uncompressed in one block, and otherwise read
frame by frame from the file as a Dask array (tifffile's Zarr store), so each frame is
read when the detector (or napari) asks for it.  The physical pixel size and frame
interval come from the file's ImageJ or OME metadata when it has them
(:class:`Movie`).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from .files import atomic_write

IN_MEMORY_BYTES = 1 << 30
"""Movies up to 1 GiB are read into memory; larger ones stay on disk."""

_LENGTH_UNITS = {"micron": ("µm", 1.0), "microns": ("µm", 1.0), "um": ("µm", 1.0),
                 "µm": ("µm", 1.0), "\u03bcm": ("µm", 1.0), "\\u00b5m": ("µm", 1.0),
                 "nm": ("µm", 1e-3), "nanometer": ("µm", 1e-3), "mm": ("µm", 1e3),
                 "m": ("µm", 1e6)}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3,
               "msec": 1e-3, "µs": 1e-6, "us": 1e-6, "min": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Movie:
    """A movie and its calibration: ``data`` ``(T, [Z,] Y, X)`` (an array, a memory map or
    a Dask array), the physical ``pixel_size`` per spatial axis in µm and the
    ``frame_interval`` in s where the file says them (else ``None``)."""

    data: Any
    path: str
    pixel_size: tuple[float, ...] | None = None
    frame_interval: float | None = None

    @property
    def ndim(self) -> int:
        """Spatial axes: 2 or 3."""
        return len(np.shape(self.data)) - 1

    def scale(self) -> tuple[float, ...]:
        """napari's layer scale ``(t, [z,] y, x)``: s and µm where known, else 1."""
        return (self.frame_interval or 1.0, *(self.pixel_size or (1.0,) * self.ndim))

    def units(self) -> tuple[str, ...]:
        """napari's layer units, matching :meth:`scale`."""
        space = "µm" if self.pixel_size else "pixel"
        return ("s" if self.frame_interval else "frame", *(space,) * self.ndim)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready calibration (``None`` where the file has none)."""
        return {"pixel_size_um": list(self.pixel_size) if self.pixel_size else None,
                "frame_interval_s": self.frame_interval,
                "on_disk": isinstance(self.data, np.memmap) or not isinstance(self.data, np.ndarray)}


def write_movie(path: str | os.PathLike, movie: np.ndarray, pixel_size: float | None = None,
                frame_interval: float | None = None) -> Path:
    """Write ``movie`` as an ImageJ hyperstack TIFF (axes TYX or TZYX), atomically, with
    the pixel size (µm, y and x) and frame interval (s) in its ImageJ calibration when
    given."""
    import tifffile

    path = Path(path)
    arr = np.asarray(movie)
    if arr.ndim not in (3, 4):
        raise InputError(str(path), f"a movie is (T, Y, X) or (T, Z, Y, X), got shape {arr.shape}")
    metadata: dict[str, Any] = {"axes": "TYX" if arr.ndim == 3 else "TZYX"}
    extra: dict[str, Any] = {}
    if pixel_size:
        metadata["unit"] = "um"
        extra["resolution"] = (1.0 / pixel_size, 1.0 / pixel_size)
    if frame_interval:
        metadata["finterval"] = frame_interval
    buffer = io.BytesIO()   # tifffile wants a named file; atomic_write's temporary has none
    tifffile.imwrite(buffer, arr, imagej=True, metadata=metadata, **extra)
    with atomic_write(path, "wb") as fh:
        fh.write(buffer.getbuffer())
    return path


def read_movie(path: str | os.PathLike) -> Movie:
    """A movie file as a ``(T, Y, X)`` or ``(T, Z, Y, X)`` :class:`Movie` with its
    calibration (module docstring: large movies stay on disk).

    Raises :class:`InputError` naming the file when it cannot be read or is not a
    single-channel time series in that axis order.
    """
    import tifffile

    name = str(path)
    if not Path(path).is_file():
        raise InputError(name, "file not found")
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise InputError(name, "the TIFF file holds no image")
            series = tif.series[0]
            axes = series.axes.upper()
            shape = tuple(series.shape)
            pixel_size, interval = _calibration(tif, axes)
            size = int(np.prod(shape)) * np.dtype(series.dtype).itemsize
            data: Any = None
            try:
                data = tifffile.memmap(path, mode="r")
            except (ValueError, OSError):
                if size <= IN_MEMORY_BYTES:
                    data = series.asarray()
        if data is None:
            data = _lazy(path)
    except InputError:
        raise
    except Exception as exc:   # tifffile raises many types on a corrupt or foreign file
        raise InputError(name, f"cannot read the file as TIFF ({type(exc).__name__}: {exc})"
                         ) from None
    data = data.reshape(shape) if tuple(data.shape) != shape else data
    data = check_movie_axes(data, name, axes)
    spatial = len(np.shape(data)) - 1
    if pixel_size is not None:
        pixel_size = pixel_size[-spatial:] if len(pixel_size) >= spatial else None
    return Movie(data, name, pixel_size, interval)


def _lazy(path: str | os.PathLike) -> Any:
    """The file as a Dask array read page by page (tifffile's Zarr store)."""
    import dask.array as da
    import tifffile
    import zarr

    store = tifffile.imread(path, aszarr=True)
    return da.from_zarr(zarr.open(store, mode="r"))


def _calibration(tif: Any, axes: str) -> tuple[tuple[float, ...] | None, float | None]:
    """Pixel size per spatial axis (µm, napari order) and frame interval (s) from ImageJ
    or OME metadata; ``None`` where absent or not in a physical unit."""
    if tif.is_ome and tif.ome_metadata:
        return _ome_calibration(tif.ome_metadata, axes)
    meta = tif.imagej_metadata or {}
    interval = None
    if meta.get("finterval"):
        scale = _TIME_UNITS.get(str(meta.get("tunit", "s")).strip().lower(), 1.0)
        interval = float(meta["finterval"]) * scale
    unit = _LENGTH_UNITS.get(str(meta.get("unit", "")).strip().lower())
    page = tif.pages.first
    res = [page.tags.get(t) for t in ("YResolution", "XResolution")]
    if unit is None or any(r is None for r in res):
        return None, _positive(interval)
    per = [float(r.value[0]) / float(r.value[1]) if r.value[1] else 0.0 for r in res]
    if min(per) <= 0:
        return None, _positive(interval)
    sizes = [unit[1] / p for p in per]
    if "Z" in axes and meta.get("spacing"):
        sizes = [unit[1] * float(meta["spacing"]), *sizes]
    return tuple(sizes), _positive(interval)


def _ome_calibration(xml: str, axes: str) -> tuple[tuple[float, ...] | None, float | None]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    if pixels is None:
        return None, None
    sizes: list[float] = []
    for ax in ("Z", "Y", "X") if "Z" in axes else ("Y", "X"):
        value = pixels.get(f"PhysicalSize{ax}")
        unit = _LENGTH_UNITS.get(pixels.get(f"PhysicalSize{ax}Unit", "µm").strip().lower())
        if value is None or unit is None:
            sizes = []
            break
        sizes.append(float(value) * unit[1])
    interval = None
    if pixels.get("TimeIncrement"):
        interval = float(pixels.get("TimeIncrement", "nan")) * _TIME_UNITS.get(
            pixels.get("TimeIncrementUnit", "s").strip().lower(), 1.0)
    return (tuple(sizes) if sizes and min(sizes) > 0 else None), _positive(interval)


def _positive(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) and value > 0 else None


def check_movie_axes(data: Any, source: str, axes: str | None = None) -> Any:
    """Check that ``data`` is a single-channel time series; returns ``(T, [Z,] Y, X)`` data.

    ``axes`` are the file's axis letters when known (tifffile's ``series.axes``): length-1
    axes are dropped (e.g. ImageJ's C of size 1), colour samples (S) or several channels
    (C) in a 4-D file are refused, and a time axis (T) must come first.  A 3-axis stack
    without a T (an ImageJ stack of slices) is read as (T, Y, X).  Without ``axes`` a 3-D
    array is (T, Y, X), a 4-D one (T, Z, Y, X), and a last axis of 3 or 4 after larger ones
    is taken for RGB(A) and refused.  A movie without frames or pixels is refused.
    """
    shape = tuple(np.shape(data))
    if axes is not None and len(axes) == len(shape):
        keep = [i for i, (a, n) in enumerate(zip(axes, shape, strict=True))
                if n > 1 or a in "YX"]
        if len(keep) < 3 and len(shape) >= 3:   # keep a time axis of one frame
            keep = sorted(set(keep) | {0})
        data = data.reshape(tuple(shape[i] for i in keep))
        axes = "".join(axes[i] for i in keep)
        shape = tuple(np.shape(data))
        if "S" in axes or (len(axes) == 4 and "C" in axes):
            raise InputError(source, f"has axes {axes} {shape} with colour samples or channels; "
                             "spot detection needs one channel: save a single channel "
                             "(T, Y, X) or (T, Z, Y, X)")
        if "T" in axes and axes.index("T") != 0:
            raise InputError(source, f"axes are {axes} {shape}: the time axis must come first "
                             "(T, Y, X) or (T, Z, Y, X); reorder the axes before detecting")
    if len(shape) == 2:
        raise InputError(source, f"is a single 2-D image {shape}, not a time series; a movie "
                         "is (T, Y, X) or (T, Z, Y, X)")
    if len(shape) in (3, 4) and shape[-1] in (3, 4) and shape[-2] > 4:
        raise InputError(source, f"shape {shape} looks like an RGB(A) image (last axis of "
                         f"{shape[-1]} colour channels); save a single channel (T, Y, X)")
    if len(shape) not in (3, 4):
        raise InputError(source, f"has {len(shape)} axes {shape}; a movie is (T, Y, X) or "
                         "(T, Z, Y, X)")
    if not all(shape):
        raise InputError(source, f"is empty (shape {shape}): no frames or no pixels")
    dtype = getattr(data, "dtype", None)
    if dtype is not None and not (np.issubdtype(dtype, np.integer)
                                  or np.issubdtype(dtype, np.floating)):
        raise InputError(source, f"has pixels of type {dtype}; a movie holds integers or "
                         "floats")
    return data
