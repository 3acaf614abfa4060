"""Reader contribution for movies: a TIFF time series as an Image layer in its calibration.

napari's own reader opens a TIFF too, but in pixels and frames and wholly in memory; this
one (:func:`napari_mpt.io.read_movie`) gives the layer the file's physical ``scale`` and
``units`` (ImageJ or OME metadata), so the spots and tracks made from it, and Track
statistics, are in µm and s, and it leaves a movie larger than 1 GiB on disk (a memory
map or a Dask array read frame by frame).  A TIFF that is not a time series (a single
image, RGB, several channels) is left to napari's reader: this one declines it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..io import Movie, read_movie
from .layers import KEY, axis_labels

LayerData = list[tuple]
SUFFIXES = (".tif", ".tiff")


def movie_layer(movie: Movie, name: str | None = None, **meta: Any) -> tuple:
    """An Image layer data tuple for ``movie``: grey, its calibration as scale and units,
    and ``metadata["napari_mpt"]`` with ``kind`` movie and the calibration."""
    cal = movie.calibration
    return (movie.data, {"name": name or Path(movie.path).stem, "colormap": "gray",
                         "axis_labels": axis_labels(movie.ndim), **cal.layer_kwargs(movie.ndim),
                         "metadata": {KEY: {"kind": "movie", "source": movie.path,
                                            "calibration": movie.metadata(), **meta}}}, "image")


def get_movie_reader(path: str | list[str]) -> Callable[[str], LayerData] | None:
    """napari's reader hook: a function for one movie TIFF, ``None`` for anything else."""
    if isinstance(path, list) or not str(path).lower().endswith(SUFFIXES):
        return None
    try:
        movie = read_movie(path)
    except InputError:
        return None                      # not a movie: napari's own reader may open it
    return lambda _path: [movie_layer(movie)]
