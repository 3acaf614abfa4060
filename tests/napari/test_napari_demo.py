"""``napari-mpt demo --screenshot``: with no display it starts its own Xvfb, renders the
scene, writes the PNG and prints the table, whose numbers are the core's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_mpt import api

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.skipif(shutil.which("Xvfb") is None,
                                                  reason="needs the Xvfb binary")]


def test_demo_without_display_writes_screenshot_and_table(tmp_path):
    pytest.importorskip("napari")
    from skimage.io import imread

    from napari_mpt.napari.layers import FN_COLOR, FP_COLOR

    png = tmp_path / "demo.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    exe = Path(sys.executable).with_name("napari-mpt")
    out = subprocess.run([str(exe), "demo", "--screenshot", str(png), "--frames", "60",
                          "--size", "1200", "800"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr

    sim = api.simulate(api.SimulationParams(frames=60, measurement_noise=5.0, seed=7))
    from napari_mpt.core.params import PAPER_FILTER, known_priors

    # the paper's Fig. 2(a) MHT, as the demo runs it
    res = api.track(sim.detections, api.MHTParams(lookback=8, **known_priors(sim.params),
                                                  **PAPER_FILTER))
    score = api.evaluate(res.tracks, sim.truth)
    assert score.fp + score.fn > 0, "the demo scene should show link errors"
    row = next(line for line in out.stdout.splitlines() if line.startswith("MHT K=8"))
    assert f"{score.jaccard:.4f}" in row.split()
    assert f"{res.flops.value:,}" in row.split()

    header = next(line for line in out.stdout.splitlines() if line.startswith("run "))
    assert header.split()[:6] == ["run", "JC", "assoc", "JC", "α", "β"]
    assert f"{score.summary()['alpha']:.4f}" in row.split()

    img = imread(png)[..., :3].astype(int)
    assert img.shape[:2] == (800, 1200)
    # both colours are drawn (by the link errors and by each panel's legend; that each
    # alone draws them is checked in test_napari_widgets' side-by-side test)
    for color in (FP_COLOR, FN_COLOR):
        target = np.asarray(color[:3]) * 255
        assert (np.abs(img - target).max(axis=-1) < 40).sum() > 20


def test_demo_movie_runs_the_pipeline_and_prints_the_cores_numbers(tmp_path):
    """``demo --movie``: the movie's detected spots tracked by LAP, MHT and the association
    transformer; each row is the core's result on the core's spots."""
    pytest.importorskip("napari")
    from skimage.io import imread

    from napari_mpt.core.params import DetectParams, MovieParams
    from napari_mpt.detection.detect import detect
    from napari_mpt.napari.demo import MOVIE_PRESET
    from napari_mpt.napari.transformer_controls import checkpoint_names
    from napari_mpt.simulation.movie import render_movie
    from napari_mpt.simulation.presets import preset_params

    png = tmp_path / "pipeline.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    exe = Path(sys.executable).with_name("napari-mpt")
    out = subprocess.run([str(exe), "demo", "--movie", "--screenshot", str(png), "--frames", "20",
                          "--size", "1200", "800"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr

    sim_params = preset_params(MOVIE_PRESET, particles=40, field_of_view=160.0, frames=20, seed=1)
    sim = api.simulate(sim_params)
    spots = detect(render_movie(sim, MovieParams(snr=4.0, seed=1), frames=20), DetectParams())
    assert f"spots: {len(spots)} spots" in out.stdout
    runs = {"LAP d=auto gap=1": api.LAPParams(), "MHT K=4": api.MHTParams(lookback=4)}
    if "association" in checkpoint_names():
        runs["association"] = api.TransformerParams(checkpoint="association", device="cpu")
    lines = out.stdout.splitlines()
    # columns are two or more spaces apart (a header or a cell has single spaces at most)
    header = re.split(r"\s{2,}", next(line for line in lines if line.startswith("run ")).strip())
    for label, params in runs.items():
        score = api.evaluate(api.track(spots, params).tracks, sim.truth)
        row = next(line for line in lines if line.startswith(label + "  "))
        cells = dict(zip(header, re.split(r"\s{2,}", row.strip()), strict=False))
        assert cells["JC"] == f"{score.jaccard:.4f}"
        assert [cells["TP"], cells["FP"], cells["FN"]] == [str(score.tp), str(score.fp),
                                                           str(score.fn)]
    img = imread(png)[..., :3]
    assert img.shape[:2] == (800, 1200)
