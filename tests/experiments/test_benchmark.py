"""``napari-mpt benchmark``: cases, summaries with intervals, the table, and a quick run."""

from __future__ import annotations

import csv
import math

import pytest

from napari_mpt.cli import main
from napari_mpt.experiments.benchmark.cases import Case, run_case
from napari_mpt.experiments.benchmark.summary import markdown_table, summarize
from napari_mpt.simulation.presets import preset_params


def test_summary_means_and_student_t_intervals_by_hand():
    recs = [{"scenario": "s", "tracker": "lap", "seed": i, "association_jaccard": v,
             "wall_s": 1.0} for i, v in enumerate((0.8, 0.9, 1.0))]
    rows = {r["measure"]: r for r in summarize(recs)}
    jc = rows["association_jaccard"]
    # mean 0.9, sample std 0.1, t(0.975, 2) = 4.302653 -> half-width 0.248414
    assert jc["mean"] == pytest.approx(0.9)
    assert jc["std"] == pytest.approx(0.1)
    assert jc["ci_hi"] == pytest.approx(1.0)          # clipped to [0, 1]
    assert jc["ci_lo"] == pytest.approx(0.9 - 4.302653 * 0.1 / math.sqrt(3), abs=1e-6)
    assert (jc["n"], jc["n_failed"]) == (3, 0)
    assert "alpha" not in rows                       # never reported: absent, not zero


def test_a_refusal_is_kept_and_shown_with_its_reason():
    recs = [{"scenario": "s", "tracker": "mht", "seed": 0, "error": "frame 3 has 2 spots"},
            {"scenario": "s", "tracker": "lap", "seed": 0, "association_jaccard": 0.5}]
    table = markdown_table(summarize(recs))
    assert "| s | mht | 0/1 | refused: frame 3 has 2 spots |" in table
    assert "| s | lap | 1/1 | 0.500 |" in table


def test_a_case_is_seeded_and_its_key_names_its_settings():
    sim = preset_params("vesicle-low").replace(frames=6, particles=12, field_of_view=80.0)
    a = Case("v", "lap", 0, {**sim.to_dict(), "seed": 0})
    b = Case("v", "lap", 0, {**sim.to_dict(), "seed": 1})
    assert a.key != b.key and a.key == Case("v", "lap", 0, {**sim.to_dict(), "seed": 0}).key
    first, again = run_case(a), run_case(a)
    assert first["association_jaccard"] == again["association_jaccard"]
    assert "flops" not in first              # laptrack's work cannot be counted: absent
    assert first["flops_source"] == "none"
    oracle = run_case(Case("v", "oracle", 0, {**sim.to_dict(), "seed": 0}))
    assert oracle["association_jaccard"] == 1.0
    assert oracle["association_jaccard"] >= first["association_jaccard"]


@pytest.mark.slow
def test_quick_benchmark_writes_csv_plots_and_table(tmp_path, capsys):
    assert main(["benchmark", "--quick", "--out", str(tmp_path), "--no-progress",
                 "--trackers", "lap", "mht"]) == 0
    out = capsys.readouterr().out
    assert "| vesicle-low | lap | 2/2 |" in out
    with open(tmp_path / "benchmark.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    lap = {r["measure"]: r for r in rows if r["tracker"] == "lap"}
    assert 0.0 < float(lap["association_jaccard"]["mean"]) <= 1.0
    assert (tmp_path / "association_jaccard.png").stat().st_size > 1000
    # a second run reuses every finished case
    assert main(["benchmark", "--quick", "--out", str(tmp_path), "--no-progress",
                 "--trackers", "lap", "mht"]) == 0
    assert "0 case(s) run, 4 reused" in capsys.readouterr().out
    # the oracle row tells what the detections allow at best
    assert main(["benchmark", "--quick", "--out", str(tmp_path), "--no-progress",
                 "--trackers", "oracle", "lap"]) == 0
    assert "| vesicle-low | oracle | 2/2 | 1.000 ± 0.000 |" in capsys.readouterr().out


def test_tracker_names_map_to_their_parameter_models():
    from napari_mpt.core.params import LAPParams, MHTParams, TransformerParams
    from napari_mpt.experiments.benchmark.cases import tracker_params

    sim = preset_params("vesicle-low")
    assert tracker_params("association", sim, {}).checkpoint == "association"
    assert isinstance(tracker_params("transformer", sim, {}), TransformerParams)
    assert isinstance(tracker_params("lap", sim, {}), LAPParams)
    known = tracker_params("mht", sim, {"lookback": 2})
    assert isinstance(known, MHTParams) and known.lookback == 2
    assert known.measurement_noise == sim.measurement_noise     # the simulation's own
    assert tracker_params("mht", sim, {}, priors="estimated").measurement_noise is None


def test_a_custom_scenario_can_start_from_a_preset_and_carry_its_own_name():
    import argparse

    from napari_mpt.core.errors import ParameterError
    from napari_mpt.experiments.benchmark.cli import register, scenarios
    from napari_mpt.simulation.presets import preset_params

    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    parser = sub.choices["benchmark"]
    args = parser.parse_args(["--out", "x", "--custom-from", "receptor-mid", "--custom-name",
                              "receptor-mid P_D 0.7", "--sim-detection-probability", "0.7"])
    got = scenarios(args)
    assert list(got) == ["receptor-mid P_D 0.7"]          # no presets unless asked for
    want = preset_params("receptor-mid").replace(detection_probability=0.7).to_dict()
    assert got["receptor-mid P_D 0.7"] == want            # everything else is the preset's
    args = parser.parse_args(["--out", "x", "--sim-particles", "7"])
    assert list(scenarios(args)) == ["custom"] and scenarios(args)["custom"]["particles"] == 7
    for bad in (["--custom-from", "nope"], ["--custom-from", "receptor-mid", "--custom-name",
                                            "vesicle-low"]):
        with pytest.raises(ParameterError):
            scenarios(parser.parse_args(["--out", "x", *bad]))


def test_sweeps_are_parsed_checked_and_set_against_the_defaults():
    from napari_mpt.core.errors import ParameterError
    from napari_mpt.experiments.benchmark.cli import sweep_grid, variant_name
    from napari_mpt.experiments.benchmark.summary import defaults_against_best, sweep_table

    grid = sweep_grid(["lap:max_link_distance=5,7", "lap:gap-closing-frames=0,1",
                       "mht:motion_model=random-walk"], ["lap", "mht"])
    assert grid["lap"][0] == {} and len(grid["lap"]) == 1 + 4 and len(grid["mht"]) == 2
    assert variant_name(grid["lap"][1]) == "max_link_distance=5,gap_closing_frames=0"
    for bad, field in (("lap:speed=3", "speed"), ("trackpy:memory=1", "trackpy"),
                       ("lap:max_link_distance=-1", "max_link_distance")):
        with pytest.raises(ParameterError, match=field):
            sweep_grid([bad], ["lap"])
    rows = [{"scenario": "s", "tracker": t, "measure": "alpha", "mean": m, "ci_lo": m - 0.01,
             "ci_hi": m + 0.01, "n": 3} for t, m in (("lap", 0.70), ("lap[d=5]", 0.72),
                                                    ("lap[d=9]", 0.69), ("mht", 0.8))]
    (best,) = defaults_against_best(rows)
    assert (best["tracker"], best["best_setting"]) == ("lap", "d=5")
    assert best["gap"] == pytest.approx(0.02)
    assert "| s | lap | 0.700 [0.690, 0.710] | d=5 | 0.720 | +0.020 |" in sweep_table([best])
