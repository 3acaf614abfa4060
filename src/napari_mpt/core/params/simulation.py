"""What to simulate: particles and their detections (:class:`SimulationParams`, paper
eq. 2-3 plus the real world's misses, clutter, births and motion types) and the
fluorescence movie rendered from them (:class:`MovieParams`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ParameterError
from .base import _f, _Validated

SIM_MOTIONS: tuple[str, ...] = ("brownian", "directed", "switching", "mixture")


@dataclass(frozen=True)
class SimulationParams(_Validated):
    """Brownian particles with drift, observed with Gaussian noise (paper eq. 2-3), and,
    switched on field by field, the real world: directed and switching motion, missed
    detections, clutter, births, deaths and particles leaving the field of view."""

    particles: int = _f(2, "number of particles N", lo=1, hi=10_000)
    frames: int = _f(150, "number of frames T", lo=2, hi=1_000_000)
    process_noise: float = _f(1.5, "process noise scale mu (std of each Brownian step, px)", lo=0.0)
    measurement_noise: float = _f(1.0, "measurement noise scale sigma (px)", lo=0.0)
    drift: tuple[float, ...] = _f(
        (), "drift per frame (px): ndim values shared by all particles, or "
        "particles*ndim values, one (dy, dx) per particle; empty: no drift")
    separation: float = _f(10.0, "initial distance between the two particles of a pair (px)", lo=0.0)
    field_of_view: float = _f(
        512.0, "side of the square/cube field of view (px): N > 2 particles start, and "
        "births and clutter appear, uniformly in it", lo=1.0)
    ndim: int = _f(2, "spatial dimensions: 2 (y, x) or 3 (z, y, x)", lo=2, hi=3)
    seed: int = _f(0, "random seed", lo=0)
    # Real detections (issue 9).  The defaults switch every one of them off, so the
    # paper's clean world above is unchanged, draw for draw.
    detection_probability: float = _f(
        1.0, "detection probability P_D: each particle is missed independently in each frame "
        "with probability 1 - P_D", lo=0.0, hi=1.0)
    clutter: float = _f(0.0, "mean spurious detections per frame (Poisson, uniform in the "
                        "field of view)", lo=0.0)
    birth_rate: float = _f(0.0, "mean new particles per frame from frame 1 on (Poisson, "
                           "uniform in the field of view)", lo=0.0)
    min_lifetime: int = _f(1, "frames a particle lives at least; after them it survives each "
                           "frame with the survival probability", lo=1, hi=1_000_000)
    survival: float = _f(1.0, "per-frame survival probability of a particle (1: none dies)",
                         lo=0.0, hi=1.0)
    motion: str = _f("brownian", "brownian: steps of std mu; directed: plus speed px/frame "
                     "along a per-particle random direction; switching: each particle switches "
                     "between the two; mixture: between immobile (no steps), Brownian and "
                     "directed", choices=SIM_MOTIONS)
    speed: float = _f(2.0, "speed of directed motion (px per frame)", lo=0.0)
    switch_probability: float = _f(
        0.1, "switching and mixture motion: sets how often a particle changes mode; a "
        "particle leaves a mode of long-run share s with probability 2 q (1 - s) per frame "
        "(q itself for two modes of equal share)", lo=0.0, hi=1.0)
    directed_share: float = _f(
        0.5, "switching and mixture motion: long-run share of frames in directed motion "
        "(also the chance to start directed)", lo=0.0, hi=1.0)
    immobile_share: float = _f(
        0.0, "mixture motion: long-run share of frames immobile (no steps; the "
        "measurement noise only)", lo=0.0, hi=1.0)
    end_at_edge: bool = _f(
        False, "a particle that leaves the field of view ends there (its track stops)")

    def _check(self) -> None:
        # empty means no drift in any ndim, so the 2-D and 3-D defaults are one value
        if self.drift and len(self.drift) not in (self.ndim, self.ndim * self.particles):
            raise ParameterError(
                "drift", f"needs {self.ndim} values (shared) or {self.ndim * self.particles} "
                f"(one per particle) for ndim={self.ndim}, got {len(self.drift)}")
        if self.birth_rate > 0 and len(self.drift) == self.ndim * self.particles > self.ndim:
            raise ParameterError(
                "drift", "one drift per particle cannot cover particles born later; give "
                f"{self.ndim} shared values or set birth_rate to 0")
        if self.immobile_share and self.motion != "mixture":
            raise ParameterError("immobile_share", "only mixture motion has an immobile mode")
        if self.directed_share + self.immobile_share > 1.0:
            raise ParameterError("directed_share", "directed and immobile shares add up to "
                                 f"{self.directed_share + self.immobile_share:g} > 1")
        worst = 2.0 * self.switch_probability * (1.0 - min(v for v in self.mode_shares() if v > 0))
        if self.motion in ("switching", "mixture") and worst > 1.0:
            raise ParameterError("switch_probability", f"{self.switch_probability:g} with "
                                 f"these shares asks a mode to be left with probability "
                                 f"{worst:g} > 1 per frame")

    def mode_shares(self) -> tuple[float, float, float]:
        """Long-run shares of frames immobile, Brownian and directed (switching and
        mixture motion)."""
        immobile = self.immobile_share if self.motion == "mixture" else 0.0
        return immobile, 1.0 - immobile - self.directed_share, self.directed_share

    def is_clean(self) -> bool:
        """True in the paper's world: every particle detected in every frame, no clutter,
        no births or deaths, Brownian motion, nobody leaves."""
        return (self.detection_probability == 1.0 and self.clutter == 0.0
                and self.birth_rate == 0.0 and self.survival == 1.0
                and self.motion == "brownian" and not self.end_at_edge)

    def drift_array(self):
        """Drift as an ``(N, ndim)`` array."""
        import numpy as np

        d = np.asarray(self.drift or (0.0,) * self.ndim, dtype=np.float64).reshape(-1, self.ndim)
        return np.broadcast_to(d, (self.particles, self.ndim)).copy()


@dataclass(frozen=True)
class MovieParams(_Validated):
    """A simulated fluorescence movie: Gaussian spots on a background, Poisson noise.

    ``snr`` follows the ISBI 2012 challenge: the spot's peak above background over the
    standard deviation of the Poisson noise at the peak, ``A / sqrt(background + A)``
    (background 10 gives peaks of 13.7 / 18.6 / 33.0 / 67.5 at SNR 1 / 2 / 4 / 7).
    """

    snr: float = _f(4.0, "signal-to-noise ratio of each spot (ISBI 2012 presets: 1, 2, 4, 7)",
                    lo=0.0, hi=1000.0)
    psf_sigma: float = _f(1.3, "standard deviation of the Gaussian point-spread function in "
                          "y and x (px)", lo=0.3, hi=20.0)
    psf_sigma_z: float = _f(0.0, "PSF standard deviation along z in 3-D movies (px); 0: the "
                            "same as psf_sigma", lo=0.0, hi=20.0)
    background: float = _f(10.0, "background level (photons per pixel)", lo=0.0, hi=1e6)
    size: tuple[float, ...] = _f(
        (), "image size in px, ndim values (y, x) or (z, y, x); empty: the simulation's "
        "field of view", lo=1.0)
    seed: int = _f(0, "seed of the Poisson noise", lo=0)

    def _check(self) -> None:
        if self.size and len(self.size) not in (2, 3):
            raise ParameterError("size", f"needs 2 (y, x) or 3 (z, y, x) values, got {len(self.size)}")
        if any(v != int(v) for v in self.size):
            raise ParameterError("size", f"pixel counts must be whole numbers, got {self.size}")

    def amplitude(self) -> float:
        """Peak above background for ``snr``: solves ``A / sqrt(background + A) = snr``."""
        s = self.snr
        return 0.5 * (s * s + s * math.sqrt(s * s + 4.0 * self.background))
