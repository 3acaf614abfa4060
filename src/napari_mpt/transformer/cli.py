"""``napari-mpt train``: train transformer_{T,i} on fresh simulations.

Import-light on purpose (no torch at module level): ``napari-mpt --help`` imports it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..errors import ParameterError


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..options import add_param_options
    from ..params import TrainParams

    p = subparsers.add_parser(
        "train", help="train a transformer_{T,i} on fresh simulations and write a checkpoint",
        description="Train the paper's transformer_{T,i}: --batches optimisation steps, each "
        "on --experiments-per-batch fresh simulations of --frames frames.  Deterministic for "
        "a --seed; a checkpoint is written every --save-every batches and --resume "
        "continues it exactly.")
    add_param_options(p, TrainParams)
    p.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished run in --out (same settings required)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--log", help="also write the loss curve to this CSV file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from ..options import params_from_args
    from ..params import TrainParams

    if args.measurement_noise is not None and args.measurement_noise_range is not None:
        raise ParameterError("measurement_noise_range", "give either --measurement-noise or "
                             "--measurement-noise-range, not both")
    params = params_from_args(TrainParams, args)
    from .checkpoint import read
    from .trainer import train

    t0 = time.perf_counter()
    out = train(params, args.out, resume=args.resume, overwrite=args.overwrite,
                progress_bar=not args.no_progress, log=args.log)
    wall = time.perf_counter() - t0
    data = read(out)
    prog = data.get("progress") or {}
    last = prog.get("loss") or [[0, float("nan")]]
    summary = {"checkpoint": str(Path(out)), "batches": prog.get("batches_done"),
               "final_loss": last[-1][1], "train_s": prog.get("elapsed_s"), "wall_s": wall,
               "model": data["model"], "train": data["train"]}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out}: {summary['batches']} batches, final loss {summary['final_loss']:.4f}, "
              f"{summary['train_s']:.1f} s training")
    return 0
