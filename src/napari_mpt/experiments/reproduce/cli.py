"""``napari-mpt reproduce FIGURE``: run a figure of the paper and write its CSV and PNG.

Import-light on purpose (``napari-mpt --help`` imports this module): dask, matplotlib and
torch are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from .figures import FIGURE_NAMES, FIGURES


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "reproduce", help="reproduce a figure of the paper (section IV) on Dask",
        description="Run the experiment behind one of the paper's Figures 2-6 (or all of "
        "them) with its parameters, and write <figure>.csv (every point: mean and 95%% CI "
        "over seeds) and <figure>.png into --out.  Finished tasks are kept in "
        "<figure>.jsonl, so an interrupted run resumes where it stopped.")
    p.add_argument("figure", choices=(*FIGURE_NAMES, "all"))
    p.add_argument("--out", required=True, help="output folder (created if needed)")
    p.add_argument("--quick", action="store_true",
                   help="a few points, seeds and curves: a smoke test, not the paper's claims")
    p.add_argument("--seeds", type=_positive, default=None, metavar="N",
                   help="seeds per point (default: each figure's own, see REPRODUCTION.md)")
    p.add_argument("--train", action="store_true",
                   help="train the transformers a figure needs that are not shipped "
                   "(cached and reused); without it their curves are skipped with a note")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="where trained transformers are kept (default: $NAPARI_MPT_CACHE, "
                   "$XDG_CACHE_HOME/napari-mpt or ~/.cache/napari-mpt)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of an existing Dask scheduler (tcp://HOST:PORT); default: "
                   "a local cluster inside this process")
    p.add_argument("--workers", type=_positive, default=2,
                   help="workers of the local cluster, one thread each (default: 2)")
    p.add_argument("--processes", action="store_true",
                   help="local workers as separate processes instead of threads")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar")
    p.set_defaults(func=_cmd_reproduce)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _command_line(args: argparse.Namespace) -> str:
    """The command as a user would type it (recorded in timings.json)."""
    parts = ["napari-mpt", "reproduce", args.figure]
    for flag in ("quick", "train", "processes"):
        if getattr(args, flag):
            parts.append(f"--{flag}")
    for flag in ("seeds", "scheduler", "cache"):
        if getattr(args, flag) is not None:
            parts += [f"--{flag}", str(getattr(args, flag))]
    if args.workers != 2:
        parts += ["--workers", str(args.workers)]
    parts += ["--out", str(args.out)]
    return " ".join(shlex.quote(p) for p in parts)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from ..sweep import ResultStore, dask_client
    from .models import cache_dir, shipped_names
    from .runner import ModelBroker, plan_models, prefetch_training, reproduce_figure, write_timings
    from .tasks import build_tasks

    names = list(FIGURE_NAMES) if args.figure == "all" else [args.figure]
    out = Path(args.out)
    cache = cache_dir(args.cache)
    command = _command_line(args)
    shipped = shipped_names()
    reports = []
    t0 = time.perf_counter()
    with dask_client(args.scheduler, args.workers, args.processes) as client:
        broker = ModelBroker(client, cache, announce=True)
        if args.train and len(names) > 1:
            plans = []
            for name in names:
                store = ResultStore(out / f"{name}.jsonl")
                todo = [t for t in build_tasks(FIGURES[name], quick=args.quick,
                                               seeds=args.seeds) if t.key not in store]
                plans.append(plan_models(todo, cache, True, shipped))
            started = prefetch_training(broker, plans)
            if started:
                print(f"training {len(started)} transformer(s) alongside the sweeps "
                      f"(cached in {cache / 'transformers'}): {', '.join(started)}")
        for name in names:
            reports.append(reproduce_figure(
                client, name, out, quick=args.quick, seeds=args.seeds, train=args.train,
                cache=cache, progress=args.progress, shipped=shipped, broker=broker))
            write_timings(out, reports[-1:], command)
    if len(names) > 1:
        print(f"all: {len(names)} figures in {time.perf_counter() - t0:.1f} s; see {out}")
    return 0
