"""Which tracker for these detections?  Ask their twins, whose truth is known.

:func:`advise` simulates ``twins`` scenes from the recipe found on the user's detections
(:func:`.estimate.twin_recipe`, seeds ``seed .. seed + twins - 1``), runs every tracker
of the registry on each with its default, data-estimated settings (the transformer as
the association checkpoint, which takes any number of spots per frame), and ranks them
by the association link Jaccard (links by detection identity: TP / (TP + FP + FN)),
pooled over the twins.

The 95 % intervals come from a bootstrap over frames: the twins' frames are resampled
with replacement (the same frames for every tracker, so the comparison is paired) and
the pooled Jaccard recomputed, 2000 times; ``p_better`` is the share of resamples in
which a tracker beats the next one of the ranking.  Cost: each tracker's mean wall time
per twin (and FLOPs, where counted).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.data import Detections, Simulation, Tracks
from ..core.errors import Cancelled, MPTError, ParameterError
from ..core.params import AdviseParams
from ..core.results import RunControl
from ..evaluation.metrics import detection_links
from ..simulation.simulate import simulate
from ..trackers.registry import ALIASES, TRACKERS, Tracker
from .estimate import TwinRecipe, twin_recipe

MEASURE = "association_jaccard"
BOOTSTRAP = 2000


def candidates(methods: tuple[str, ...]) -> dict[str, Tracker]:
    """The registry's trackers named in ``methods`` (the transformer as the association
    checkpoint, which takes any number of spots per frame)."""
    return {m: (ALIASES["association"] if m == "transformer" else TRACKERS[m])
            for m in methods}


def frame_counts(tracks: Tracks, truth: Tracks, frame_of: np.ndarray, frames: int
                 ) -> np.ndarray:
    """``(frames, 3)`` TP, FP, FN of the association link Jaccard by the frame each link
    arrives in (links compared by detection identity)."""
    out = np.zeros((frames, 3), dtype=np.int64)
    pred, true = detection_links(tracks), detection_links(truth)
    width = int(max(pred.max(initial=0), true.max(initial=0))) + 1
    kp, kt = pred[:, 0] * width + pred[:, 1], true[:, 0] * width + true[:, 1]
    hit = np.isin(kp, kt)
    found = np.isin(kt, kp)
    np.add.at(out[:, 0], frame_of[pred[hit, 1]], 1)
    np.add.at(out[:, 1], frame_of[pred[~hit, 1]], 1)
    np.add.at(out[:, 2], frame_of[true[~found, 1]], 1)
    return out


@dataclass
class Ranked:
    """One tracker's result on the twins."""

    method: str
    label: str
    value: float
    lo: float
    hi: float
    time_s: float
    flops: int
    flops_source: str
    p_better: float | None = None     # beats the next of the ranking in this share

    def summary(self) -> dict[str, Any]:
        return {"method": self.method, "label": self.label, "measure": MEASURE,
                "value": self.value, "interval": [self.lo, self.hi], "time": self.time_s,
                "flops": self.flops, "flops_source": self.flops_source,
                "p_better_than_next": self.p_better}


@dataclass
class Advice:
    """The ranking (best first), the recipe, and the trackers that could not run."""

    recipe: TwinRecipe
    ranking: list[Ranked]
    twins: int
    seed: int
    skipped: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def best(self) -> Ranked:
        return self.ranking[0]

    def summary(self) -> dict[str, Any]:
        """The ``advise --json`` object."""
        return {"ranking": [r.summary() for r in self.ranking], "measure": MEASURE,
                "twins": self.twins, "seed": self.seed,
                "parameters": self.recipe.params.to_dict(),
                "found": _plain(self.recipe.found), "skipped": self.skipped,
                "wall_s": self.wall_s}


def _plain(x: Any) -> Any:
    """JSON-ready copies of the estimator's numbers (numpy scalars to Python)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def _jaccard(counts: np.ndarray) -> np.ndarray:
    """Pooled TP / (TP + FP + FN) of ``(..., frames, 3)`` counts."""
    tot = counts.sum(axis=-2)
    denom = tot[..., 0] + tot[..., 1] + tot[..., 2]
    return np.divide(tot[..., 0], denom, out=np.ones(denom.shape), where=denom > 0)


def rank(scenes: Iterable[Simulation], methods: tuple[str, ...], seed: int = 0,
         control: RunControl | None = None, total: int | None = None
         ) -> tuple[list[Ranked], dict[str, str]]:
    """Every tracker of ``methods`` on each scene (with its truth), ranked by the pooled
    association Jaccard with the paired frame bootstrap (module docstring); the trackers
    that refused (an :class:`MPTError`) with why.  ``total``: the scenes' count, for
    progress (one step per tracker run)."""
    control = control or RunControl()
    chosen = candidates(methods)
    counts: dict[str, list[np.ndarray]] = {m: [] for m in chosen}
    wall: dict[str, list[float]] = {m: [] for m in chosen}
    labels: dict[str, str] = {}
    flops: dict[str, tuple[int, str]] = {}
    skipped: dict[str, str] = {}
    done, n_scenes = 0, 0
    steps = (total or 1) * len(chosen)
    control.step(0, steps)
    for sim in scenes:
        n_scenes += 1
        frames = int(sim.detections.frame.max()) + 1
        for method, tracker in chosen.items():
            if method not in skipped:
                try:
                    res = tracker.run(sim.detections, tracker.make(), RunControl(
                        should_stop=control.should_stop))
                except Cancelled:
                    raise
                except MPTError as exc:        # e.g. a tracker that refuses such scenes
                    skipped[method] = str(exc)
                else:
                    counts[method].append(frame_counts(res.tracks, sim.truth,
                                                       sim.detections.frame, frames))
                    wall[method].append(res.wall_s)
                    labels[method] = res.label
                    flops[method] = (flops.get(method, (0, ""))[0] + res.flops.value,
                                     res.flops.source)
            done += 1
            control.step(min(done, steps), steps)
    ran = [m for m in chosen if m not in skipped]
    if not ran:
        raise ParameterError("methods", "no tracker could run on the scenes: "
                             + "; ".join(f"{m}: {why}" for m, why in skipped.items()))
    blocks = {m: np.concatenate(counts[m]) for m in ran}           # (frames of all scenes, 3)
    n_blocks = len(next(iter(blocks.values())))
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, n_blocks, size=(BOOTSTRAP, n_blocks))
    boot = {m: _jaccard(blocks[m][pick]) for m in ran}
    ranking = []
    for m in ran:
        lo, hi = np.percentile(boot[m], [2.5, 97.5])
        ranking.append(Ranked(m, labels[m], float(_jaccard(blocks[m])), float(lo), float(hi),
                              float(np.mean(wall[m])), int(flops[m][0] / n_scenes),
                              flops[m][1]))
    ranking.sort(key=lambda r: (-r.value, r.time_s))
    for r, nxt in itertools.pairwise(ranking):
        r.p_better = float(np.mean(boot[r.method] > boot[nxt.method]))
    return ranking, skipped


def advise(detections: Detections, params: AdviseParams | None = None,
           control: RunControl | None = None) -> Advice:
    """Rank the trackers on twins of ``detections`` (module docstring); ``control`` gets a
    step per tracker run."""
    params = params or AdviseParams()
    t0 = time.perf_counter()
    recipe = twin_recipe(detections, params.max_particles, params.max_frames)
    twins = (simulate(recipe.params.replace(seed=params.seed + k)) for k in range(params.twins))
    ranking, skipped = rank(twins, params.methods, params.seed, control, params.twins)
    return Advice(recipe, ranking, params.twins, params.seed, skipped,
                  time.perf_counter() - t0)
