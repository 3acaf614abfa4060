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

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.data import Simulation, Tracks
from ..core.errors import InputError, ParameterError
from ..core.params import MovieParams
from ..imaging.render import render
from ..io import write_movie

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
        expected = float(params.background) + render(shape, coords[rows[finite[rows]]], amp,
                                                    sigma, extent=PSF_EXTENT)
        counts = rng.poisson(expected)
        movie[t] = np.minimum(counts, np.iinfo(np.uint16).max)
    return movie



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
