"""One tracker registry: the API, the CLI, benchmark and the Track widget read it."""

from __future__ import annotations

import pytest

from napari_mpt import api
from napari_mpt.cli import build_parser
from napari_mpt.core.errors import ParameterError
from napari_mpt.experiments.benchmark.cases import TRACKERS as BENCH
from napari_mpt.experiments.benchmark.cases import tracker_params


def test_every_params_class_names_its_own_tracker():
    for method, entry in api.TRACKERS.items():
        assert entry.method == method == entry.params.method


@pytest.mark.parametrize("method", ["mht", "lap"])
def test_track_dispatches_by_the_params_method(method):
    sim = api.simulate(api.SimulationParams(particles=3, frames=6, seed=2, field_of_view=200))
    res = api.track(sim.detections, api.tracker(method).make())
    assert res.method == method


def test_a_hybrid_is_not_run_as_its_mht_parent(monkeypatch):
    """HybridParams subclasses MHTParams: dispatch goes by ``method``, not isinstance order."""
    from napari_mpt.trackers import registry

    called = []
    entry = registry.TRACKERS["hybrid"]
    monkeypatch.setitem(registry.TRACKERS, "hybrid", registry.Tracker(
        entry.method, entry.params, "lap:track_lap", entry.title, entry.help))
    monkeypatch.setattr("napari_mpt.trackers.lap.track_lap",
                        lambda d, p, c: called.append(type(p).__name__))
    api.track(api.simulate(api.SimulationParams(frames=3)).detections, api.HybridParams())
    assert called == ["HybridParams"]


def test_unknown_params_and_methods_are_refused():
    with pytest.raises(TypeError, match="unknown tracker parameters"):
        api.track(api.simulate(api.SimulationParams(frames=3)).detections, object())
    with pytest.raises(ParameterError, match="'nope' is not one of mht, transformer"):
        api.tracker("nope")


def test_cli_and_benchmark_offer_every_registered_tracker():
    parser = build_parser()
    track = parser._subparsers._group_actions[0].choices["track"]
    method = next(a for a in track._actions if a.dest == "method")
    assert tuple(method.choices) == tuple(api.TRACKERS)
    assert set(api.TRACKERS) <= set(BENCH)


def test_benchmark_gives_known_priors_only_to_trackers_that_take_them():
    sim = api.SimulationParams(process_noise=2.5)
    assert tracker_params("mht", sim, {}).process_noise == 2.5
    assert tracker_params("hybrid", sim, {}, priors="estimated").process_noise is None
    assert tracker_params("association", sim, {}).checkpoint == "association"
    assert tracker_params("lap", sim, {"gap_closing_frames": 3}).gap_closing_frames == 3
