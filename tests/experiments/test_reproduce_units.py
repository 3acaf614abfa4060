"""The reproduction framework's parts: figure specs, seeds, tasks, statistics, the store."""

from __future__ import annotations

import ast
import hashlib
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from napari_mpt.core.params import TrainParams
from napari_mpt.experiments.reproduce.figures import FIGURE_NAMES, FIGURES
from napari_mpt.experiments.reproduce.models import (
    ModelSpec,
    model_seed,
    protocol_tag,
    reference_params,
    train_params,
)
from napari_mpt.experiments.reproduce.tasks import build_tasks, task_seed
from napari_mpt.experiments.sweep import ResultStore, mean_ci


def test_every_figure_of_the_issue_is_declared():
    assert set(FIGURE_NAMES) == {"fig2a", "fig2b", "fig2c", "fig3", "fig4", "fig5", "fig6"}


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_tasks_cover_curves_points_and_seeds_with_unique_keys(name):
    spec = FIGURES[name]
    tasks = build_tasks(spec, seeds=2)
    assert len(tasks) == sum(min(2, c.max_seeds or 2) for c in spec.curves) * len(spec.xs)
    assert len({t.key for t in tasks}) == len(tasks)
    quick = build_tasks(spec, quick=True)
    assert {t.x for t in quick} == set(spec.quick_xs)
    assert {t.seed_index for t in quick} == set(range(spec.quick_seeds))


def test_paper_parameters_reach_the_tasks():
    fig2a = build_tasks(FIGURES["fig2a"], seeds=1)
    mht = [t for t in fig2a if t.method == "mht"]
    assert all(t.frames == 150 and t.lookback == 1 and t.mht_process_noise == 1.5 for t in mht)
    assert all(t.mht_measurement_noise == max(t.measurement_noise, 1e-3)   # known nu' = sigma
               for t in mht)
    tr = [t for t in fig2a if t.curve == "transformer K_D=1, trained at sigma, 6 experiments"]
    assert tr and all(t.model.batches == 6 and t.model.per_batch == 1 and t.model.epochs is None
                      for t in tr)                       # the paper's 6 experiments, 6 steps
    assert all(t.encoder_lookback == 150 and t.decoder_lookback == 1 for t in tr)  # K_E=T, K_D=1
    assert {t.model.sigma for t in tr} == {t.measurement_noise for t in tr}  # trained at sigma
    assert all(t.mht_measurement_noise == 1.0 for t in build_tasks(FIGURES["fig2b"], seeds=1)
               if t.method == "mht")
    fig2c = build_tasks(FIGURES["fig2c"], seeds=1)
    assert {t.lookback if t.method == "mht" else t.decoder_lookback for t in fig2c} == {8}
    assert all(t.model is None for t in build_tasks(FIGURES["fig5"], seeds=1)
               if t.method == "transformer")         # Fig. 5 counts the architecture only
    smooth = {t.curve for t in build_tasks(FIGURES["fig3"], seeds=1) if t.smooth}
    assert smooth == {"MHT K=8, nu'=sigma, RTS-smoothed"}
    fig6 = build_tasks(FIGURES["fig6"], seeds=1)
    per_t = {t.model.name for t in fig6 if t.curve == "transformer_{T,30}"}
    assert per_t == {f"transformer_{int(x)}_30" for x in FIGURES["fig6"].xs}
    assert {t.frames for t in fig6} == {int(x) for x in FIGURES["fig6"].xs}
    fig5 = build_tasks(FIGURES["fig5"], seeds=1)
    assert {t.mode for t in fig5 if t.method == "mht"} == {"exact", "exhaustive"}
    assert all(t.lookback == int(t.x) for t in fig5 if t.method == "mht")
    assert all(t.encoder_lookback == t.decoder_lookback == int(t.x) and t.lookback == 0
               for t in fig5 if t.method == "transformer")


def test_task_seed_depends_on_figure_sigma_and_seed_only():
    assert task_seed("fig3", 2.0, 1) == task_seed("fig3", 2, 1)
    seeds = {task_seed(f, x, s) for f in ("fig2a", "fig3") for x in (0.0, 1.0, 7.0)
             for s in range(5)}
    assert len(seeds) == 2 * 3 * 5
    tasks = build_tasks(FIGURES["fig3"], seeds=2)
    by_point: dict[tuple[float, int], set[int]] = {}
    for t in tasks:
        by_point.setdefault((t.x, t.seed_index), set()).add(t.seed)
    assert all(len(s) == 1 for s in by_point.values())   # every curve sees the same data
    fig4 = build_tasks(FIGURES["fig4"], seeds=3)              # x = i leaves the data alone
    assert {(t.seed_index, t.seed) for t in fig4} == {
        (s, task_seed("fig4", 7.0, s)) for s in range(3)}


def test_one_seed_function_gives_the_historical_seeds():
    """Tasks and models hash their identity the same way, and the seeds did not change."""
    def sha31(text: str) -> int:
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFF_FFFF

    assert task_seed("fig3", 2, 1) == sha31("fig3|2.0|1")
    m = ModelSpec(8, 2, batches=3, epochs=2)
    assert m.name == "transformer_8_2_b3_ep2" and model_seed(m) == sha31(m.name)


def test_a_model_is_trained_with_the_reference_protocol_and_its_own_settings():
    ref = reference_params()
    p = train_params(ModelSpec(150, 1, batches=6, sigma=2.0, decoder=1, epochs=100))
    assert isinstance(p, TrainParams)
    assert (p.frames, p.experiments_per_batch, p.batches, p.epochs, p.steps) == (
        150, 1, 6, 100, 600)
    assert p.measurement_noise == 2.0 and p.measurement_noise_range == ()
    assert p.decoder_lookback == 1 and p.encoder_lookback == 0 and p.threads == 1
    assert p.save_every == 600                       # one checkpoint write, at the end
    same = ("d_model", "heads", "learning_rate", "weight_decay", "grad_clip", "lr_floor",
            "teacher_noise", "pointer_weight", "resample", "coord_scale")
    assert all(getattr(p, k) == getattr(ref, k) for k in same)
    assert train_params(ModelSpec(16, 30)).replace(frames=150, seed=ref.seed, threads=ref.threads,
                                                   save_every=ref.save_every) == ref


def test_caches_written_before_the_training_settings_were_recorded_stay_valid():
    """Tags computed by the code before TrainParams held weight decay, clip, warm-up, floor,
    coordinate scale and epochs (the models trained now are bit-identical to those)."""
    assert protocol_tag(ModelSpec(8, 2, batches=3)) == "d397fc91"
    assert protocol_tag(ModelSpec(150, 1, batches=6, sigma=2.0, decoder=1, epochs=100)) == (
        "7d837b12")
    assert protocol_tag(ModelSpec(16, 30)) == "53fd9cc2"
    assert protocol_tag(ModelSpec(16, 30, epochs=1)) != "53fd9cc2"


def test_reproduce_uses_only_the_transformer_packages_public_names():
    import napari_mpt.experiments.reproduce as pkg
    from napari_mpt.trackers import transformer

    for path in Path(pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and "transformer" in node.module:
                assert node.module in ("trackers.transformer", "napari_mpt.trackers.transformer"), (
                    f"{path.name} imports {node.module}")
                assert all(a.name in transformer.__all__ for a in node.names), path.name


def test_mean_ci_is_a_student_t_interval():
    from scipy import stats

    values = [0.2, 0.5, 0.9, 0.4, 0.6]
    mean, lo, hi, std = mean_ci(values)
    ref_lo, ref_hi = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values),
                                      scale=stats.sem(values))
    assert lo <= mean <= hi
    assert math.isclose(std, statistics.stdev(values))
    assert math.isclose(lo, ref_lo) and math.isclose(hi, ref_hi)
    assert mean_ci([3.0]) == (3.0, 3.0, 3.0, 0.0)
    m, lo, hi, _ = mean_ci([2.0, 2.0, 2.0])
    assert lo == m == hi == 2.0
    assert all(math.isnan(v) for v in mean_ci([]))


def test_store_skips_a_torn_last_line_and_keeps_appending(tmp_path):
    path = tmp_path / "fig.jsonl"
    store = ResultStore(path)
    store.add({"key": "a", "v": 1})
    store.add({"key": "b", "v": 2})
    with open(path, "a") as fh:
        fh.write('{"key": "c", "v"')          # a crash in the middle of a write
    reread = ResultStore(path)
    assert "a" in reread and "b" in reread and "c" not in reread
    reread.add({"key": "c", "v": 3})
    final = ResultStore(path)
    assert [r["v"] for r in final.records(["a", "b", "c"])] == [1, 2, 3]
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1]) == {"key": "c", "v": 3}


def test_cli_module_stays_import_light():
    code = ("import sys, napari_mpt.experiments.reproduce.cli; "
            "print([m for m in ('dask', 'distributed', 'matplotlib', 'torch') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
