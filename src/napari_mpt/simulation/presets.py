"""Named simulation scenarios, "ISBI-like": simulated, not the challenge's data.

The ISBI 2012 particle tracking challenge (Chenouard et al., "Objective comparison of
particle tracking methods", Nature Methods 11:281-289, 2014) scored trackers on movies of
four biological scenarios at three densities.  Its data may not be redistributed, so these
presets simulate detections *like* it with :func:`napari_mpt.simulation.simulate.simulate`:

From the challenge (see ``tracking-literature.md``):
  - 512 x 512 px, 100 frames, 2-D;
  - densities low / mid / high of about 100 / 500 / 1000 particles per frame (the
    challenge's microtubule movies were somewhat sparser; we use one set of counts for
    every scenario so that scenarios compare at equal density);
  - the motion types: Brownian ("vesicle"), switching between Brownian and directed
    ("receptor"), directed ("microtubule").  The 3-D "virus" scenario is not included.

Our choices (the challenge gives images, not these numbers):
  - Brownian step std mu: 1.5 px for vesicles (the paper's default), 1.0 px for
    receptors, 0.5 px for microtubules (their motion is mostly the directed part);
  - directed speed: 2 px/frame for receptors, 3 px/frame for microtubules; receptors
    switch with probability 0.1 per frame;
  - measurement noise sigma 0.5 px, about trackpy's localisation RMSE at SNR 2 on this
    project's test movies;
  - detection probability P_D = 0.9 (a common setting in the MHT literature);
  - clutter 2 % of N spurious detections per frame, uniform;
  - per-frame survival 0.99 (mean life 100 frames, the movie length); particles end where
    they leave the field of view; births keep the count steady:
    ``birth_rate = N (1 - survival) + exits``, where exits is the expected number of
    particles crossing the border per frame at uniform density (see :func:`exit_rate`).
"""

from __future__ import annotations

import math
from typing import Any

from ..core.errors import ParameterError
from ..core.params import SimulationParams

DENSITIES: dict[str, int] = {"low": 100, "mid": 500, "high": 1000}
"""Particles per frame of the challenge's three densities."""

SCENARIOS: dict[str, dict[str, Any]] = {
    "vesicle": {"motion": "brownian", "process_noise": 1.5},
    "receptor": {"motion": "switching", "process_noise": 1.0, "speed": 2.0,
                 "switch_probability": 0.1},
    "microtubule": {"motion": "directed", "process_noise": 0.5, "speed": 3.0},
}
"""The challenge's 2-D scenarios: its motion type, our step sizes."""

COMMON: dict[str, Any] = {
    "frames": 100, "field_of_view": 512.0, "ndim": 2, "measurement_noise": 0.5,
    "detection_probability": 0.9, "survival": 0.99, "end_at_edge": True, "seed": 0,
}
CLUTTER_SHARE = 0.02
"""Spurious detections per frame, as a share of the particles per frame."""


def exit_rate(particles: int, field_of_view: float, frames: int, motion: str,
              process_noise: float, speed: float) -> float:
    """Particles leaving a square field of view per frame, averaged over ``frames``.

    At density ``rho = N / L^2``, each of the four borders (length L) loses
    ``rho * L * speed / pi`` particles per frame to directed motion along a uniformly
    random 2-D direction (the interior keeps the density at the border up).  Brownian
    particles deplete the border instead: a particle at distance x reaches it within T
    steps with probability ``P(max of the walk > x)``, so ``rho * L * E[max] =
    rho * L * mu * sqrt(2 T / pi)`` leave in T frames.  A switching particle is directed
    half of the time.  An approximation (checked in the preset tests: the count stays
    within 10 % of N).
    """
    brownian = process_noise * math.sqrt(2.0 / (math.pi * frames))
    directed = speed / math.pi
    per_side = {"brownian": brownian, "directed": directed,
                "switching": 0.5 * (brownian + directed)}[motion]
    return 4.0 * particles * per_side / field_of_view


def _preset(scenario: str, density: str) -> dict[str, Any]:
    n = DENSITIES[density]
    values = {**COMMON, **SCENARIOS[scenario], "particles": n, "clutter": CLUTTER_SHARE * n}
    exits = exit_rate(n, values["field_of_view"], values["frames"], values["motion"], values["process_noise"],
                      values.get("speed", 0.0))
    # two decimals: what a spin box shows, so the widget and the CLI give the same preset
    values["birth_rate"] = round(n * (1.0 - values["survival"]) + exits, 2)
    return values


PRESETS: dict[str, dict[str, Any]] = {
    f"{s}-{d}": _preset(s, d) for s in SCENARIOS for d in DENSITIES}
"""``scenario-density`` -> SimulationParams field values, e.g. ``vesicle-high``."""


def preset_params(name: str, **overrides: Any) -> SimulationParams:
    """The parameters of preset ``name``, with ``overrides`` (field values) on top."""
    if name not in PRESETS:
        raise ParameterError("preset", f"{name!r} is not one of {', '.join(PRESETS)}")
    return SimulationParams(**{**PRESETS[name], **overrides})
