"""Run a figure's tasks on Dask: a small in-process cluster, or an existing one.

The driver (this process) submits the tasks still missing from the store, writes each
result as it arrives (so Ctrl-C loses at most the tasks in flight) and advances a
progress bar.  Transformers that must be trained are Dask tasks too; the tasks that use
one depend on its future, so MHT work proceeds while it trains.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..sweep import ResultStore
from .models import ModelSpec, cached_path, locate, shipped_names, train_model
from .tasks import Task, run_task


@dataclass
class ModelPlan:
    """Where each transformer a sweep needs comes from, and what is left out."""

    source: dict[str, str] = field(default_factory=dict)     # model name -> shipped/cached/train
    value: dict[str, Any] = field(default_factory=dict)      # model name -> shipped name / path
    specs: dict[str, ModelSpec] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def plan_models(tasks: list[Task], cache: Path, train: bool,
                shipped: set[str] | None = None) -> ModelPlan:
    """Decide, per distinct model, whether it is shipped, cached, to train or missing."""
    shipped = shipped_names() if shipped is None else shipped
    plan = ModelPlan()
    for t in tasks:
        if t.model is None or t.model.name in plan.specs:
            continue
        m = t.model
        plan.specs[m.name] = m
        source, value = locate(m, cache, shipped)
        if source == "missing":
            if train:
                source = "train"
            else:
                plan.missing.append(m.name)
        plan.source[m.name] = source
        plan.value[m.name] = value
    return plan


def _training_cost(m: ModelSpec) -> float:
    """Rough relative cost of training ``m``, to start the longest trainings first."""
    return m.frames * m.per_batch * (m.batches or 1500) * (m.epochs or 1)


class ModelBroker:
    """The transformer inputs of one run, shared by its figures: each shipped name,
    scattered cached checkpoint or training future is made once, and a trained
    checkpoint is written to the cache once."""

    def __init__(self, client: Any, cache: Path, announce: bool = False):
        self.client = client
        self.cache = cache
        self.announce = announce                  # print a line as each training ends
        self.inputs: dict[str, Any] = {}
        self.training: dict[str, Any] = {}        # model name -> future, until saved
        self.specs: dict[str, ModelSpec] = {}

    def provide(self, plan: ModelPlan, names: Any, ordered: bool = False) -> dict[str, Any]:
        """What the tasks of ``names`` receive as their checkpoint argument; trainings are
        submitted on first request, ahead of evaluation tasks, longest first unless
        ``ordered`` (then in the order given)."""
        wanted = list(dict.fromkeys(names))
        if not ordered:
            wanted.sort(key=lambda n: -_training_cost(plan.specs[n]))
        for name in wanted:
            if name in self.inputs:
                continue
            src = plan.source[name]
            self.specs[name] = plan.specs[name]
            if src == "shipped":
                self.inputs[name] = plan.value[name]
            elif src == "cached":
                self.inputs[name] = self.client.scatter(Path(plan.value[name]).read_bytes())
            elif src == "train":
                fut = self.client.submit(train_model, plan.specs[name], key=f"train-{name}",
                                         pure=False, priority=10)
                if self.announce:
                    fut.add_done_callback(_announce(name))
                self.inputs[name] = fut
                self.training[name] = fut
            else:
                raise ValueError(f"model {name} is missing; drop its tasks first")
        return {n: self.inputs[n] for n in wanted}

    def save(self, name: str, result: dict[str, Any]) -> float:
        """Write a finished training to the cache; returns its training seconds."""
        from ...io import atomic_write

        with atomic_write(cached_path(self.specs[name], self.cache), "wb") as fh:
            fh.write(result["blob"])
        self.training.pop(name, None)
        return round(float(result["seconds"]), 2)


def _announce(name: str) -> Callable[[Any], None]:
    def done(fut: Any) -> None:
        if fut.status == "finished":
            print(f"trained {name} in {fut.result()['seconds']:.0f} s", flush=True)
    return done


def prefetch_training(broker: ModelBroker, plans: list[ModelPlan]) -> list[str]:
    """Submit every training the run will need up front, so trainings for later figures
    overlap the evaluation of earlier ones: the first figure's first, each figure's
    longest first.  Returns the names submitted."""
    merged = ModelPlan()
    order: list[str] = []
    for plan in plans:
        new = [n for n, src in plan.source.items() if src == "train" and n not in merged.source]
        for name in sorted(new, key=lambda n: -_training_cost(plan.specs[n])):
            merged.source[name] = "train"
            merged.value[name] = plan.value[name]
            merged.specs[name] = plan.specs[name]
            order.append(name)
    broker.provide(merged, order, ordered=True)
    return order


def run_sweep(client: Any, tasks: list[Task], store: ResultStore, plan: ModelPlan,
              cache: Path, *, progress: bool = True, desc: str = "tasks",
              broker: ModelBroker | None = None,
              on_record: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run the tasks of ``tasks`` not yet in ``store``; returns counts and timings.

    Tasks whose model is missing must already have been removed by the caller.
    """
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    broker = broker or ModelBroker(client, cache)
    todo = [t for t in tasks if t.key not in store]
    needed = {t.model.name for t in todo if t.model is not None}
    inputs = broker.provide(plan, needed)
    train_futures = {broker.training[n]: n for n in needed if n in broker.training}
    futures = [client.submit(run_task, t, inputs.get(t.model.name) if t.model else None,
                             key=f"task-{t.key}", pure=False) for t in todo]
    stats: dict[str, Any] = {"tasks": len(tasks), "ran": 0, "reused": len(tasks) - len(todo),
                             "trained": [], "train_seconds": {}, "task_seconds": 0.0}
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo) + len(train_futures), desc=desc, unit="task",
               disable=not progress, leave=True, dynamic_ncols=True)
    try:
        for fut in as_completed([*train_futures, *futures]):
            result = fut.result()
            if fut in train_futures:
                name = train_futures[fut]
                stats["trained"].append(name)
                stats["train_seconds"][name] = broker.save(name, result)
            else:
                store.add(result)
                stats["ran"] += 1
                stats["task_seconds"] += float(result.get("wall_s", 0.0))
                if on_record is not None:
                    on_record(result)
            bar.update(1)
    except BaseException:
        client.cancel([*broker.training.values(), *futures])
        raise
    finally:
        bar.close()
    stats["elapsed_s"] = time.perf_counter() - t0
    return stats


@dataclass
class FigureReport:
    """What one figure's run produced, for the console and ``timings.json``."""

    figure: str
    csv: Path
    png: Path
    tasks: int
    ran: int
    reused: int
    trained: list[str]
    train_seconds: dict[str, float]
    skipped: dict[str, list[str]]   # curve -> models it lacked
    elapsed_s: float
    task_seconds: float
    rows: int


def reproduce_figure(client: Any, name: str, out: Path, *, quick: bool = False,
                     seeds: int | None = None, train: bool = False, cache: Path,
                     progress: bool = True, shipped: set[str] | None = None,
                     broker: ModelBroker | None = None,
                     log: Callable[[str], None] = print) -> FigureReport:
    """Run (or resume) one figure and write ``<name>.csv`` and ``<name>.png`` in ``out``."""
    from .figures import FIGURES
    from .plot import plot_figure
    from .summary import read_csv, summarize, write_csv
    from .tasks import build_tasks

    t0 = time.perf_counter()
    spec = FIGURES[name]
    tasks = build_tasks(spec, quick=quick, seeds=seeds)
    plan = plan_models(tasks, cache, train, shipped)
    skipped: dict[str, list[str]] = {}
    if plan.missing:
        lacking = set(plan.missing)
        for t in tasks:
            if t.model is not None and t.model.name in lacking:
                models = skipped.setdefault(t.curve, [])
                if t.model.name not in models:
                    models.append(t.model.name)
        tasks = [t for t in tasks if t.model is None or t.model.name not in lacking]
        for curve, models in skipped.items():
            log(f"{name}: note: skipped curve {curve!r} at {len(models)} point(s): "
                f"transformer(s) {', '.join(models)} are not shipped; rerun with --train to "
                f"train them (cached in {cache / 'transformers'})")
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / f"{name}.jsonl")
    stats = run_sweep(client, tasks, store, plan, cache, progress=progress, desc=name,
                      broker=broker)
    rows = summarize(spec, store.records(t.key for t in tasks))
    csv_path, png_path = out / f"{name}.csv", out / f"{name}.png"
    write_csv(csv_path, rows)
    overlay = None
    if spec.overlay and (out / f"{spec.overlay}.csv").is_file():
        overlay = read_csv(out / f"{spec.overlay}.csv")
    counts = sorted({int(r["n"]) for r in rows})
    n_seeds = (f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
               ) if counts else "0"
    subtitle = f"mean and 95% CI over {n_seeds} seed(s)" + (" — quick run" if quick else "")
    plot_figure(spec, rows, png_path, overlay=overlay, subtitle=subtitle)
    elapsed = time.perf_counter() - t0
    log(f"{name}: {stats['ran']} task(s) run, {stats['reused']} reused"
        + (f", trained {', '.join(stats['trained'])}" if stats["trained"] else "")
        + f" in {elapsed:.1f} s; wrote {csv_path} and {png_path}")
    return FigureReport(name, csv_path, png_path, stats["tasks"], stats["ran"],
                        stats["reused"], stats["trained"], stats["train_seconds"], skipped, elapsed,
                        stats["task_seconds"], len(rows))


def write_timings(out: Path, reports: list[FigureReport], command: str) -> None:
    """Merge this run's per-figure timings into ``out/timings.json``."""
    import json

    from ...io import write_json

    path = out / "timings.json"
    data: dict[str, Any] = {}
    if path.is_file():
        with contextlib.suppress(ValueError, OSError):
            data = json.loads(path.read_text())
    for r in reports:
        data[r.figure] = {
            "command": command, "elapsed_s": round(r.elapsed_s, 2),
            "task_seconds": round(r.task_seconds, 2), "tasks": r.tasks, "ran": r.ran,
            "reused": r.reused, "train_seconds": r.train_seconds, "skipped": r.skipped,
        }
    write_json(path, data)
