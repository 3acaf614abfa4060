"""Spot detection in a movie."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .base import _f, _Validated

ENGINES = ("napari-mpt", "trackpy")
POLARITIES = ("auto", "bright", "dark")
SWITCH = ("auto", "on", "off")


@dataclass(frozen=True)
class DetectParams(_Validated):
    """Spot detection in a fluorescence or bright-field movie
    (:func:`napari_mpt.detection.detect.detect`).

    Nothing needs to be set: the polarity, the spot size and the threshold are estimated
    from the movie when left at ``auto`` / ``estimate``
    (:func:`napari_mpt.detection.estimate.estimate_settings`, which reports what it chose).
    """

    engine: str = _f("napari-mpt", "detector: napari-mpt (band-pass filter, Gaussian fits, "
                     "overlapping spots fitted jointly) or trackpy (trackpy.locate: centroids; "
                     "diameter from the spot size)", choices=ENGINES)
    polarity: str = _f("auto", "bright spots on a dark background, dark spots on a bright one, "
                       "or auto: the polarity whose significant peaks outnumber the other's",
                       choices=POLARITIES)
    spot_sigma: float | None = _f(None, "spot size: the standard deviation of the spots' "
                                  "Gaussian profile in y and x (px); estimate: the median "
                                  "width of Gaussian fits to the spots of a few frames",
                                  lo=0.5, hi=20.0, estimate=float)
    spot_sigma_z: float | None = _f(None, "spot size along z in (T, Z, Y, X) movies (px); "
                                    "estimate: from the spots' z profiles", lo=0.3, hi=20.0,
                                    estimate=float)
    threshold: float | None = _f(None, "minimum quality of a spot: its filter response in "
                                 "noise standard deviations; estimate: the lowest quality "
                                 "at which peaks of the opposite polarity (what the background "
                                 "alone makes) are at most 1 % of the spots, and at least 5",
                                 lo=0.0, hi=1e6, estimate=float)
    min_distance: int = _f(1, "minimum distance between two spots (px): a spot is the brightest "
                           "point of the filtered frame within this many px", lo=1, hi=100)
    border: int = _f(0, "ignore peaks closer than this to the image edge (px)", lo=0, hi=1000)
    workers: int = _f(0, "frames processed in parallel threads (0: one per CPU core this "
                      "process may use, at most 8)", lo=0, hi=64)
    multi_emitter: str = _f("auto", "fit spots closer than 3.5 spot sigmas jointly and look for "
                            "spots hidden next to brighter ones in the residual (overlapping "
                            "emitters in dense fluorescence frames); auto: on for bright spots, "
                            "off for dark ones (objects in transmitted light do not add up as "
                            "a sum of Gaussians)", choices=SWITCH)
    residual_rounds: int = _f(1, "multi-emitter fitting: rounds of re-detection in the residual "
                              "(0: joint fits of the detected spots only)", lo=0, hi=5)

    def joint_fits(self, polarity: str) -> bool:
        """Whether the multi-emitter step runs on spots of ``polarity``."""
        return self.multi_emitter == "on" or (self.multi_emitter == "auto" and polarity == "bright")

    def threads(self) -> int:
        """The number of worker threads: ``workers``, or with 0 one per usable core (at
        most 8).  Two threads halve the wall time on a quiet 2-core machine
        (docs/benchmarks/detection.md); under other users' load they cost up to a quarter
        more."""
        if self.workers:
            return self.workers
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, 8))
