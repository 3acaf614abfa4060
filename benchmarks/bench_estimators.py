"""Which first linking pass to estimate the defaults from (prints the Markdown table of
docs/guide/which-tracker.md; not a test).

    python benchmarks/bench_estimators.py [--presets receptor-low mixture-low vesicle-high] [--seeds 2]

The defaults of the MHT (motion model, noises, rates) and of LAP (link distance) are
estimated from a first linking pass (:mod:`napari_mpt.trackers.steps`).  Candidates:
mutual nearest neighbours (the default, milliseconds), LAP at its defaults without gap
closing, and the association transformer's tracks, with the truth's own links as the
ideal.  For each: the share of its links that are true, the share of true links it
finds, the estimated model and noises, LAP's link distance (the rule of
:mod:`napari_mpt.trackers.lap` on those links), and the default MHT's alpha when its
parameters come from that pass (the lookback chosen as usual).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_mpt.api import LAPParams, MHTParams, TransformerParams, evaluate, simulate, track
from napari_mpt.simulation.presets import preset_params
from napari_mpt.trackers import steps
from napari_mpt.trackers.lap import LINK_MARGIN, LINK_QUANTILE
from napari_mpt.trackers.mht.estimate import MOTION_FIELDS, estimate_parameters
from napari_mpt.trackers.mht.tracker import RATES, frames_of


def consecutive_links(tracks) -> tuple[np.ndarray, np.ndarray]:
    took = tracks.detection >= 0
    tid, fr, det = tracks.track_id[took], tracks.frame[took], tracks.detection[took]
    ok = (tid[1:] == tid[:-1]) & (fr[1:] == fr[:-1] + 1)
    return det[:-1][ok], det[1:][ok]


def link_distance(fp: steps.FirstPass) -> float:
    v = fp.displacements()
    mix = steps.fit_step_mixture(v, fp.radius)
    w = mix.inlier(v) if mix is not None else np.ones(len(v))
    return LINK_MARGIN * steps.weighted_quantile(np.linalg.norm(v, axis=1), w, LINK_QUANTILE)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["receptor-low", "mixture-low",
                                                     "vesicle-high"])
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    print("| preset | first pass | s | true share of its links | true links found | model "
          "| eta' | nu' | directed share | LAP link distance | MHT alpha |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.presets:
        rows_out: dict[str, list[list[float]]] = {}
        facts: dict[str, list[str]] = {}
        for seed in range(args.seeds):
            sim = simulate(preset_params(name, seed=seed))
            det = sim.detections
            _, coords, rows = frames_of(det)
            true_a, true_b = consecutive_links(sim.truth)
            truth = set(zip(true_a.tolist(), true_b.tolist(), strict=True))
            passes = {}
            t0 = time.perf_counter()
            passes["nearest neighbours"] = (steps.first_pass(coords), time.perf_counter() - t0)
            for label, params in (("LAP, no gap closing", LAPParams(gap_closing_frames=0)),
                                  ("association transformer",
                                   TransformerParams(checkpoint="association"))):
                t0 = time.perf_counter()
                a, b = consecutive_links(track(det, params).tracks)
                passes[label] = (steps.first_pass_of(coords, rows, a, b),
                                 time.perf_counter() - t0)
            passes["truth (ideal)"] = (steps.first_pass_of(coords, rows, true_a, true_b), 0.0)
            for label, (fp, secs) in passes.items():
                i = np.flatnonzero(fp.nxt >= 0)
                flat_rows = np.concatenate(rows)
                made = set(zip(flat_rows[i].tolist(), flat_rows[fp.nxt[i]].tolist(),
                               strict=True))
                e = estimate_parameters(coords, first=fp)
                chosen = {k: e[k] for k in (*MOTION_FIELDS[e["motion_model"]], *RATES)}
                result = track(det, MHTParams(motion_model=e["motion_model"], **chosen))
                alpha = evaluate(result.tracks, sim.truth).isbi.alpha
                rows_out.setdefault(label, []).append([
                    secs, len(made & truth) / max(len(made), 1), len(made & truth) / len(truth),
                    e["process_noise"], e["measurement_noise"], e.get("directed_share", 0.0),
                    link_distance(fp), alpha])
                facts.setdefault(label, []).append(e["motion_model"])
        for label, vals in rows_out.items():
            m = np.mean(vals, axis=0)
            models = "/".join(sorted(set(facts[label])))
            print(f"| {name} | {label} | {m[0]:.2f} | {m[1]:.3f} | {m[2]:.3f} | {models} | "
                  f"{m[3]:.2f} | {m[4]:.2f} | {m[5]:.2f} | {m[6]:.2f} | {m[7]:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
