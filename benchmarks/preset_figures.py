"""The ISBI-like presets against the challenge's ground-truth motion figures (prints the
Markdown table of docs/guide/simulation.md; not a test).

    python benchmarks/preset_figures.py [--seeds 3]

Figures (:func:`napari_mpt.simulation.presets.motion_figures`) of each preset's true
tracks at low density, mean over seeds, beside the challenge's where it has them.
"""

from __future__ import annotations

import argparse

import numpy as np

from napari_mpt import simulate
from napari_mpt.simulation.presets import CHALLENGE, SCENARIOS, motion_figures, preset_params


def _fmt(v) -> str:
    return " / ".join(f"{x:.3g}" for x in v) if isinstance(v, tuple) else f"{v:.3g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    keys = ("tracks", "points_per_frame", "step", "track_mean_step", "autocorrelation",
            "track_frames")
    print("| scenario | source | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for scen in SCENARIOS:
        runs = [motion_figures(simulate(preset_params(f"{scen}-low", seed=s)).truth)
                for s in range(args.seeds)]
        mean = {k: (tuple(np.mean([r[k] for r in runs], axis=0)) if isinstance(runs[0][k], tuple)
                    else float(np.mean([r[k] for r in runs]))) for k in keys}
        print(f"| {scen}-low | preset ({args.seeds} seeds) | "
              + " | ".join(_fmt(mean[k]) for k in keys) + " |")
        if scen in CHALLENGE:
            print("| | challenge truth | " + " | ".join(_fmt(CHALLENGE[scen][k]) for k in keys)
                  + " |")


if __name__ == "__main__":
    main()
