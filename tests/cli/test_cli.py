"""The CLI contract: simulate -> track -> evaluate, JSON output, one-line errors."""

from __future__ import annotations

import json

import pytest

from napari_mpt.cli import main


def test_simulate_track_evaluate(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "--particles", "2", "--frames", "40", "--process-noise", "1.5",
                 "--measurement-noise", "2", "--drift", "0.1", "0", "--separation", "12",
                 "--seed", "3", "--out", str(out)]) == 0
    params = json.loads((out / "params.json").read_text())
    assert params["simulation"]["drift"] == [0.1, 0.0]
    capsys.readouterr()
    tracks = tmp_path / "tracks.csv"
    assert main(["track", str(out / "detections.csv"), "--method", "mht", "--lookback", "4",
                 "--motion-model", "random-walk", "--process-noise", "1.5",
                 "--measurement-noise", "2", "--mode", "exact", "--out", str(tracks),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "mht" and report["lookback"] == 4
    assert report["flops"] > 0 and report["flops_source"] in ("papi", "analytic")
    assert report["wall_s"] > 0
    assert tracks.read_text().splitlines()[0] == ("track_id,frame,y,x,detection,particle,"
                                                  "y_detection,x_detection")
    assert main(["evaluate", str(tracks), str(out / "truth.csv"), "--json"]) == 0
    score = json.loads(capsys.readouterr().out)
    assert 0 <= score["jaccard"] <= 1 and score["tp"] + score["fn"] == 78
    assert main(["evaluate", str(tracks), str(out / "truth.csv")]) == 0
    assert capsys.readouterr().out.startswith("jaccard ")


def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,y,x\n0,1,2\n0,3,4\n1,5\n")
    out = tmp_path / "tracks.csv"
    assert main(["track", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(bad) in err and "line 4" in err and "'x'" in err
    assert not out.exists()


def test_bad_parameter_is_reported(tmp_path, capsys):
    assert main(["simulate", "--frames", "1", "--out", str(tmp_path / "x")]) == 2
    assert "parameter 'frames'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_refused_window_gives_the_count(tmp_path, capsys):
    main(["simulate", "--particles", "3", "--frames", "20", "--field-of-view", "20",
          "--out", str(tmp_path)])
    rc = main(["track", str(tmp_path / "detections.csv"), "--lookback", "16", "--mode",
               "exhaustive", "--gate", "1e12", "--out", str(tmp_path / "t.csv")])
    assert rc == 2
    assert "hypotheses" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_compare_prints_a_table(capsys):
    assert main(["compare", "--frames", "30", "--lookbacks", "1", "4"]) == 0
    out = capsys.readouterr().out
    assert "MHT K=1" in out and "MHT K=4" in out and "jaccard" in out


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "simulate" in capsys.readouterr().out


def test_three_d_simulate_track_evaluate_on_the_cli(tmp_path, capsys):
    """The 3-D default drift comes from the parameter model (it used to fail with "drift
    needs 3 values" on the CLI and the API)."""
    sim = tmp_path / "sim3"
    assert main(["simulate", "--ndim", "3", "--frames", "20", "--out", str(sim)]) == 0
    header = (sim / "detections.csv").read_text().splitlines()[0]
    assert header == "frame,z,y,x"
    tracks = tmp_path / "t3.csv"
    assert main(["track", str(sim / "detections.csv"), "--lookback", "3",
                 "--process-noise", "1.5", "--measurement-noise", "1.0",
                 "--out", str(tracks)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tracks), str(sim / "truth.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jaccard"] > 0.9


def test_three_d_through_the_api():
    from napari_mpt import api

    params = api.SimulationParams(ndim=3, frames=20)
    assert params.drift_array().shape == (2, 3) and not params.drift_array().any()
    sim = api.simulate(params)
    res = api.track(sim.detections, api.MHTParams(lookback=3, process_noise=1.5,
                                                  measurement_noise=1.0))
    assert res.tracks.ndim == 3
    assert api.evaluate(res.tracks, sim.truth).jaccard > 0.9
    # a drift of the wrong length still names the field
    from napari_mpt.core.errors import ParameterError

    with pytest.raises(ParameterError, match="drift"):
        api.SimulationParams(ndim=3, drift=(1.0, 2.0))


def test_tuple_options_take_numbers_or_names_by_their_default():
    """An empty numeric tuple (drift) takes numbers; a tuple of names (motions) names."""
    import argparse

    from napari_mpt.core.params import AssociationTrainParams, SimulationParams
    from napari_mpt.core.params.options import add_param_options, params_from_args

    p = argparse.ArgumentParser()
    add_param_options(p, SimulationParams)
    sim = params_from_args(SimulationParams, p.parse_args(["--drift", "1", "-0.5"]))
    assert sim.drift == (1.0, -0.5)
    p = argparse.ArgumentParser()
    add_param_options(p, AssociationTrainParams)
    tr = params_from_args(AssociationTrainParams, p.parse_args(["--motions", "directed"]))
    assert tr.motions == ("directed",)


def test_every_subcommand_prints_its_help(capsys):
    """Help texts come from the parameter model; one with a bare % once broke --help."""
    from napari_mpt.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert p.format_help().startswith(f"usage: napari-mpt {name}")
