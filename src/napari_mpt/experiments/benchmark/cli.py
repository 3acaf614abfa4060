"""``napari-mpt benchmark``: which tracker for data like mine?

Trackers x scenarios (the ISBI-like presets, or the user's own ``simulate`` options) x
seeds, run on Dask with the resumable store ``reproduce`` uses; writes ``cases.jsonl``
(one line per case), ``benchmark.csv`` (means and 95 % intervals), a PNG per measure and
prints a Markdown table.  Import-light: ``napari-mpt --help`` imports this module.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

QUICK_SCENARIO = {"frames": 20, "particles": 40, "field_of_view": 160.0}
"""``--quick``: the first preset shrunk to 40 particles in 160 px for 20 frames (the same
density, a few seconds per case)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    from ...core.params import SimulationParams
    from ...core.params.options import add_param_options
    from .cases import TRACKERS

    p = subparsers.add_parser(
        "benchmark", help="trackers x scenarios x seeds on Dask: accuracy, time and FLOPs "
        "with 95%% intervals (CSV, plots, table)",
        description="Run every tracker on every scenario for several seeds and summarise "
        "association and position link Jaccard, the ISBI 2012 alpha and beta, wall time and "
        "FLOPs with 95%% intervals.  Scenarios: --preset names, and/or a 'custom' scenario "
        "from the simulate options given.  Finished cases are kept in OUT/cases.jsonl, so "
        "an interrupted run resumes.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--preset", nargs="+", metavar="NAME", dest="presets",
                   help="ISBI-like scenarios (default: all; see napari-mpt simulate --help)")
    p.add_argument("--trackers", nargs="+", choices=TRACKERS, default=list(TRACKERS))
    p.add_argument("--seeds", type=int, default=None, help="seeds per scenario (default 5; "
                   "2 with --quick)")
    p.add_argument("--lookback", type=int, default=None, help="MHT (and hybrid) lookback K "
                   "(default: the trackers' own, chosen from the data)")
    p.add_argument("--priors", choices=("known", "estimated"), default="known",
                   help="MHT noise priors: the simulation's own (default) or estimated")
    p.add_argument("--traccuracy", action=argparse.BooleanOptionalAction, default=True,
                   help="also traccuracy's measures (edge F1, CTC LNK/TRA, CHOTA: seconds to "
                   "minutes a case; default: yes)")
    p.add_argument("--sweep", action="append", default=[], metavar="TRACKER:FIELD=V1,V2",
                   help="also run TRACKER with each of these values of its parameter FIELD "
                   "(repeat for more fields: every combination runs; the defaults always "
                   "run too), and print each tracker's defaults against its best setting, "
                   "e.g. --sweep lap:max_link_distance=5,7,9 --sweep mht:lookback=1,2,3")
    p.add_argument("--custom-from", metavar="PRESET", help="the custom scenario starts from "
                   "this preset's settings, changed by the --sim-... options given (e.g. "
                   "--custom-from receptor-mid --sim-detection-probability 0.7)")
    p.add_argument("--custom-name", metavar="NAME", default="custom", help="name of the custom "
                   "scenario in the table and the store (default: custom)")
    p.add_argument("--quick", action="store_true", help="a smoke run: one small scenario, 2 "
                   "seeds (under a minute)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (default: a "
                   "local cluster)")
    p.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    p.add_argument("--processes", action="store_true", help="local workers as processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_param_options(p, SimulationParams, prefix="sim-", skip=("seed",))
    p.set_defaults(func=_cmd_benchmark)


def scenarios(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Scenario name -> SimulationParams as a dict (seed 0; each case sets its own)."""
    from ...core.errors import ParameterError
    from ...core.params import SimulationParams
    from ...core.params.options import params_from_args
    from ...simulation.presets import PRESETS, preset_params

    custom = {k: v for k, v in vars(args).items() if k.startswith("sim_") and v is not None}
    base = getattr(args, "custom_from", None)
    name_custom = getattr(args, "custom_name", None) or "custom"
    if base is not None and base not in PRESETS:
        raise ParameterError("custom_from", f"unknown preset {base!r} (known: "
                             f"{', '.join(PRESETS)})")
    if name_custom in PRESETS:
        raise ParameterError("custom_name", f"{name_custom!r} is a preset's name; pick another")
    names = (args.presets if args.presets is not None
             else ([] if custom or base else list(PRESETS)))
    if args.quick:
        names = names[:1] if args.presets else [next(iter(PRESETS))]
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        if name not in PRESETS:
            raise ParameterError("preset", f"unknown preset {name!r} (known: "
                                 f"{', '.join(PRESETS)})")
        params = preset_params(name)
        if args.quick:
            params = params.replace(**QUICK_SCENARIO)
        out[name] = params.to_dict()
    if base is not None:
        changes = params_from_args(SimulationParams, args, prefix="sim_").to_dict()
        given = {k.removeprefix("sim_") for k in custom}
        merged = preset_params(base).replace(**{k: tuple(v) if isinstance(v, list) else v
                                                for k, v in changes.items() if k in given})
        out[name_custom] = merged.to_dict()
    elif custom:
        out[name_custom] = params_from_args(SimulationParams, args, prefix="sim_").to_dict()
    return out


def sweep_grid(specs: list[str], trackers: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``--sweep`` options -> per tracker, its variants: the defaults (``{}``) and every
    combination of the values given for its fields; a bad tracker, field or value is
    refused naming it."""
    from dataclasses import fields
    from itertools import product

    from ...core.errors import ParameterError
    from ...core.params import SimulationParams
    from ...trackers.registry import tracker
    from .cases import tracker_params

    values: dict[str, dict[str, list[Any]]] = {}
    for spec in specs:
        trk, _, rest = spec.partition(":")
        name, _, listed = rest.partition("=")
        if trk not in trackers:
            raise ParameterError("sweep", f"{spec!r}: {trk!r} is not among the trackers run "
                                 f"({', '.join(trackers)})")
        if not name or not listed:
            raise ParameterError("sweep", f"{spec!r} is not TRACKER:FIELD=V1,V2,...")
        known = {f.name for f in fields(tracker(trk).params)}
        if name.replace("-", "_") not in known:
            raise ParameterError("sweep", f"{spec!r}: {trk} has no parameter {name!r} (it "
                                 f"has {', '.join(sorted(known))})")
        values.setdefault(trk, {})[name.replace("-", "_")] = [
            _value(v.strip()) for v in listed.split(",") if v.strip()]
    grid: dict[str, list[dict[str, Any]]] = {}
    sim = SimulationParams()
    for trk, fields_ in values.items():
        combos = [dict(zip(fields_, vs, strict=True)) for vs in product(*fields_.values())]
        for combo in combos:      # validated now, naming the field, not in a worker later
            tracker_params(trk, sim, combo, "estimated")
        grid[trk] = [{}, *combos]
    return grid


def _value(text: str) -> Any:
    """A swept value: an int, a float, or text (a choice, or "estimate")."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def variant_name(variant: dict[str, Any]) -> str:
    """How a variant is named in the tables: its settings, or "" for the defaults."""
    return ",".join(f"{k}={v}" for k, v in variant.items())


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from ...core.errors import ParameterError
    from ...io import write_json
    from ..sweep import ResultStore, dask_client, run_tasks
    from .cases import Case, run_case
    from .summary import (
        SWEEP_COLUMNS,
        defaults_against_best,
        markdown_table,
        plot_measures,
        summarize,
        sweep_table,
        write_csv,
    )

    seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    if seeds < 1:
        raise ParameterError("seeds", f"must be >= 1, got {seeds}")
    scen = scenarios(args)
    grid = sweep_grid(args.sweep, args.trackers)
    cases = []
    for name, sim in scen.items():
        for seed in range(seeds):
            for trk in args.trackers:
                base = ({"lookback": args.lookback}
                        if trk in ("mht", "hybrid") and args.lookback is not None else {})
                for variant in grid.get(trk, [{}]):
                    cases.append(Case(name, trk, seed, {**sim, "seed": seed},
                                      {**base, **variant}, args.priors,
                                      variant_name(variant), args.traccuracy))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "cases.jsonl")
    t0 = time.perf_counter()
    with dask_client(args.scheduler, args.workers, args.processes) as client:
        stats = run_tasks(client, run_case, [(c.key, c) for c in cases], store,
                          progress=not args.no_progress, desc="benchmark")
    records = store.records(c.key for c in cases)
    rows = summarize(records)
    write_csv(out / "benchmark.csv", rows)
    plots = plot_measures(rows, out)
    write_json(out / "scenarios.json", {"scenarios": scen, "seeds": seeds,
                                        "trackers": args.trackers, "lookback": args.lookback,
                                        "priors": args.priors, "sweep": args.sweep})
    print(markdown_table(rows))
    if grid:
        best = defaults_against_best(rows)
        write_csv(out / "sweep.csv", best, SWEEP_COLUMNS)
        print("\n" + sweep_table(best))
    print(f"\n{stats['ran']} case(s) run, {stats['reused']} reused in "
          f"{time.perf_counter() - t0:.1f} s; wrote {out / 'benchmark.csv'}, "
          f"{out / 'cases.jsonl'} and {len(plots)} plot(s) in {out}")
    return 0
