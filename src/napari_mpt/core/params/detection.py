"""Spot detection in a movie."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ParameterError
from .base import _f, _Validated


@dataclass(frozen=True)
class DetectParams(_Validated):
    """Spot detection in a fluorescence movie (:func:`napari_mpt.detection.detect.detect`).

    The defaults suit ISBI-2012-like movies (Gaussian spots of sigma about 1.3 px, Poisson
    noise, SNR 2 and up) without tuning.
    """

    spot_sigma: float = _f(1.3, "spot size: the standard deviation of the spots' Gaussian "
                           "profile in y and x (px)", lo=0.5, hi=20.0)
    spot_sigma_z: float = _f(0.0, "spot size along z for (T, Z, Y, X) movies (px); 0: the same "
                             "as spot_sigma", lo=0.0, hi=20.0)
    threshold: float = _f(5.0, "keep peaks of the filtered frame this many noise standard "
                          "deviations above its median (pixel noise from the median absolute "
                          "deviation of neighbouring-pixel differences)", lo=0.0, hi=1000.0)
    min_distance: int = _f(1, "minimum distance between two spots (px): a spot is the brightest "
                           "point of the filtered frame within this many px", lo=1, hi=100)
    border: int = _f(0, "ignore peaks closer than this to the image edge (px)", lo=0, hi=1000)
    workers: int = _f(0, "frames processed in parallel threads (0: one per CPU core this "
                      "process may use, at most 8)", lo=0, hi=64)
    multi_emitter: bool = _f(True, "fit spots closer than 3.5 spot sigmas jointly and look for "
                             "spots hidden next to brighter ones in the residual (overlapping "
                             "spots in dense frames)")
    residual_rounds: int = _f(1, "multi-emitter fitting: rounds of re-detection in the residual "
                              "(0: joint fits of the detected spots only)", lo=0, hi=5)

    def _check(self) -> None:
        if not isinstance(self.multi_emitter, bool):
            raise ParameterError("multi_emitter", f"must be true or false, got {self.multi_emitter!r}")

    def threads(self) -> int:
        """The number of worker threads: ``workers``, or with 0 one per usable core (at
        most 8).  Two threads halve the wall time on a quiet 2-core machine (README,
        "Speed" of spot detection); under other users' load they cost up to a quarter more."""
        if self.workers:
            return self.workers
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, 8))

    def sigmas(self, ndim: int) -> tuple[float, ...]:
        """Per-axis spot sigma for ``ndim`` spatial axes (napari order)."""
        if ndim == 2:
            return (self.spot_sigma, self.spot_sigma)
        return (self.spot_sigma_z or self.spot_sigma, self.spot_sigma, self.spot_sigma)
