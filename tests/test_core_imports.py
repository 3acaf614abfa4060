"""The core needs neither napari nor Qt (and the MHT path not even torch)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = ("napari_mpt", "napari_mpt.api", "napari_mpt.trackers.mht", "napari_mpt.evaluation.metrics",
        "napari_mpt.io", "napari_mpt.simulation.simulate", "napari_mpt.core.flops", "napari_mpt.cli")


def loaded_after(code: str) -> list[str]:
    probe = (f"{code}\nimport sys\n"
             "print(sorted(m for m in ('napari', 'qtpy', 'PyQt6', 'magicgui', 'torch') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return eval(out.strip().splitlines()[-1])


def test_core_and_an_mht_run_import_no_gui_and_no_torch():
    code = "\n".join(f"import {m}" for m in CORE) + (
        "\nfrom napari_mpt import simulate, track, MHTParams, evaluate"
        "\nsim = simulate(frames=10)\nevaluate(track(sim.detections, MHTParams()).tracks, sim.truth)"
        "\nfrom napari_mpt.cli import build_parser\nbuild_parser()")
    assert loaded_after(code) == []


@pytest.mark.slow
def test_transformer_imports_torch_only_when_used_and_no_gui():
    assert loaded_after("import napari_mpt.trackers.transformer") == []
    assert loaded_after("from napari_mpt.trackers.transformer import track_transformer") == ["torch"]


def test_importing_the_package_loads_no_scipy_solvers():
    """napari imports the package on its GUI thread when a widget docks: scipy.optimize
    (0.5-1 s) loads only when a measure is computed."""
    out = subprocess.run([sys.executable, "-c", "import napari_mpt, sys; "
                          "print('scipy.optimize' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
