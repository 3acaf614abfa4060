"""``napari-mpt`` command line.  A stable contract: extend it, do not break it.

Options are generated from the parameter model (:mod:`napari_mpt.core.params`), so
``--process-noise`` here is the same setting as in the API and the widgets.  Errors the
user can fix print one line and exit with status 2; nothing half-written is left behind.
Subcommands that need optional parts (torch training, napari, dask) live in their own
modules and register themselves through :data:`EXTRA_COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..api import TRACKERS
from ..core.errors import MPTError
from ..core.params import (
    MHTParams,
    MovieParams,
    SimulationParams,
    StatsParams,
    known_priors,
)
from ..core.params.options import add_param_options, params_from_args
from ..core.version import __version__
from ..simulation.presets import PRESETS

# module paths exposing ``register(subparsers)``; each sets ``func`` on its parser.
EXTRA_COMMANDS: tuple[str, ...] = (
    "napari_mpt.cli.train",
    "napari_mpt.cli.advise",
    "napari_mpt.napari.demo",
    "napari_mpt.experiments.reproduce.cli",
    "napari_mpt.experiments.benchmark.cli",
    "napari_mpt.experiments.batch",
)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ..io import write_detections, write_json, write_tracks
    from ..simulation.simulate import simulate

    params = _simulation_params(args)
    sim = simulate(params)
    out = Path(args.out)
    meta: dict[str, Any] = {"preset": args.preset} if getattr(args, "preset", None) else {}
    movie = None
    if args.movie:   # rendered before any file is written: a refused movie leaves nothing
        from ..io import write_movie
        from ..simulation.movie import render_movie

        movie_params = params_from_args(MovieParams, args, prefix="movie_")
        movie = render_movie(sim, movie_params, frames=params.frames)
        meta["movie"] = movie_params.to_dict()
    write_detections(out / "detections.csv", sim.detections)
    write_tracks(out / "truth.csv", sim.truth)
    written = [out / "truth.csv"]
    if movie is not None:
        written.append(write_movie(out / "movie.tif", movie))
    write_json(out / "params.json", {"simulation": params.to_dict(), **meta,
                                     "version": __version__})
    print(f"wrote {out / 'detections.csv'} ({len(sim.detections)} detections), "
          + ", ".join(str(p) for p in written) + f" and {out / 'params.json'}")
    return 0


def _simulation_params(args: argparse.Namespace) -> SimulationParams:
    """The options given, on top of ``--preset`` when there is one (explicit options win)."""
    preset = PRESETS[args.preset] if getattr(args, "preset", None) else {}
    unset = {k: v for k, v in preset.items() if getattr(args, k, None) is None}
    return params_from_args(SimulationParams, args, **unset)


def _tracker_params(args: argparse.Namespace):
    """The chosen tracker's parameters from the options (shared names, e.g. --checkpoint,
    mean the same for every tracker that has them; each keeps its own defaults)."""
    return params_from_args(TRACKERS[args.method].params, args)


def _cmd_track(args: argparse.Namespace) -> int:
    from ..api import track
    from ..io import read_detections, read_track_file, with_detection_positions, write_tracks

    params = _tracker_params(args)
    found = read_track_file(args.detections)      # GEFF, TrackMate XML: with a calibration
    detections = found.detections if found is not None else read_detections(args.detections)
    result = track(detections, params)
    if result.info.get("warning"):   # never silently inexact
        print(f"napari-mpt: warning: {result.info['warning']}", file=sys.stderr)
    # the detection each vertex took, beside the estimate (a .xml out keeps positions only)
    write_tracks(args.out, with_detection_positions(result.tracks, detections),
                 found.calibration if found is not None else None, detections)
    if args.json:
        print(json.dumps({**result.summary(), "detections": str(args.detections),
                          "out": str(args.out)}))
    else:
        print(f"{result.label}: {len(result.tracks.ids())} tracks in {result.wall_s:.4f} s, "
              f"{result.flops.value:,} FLOPs ({result.flops.source}), wrote {args.out}")
    return 0


def _gate_arg(text: str) -> float | str | None:
    """``--gate``: a distance in px, ``none`` (the paper's matching) or ``auto``."""
    if text.lower() in ("auto", "none"):
        return None if text.lower() == "none" else "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a distance, 'none' or 'auto'") from None


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..api import evaluate
    from ..io import read_tracks

    score = evaluate(read_tracks(args.tracks), read_tracks(args.truth), gate=args.gate,
                     isbi_gate=args.isbi_gate, traccuracy=args.traccuracy)
    summary = score.summary()
    if args.json:
        print(json.dumps(summary))
        return 0
    gate = "no gate" if score.gate is None else f"gate {score.gate:g} px"
    print(f"jaccard {score.jaccard:.4f}  tp {score.tp}  fp {score.fp}  fn {score.fn}  "
          f"(positions, {gate})")
    if score.association is not None:
        a = score.association
        print(f"association jaccard {a.jaccard:.4f}  tp {a.tp}  fp {a.fp}  fn {a.fn}")
    isbi = [f"{k} {summary[k]:.4f}" for k in ("alpha", "beta", "jsc", "jsc_theta", "rmse")
            if k in summary]
    if isbi:
        print(f"ISBI 2012 (gate {args.isbi_gate:g} px): " + "  ".join(isbi))
    field = [f"{k} {summary[k]:.4f}" for k in ("edge_f1", "ctc_det", "ctc_lnk", "ctc_tra",
                                                 "chota") if k in summary]
    if field:
        print(f"traccuracy (points matched within {args.isbi_gate:g} px): " + "  ".join(field))
    per_frame = score.per_frame()
    if per_frame:
        print("frame  fp  fn")
        for f, c in per_frame.items():
            print(f"{f:5d} {c['fp']:3d} {c['fn']:3d}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    """Simulate once, track with MHT at several lookbacks, print a comparison table."""
    from ..api import evaluate, simulate, track

    sim_params = params_from_args(SimulationParams, args)
    sim = simulate(sim_params)
    rows = []
    for k in args.lookbacks:
        # known priors, as in the paper's Fig. 2(a): eta' = mu, nu' = sigma
        mp = params_from_args(MHTParams, args, lookback=k, **known_priors(sim_params))
        t0 = time.perf_counter()
        res = track(sim.detections, mp)
        score = evaluate(res.tracks, sim.truth)
        rows.append((res.label, score.jaccard, res.flops.value, res.flops.source,
                     time.perf_counter() - t0))
    print(f"Brownian simulation: N={sim_params.particles}, T={sim_params.frames}, "
          f"mu={sim_params.process_noise}, sigma={sim_params.measurement_noise}, "
          f"seed={sim_params.seed}")
    print(f"{'tracker':<22} {'jaccard':>8} {'FLOPs':>14} {'source':>9} {'wall s':>9}")
    for label, jc, fl, src, wall in rows:
        print(f"{label:<22} {jc:8.4f} {fl:14,d} {src:>9} {wall:9.4f}")
    return 0


def _cmd_analyze(args: argparse.Namespace) -> int:
    """Per-track statistics (D, alpha, speed, motility, MSD, drift) of a tracks file; a
    GEFF or TrackMate XML's calibration gives the units the options do not."""
    from ..analysis.plots import save_plots
    from ..analysis.stats import physical_units, track_statistics, write_stats
    from ..io import read_track_file, read_tracks

    params = params_from_args(StatsParams, args)      # bad options refused before reading
    found = read_track_file(args.tracks)
    tracks = found.tracks if found is not None else read_tracks(args.tracks)
    units_from_file: dict[str, float] = {}
    if found is not None:
        px, dt = physical_units(found.calibration)
        units_from_file = {k: v for k, v in (("pixel_size", px), ("frame_interval", dt))
                           if v > 0 and getattr(args, k) is None}
        params = params.replace(**units_from_file)
    stats = track_statistics(tracks, params)
    ens = stats.ensemble()
    if args.plot:
        save_plots(args.plot, stats)
    write_stats(args.out, stats)
    summary = stats.summary()
    warnings = [f"{w} (--drift subtract removes it)" for w in summary["warnings"]]
    if args.json:
        print(json.dumps({**summary, "warnings": warnings, "tracks_file": str(args.tracks),
                          "units_from_file": sorted(units_from_file),
                          "out": str(args.out), "plot": str(args.plot) if args.plot else None}))
    else:
        u = stats.units
        drift = "subtracted" if params.drift == "subtract" else "not subtracted"
        print(f"{len(stats)} tracks: ensemble D {ens.D:.4g} {u.D} (lags 1-{ens.fit_lags}), "
              f"alpha {ens.alpha:.3f}, localisation error {ens.loc_error:.3g} {u.length}; "
              f"power law n {ens.n:.3f}, A {ens.A:.4g} {u.powerlaw_A}; drift up to "
              f"{stats.drift.extent:.3g} {u.length}, {drift}; "
              f"D flagged on {summary['flagged']['D']}, alpha on {summary['flagged']['alpha']} "
              f"tracks; wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))
        for w in warnings:
            print(f"napari-mpt: warning: {w}", file=sys.stderr)
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    from ..core.errors import InputError
    from ..core.params import DetectParams
    from ..detection.detect import detect, spots_per_frame
    from ..detection.estimate import estimate_settings
    from ..io import read_movie, write_detections

    params = params_from_args(DetectParams, args)
    movie = read_movie(args.movie)
    out = Path(args.out) if args.out else Path(args.movie).with_name(
        Path(args.movie).stem + "_spots.csv")
    t0 = time.perf_counter()
    settings = estimate_settings(movie.data, params, str(args.movie))
    detections = detect(movie.data, params, source=str(args.movie), settings=settings)
    wall = time.perf_counter() - t0
    if not len(detections):
        best = float(settings.target.max()) if len(settings.target) else 0.0
        raise InputError(str(args.movie), f"no spot passed the threshold {settings.threshold:.3g} "
                         f"(the best peak of the sampled frames has quality {best:.3g}); "
                         "nothing written: lower --threshold or check --polarity")
    write_detections(out, detections)
    counts = spots_per_frame(detections, len(movie.data))
    if args.json:
        print(json.dumps({"movie": str(args.movie), "out": str(out),
                          "shape": list(movie.data.shape), "frames": len(counts),
                          "detections": len(detections), "counts": counts,
                          "wall_s": wall, "params": params.to_dict(),
                          "settings": settings.to_dict(), "metadata": movie.metadata()}))
    else:
        print(f"{len(detections)} spots in {len(counts)} frames ({min(counts)} to {max(counts)} "
              f"per frame) in {wall:.2f} s: {settings.describe()}; wrote {out}")
    return 0


def _cmd_evaluate_detections(args: argparse.Namespace) -> int:
    from ..evaluation.detections import evaluate_detections
    from ..io import read_detections

    score = evaluate_detections(read_detections(args.detections), read_detections(args.truth),
                                args.max_distance)
    if args.json:
        print(json.dumps({**score.summary(), "per_frame": score.per_frame()}))
        return 0
    s = score.summary()
    print(f"precision {s['precision']:.4f}  recall {s['recall']:.4f}  f1 {s['f1']:.4f}  "
          f"rmse {s['rmse']:.4f} px  tp {s['tp']}  fp {s['fp']}  fn {s['fn']}  "
          f"(matching within {score.max_distance:g} px)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-mpt", description="Multiple-particle tracking: MHT and transformer.")
    parser.add_argument("--version", action="version", version=f"napari-mpt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="simulate particles and their detections (misses, "
                       "clutter, births, deaths) and write CSV files")
    add_param_options(p, SimulationParams)
    p.add_argument("--preset", choices=tuple(PRESETS), metavar="NAME",
                   help="ISBI-like scenario applied first, explicit options override it: "
                   + ", ".join(PRESETS))
    p.add_argument("--movie", action="store_true", help="also render movie.tif: the particles "
                   "as Gaussian spots with Poisson noise at --movie-snr (ISBI 2012 SNR)")
    add_param_options(p, MovieParams, prefix="movie-")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("track", help="track a detections CSV with MHT, a transformer, LAP or the "
                       "hybrid")
    p.add_argument("detections", help="detections CSV (frame, y, x; trackpy's or TrackMate's "
                   "spot table too), TrackMate XML or GEFF (their spots)")
    p.add_argument("--method", choices=tuple(TRACKERS), default="mht",
                   help="; ".join(f"{m}: {t.help}" for m, t in TRACKERS.items()))
    seen: set[str] = set()
    for entry in TRACKERS.values():   # one group per tracker, each option once
        add_param_options(p, entry.params, skip=tuple(seen))
        seen |= {f.name for f in fields(entry.params)}
    p.add_argument("--out", required=True, help="tracks file to write: CSV (trackpy reads it "
                   "as it is), .geff (GEFF), .trackmate.xml (TrackMate XML) or .xml for the "
                   "ISBI 2012 challenge's evaluator")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=_cmd_track)

    p = sub.add_parser("evaluate", help="score tracks against the truth: position and "
                       "association link Jaccard, ISBI 2012 measures, traccuracy's edge F1, "
                       "CTC LNK/TRA and CHOTA")
    p.add_argument("tracks")
    p.add_argument("truth")
    p.add_argument("--json", action="store_true")
    p.add_argument("--gate", type=_gate_arg, default="auto",
                   help="position link Jaccard: farthest matched pair in px, 'none' (the "
                   "paper's matching) or 'auto' (none when every frame has as many tracked "
                   "as true positions, else 5 px) (default: auto)")
    p.add_argument("--isbi-gate", type=float, default=5.0,
                   help="ISBI 2012 measures: the challenge's gate epsilon in px (default: 5); "
                   "also traccuracy's matching distance")
    p.add_argument("--traccuracy", action=argparse.BooleanOptionalAction, default=True,
                   help="also traccuracy's measures: edge F1, CTC DET/LNK/TRA, CHOTA "
                   "(default: on when traccuracy is installed)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("compare", help="simulate, track with MHT at several lookbacks, "
                       "print Jaccard, FLOPs and wall time")
    add_param_options(p, SimulationParams)
    add_param_options(p, MHTParams, skip=("lookback", "process_noise", "measurement_noise",
                                          "detection_probability", "clutter_density",
                                          "birth_density", "directed_share",
                                          "switch_probability"))  # from the simulation
    p.add_argument("--lookbacks", type=int, nargs="+", default=[1, 2, 4, 8])
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("analyze", help="per-track statistics of a tracks CSV: length, mean speed, "
                       "MSD, D with the localisation offset, alpha, confinement ratio, "
                       "straightness, radius of gyration; ensemble MSD and its power law, "
                       "drift, step lengths")
    p.add_argument("tracks", help="tracks CSV (track_id or particle, frame, y, x), GEFF or "
                   "TrackMate XML (their calibration gives the pixel size and frame interval "
                   "the options do not)")
    add_param_options(p, StatsParams)
    p.add_argument("--out", required=True, help="statistics CSV to write, one row per track "
                   "(a flags column names the values the data cannot support)")
    p.add_argument("--plot", help="also write a PNG: the ensemble MSD with its fit, the same "
                   "in log-log with the power law, the drift and the step lengths")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("detect", help="detect spots in a movie (TIFF) and write a detections "
                       "CSV; polarity, spot size and threshold are estimated from the movie "
                       "unless given")
    p.add_argument("movie", help="movie TIFF, (T, Y, X) or (T, Z, Y, X)")
    from ..core.params import DetectParams

    add_param_options(p, DetectParams)
    p.add_argument("--out", help="detections CSV to write (frame, y, x, features) (default: "
                   "MOVIE_spots.csv beside the movie)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: counts per frame, the time taken and the "
                   "settings used (what was estimated, and why)")
    p.set_defaults(func=_cmd_detect)

    p = sub.add_parser("evaluate-detections",
                       help="precision, recall, F1 and RMSE of detections against true positions")
    p.add_argument("detections", help="detections CSV (frame, y, x)")
    p.add_argument("truth", help="true positions CSV (frame, y, x; a truth.csv works)")
    p.add_argument("--max-distance", type=float, default=2.0,
                   help="matching distance in px (default: 2)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (overall keys and per_frame)")
    p.set_defaults(func=_cmd_evaluate_detections)

    for mod in EXTRA_COMMANDS:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == mod or mod.startswith(exc.name + ".")):
                continue  # that part of the package is not there (yet)
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MPTError as exc:
        print(f"napari-mpt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-mpt: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (``napari-mpt evaluate ... | head``): files
        # are written before anything is printed, so nothing is lost; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
