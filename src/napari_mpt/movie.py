"""Simulated fluorescence movies and movie files (TIFF, read and written with tifffile).

A rendered movie shows the simulation's *particles* (the true positions of
``sim.truth``), not its noisy detections: a spot detector run on the movie then measures
positions with its own localisation error, as on real data.

Image model (ISBI 2012 particle tracking challenge, Chenouard et al. 2014): the expected
photon count of pixel ``p`` (pixel centres at integer coordinates, napari's convention) is
``background + A * sum_k exp(-|p - x_k|^2 / (2 sigma^2))`` (sigma per axis), and the
movie is a Poisson draw of it.  The signal-to-noise ratio is the challenge's: the peak
above background over the standard deviation of the Poisson noise *at the peak*,
``SNR = A / sqrt(background + A)``, so ``A`` solves that equation
(:meth:`MovieParams.amplitude`; background 10 gives peaks of 13.7, 18.6, 33.0 and 67.5
photons at SNR 1, 2, 4 and 7, the challenge's values).  The other common convention,
noise taken at the background level (``A / sqrt(background)``), would give dimmer spots.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .data import Simulation, Tracks
from .errors import InputError, ParameterError
from .io import atomic_write
from .params import MovieParams

SNR_PRESETS: dict[str, float] = {"snr1": 1.0, "snr2": 2.0, "snr4": 4.0, "snr7": 7.0}
"""The ISBI 2012 challenge's four signal-to-noise ratios."""

MAX_MOVIE_BYTES = 4 * 1024 ** 3
"""Largest movie rendered in memory (uint16): a 3-D simulation's default 512 px cube over
100 frames would be 27 GB, so it is refused with a message instead of exhausting memory."""

PSF_EXTENT = 4.0
"""Spots are drawn out to this many sigmas, where the Gaussian is below 3.4e-4 of its peak."""


def movie_preset(name: str, **changes: Any) -> MovieParams:
    """The movie parameters of preset ``name`` (``snr1``, ``snr2``, ``snr4``, ``snr7``)."""
    if name not in SNR_PRESETS:
        raise InputError("movie preset", f"{name!r} is not one of {', '.join(SNR_PRESETS)}")
    return MovieParams(snr=SNR_PRESETS[name], **changes)


def _movie_shape(params: MovieParams, ndim: int, positions: np.ndarray, fov: float | None
                 ) -> tuple[int, ...]:
    if params.size:
        if len(params.size) != ndim:
            raise InputError("movie", f"size {params.size} has {len(params.size)} values but "
                             f"the positions are {ndim}-D")
        return tuple(int(v) for v in params.size)
    if fov is not None:
        return (math.ceil(fov),) * ndim
    hi = np.nanmax(positions, axis=0) if len(positions) else np.zeros(ndim)
    return tuple(math.ceil(float(v)) + 1 for v in np.maximum(hi, 0))


def render_movie(source: Simulation | Tracks | tuple[np.ndarray, np.ndarray],
                 params: MovieParams | None = None, frames: int | None = None) -> np.ndarray:
    """A ``(T, Y, X)`` or ``(T, Z, Y, X)`` uint16 movie of Gaussian spots with Poisson noise.

    ``source`` is a :class:`Simulation` (its truth is drawn), a :class:`Tracks` table, or
    ``(frame, coords)`` arrays.  ``frames`` (default: up to the last frame present) sets T.
    The image size is ``params.size``, else the simulation's field of view, else the
    bounding box of the positions.  Positions outside the image are drawn where their
    spot reaches into it.
    """
    params = params or MovieParams()
    fov = None
    if isinstance(source, Simulation):
        fov = getattr(source.params, "field_of_view", None)
        frame, coords = source.truth.frame, source.truth.coords
    elif isinstance(source, Tracks):
        frame, coords = source.frame, source.coords
    else:
        frame, coords = (np.asarray(a) for a in source)
    frame = np.asarray(frame, dtype=np.int64)
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] not in (2, 3) or len(frame) != len(coords):
        raise InputError("movie", f"positions must be (n, 2) or (n, 3) with one frame each, "
                         f"got {coords.shape} and {frame.shape}")
    ndim = coords.shape[1]
    shape = _movie_shape(params, ndim, coords, fov)
    n_frames = frames if frames is not None else (int(frame.max()) + 1 if len(frame) else 1)
    nbytes = 2 * n_frames * math.prod(shape)
    if nbytes > MAX_MOVIE_BYTES:
        raise ParameterError("size", f"a movie of {n_frames} frames of {' x '.join(map(str, shape))} "
                             f"px would take {nbytes / 1024 ** 3:.1f} GiB (limit "
                             f"{MAX_MOVIE_BYTES / 1024 ** 3:.0f}); set a smaller size or fewer frames")
    sigma = np.array([params.psf_sigma_z or params.psf_sigma] * (ndim - 2)
                     + [params.psf_sigma] * 2)
    amp = params.amplitude()
    rng = np.random.default_rng(params.seed)
    movie = np.empty((n_frames, *shape), dtype=np.uint16)
    finite = np.all(np.isfinite(coords), axis=1)
    order = np.argsort(frame, kind="stable")
    bounds = np.searchsorted(frame[order], np.arange(n_frames + 1))
    for t in range(n_frames):
        rows = order[bounds[t]:bounds[t + 1]]
        expected = np.full(shape, float(params.background))
        _add_spots(expected, coords[rows[finite[rows]]], sigma, amp)
        counts = rng.poisson(expected)
        movie[t] = np.minimum(counts, np.iinfo(np.uint16).max)
    return movie


def _add_spots(image: np.ndarray, centres: np.ndarray, sigma: np.ndarray, amp: float) -> None:
    """Add ``amp * exp(-|p - c|^2 / 2 sigma^2)`` around each centre, within PSF_EXTENT sigmas
    (vectorised over spots: one scatter-add of every spot's window)."""
    if not len(centres):
        return
    ndim = image.ndim
    radius = np.ceil(PSF_EXTENT * sigma).astype(int)
    offsets = np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in radius], indexing="ij"),
                       axis=-1).reshape(-1, ndim)
    base = np.round(centres).astype(np.int64)
    pix = base[:, None, :] + offsets[None, :, :]                      # (n, k, ndim)
    d2 = (((pix - centres[:, None, :]) / sigma) ** 2).sum(axis=-1)
    vals = amp * np.exp(-0.5 * d2)
    inside = np.all((pix >= 0) & (pix < np.array(image.shape)), axis=-1)
    flat = np.ravel_multi_index(tuple(pix[inside].T), image.shape)
    np.add.at(image.reshape(-1), flat, vals[inside])


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


def write_simulation_movie(sim: Simulation, out_dir: str | os.PathLike,
                           movie_params: MovieParams | None = None) -> Path:
    """Render ``sim``'s particles and write ``out_dir/movie.tif``; returns its path.

    The movie has as many frames as the simulation and the simulation's field of view as
    its size (unless ``movie_params.size`` says otherwise).
    """
    frames = getattr(sim.params, "frames", None)
    movie = render_movie(sim, movie_params, frames=frames)
    return write_movie(Path(out_dir) / "movie.tif", movie)


# --- reading ---------------------------------------------------------------------------
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
