"""Robustness of the association transformer (issue 11, section 4): accuracy against
localisation noise and step size (the paper's Fig. 2, for N = 100 with misses and
clutter), and on motion a model never saw in training.  Not a test: it prints tables,
writes ``robustness.csv`` and draws ``robustness.png`` under ``--out``.

    .venv/bin/python benchmarks/bench_robustness.py --out runs/robustness [--seeds 3]
    .venv/bin/python benchmarks/bench_robustness.py --out runs/robustness --plot-only

Scene: 100 particles in a 250 x 250 px field (one per 25 x 25 px), 30 frames, P_D 0.9,
10 spurious detections per frame, 2 % of the particles die and as many are born per frame.
Panel (a) sweeps the localisation noise sigma at step mu = 1.5 px (the paper's), panel
(b) the Brownian step mu at sigma = 0.5 px.  The measure is the association link Jaccard
(by detection identity: positions play no part, so smoothing cannot help).  Trackers: the
shipped association transformer, laptrack (LAP with gap closing, link distance estimated)
and the MHT with K = 3 (every prior estimated from the data): no tracker is tuned to the
sweep, each runs at its defaults.  The shaded band is the range the association model was
trained on (sigma 0-1.5 px, mu 0.2-3 px).

Held-out motion (table (c)): two models trained with the shipped checkpoint's protocol
on a GPU, one on all three motion types (control) and one on Brownian motion only
(directed, switching and drift held out):

    napari-mpt train --kind association --device cuda --out runs/robustness/assoc_all.pt
    napari-mpt train --kind association --device cuda --motions brownian \\
        --out runs/robustness/assoc_brownian.pt

(2.7 minutes each on an H100; ``--device cpu`` gives the same protocol in about 20 minutes
on this machine), then tested on Brownian, directed (3 px/frame), switching and
drifting (2 px/frame) scenes.  Rows whose checkpoint is missing are skipped.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from napari_mpt import api
from napari_mpt.core.params import LAPParams, MHTParams, SimulationParams, TransformerParams
from napari_mpt.experiments.sweep import mean_ci

SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
STEPS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0)
TRAINED = {"sigma": (0.0, 1.5), "mu": (0.2, 3.0)}
MOTIONS = {"brownian": {}, "directed": {"motion": "directed", "speed": 3.0},
           "switching": {"motion": "switching", "speed": 3.0},
           "drift": {"drift": (2.0, 1.0)}}


def scene(seed: int, **changes) -> SimulationParams:
    n = 100
    base = SimulationParams(particles=n, frames=30, field_of_view=250.0, process_noise=1.5,
                            measurement_noise=0.5, detection_probability=0.9, clutter=10.0,
                            birth_rate=0.02 * n, survival=0.98, end_at_edge=True, seed=seed)
    return base.replace(**changes)


def trackers(out: Path) -> dict[str, object]:
    return {"association": TransformerParams(checkpoint="association", device="cpu"),
            "LAP": LAPParams(), "MHT K=3": MHTParams(lookback=3)}


def score(sp: SimulationParams, params) -> tuple[float, float, float]:
    sim = api.simulate(sp)
    t0 = time.perf_counter()
    res = api.track(sim.detections, params)
    wall = time.perf_counter() - t0
    ev = api.evaluate(res.tracks, sim.truth)
    assert ev.association is not None     # the simulator names the detection each made
    return ev.association.jaccard, ev.jaccard, wall


def run_rows(out: Path, seeds: int, skip_mht: bool) -> list[dict]:
    rows: list[dict] = []
    sweeps = [("sigma", s, {"measurement_noise": s}) for s in SIGMAS] + \
             [("mu", m, {"process_noise": m}) for m in STEPS]
    for panel, x, change in sweeps:
        for name, params in trackers(out).items():
            if skip_mht and name.startswith("MHT"):
                continue
            for seed in range(seeds):
                aj, pj, wall = score(scene(seed, **change), params)
                rows.append({"panel": panel, "x": x, "tracker": name, "seed": seed,
                             "association_jaccard": aj, "jaccard": pj, "wall_s": wall})
            print(f"{panel}={x:<4} {name:<12} "
                  f"{np.mean([r['association_jaccard'] for r in rows[-seeds:]]):.3f}",
                  flush=True)
    models = {"association (shipped, all motions)": "association",
              "all motions (GPU control)": str(out / "assoc_all.pt"),
              "Brownian only (held out)": str(out / "assoc_brownian.pt")}
    for motion, change in MOTIONS.items():
        for label, ck in models.items():
            if not ck == "association" and not Path(ck).exists():
                continue
            params = TransformerParams(checkpoint=ck, device="cpu")
            for seed in range(seeds):
                aj, pj, wall = score(scene(seed, **change), params)
                rows.append({"panel": "motion", "x": motion, "tracker": label, "seed": seed,
                             "association_jaccard": aj, "jaccard": pj, "wall_s": wall})
        for seed in range(seeds):
            aj, pj, wall = score(scene(seed, **change), LAPParams())
            rows.append({"panel": "motion", "x": motion, "tracker": "LAP", "seed": seed,
                         "association_jaccard": aj, "jaccard": pj, "wall_s": wall})
        print(f"motion {motion} done", flush=True)
    return rows


def summarise(rows: list[dict]) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    groups: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r["panel"], str(r["x"]), r["tracker"]), []).append(
            float(r["association_jaccard"]))
    return {k: mean_ci(v)[:3] for k, v in groups.items()}


def print_tables(summary) -> None:
    for panel, label in (("sigma", "(a) localisation noise sigma (px), mu = 1.5"),
                         ("mu", "(b) Brownian step mu (px), sigma = 0.5"),
                         ("motion", "(c) motion at test time")):
        keys = sorted({k for k in summary if k[0] == panel}, key=lambda k: k[2])
        xs = list(dict.fromkeys(k[1] for k in summary if k[0] == panel))
        names = list(dict.fromkeys(k[2] for k in keys))
        print(f"\n{label}: association link Jaccard, mean [95 % interval]")
        print("| tracker | " + " | ".join(xs) + " |")
        print("|---|" + "---|" * len(xs))
        for name in names:
            cells = []
            for x in xs:
                m, lo, hi = summary.get((panel, x, name), (float("nan"),) * 3)
                cells.append(f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
            print(f"| {name} | " + " | ".join(cells) + " |")


def plot(summary, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    colours = {"association": "C0", "LAP": "C1", "MHT K=3": "C2"}
    for ax, panel, xlabel in ((axes[0], "sigma", "localisation noise sigma (px), mu = 1.5"),
                              (axes[1], "mu", "Brownian step mu (px), sigma = 0.5")):
        lo_t, hi_t = TRAINED[panel]
        ax.axvspan(lo_t, hi_t, color="0.92", label="association model's training range")
        for name, c in colours.items():
            pts = sorted((float(k[1]), v) for k, v in summary.items()
                         if k[0] == panel and k[2] == name)
            if not pts:
                continue
            x = [p[0] for p in pts]
            m = np.array([p[1] for p in pts])
            ax.plot(x, m[:, 0], "o-", color=c, label=name)
            ax.fill_between(x, m[:, 1], m[:, 2], color=c, alpha=0.2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("association link Jaccard")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower left")
    ax = axes[2]
    motions = list(MOTIONS)
    names = list(dict.fromkeys(k[2] for k in summary if k[0] == "motion"))
    names.sort(key=lambda n: n == "LAP")
    bar_colours = {"LAP": "C1", "association (shipped, all motions)": "C0",
                   "all motions (GPU control)": "#7fb3d5", "Brownian only (held out)": "C4"}
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        m = np.array([summary.get(("motion", mo, name), (np.nan,) * 3) for mo in motions])
        xs = np.arange(len(motions)) + (i - (len(names) - 1) / 2) * width
        ax.bar(xs, m[:, 0], width, yerr=[m[:, 0] - m[:, 1], m[:, 2] - m[:, 0]], label=name,
               capsize=2, color=bar_colours.get(name))
    ax.set_xticks(np.arange(len(motions)), motions)
    ax.set_ylabel("association link Jaccard")
    ax.set_ylim(0.5, 1.0)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    axes[0].set_title("(a) noise", fontsize=9)
    axes[1].set_title("(b) step size", fontsize=9)
    axes[2].set_title("(c) motion at test time (mu = 1.5, sigma = 0.5)", fontsize=9)
    fig.suptitle("N = 100, 30 frames, P_D 0.9, 10 spurious spots/frame, births and deaths; "
                 "mean and 95 % interval over seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/robustness"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-mht", action="store_true", help="leave the MHT rows out")
    ap.add_argument("--plot-only", action="store_true", help="redraw from robustness.csv")
    ap.add_argument("--figure", type=Path, default=None, help="where to write the PNG")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "robustness.csv"
    if args.plot_only:
        with open(table) as fh:
            rows = list(csv.DictReader(fh))
    else:
        rows = run_rows(args.out, args.seeds, args.no_mht)
        with open(table, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    summary = summarise(rows)
    print_tables(summary)
    plot(summary, args.figure or args.out / "robustness.png")


if __name__ == "__main__":
    main()
