"""Named simulation scenarios, "ISBI-like": simulated, not the challenge's data.

The ISBI 2012 particle tracking challenge (Chenouard et al., "Objective comparison of
particle tracking methods", Nature Methods 11:281-289, 2014) scored trackers on movies of
four biological scenarios at three densities.  Its data may not be redistributed, so these
presets simulate detections *like* it with :func:`napari_mpt.simulation.simulate.simulate`:

From the challenge:
  - 512 x 512 px, 100 frames, 2-D; the 3-D "virus" scenario is not included;
  - densities low / mid / high of about 100 / 500 / 1000 particles per frame (its ground
    truth shows 110 and 85 points per frame in "VESICLE snr 7 density low" and "RECEPTOR
    snr 7 density low"; one set of counts for every scenario, so that scenarios compare
    at equal density);
  - the motion, calibrated to the figures its ground truth gives (:data:`CHALLENGE`,
    measured on the truth's tracks; :func:`motion_figures` measures the same on a
    simulation, and ``tests/simulation/test_presets.py`` holds the presets to them):
    "vesicle" is Brownian with step std mu = 2.0 px (step length median 2.33 px, per-track
    mean steps 2.0-2.9 px, lag-1 velocity autocorrelation 0); "receptor" switches between
    Brownian steps of mu = 0.65 px (half the steps under 1 px) and directed phases at
    4.9 px per frame (one step in ten over 5 px, autocorrelation +0.72), directed 22 % of
    the time in phases of about 7 frames;
  - tracks are short: half end within 15 (vesicle) or 10 (receptor) frames, and few
    within 4: a particle lives at least 4 frames, then survives each frame with
    probability 0.95 (vesicle) or 0.92 (receptor), which gives those quantiles.

Not measured on the challenge, our choices:
  - "microtubule": directed at 3 px/frame with mu = 0.5 px, survival 0.99 (its figures are
    not available);
  - "mixture" (no challenge counterpart): immobile, Brownian (mu = 1.5 px) and directed
    (4 px/frame) particles in one field, each switching between the three (long-run
    shares 0.3 / 0.5 / 0.2, a mode held about 7-14 frames), lifetimes as the receptor's:
    the heterogeneous population real cells show (see ``saspt_tracks`` in the real data);
  - measurement noise sigma 0.5 px, about trackpy's localisation RMSE at SNR 2 on this
    project's test movies;
  - detection probability P_D = 0.9 (a common setting in the MHT literature);
  - clutter 2 % of N spurious detections per frame, uniform;
  - particles end where they leave the field of view; births keep the count steady:
    ``birth_rate = N / mean lifetime + exits`` (mean lifetime ``min_lifetime - 1 +
    1 / (1 - survival)``), where exits is the expected number of particles crossing the
    border per frame at uniform density (see :func:`exit_rate`).  Values have at most two
    decimals: what the Simulate widget's spin boxes show, so widget and CLI agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.data import Tracks
from ..core.errors import ParameterError
from ..core.params import SimulationParams

DENSITIES: dict[str, int] = {"low": 100, "mid": 500, "high": 1000}
"""Particles per frame of the challenge's three densities."""

SCENARIOS: dict[str, dict[str, Any]] = {
    "vesicle": {"motion": "brownian", "process_noise": 2.0, "min_lifetime": 4,
                "survival": 0.95},
    "receptor": {"motion": "switching", "process_noise": 0.65, "speed": 4.9,
                 "directed_share": 0.22, "switch_probability": 0.09, "min_lifetime": 4,
                 "survival": 0.92},
    "microtubule": {"motion": "directed", "process_noise": 0.5, "speed": 3.0,
                    "survival": 0.99},
    "mixture": {"motion": "mixture", "process_noise": 1.5, "speed": 4.0,
                "immobile_share": 0.3, "directed_share": 0.2, "switch_probability": 0.07,
                "min_lifetime": 4, "survival": 0.92},
}
"""The scenarios: the challenge's 2-D motion types, calibrated where its figures exist,
and a mixed population."""

CHALLENGE: dict[str, dict[str, Any]] = {
    "vesicle": {"tracks": 551, "points_per_frame": 110, "step": (2.33, 4.29, 6.02, 8.4),
                "track_mean_step": (2.04, 2.48, 2.93), "autocorrelation": -0.01,
                "track_frames": (5, 15, 40)},
    "receptor": {"tracks": 596, "points_per_frame": 85, "step": (0.97, 5.07, 6.46, 7.5),
                 "track_mean_step": (0.65, 1.36, 3.24), "autocorrelation": 0.72,
                 "track_frames": (5, 10, 28.5)},
}
"""The challenge's ground-truth figures at low density (``realdata/README.md``): step
length (px) median / 90 % / 99 % / max, per-track mean step 10 / 50 / 90 %, lag-1 velocity
autocorrelation, track length (frames) 10 / 50 / 90 %."""

COMMON: dict[str, Any] = {
    "frames": 100, "field_of_view": 512.0, "ndim": 2, "measurement_noise": 0.5,
    "detection_probability": 0.9, "end_at_edge": True, "seed": 0,
}
CLUTTER_SHARE = 0.02
"""Spurious detections per frame, as a share of the particles per frame."""


def motion_figures(truth: Tracks) -> dict[str, Any]:
    """The figures of :data:`CHALLENGE`, measured on true tracks: steps between
    consecutive frames of a track (px), each track's mean step (tracks with a step), the
    lag-1 velocity autocorrelation ``mean(v_t . v_t+1) / mean(|v_t|^2)`` (the first mean
    over consecutive steps, the second over steps), and track lengths in frames (first to
    last)."""
    tid, frame, xy = truth.track_id, truth.frame, truth.coords
    step_ok = (tid[1:] == tid[:-1]) & (frame[1:] == frame[:-1] + 1)
    v = (xy[1:] - xy[:-1])[step_ok]
    length = np.linalg.norm(v, axis=1)
    owner = tid[1:][step_ok]
    _, inv = np.unique(owner, return_inverse=True)
    mean_step = np.bincount(inv, weights=length) / np.bincount(inv)
    at = np.flatnonzero(step_ok)
    pair = np.isin(at + 1, at)
    a = (xy[1:] - xy[:-1])[at[pair]]
    b = (xy[1:] - xy[:-1])[at[pair] + 1]
    uniq, first = np.unique(tid, return_index=True)
    last = np.r_[first[1:], len(tid)] - 1
    frames = frame[last] - frame[first] + 1
    q = np.quantile
    return {"tracks": len(uniq), "points_per_frame": len(tid) / (np.ptp(frame) + 1),
            "step": tuple(float(x) for x in (*q(length, [0.5, 0.9, 0.99]), length.max())),
            "track_mean_step": tuple(float(x) for x in q(mean_step, [0.1, 0.5, 0.9])),
            "autocorrelation": float(np.einsum("ij,ij->", a, b) / len(a)
                                     / (np.einsum("ij,ij->", v, v) / len(v))),
            "track_frames": tuple(float(x) for x in q(frames, [0.1, 0.5, 0.9]))}


def exit_rate(particles: int, field_of_view: float, frames: int, motion: str,
              process_noise: float, speed: float, directed_share: float = 0.5,
              immobile_share: float = 0.0) -> float:
    """Particles leaving a square field of view per frame, averaged over ``frames``.

    At density ``rho = N / L^2``, each of the four borders (length L) loses
    ``rho * L * speed / pi`` particles per frame to directed motion along a uniformly
    random 2-D direction (the interior keeps the density at the border up).  Brownian
    particles deplete the border instead: a particle at distance x reaches it within T
    steps with probability ``P(max of the walk > x)``, so ``rho * L * E[max] =
    rho * L * mu * sqrt(2 T / pi)`` leave in T frames.  A switching or mixed particle
    moves each way for its share of the time (an immobile one does not move).  An
    approximation (checked in the preset tests: the count stays within 10 % of N).
    """
    brownian = process_noise * math.sqrt(2.0 / (math.pi * frames))
    directed = speed / math.pi
    if motion in ("brownian", "directed"):
        directed_share, immobile_share = float(motion == "directed"), 0.0
    elif motion == "switching":
        immobile_share = 0.0
    per_side = ((1.0 - directed_share - immobile_share) * brownian
                + directed_share * directed)
    return 4.0 * particles * per_side / field_of_view


def _preset(scenario: str, density: str) -> dict[str, Any]:
    n = DENSITIES[density]
    values = {**COMMON, **SCENARIOS[scenario], "particles": n, "clutter": CLUTTER_SHARE * n}
    exits = exit_rate(n, values["field_of_view"], values["frames"], values["motion"],
                      values["process_noise"], values.get("speed", 0.0),
                      values.get("directed_share", 0.5), values.get("immobile_share", 0.0))
    # two decimals (module docstring)
    life = values.get("min_lifetime", 1) - 1 + 1.0 / (1.0 - values["survival"])
    values["birth_rate"] = round(n / life + exits, 2)
    return values


PRESETS: dict[str, dict[str, Any]] = {
    f"{s}-{d}": _preset(s, d) for s in SCENARIOS for d in DENSITIES}
"""``scenario-density`` -> SimulationParams field values, e.g. ``vesicle-high``."""


def preset_params(name: str, **overrides: Any) -> SimulationParams:
    """The parameters of preset ``name``, with ``overrides`` (field values) on top."""
    if name not in PRESETS:
        raise ParameterError("preset", f"{name!r} is not one of {', '.join(PRESETS)}")
    return SimulationParams(**{**PRESETS[name], **overrides})
