"""``napari-mpt reproduce`` end to end: the quick smoke run, resume, determinism across
Dask workers and schedulers, training and its cache."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

import pytest

from napari_mpt import cli
from napari_mpt.experiments.reproduce.figures import FIGURE_NAMES, FIGURES
from napari_mpt.experiments.reproduce.models import ModelSpec, cached_path, shipped_names
from napari_mpt.experiments.reproduce.runner import (
    ModelBroker,
    plan_models,
    prefetch_training,
    reproduce_figure,
    run_sweep,
)
from napari_mpt.experiments.reproduce.summary import COLUMNS
from napari_mpt.experiments.reproduce.tasks import build_tasks, run_task
from napari_mpt.experiments.sweep import ClusterError, ResultStore, dask_client

pytestmark = pytest.mark.slow     # every test here starts a Dask cluster or runs a sweep

VOLATILE = {"wall_s"}  # timing is the only field allowed to differ between runs


def _stable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in VOLATILE}


def _same(a: dict, b: dict) -> bool:
    a, b = _stable(a), _stable(b)
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            continue
        if x != y:
            return False
    return True


def _without_timing(text: str) -> list[dict[str, str]]:
    rows = list(csv.DictReader(text.splitlines()))
    return [{k: v for k, v in r.items() if k != "wall_s_mean"} for r in rows]


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    cache = tmp_path_factory.mktemp("cache")
    rc = cli.main(["reproduce", "all", "--quick", "--out", str(out), "--cache", str(cache),
                   "--no-progress"])
    return rc, out


def test_quick_all_writes_a_sane_csv_and_png_per_figure(quick_run):
    rc, out = quick_run
    assert rc == 0
    shipped = shipped_names()
    for name in FIGURE_NAMES:
        spec = FIGURES[name]
        rows = _read(out / f"{name}.csv")
        assert rows and tuple(rows[0].keys()) == COLUMNS
        mht = [c.label for c in spec.curves if c.method == "mht" and c.quick]
        for label in mht:                      # MHT curves are never skipped
            assert {float(r["x"]) for r in rows if r["curve"] == label} == set(spec.quick_xs)
        for r in rows:
            mean, lo, hi = float(r["mean"]), float(r["ci_lo"]), float(r["ci_hi"])
            assert lo <= mean <= hi
            assert int(r["n"]) == spec.quick_seeds and int(r["n_failed"]) == 0
            assert r["metric"] == spec.metric and r["x_name"] == spec.x
            if spec.metric == "jaccard":
                assert 0.0 <= mean <= 1.0
            else:
                assert mean > 0 and r["flops_source"] in ("analytic", "papi", "fvcore")
        curves = {r["curve"] for r in rows}
        assert curves <= {c.label for c in spec.curves if c.quick}
        if not shipped:
            assert all(spec.curve(c).method == "mht" or spec.curve(c).train is None
                       for c in curves)
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(png) < 150_000
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings) == set(FIGURE_NAMES)
    assert all(t["ran"] == t["tasks"] and "--quick" in t["command"] for t in timings.values())


def test_fig5_counts_the_costs_the_paper_compares(quick_run):
    _, out = quick_run
    rows = _read(out / "fig5.csv")
    by = {(r["curve"], float(r["x"])): float(r["mean"]) for r in rows}
    exh = "MHT exhaustive (paper's cost model)"
    exact = "MHT exact (branch and bound)"
    ks = sorted(k for c, k in by if c == exh)
    assert [by[(exh, k)] for k in ks] == sorted(by[(exh, k)] for k in ks)  # grows with K
    assert all(by[(exact, k)] <= by[(exh, k)] for k in ks)
    assert {r["flops_source"] for r in rows if r["curve"] == "transformer K_E=K_D=K"} == {
        "fvcore"}


def test_missing_transformers_are_skipped_with_a_note(tmp_path, capsys):
    with dask_client(workers=1) as client:
        report = reproduce_figure(client, "fig6", tmp_path, quick=True, seeds=1,
                                  cache=tmp_path / "cache", progress=False, shipped=set())
    assert report.skipped == {"transformer_{150,30}": ["transformer_150_30"]}
    assert "rerun with --train" in capsys.readouterr().out
    spec = FIGURES["fig6"]
    assert {r["curve"] for r in _read(report.csv)} == {
        c.label for c in spec.curves if c.method == "mht" and c.quick}


def test_an_interrupted_sweep_resumes_with_only_the_missing_tasks(tmp_path):
    cache = tmp_path / "cache"
    with dask_client(workers=2) as client:
        first = reproduce_figure(client, "fig2c", tmp_path, quick=True, seeds=3, cache=cache,
                                 progress=False, shipped=set())
        csv_before = first.csv.read_text()
        store_path = tmp_path / "fig2c.jsonl"
        lines = store_path.read_text().splitlines(keepends=True)
        kept, dropped = lines[::2], lines[1::2]
        store_path.write_text("".join(kept) + dropped[0][:25])     # plus a torn line
        second = reproduce_figure(client, "fig2c", tmp_path, quick=True, seeds=3,
                                  cache=cache, progress=False, shipped=set())
    assert first.ran == first.tasks and first.reused == 0
    assert second.ran == len(dropped) and second.reused == len(kept)
    assert _without_timing(second.csv.read_text()) == _without_timing(csv_before)
    rerun = ResultStore(store_path)
    for line in dropped:
        old = json.loads(line)
        assert _same(rerun.get(old["key"]), old)


def test_a_task_gives_the_same_record_on_every_worker_and_scheduler():
    picks = [t for t in build_tasks(FIGURES["fig2c"], seeds=2) if t.method == "mht"][:2]
    picks += [t for t in build_tasks(FIGURES["fig5"], quick=True)
              if t.x == 2.0]                                  # exhaustive, exact, transformer
    local = [run_task(t) for t in picks]
    assert all(_same(a, run_task(t)) for a, t in zip(local, picks, strict=True))
    with dask_client(workers=2) as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        for w in workers:
            futs = [client.submit(run_task, t, workers=[w], pure=False) for t in picks]
            remote = client.gather(futs)
            assert all(_same(a, b) for a, b in zip(local, remote, strict=True))


def test_cli_sends_the_sweep_to_an_existing_scheduler_with_identical_results(tmp_path):
    from dask.distributed import LocalCluster

    ref = tmp_path / "ref"
    assert cli.main(["reproduce", "fig3", "--quick", "--out", str(ref), "--no-progress",
                     "--cache", str(tmp_path / "c")]) == 0
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        other = tmp_path / "other"
        assert cli.main(["reproduce", "fig3", "--quick", "--out", str(other),
                         "--scheduler", cluster.scheduler_address, "--no-progress",
                         "--cache", str(tmp_path / "c")]) == 0
    a, b = (ref / "fig3.csv").read_text(), (other / "fig3.csv").read_text()
    assert _without_timing(a) == _without_timing(b)


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ClusterError, match=r"tcp://127\.0\.0\.1:9"):
        with dask_client("tcp://127.0.0.1:9", timeout=2):
            pass


def test_train_caches_a_missing_transformer_and_the_next_run_reuses_it(tmp_path):
    cache = tmp_path / "cache"
    spec = FIGURES["fig3"]
    tiny = ModelSpec(8, 2, batches=3)          # a few steps: this tests plumbing, not skill
    tasks = [dataclasses.replace(t, model=tiny) for t in build_tasks(spec, quick=True)
             if t.method == "transformer"][:2]
    assert tasks
    store = ResultStore(tmp_path / "fig3.jsonl")
    plan = plan_models(tasks, cache, train=True, shipped=set())
    assert plan.source == {tiny.name: "train"}
    with dask_client(workers=2) as client:
        stats = run_sweep(client, tasks, store, plan, cache, progress=False)
        assert stats["trained"] == [tiny.name] and stats["ran"] == len(tasks)
        assert cached_path(tiny, cache).is_file()
        again = plan_models(tasks, cache, train=True, shipped=set())
        assert again.source == {tiny.name: "cached"}
        fresh = ResultStore(tmp_path / "again.jsonl")
        stats2 = run_sweep(client, tasks, fresh, again, cache, progress=False)
    assert stats2["trained"] == [] and stats2["ran"] == len(tasks)
    for t in tasks:
        a, b = store.get(t.key), fresh.get(t.key)
        assert 0.0 <= a["jaccard"] <= 1.0 and a["flops_source"] == "fvcore"
        assert _same(a, b)            # the cached checkpoint is the one that was trained


def test_trainings_of_a_whole_run_are_submitted_once_and_shared(tmp_path):
    cache = tmp_path / "cache"
    base = [t for t in build_tasks(FIGURES["fig4"], quick=True) if t.method == "transformer"]
    a, b = ModelSpec(8, 1, batches=2), ModelSpec(8, 3, batches=2)
    first = [dataclasses.replace(base[0], model=a)]
    second = [dataclasses.replace(t, model=m) for t, m in zip(base[:2], (a, b), strict=True)]
    plans = [plan_models(ts, cache, train=True, shipped=set()) for ts in (first, second)]
    with dask_client(workers=2) as client:
        broker = ModelBroker(client, cache)
        assert prefetch_training(broker, plans) == [a.name, b.name]   # first figure's first
        s1 = run_sweep(client, first, ResultStore(tmp_path / "1.jsonl"), plans[0], cache,
                       progress=False, broker=broker)
        s2 = run_sweep(client, second, ResultStore(tmp_path / "2.jsonl"), plans[1], cache,
                       progress=False, broker=broker)
    assert s1["trained"] == [a.name] and s2["trained"] == [b.name]   # each saved once
    assert cached_path(a, cache).is_file() and cached_path(b, cache).is_file()
    assert broker.training == {}
