"""A data twin's recipe: what the simulator needs, found on the user's own detections.

The trackers' estimators do the measuring (:func:`napari_mpt.trackers.mht.estimate.
estimate_parameters`: a first linking pass, its step statistics, the motion model and its
noises, the detection, clutter and birth rates); this module turns their report into
:class:`~napari_mpt.core.params.SimulationParams`:

- particles ``N = (mean detections per frame - clutter per frame) / P_D``; the field of
  view a square (cube) of the detections' bounding-box area (volume);
- motion: the motion model the estimator chose by BIC (random walk: Brownian steps of
  ``mu = eta'``; constant velocity: directed at ``v0``; switching: switching with its
  directed share and switch probability), and, where the step mixture has a component
  slower than localisation noise alone moves a spot (``sqrt(2) nu'``), a mixture with
  that component's weight immobile;
- births from the birth rate; lifetimes by Little's law: ``N`` particles present and ``b``
  new ones per frame make a mean residence of ``N / b`` frames, of which the particles
  leaving the field (:func:`~napari_mpt.simulation.presets.exit_rate`) take their share,
  so the per-frame survival is ``1 - (b - exits) / N``;
- measurement noise ``nu'``, clutter per frame, ``P_D`` as found.

To stay affordable the twin keeps the density but not the size: at most
``max_particles`` particles (the field shrunk to keep their density) and ``max_frames``
frames.  Every number found is reported (``found``) beside the twin's parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.data import Detections
from ..core.params import SimulationParams
from ..simulation.presets import exit_rate
from ..trackers.mht.estimate import estimate_parameters
from ..trackers.mht.tracker import frames_of

MAX_SWITCH = 0.45
"""The twin's switch probability is capped below the simulator's limit for its shares."""


@dataclass(frozen=True)
class TwinRecipe:
    """The twin's simulation parameters (``seed`` 0: change it per twin) and what was
    found on the data (``found``: the estimator's report plus the derived counts)."""

    params: SimulationParams
    found: dict[str, Any] = field(default_factory=dict)


def _motion(e: dict[str, Any]) -> dict[str, Any]:
    """The simulator's motion fields from the estimator's model (module docstring)."""
    model = e.get("motion_model", "random-walk")
    eta = float(e.get("process_noise") or 1.0)
    nu = float(e.get("measurement_noise") or 0.0)
    out: dict[str, Any] = {"motion": "brownian", "process_noise": eta}
    if model == "constant-velocity":
        out.update(motion="directed", speed=float(e.get("velocity_prior", 0.0)))
    elif model == "switching":
        out.update(motion="switching", speed=float(e.get("velocity_prior", 0.0)),
                   directed_share=float(e.get("directed_share", 0.5)),
                   switch_probability=min(float(e.get("switch_probability", 0.1)), MAX_SWITCH))
    comps = (e.get("step_mixture") or {}).get("components", [])
    if len(comps) >= 2 and nu > 0 and comps[0]["scale"] < math.sqrt(2.0) * nu:
        immobile = float(comps[0]["weight"])
        directed = out.get("directed_share", 0.0) * (1.0 - immobile)
        out.update(motion="mixture", immobile_share=round(immobile, 3),
                   directed_share=round(directed, 3), speed=out.get("speed", 0.0))
        # a mode of long-run share s is left with probability 2 q (1 - s) per frame
        least = min(s for s in (immobile, 1 - immobile - directed, directed) if s > 0)
        q = float(e.get("switch_probability", 0.1))
        out["switch_probability"] = min(q, 0.95 / (2.0 * (1.0 - least)))
    return out


def twin_recipe(detections: Detections, max_particles: int = 40,
                max_frames: int = 20) -> TwinRecipe:
    """The twin of ``detections`` (module docstring)."""
    numbers, coords, _rows = frames_of(detections)        # refuses what no tracker takes
    e = estimate_parameters(coords)
    d = detections.ndim
    frames = len(numbers)
    area = float(e.get("area") or np.prod(np.ptp(detections.coords, axis=0).clip(1.0)))
    side = area ** (1.0 / d)
    p_d = float(e["detection_probability"])
    clutter = float(e.get("clutter_density", 0.0)) * area
    births = float(e.get("birth_density", 0.0)) * area
    per_frame = len(detections) / frames
    n = max((per_frame - clutter) / max(p_d, 1e-3), 1.0)
    clean = bool(e.get("clean", False)) or (p_d >= 1.0 and clutter == 0 and births == 0)
    motion = _motion(e)
    exits = 0.0 if clean else exit_rate(
        max(round(n), 1), side, frames, motion["motion"], motion["process_noise"],
        motion.get("speed", 0.0), motion.get("directed_share", 0.5),
        motion.get("immobile_share", 0.0))
    deaths = max(births - exits, 0.0)
    survival = 1.0 if clean else float(np.clip(1.0 - deaths / n, 0.0, 1.0))
    scale = min(1.0, max_particles / n)
    particles = max(round(n * scale), 1)
    values: dict[str, Any] = {k: (round(v, 4) if isinstance(v, float) else v)
                              for k, v in motion.items()}
    values.update(particles=particles, frames=min(frames, max_frames),
                  measurement_noise=float(e.get("measurement_noise") or 0.0),
                  field_of_view=max(side * scale ** (1.0 / d), 1.0), ndim=d,
                  detection_probability=min(p_d, 1.0), clutter=round(clutter * scale, 3),
                  birth_rate=round(births * scale, 3), survival=round(survival, 4),
                  end_at_edge=not clean)
    params = SimulationParams(**values)
    found = {"estimator": e, "frames": frames, "detections_per_frame": per_frame,
             "particles": n, "field_of_view": side, "clutter_per_frame": clutter,
             "births_per_frame": births, "exits_per_frame": exits,
             "mean_lifetime_frames": (n / deaths) if deaths > 0 else None,
             "shrunk_by": scale}
    return TwinRecipe(params, found)
