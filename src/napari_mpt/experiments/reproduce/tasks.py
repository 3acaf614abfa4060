"""A figure as a list of independent tasks, one per (curve, x, seed), and how to run one.

A task is plain data (picklable, the same on any Dask worker) and carries its own seed,
derived from (figure, sigma, seed index) only, so a result never depends on which worker
ran it or in which order.  Every curve of a figure sees the same simulations at a point,
and along an x-axis that does not change the simulation (i, K) every point sees the same
ones too, so differences along it are the trackers', not the data's.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from ...core.params import PAPER_FILTER, PRIOR_FLOOR
from .figures import Curve, FigureSpec, resolve
from .models import ModelSpec, model_for, seed_of


def task_seed(figure: str, sigma: float, seed_index: int) -> int:
    """A 31-bit simulation seed from (figure, sigma, seed index) alone."""
    return seed_of(f"{figure}|{float(sigma)!r}|{int(seed_index)}")


@dataclass(frozen=True)
class Task:
    """Everything needed to simulate, track and score one point of one curve.

    The simulation's noise and the MHT's priors of it are named as in SimulationParams
    and MHTParams.  A field that does not apply to the task's method is 0 (K_MHT for a
    transformer; K_D, K_E for the MHT; the priors for a transformer).
    """

    figure: str
    curve: str
    x: float
    seed_index: int
    seed: int
    frames: int
    measurement_noise: float        # simulated sigma
    process_noise: float            # simulated mu
    method: str
    lookback: int                   # K_MHT
    decoder_lookback: int           # K_D
    encoder_lookback: int           # K_E
    mht_measurement_noise: float    # nu', at least PRIOR_FLOOR
    mht_process_noise: float        # eta'
    mode: str
    smooth: bool
    model: ModelSpec | None
    metric: str

    @property
    def key(self) -> str:
        """Unique and stable; changes whenever any parameter of the task changes."""
        digest = hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:10]
        return f"{self.figure}/{_slug(self.curve)}/x={self.x:g}/seed={self.seed_index}/{digest}"

    def describe(self) -> dict[str, Any]:
        """The task's parameters as a flat JSON-ready dict."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        out["model"] = self.model.name if self.model is not None else ""
        out["key"] = self.key
        return out


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in text)
    return "_".join(p for p in keep.split("_") if p)


def point_params(spec: FigureSpec, x: float) -> tuple[int, float]:
    """(T, sigma) of the simulations at x."""
    frames = int(x) if spec.x == "T" else spec.frames
    sigma = float(x) if spec.x == "sigma" else spec.measurement_noise
    if frames is None or sigma is None:
        raise ValueError(f"{spec.name}: T and sigma must be fixed or on the x-axis")
    return frames, sigma


def curve_task(spec: FigureSpec, curve: Curve, x: float, seed_index: int) -> Task:
    frames, sigma = point_params(spec, x)

    def r(v: Any) -> Any:
        return resolve(v, x, frames, sigma)

    model = None
    mht = curve.method == "mht"
    if not mht:
        if curve.train is not None:
            model = model_for(curve.train, x=x, frames=frames, sigma=sigma)
        elif spec.metric != "flops":
            raise ValueError(f"{spec.name}: transformer curve {curve.label!r} needs a "
                             "TrainSpec to be scored")
    return Task(
        figure=spec.name, curve=curve.label, x=float(x), seed_index=int(seed_index),
        seed=task_seed(spec.name, sigma, seed_index), frames=frames, measurement_noise=sigma,
        process_noise=spec.process_noise, method=curve.method,
        lookback=int(r(curve.lookback)) if mht else 0,
        decoder_lookback=0 if mht else int(r(curve.decoder_lookback)),
        encoder_lookback=0 if mht else int(r(curve.encoder_lookback)),
        mht_measurement_noise=max(float(r(curve.measurement_noise)), PRIOR_FLOOR) if mht else 0.0,
        mht_process_noise=float(curve.process_noise) if mht else 0.0, mode=curve.mode,
        smooth=bool(curve.smooth), model=model, metric=spec.metric)


def build_tasks(spec: FigureSpec, *, quick: bool = False, seeds: int | None = None,
                curves: tuple[Curve, ...] | None = None) -> list[Task]:
    """Every task of ``spec`` (``curves`` defaults to all curves, or the quick ones)."""
    xs = spec.quick_xs if quick else spec.xs
    n = seeds if seeds is not None else (spec.quick_seeds if quick else spec.seeds)
    if curves is None:
        curves = tuple(c for c in spec.curves if c.quick or not quick)
    return [curve_task(spec, c, x, s) for c in curves for x in xs
            for s in range(min(n, c.max_seeds or n))]




def run_task(task: Task, checkpoint: Any = None) -> dict[str, Any]:
    """Simulate, track and score one task; returns its result record.

    ``checkpoint`` is what the driver found for the task's model: a shipped name, the
    bytes of a cached checkpoint, or the result of training it.  A transformer task with
    no model only counts the FLOPs of its architecture (Fig. 5).  Errors a user can
    act on (:class:`~napari_mpt.core.errors.MPTError`, e.g. a refused hypothesis count) are
    recorded in the result instead of stopping the sweep.
    """
    from ...core.errors import MPTError
    from ...core.params import MHTParams, SimulationParams
    from ...evaluation.metrics import link_jaccard
    from ...simulation.simulate import simulate

    record = task.describe()
    sim = simulate(SimulationParams(particles=2, frames=task.frames,
                                    process_noise=task.process_noise,
                                    measurement_noise=task.measurement_noise, seed=task.seed))
    t0 = time.perf_counter()
    if task.method == "transformer" and task.model is None:
        from .models import architecture_flops

        flops = architecture_flops(task.frames, task.encoder_lookback, task.decoder_lookback)
        record.update(jaccard=float("nan"), tp=-1, fp=-1, fn=-1, flops=int(flops.value),
                      flops_source=str(flops.source), wall_s=time.perf_counter() - t0,
                      error="")
        return record
    try:
        if task.method == "mht":
            from ...api import track

            result = track(sim.detections, MHTParams(
                lookback=task.lookback, process_noise=task.mht_process_noise,
                measurement_noise=task.mht_measurement_noise, mode=task.mode,
                smooth=task.smooth, **PAPER_FILTER))
        else:
            from .models import track_with

            result = track_with(sim.detections, checkpoint)
    except MPTError as exc:
        record.update(error=f"{type(exc).__name__}: {exc}", wall_s=time.perf_counter() - t0)
        return record
    score = link_jaccard(result.tracks, sim.truth)
    if task.method == "transformer":  # what the checkpoint really has, not what was asked
        record.update(
            encoder_lookback=int(result.info.get("encoder_lookback", task.encoder_lookback)),
            decoder_lookback=int(result.info.get("decoder_lookback", task.decoder_lookback)))
    record.update(
        jaccard=float(score.jaccard), tp=int(score.tp), fp=int(score.fp), fn=int(score.fn),
        flops=int(result.flops.value), flops_source=str(result.flops.source),
        wall_s=float(result.wall_s), error="")
    return record
