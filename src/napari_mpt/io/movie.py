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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.calibration import FRAME, PIXEL, Calibration, space_unit
from ..core.errors import InputError
from .files import atomic_write

IN_MEMORY_BYTES = 1 << 30
"""Movies up to 1 GiB are read into memory; larger ones stay on disk."""


@dataclass(frozen=True)
class Movie:
    """A movie and its calibration: ``data`` ``(T, [Z,] Y, X)`` (an array, a memory map or
    a Dask array) and the physical pixel size and frame interval where the file states
    them (:class:`~napari_mpt.core.calibration.Calibration`; none: pixels and frames)."""

    data: Any
    path: str
    calibration: Calibration = field(default_factory=Calibration)

    @property
    def ndim(self) -> int:
        """Spatial axes: 2 or 3."""
        return len(np.shape(self.data)) - 1

    def metadata(self) -> dict[str, Any]:
        """JSON-ready: the calibration, and whether the pixels stay on disk."""
        cal = self.calibration
        return {"pixel_size": list(cal.spatial(self.ndim)) if cal.pixel_size else None,
                "space_unit": cal.space_unit, "frame_interval": cal.frame_interval,
                "time_unit": cal.time_unit,
                "on_disk": isinstance(self.data, np.memmap) or not isinstance(self.data, np.ndarray)}


def write_movie(path: str | os.PathLike, movie: np.ndarray,
                calibration: Calibration | None = None, compress: bool = False) -> Path:
    """Write ``movie`` as an ImageJ hyperstack TIFF (axes TYX or TZYX), atomically, with
    ``calibration``'s pixel size and frame interval in its ImageJ metadata; ``compress``:
    zlib (a third of the size of the bulk-water movie; such a file is read, not
    memory-mapped)."""
    import tifffile

    path = Path(path)
    arr = np.asarray(movie)
    if arr.ndim not in (3, 4):
        raise InputError(str(path), f"a movie is (T, Y, X) or (T, Z, Y, X), got shape {arr.shape}")
    metadata: dict[str, Any] = {"axes": "TYX" if arr.ndim == 3 else "TZYX"}
    extra: dict[str, Any] = {}
    cal = calibration or Calibration()
    if cal.space_unit != PIXEL and cal.pixel_size:
        size = cal.spatial(arr.ndim - 1)
        metadata["unit"] = "um" if cal.space_unit == "micrometer" else cal.space_unit
        extra["resolution"] = (1.0 / size[-2], 1.0 / size[-1])
        if arr.ndim == 4:
            metadata["spacing"] = size[0]
    if cal.time_unit != FRAME:
        metadata["finterval"] = cal.frame_interval
        metadata["tunit"] = "sec" if cal.time_unit == "second" else cal.time_unit
    buffer = io.BytesIO()   # tifffile wants a named file; atomic_write's temporary has none
    tifffile.imwrite(buffer, arr, imagej=True, metadata=metadata,
                     compression="zlib" if compress else None, **extra)
    with atomic_write(path, "wb") as fh:
        fh.write(buffer.getbuffer())
    return path


def read_movie(path: str | os.PathLike, in_memory_bytes: int = IN_MEMORY_BYTES) -> Movie:
    """A movie file as a ``(T, Y, X)`` or ``(T, Z, Y, X)`` :class:`Movie` with its
    calibration (module docstring): read into memory up to ``in_memory_bytes``, else
    memory-mapped or read frame by frame as a Dask array.

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
            calibration = _calibration(tif, axes)
            size = int(np.prod(shape)) * np.dtype(series.dtype).itemsize
            data: Any = None
            try:
                data = tifffile.memmap(path, mode="r")
            except (ValueError, OSError):
                if size <= in_memory_bytes:
                    data = series.asarray()
        if data is None:
            data = _lazy(path)
    except InputError:
        raise
    except Exception as exc:   # tifffile raises many types on a corrupt or foreign file
        raise InputError(name, f"cannot read the file as TIFF ({type(exc).__name__}: {exc})"
                         ) from None
    data = data.reshape(shape) if tuple(data.shape) != shape else data
    return Movie(check_movie_axes(data, name, axes), name, calibration)


def _lazy(path: str | os.PathLike) -> Any:
    """The file as a Dask array read page by page (tifffile's Zarr store)."""
    import dask.array as da
    import tifffile
    import zarr

    store = tifffile.imread(path, aszarr=True)
    return da.from_zarr(zarr.open(store, mode="r"))


def _calibration(tif: Any, axes: str) -> Calibration:
    """Pixel size per spatial axis (napari order) and frame interval from OME or ImageJ
    metadata; none where absent or not in a physical unit."""
    if tif.is_ome and tif.ome_metadata:
        return _ome_calibration(tif.ome_metadata, axes)
    meta = tif.imagej_metadata or {}
    interval = _positive(float(meta["finterval"])) if meta.get("finterval") else None
    t_unit = str(meta.get("tunit", "sec")) if interval else FRAME
    unit = space_unit(_unescape(str(meta.get("unit", ""))))
    page = tif.pages.first
    res = [page.tags.get(t) for t in ("YResolution", "XResolution")]
    sizes: tuple[float, ...] = ()
    if unit != PIXEL and all(r is not None and r.value[0] > 0 for r in res):
        sizes = tuple(float(r.value[1]) / float(r.value[0]) for r in res)   # px per unit
        if "Z" in axes and _positive(float(meta.get("spacing") or 0)):
            sizes = (float(meta["spacing"]), *sizes)
    return Calibration(sizes, interval or 1.0, unit if sizes else PIXEL, t_unit)


def _unescape(text: str) -> str:
    """ImageJ writes µ as the escape ``\\u00B5``."""
    return text.replace("\\u00B5", "µ").replace("\\u00b5", "µ")


def _ome_calibration(xml: str, axes: str) -> Calibration:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return Calibration()
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    if pixels is None:
        return Calibration()
    names = ("Z", "Y", "X") if "Z" in axes else ("Y", "X")
    values = [_positive(float(pixels.get(f"PhysicalSize{a}", "nan"))) for a in names]
    units = {pixels.get(f"PhysicalSize{a}Unit", "µm") for a in names}
    sizes = tuple(v for v in values if v is not None)
    unit = space_unit(units.pop()) if len(sizes) == len(names) and len(units) == 1 else PIXEL
    interval = _positive(float(pixels.get("TimeIncrement", "nan")))
    return Calibration(sizes if unit != PIXEL else (), interval or 1.0, unit,
                       pixels.get("TimeIncrementUnit", "s") if interval else FRAME)


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
