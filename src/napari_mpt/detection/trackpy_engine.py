"""trackpy as a second detector engine: :func:`trackpy.locate` finds and refines the
spots, with the settings of the napari-mpt engine.

So that a user can compare detectors as well as linkers on the same movie, the trackpy
engine takes the same estimated settings: ``invert`` from the polarity, the feature
``diameter`` from the spot size (the odd number of pixels ``2 ceil(2 sigma) + 1``: 11 px
for the 1 um beads of trackpy's bulk-water walkthrough, its own choice), and keeps the
features whose quality (the napari-mpt filter response, :mod:`napari_mpt.detection.filters`,
at the feature's pixel) passes the same threshold, instead of trackpy's ``minmass``, so
that one threshold means the same with either engine.  trackpy's own columns (``mass``,
``size``, ``ecc``, ``signal``, ``raw_mass``, ``ep``) are the features, with ``quality``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..core.errors import ParameterError
from ..core.params import DetectParams
from .estimate import DetectSettings
from .filters import filter_frame, quality_map
from .fit import FrameSpots

TRACKPY_FEATURES = ("quality", "mass", "size", "ecc", "signal", "raw_mass", "ep")


def diameter(sigmas: tuple[float, ...]) -> tuple[int, ...]:
    """trackpy's odd feature diameter per axis for spots of ``sigmas``."""
    return tuple(2 * math.ceil(2.0 * s) + 1 for s in sigmas)


def locate_frame(raw: np.ndarray, img: np.ndarray, params: DetectParams,
                 settings: DetectSettings) -> FrameSpots:
    """Spots of a frame: ``raw`` as read, for trackpy (which inverts dark spots itself),
    and ``img``, the same as float32 with spots as peaks, for their quality."""
    try:
        import trackpy
    except ImportError:
        raise ParameterError("engine", "trackpy is not installed: pip install trackpy "
                             "(or napari-mpt[ecosystem])") from None

    size = diameter(settings.sigmas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # trackpy warns about image types and empty frames
        df = trackpy.locate(raw, size if len(size) == 3 else size[-1],
                            invert=settings.sign < 0, minmass=0.0,
                            separation=max(params.min_distance, 1) if params.min_distance > 1
                            else None)
    axes = ["z", "y", "x"][3 - img.ndim:]
    coords = df[axes].to_numpy(dtype=np.float64) if len(df) else np.empty((0, img.ndim))
    q, _ = quality_map(filter_frame(img, settings.sigmas), settings.noise, settings.sigmas,
                       float(np.abs(img).max(initial=0.0)))
    at = np.clip(np.rint(coords).astype(np.int64), 0, np.array(img.shape) - 1)
    quality = q[tuple(at.T)].astype(np.float64) if len(at) else np.empty(0)
    keep = quality > settings.threshold
    if params.border:
        keep &= np.all((coords >= params.border)
                       & (coords <= np.array(img.shape) - 1 - params.border), axis=1)
    feats = {"quality": quality[keep]}
    for k in TRACKPY_FEATURES[1:]:
        feats[k] = df[k].to_numpy(dtype=np.float64)[keep] if len(df) else np.empty(0)
    return FrameSpots(coords[keep], feats)
