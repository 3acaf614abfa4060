"""Movie files (TIFF, through tifffile): read as a single-channel time series, written
atomically as ImageJ hyperstacks."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from .files import atomic_write


def write_movie(path: str | os.PathLike, movie: np.ndarray) -> Path:
    """Write ``movie`` as an ImageJ hyperstack TIFF (axes TYX or TZYX), atomically."""
    import tifffile

    path = Path(path)
    arr = np.asarray(movie)
    if arr.ndim not in (3, 4):
        raise InputError(str(path), f"a movie is (T, Y, X) or (T, Z, Y, X), got shape {arr.shape}")
    axes = "TYX" if arr.ndim == 3 else "TZYX"
    buffer = io.BytesIO()   # tifffile wants a named file; atomic_write's temporary has none
    tifffile.imwrite(buffer, arr, imagej=True, metadata={"axes": axes})
    with atomic_write(path, "wb") as fh:
        fh.write(buffer.getbuffer())
    return path


def read_movie(path: str | os.PathLike) -> np.ndarray:
    """A movie file as a ``(T, Y, X)`` or ``(T, Z, Y, X)`` array (memory-mapped when the
    file allows, so long movies are read frame by frame as they are used).

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
            data: Any
            try:
                data = tifffile.memmap(path)
            except (ValueError, OSError):
                data = series.asarray()
    except InputError:
        raise
    except Exception as exc:   # tifffile raises many types on a corrupt or foreign file
        raise InputError(name, f"cannot read the file as TIFF ({type(exc).__name__}: {exc})"
                         ) from None
    data = np.asarray(data).reshape(shape) if data.shape != shape else data
    return check_movie_axes(data, name, axes)


def check_movie_axes(data: Any, source: str, axes: str | None = None) -> Any:
    """Check that ``data`` is a single-channel time series; returns ``(T, [Z,] Y, X)`` data.

    ``axes`` are the file's axis letters when known (tifffile's ``series.axes``): length-1
    axes are dropped (e.g. ImageJ's C of size 1), colour samples (S) or several channels
    (C) in a 4-D file are refused, and a time axis (T) must come first.  A 3-axis stack
    without a T (an ImageJ stack of slices) is read as (T, Y, X).  Without ``axes`` a 3-D
    array is (T, Y, X), a 4-D one (T, Z, Y, X), and a last axis of 3 or 4 after larger ones
    is taken for RGB(A) and refused.
    """
    shape = tuple(np.shape(data))
    if axes is not None and len(axes) == len(shape):
        keep = [i for i, (a, n) in enumerate(zip(axes, shape, strict=True))
                if n > 1 or a in "YX"]
        if len(keep) < 3 and len(shape) >= 3:   # keep a time axis of one frame
            keep = sorted(set(keep) | {0})
        data = np.reshape(data, tuple(shape[i] for i in keep))
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
    return data
