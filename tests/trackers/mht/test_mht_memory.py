"""Peak memory as the benchmark records it (the MHT's memory budget is tested in
test_mht_clutter.py)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from napari_mpt.experiments.benchmark.cases import PeakMemory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_peak_memory_sees_a_short_lived_allocation():
    with PeakMemory() as peak:
        a = np.ones(80 * 2**20 // 8)      # 80 MiB, touched
        a.sum()
        import time
        time.sleep(0.05)                  # several samples while it is held
        del a
    assert peak.mb is not None and 70 <= peak.mb <= 400
    with PeakMemory() as idle:
        pass
    assert idle.mb is not None and idle.mb < 70


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_benchmark_cases_record_peak_memory():
    from napari_mpt.experiments.benchmark.cases import Case, run_case
    from napari_mpt.experiments.benchmark.summary import markdown_table, summarize
    from napari_mpt.simulation.presets import preset_params

    sim = preset_params("vesicle-low").replace(frames=6, particles=12, field_of_view=80.0)
    rec = run_case(Case("v", "mht", 0, {**sim.to_dict(), "seed": 0}, {"lookback": 2}))
    assert 0.0 <= rec["peak_mb"] < 500
    assert "peak MiB" in markdown_table(summarize([rec]))


def test_detection_level_run_restores_the_garbage_collector():
    """The windows pause Python's cyclic collector (its passes over the trees cost ~45 %
    of a dense run) and restore whatever state it was in, also after an error."""
    import gc

    from mht_cases import scene

    from napari_mpt import MHTParams
    from napari_mpt.core.errors import Cancelled
    from napari_mpt.core.results import RunControl
    from napari_mpt.trackers.mht import track_mht

    det, _ = scene(6, 8, seed=2, fov=60.0)
    assert gc.isenabled()
    track_mht(det, MHTParams(lookback=2))
    assert gc.isenabled()
    with pytest.raises(Cancelled):
        track_mht(det, MHTParams(lookback=2), RunControl(should_stop=lambda: True))
    assert gc.isenabled()
    gc.disable()
    try:
        track_mht(det, MHTParams(lookback=2))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_detection_level_mht_leaves_no_cycles_for_the_paused_collector():
    """The MHT pauses Python's cyclic collector (mht.general.paused_gc), so an owner or a
    search closure left in a reference cycle would pile up for the whole run: after a run
    with misses, clutter and births, none is found in cyclic garbage."""
    import gc

    from mht_cases import scene

    from napari_mpt import MHTParams
    from napari_mpt.trackers.mht import track_mht
    from napari_mpt.trackers.mht.select import Owner

    det, _ = scene(40, 25, p_d=0.85, clutter=4.0, fov=150.0, step=1.0, noise=0.5, seed=5)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        res = track_mht(det, MHTParams(lookback=3))
        assert res.info["path"] == "detection-level" and res.info["milp_clusters"] + \
            res.info["exact_clusters"] > 0
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage
                if isinstance(o, Owner) or getattr(o, "__name__", "") == "dfs"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert left == []
