"""``napari-mpt advise``: which tracker for these detections, from their simulated twins.

Import-light: the twin (and the trackers) load when the command runs.
"""

from __future__ import annotations

import argparse
import json

from ..core.params import AdviseParams
from ..core.params.options import add_param_options, params_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "advise", help="which tracker for these detections: every tracker ranked on simulated "
        "twins of them, with 95 %% intervals and costs",
        description="Estimate from the detections what the simulator needs (density, motion "
        "and its noises, detection probability, clutter, births, track lengths), simulate "
        "--twins look-alike scenes with a truth (at most --max-particles particles at the "
        "detections' density, --max-frames frames), run every tracker with its default "
        "settings on each, and rank them by the association link Jaccard with a 95 %% "
        "bootstrap interval and the time each took.")
    p.add_argument("detections", help="detections CSV (frame, y, x), TrackMate XML or GEFF")
    add_param_options(p, AdviseParams)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: ranking (best first: method, measure, "
                   "interval, time), parameters of the twins, what was found")
    p.set_defaults(func=_cmd_advise)


def _cmd_advise(args: argparse.Namespace) -> int:
    from ..api import advise
    from ..io import read_detections, read_track_file

    params = params_from_args(AdviseParams, args)
    found = read_track_file(args.detections)
    detections = found.detections if found is not None else read_detections(args.detections)
    advice = advise(detections, params)
    if args.json:
        print(json.dumps({**advice.summary(), "detections": str(args.detections)}))
        return 0
    print(format_advice(advice.summary()))
    return 0


def format_advice(summary: dict) -> str:
    """The advice as text: the ranking, then the twins' parameters."""
    lines = [f"ranking on {summary['twins']} twin(s), by {summary['measure']} (95 % interval), "
             "best first:"]
    for r in summary["ranking"]:
        lo, hi = r["interval"]
        better = ("" if r["p_better_than_next"] is None
                  else f"  beats the next in {100 * r['p_better_than_next']:.0f} % of resamples")
        lines.append(f"  {r['method']:<12} {r['value']:.4f} [{lo:.4f}, {hi:.4f}]  "
                     f"{r['time']:.2f} s per twin{better}")
    for m, why in summary["skipped"].items():
        lines.append(f"  {m:<12} not run: {why}")
    p = summary["parameters"]
    lines.append("twins: " + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                       for k, v in p.items() if k not in ("drift", "seed",
                                                                          "separation")))
    return "\n".join(lines)
