"""``napari-mpt train``: train transformer_{T,i} (``--kind encoder-decoder``, default) or the
association transformer (``--kind association``) on fresh simulations.

Import-light on purpose (no torch at module level): ``napari-mpt --help`` imports it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

from ..core.errors import ParameterError

KINDS = ("encoder-decoder", "association")


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..core.params import AssociationTrainParams, TrainParams
    from ..core.params.options import add_param_options

    p = subparsers.add_parser(
        "train", help="train a transformer (encoder-decoder or association) on fresh "
        "simulations and write a checkpoint",
        description="Train the paper's transformer_{T,i} (--kind encoder-decoder): --batches "
        "optimisation steps, each on --experiments-per-batch fresh simulations of --frames "
        "frames; or the association transformer (--kind association): --batches steps, each "
        "on --experiments-per-batch simulated windows drawn from the *-range options.  "
        "Deterministic for a --seed; a checkpoint is written every --save-every batches and "
        "--resume continues it exactly.  The shipped association checkpoint is "
        "`napari-mpt train --kind association --out association.pt` (all defaults).")
    p.add_argument("--kind", choices=KINDS, default=KINDS[0],
                   help="encoder-decoder: the paper's model (options of TrainParams); "
                   "association: any number of detections per frame (options of "
                   "AssociationTrainParams; shared names mean the same)")
    add_param_options(p, TrainParams)
    shared = tuple(f for f in AssociationTrainParams.defaults() if f in TrainParams.defaults())
    add_param_options(p, AssociationTrainParams, skip=shared)
    p.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished run in --out (same settings required)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--log", help="also write the loss curve to this CSV file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.set_defaults(func=_cmd_train)


def _only_for(args: argparse.Namespace, mine: type, other: type, kind: str) -> None:
    """ParameterError when an option of the other kind's parameters was given."""
    from dataclasses import fields

    names = {f.name for f in fields(mine)}
    for f in fields(other):
        if f.name not in names and getattr(args, f.name, None) is not None:
            raise ParameterError(f.name, f"is not a setting of --kind {kind}")


def _cmd_train(args: argparse.Namespace) -> int:
    from ..core.params import AssociationTrainParams, TrainParams
    from ..core.params.options import params_from_args

    if args.kind == "association":
        return _cmd_train_association(args)
    _only_for(args, TrainParams, AssociationTrainParams, args.kind)

    if args.measurement_noise is not None and args.measurement_noise_range is not None:
        raise ParameterError("measurement_noise_range", "give either --measurement-noise or "
                             "--measurement-noise-range, not both")
    params = params_from_args(TrainParams, args)
    from ..trackers.transformer import train

    return _train_and_report(args, lambda: train(
        params, args.out, resume=args.resume, overwrite=args.overwrite,
        progress_bar=not args.no_progress, log=args.log), "")


def _cmd_train_association(args: argparse.Namespace) -> int:
    from ..core.params import AssociationTrainParams, TrainParams
    from ..core.params.options import params_from_args

    _only_for(args, AssociationTrainParams, TrainParams, args.kind)
    params = params_from_args(AssociationTrainParams, args)
    from ..trackers.transformer import train_association

    return _train_and_report(args, lambda: train_association(
        params, args.out, resume=args.resume, overwrite=args.overwrite,
        progress_bar=not args.no_progress, log=args.log), "association")


def _train_and_report(args: argparse.Namespace, run: Callable[[], Path], kind: str) -> int:
    """Run a training, then print what its checkpoint records (one JSON object with
    ``--json``): the same report for every model kind."""
    from ..trackers.transformer.common.checkpoint import read

    t0 = time.perf_counter()
    out = run()
    wall = time.perf_counter() - t0
    data = read(out)
    prog = data.get("progress") or {}
    last = prog.get("loss") or [[0, float("nan")]]
    summary = {"checkpoint": str(Path(out)), **({"kind": kind} if kind else {}),
               "batches": prog.get("batches_done"), "final_loss": last[-1][1],
               "train_s": prog.get("elapsed_s"), "wall_s": wall, "model": data["model"],
               "train": data["train"]}
    if args.json:
        print(json.dumps(summary))
    else:
        what = f"{kind} model, " if kind else ""
        print(f"wrote {out}: {what}{summary['batches']} batches, final loss "
              f"{summary['final_loss']:.4f}, {summary['train_s']:.1f} s training")
    return 0
