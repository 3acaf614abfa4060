"""Every screenshot in the documentation, made again through the plugin's widgets.

    PYTHONPATH=src python scripts/screenshots.py            # all of them, into docs/images/
    PYTHONPATH=src python scripts/screenshots.py track-long-name docks-track   # some
    PYTHONPATH=src python scripts/screenshots.py --list     # their names and sizes

Each shot is a function registered with :func:`shot`: it gets a shown napari viewer of
the shot's window size and sets the scene as a user would, with the plugin's docks and
their controls (never by drawing layers by hand).  The script saves the whole window
(canvas and docks) as a PNG of 256 colours, written whole and then renamed.  It renders on
an Xvfb screen of 1600 x 1000 it starts itself (the screen the widgets are tested on), in
a napari settings file of its own, so the pictures do not depend on the machine's display
or on anyone's saved napari preferences.

To add a screenshot: write a function taking the viewer, decorate it with
``@shot("NAME", size=(W, H), caption="what it shows")`` in the section of your part
below, run ``python scripts/screenshots.py NAME``, look at ``docs/images/NAME.png``, and
put it in a page with its caption.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
SCREEN = (1600, 1000)
LAPTOP = (1400, 880)          # the smaller window every widget is checked at


@dataclass(frozen=True)
class Shot:
    name: str
    make: Callable[[Any], Pictures | None]
    size: tuple[int, int]
    caption: str


Pictures = dict[str, Any]
"""What a scene may return instead of the default picture (the window, as NAME.png):
several pictures by file name (without .png), each taken with :func:`window` or
:func:`canvas` at the moment it shows what it should."""


SHOTS: dict[str, Shot] = {}


def shot(name: str, size: tuple[int, int] = LAPTOP, caption: str = "") -> Callable:
    """Register ``make(viewer)`` as the scene of ``docs/images/NAME.png`` (or of the
    pictures it returns, :data:`Pictures`)."""
    def register(make: Callable[[Any], Pictures | None]) -> Callable[[Any], Pictures | None]:
        if name in SHOTS:
            raise ValueError(f"two screenshots named {name!r}")
        SHOTS[name] = Shot(name, make, size, caption)
        return make
    return register


# --- helpers a scene uses ---------------------------------------------------------------
def pump(seconds: float = 0.3) -> None:
    """Let Qt and napari draw for a moment."""
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def wait(widget: Any, timeout_s: float = 600.0) -> None:
    """Wait for a dock widget's job (its ``running``) to end."""
    from qtpy.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while widget.running:
        QApplication.processEvents()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{type(widget).__name__} did not finish in {timeout_s:.0f} s")
        time.sleep(0.01)
    pump()


def run(widget: Any) -> None:
    """Press a dock widget's Run and wait for it; its status line when it did not start."""
    if not widget.run():
        raise RuntimeError(getattr(widget, "message", None) or widget.status.value)
    wait(widget)


def settle(stats: Any, timeout_s: float = 120.0) -> None:
    """Wait for the Track statistics widget's computation."""
    deadline = time.monotonic() + timeout_s
    while (stats.busy or stats.stats is None) and time.monotonic() < deadline:
        pump(0.1)
    pump(0.5)


def dock(viewer: Any, name: str) -> Any:
    """Dock a widget as Plugins > napari-mpt > NAME does; the plugin's docks are tabbed."""
    widget = viewer.window.add_plugin_dock_widget("napari-mpt", name)[1]
    pump(0.1)
    return widget


def dock_all(viewer: Any) -> dict[str, Any]:
    return {name: dock(viewer, name) for name in
            ("Simulate", "Load spots", "Track", "Track statistics", "Detect spots")}


def front(widget: Any) -> None:
    """Raise a widget's tab."""
    widget.dock().raise_()
    pump()


def statistics_of(viewer: Any, run: str) -> Any:
    """Every dock, the sample movie tracked (:func:`movie_tracked`), and the Track
    statistics dock settled on the run whose layer name starts with ``run``."""
    docks = dock_all(viewer)
    movie_tracked(viewer, docks)
    stats = docks["Track statistics"]
    stats.reset_choices()
    stats.layer.value = next(x for x in viewer.layers if x.name.startswith(run))
    settle(stats)
    return stats


def movie_tracked(viewer: Any, docks: dict[str, Any]) -> Any:
    """The sample movie (SNR 4), its spots detected, LAP and MHT K=2 run on them."""
    viewer.open_sample("napari-mpt", "movie_snr4")
    detect = docks["Detect spots"]
    detect.reset_choices()
    run(detect)
    track = docks["Track"]
    track.reset_choices()
    track.method.value = "lap"
    run(track)
    track.method.value = "mht"
    track.mht["lookback"].value = 2
    run(track)
    return track


# --- the plugin's docks (issue 25) --------------------------------------------------------
@shot("docks-simulate", caption="Simulate: a preset (vesicle-low) with its movie, simulated; "
      "the button and progress stay in view under the scrolling form")
def docks_simulate(viewer: Any) -> None:
    docks = dock_all(viewer)
    sim = docks["Simulate"]
    sim.preset.value = "vesicle-low"
    sim.form["frames"].value = 30
    sim.movie.value = True
    run(sim)
    front(sim)


@shot("docks-load-spots", caption="Load spots: a detections CSV and the truth beside it")
def docks_load_spots(viewer: Any) -> None:
    from napari_mpt.napari.sample_data import SAMPLE_DIR

    docks = dock_all(viewer)
    load = docks["Load spots"]
    load.detections.value = SAMPLE_DIR / "pair_T150_sigma1_detections.csv"
    load.load()
    front(load)


@shot("docks-detect-spots", caption="Detect spots on the sample movie (SNR 4): the spots as "
      "yellow rings, the ground truth in grey")
def docks_detect(viewer: Any) -> None:
    docks = dock_all(viewer)
    viewer.open_sample("napari-mpt", "movie_snr4")
    detect = docks["Detect spots"]
    detect.reset_choices()
    run(detect)
    front(detect)


@shot("docks-track", caption="Track: LAP and MHT K=2 on the spots detected in the sample "
      "movie, scored against its truth; the readout and the run table in view after the run")
def docks_track(viewer: Any) -> None:
    docks = dock_all(viewer)
    front(movie_tracked(viewer, docks))


@shot("docks-track-statistics", caption="Track statistics of the MHT run: per-track D, α, "
      "speed and σ loc, the ensemble MSD")
def docks_statistics(viewer: Any) -> None:
    stats = statistics_of(viewer, "MHT K=2 on")
    front(stats)
    pump(1.0)


@shot("track-long-name", caption="The Track form with a long layer name and the "
      "transformer's description: the name elided (all of it in the tooltip), no control "
      "cut off")
def track_long_name(viewer: Any) -> None:
    docks = dock_all(viewer)
    viewer.open_sample("napari-mpt", "movie_snr4")
    detect = docks["Detect spots"]
    detect.reset_choices()
    run(detect)
    spots = next(x for x in viewer.layers if x.name.endswith("spots"))
    spots.name = "simulated movie (SNR 4) spots, second acquisition, cell 12"
    track = docks["Track"]
    track.reset_choices()
    track.input.value = spots
    track.method.value = "transformer"
    deadline = time.monotonic() + 120
    while not track.transformer.loaded and time.monotonic() < deadline:
        pump(0.2)
    front(track)
    pump(0.5)


@shot("track-statistics-flagged", caption="Track statistics of LAP on detected spots: the "
      "values a short or noisy track cannot support are flagged (a dash, the reason in the "
      "tooltip) and kept out of the colour scale")
def statistics_flagged(viewer: Any) -> None:
    stats = statistics_of(viewer, "LAP")
    stats.colour_by.value = "D"
    stats.min_length.value = 1           # the short tracks too, whose fits are flagged
    settle(stats)
    front(stats)
    pump(1.0)


# --- the demo's stills and the detection guide's ------------------------------------------
def demo_still(viewer: Any, *options: str) -> None:
    """``napari-mpt demo OPTIONS --screenshot``'s scene, drawn into ``viewer``."""
    from napari_mpt.napari.demo import demo_args, scene_for
    from napari_mpt.napari.scene import show_whole_tracks

    window = viewer.window._qt_window
    build, _ = scene_for(demo_args(*options))
    build(size=(window.width(), window.height()), viewer=viewer)
    show_whole_tracks(viewer)


@shot("screenshot", caption="napari-mpt demo: truth, MHT K=8 and transformer_150_30 side by "
      "side; wrong links in magenta (FP) and cyan (FN)")
def demo_pair(viewer: Any) -> None:
    demo_still(viewer)


@shot("pipeline", caption="napari-mpt demo --movie: a simulated SNR 4 movie, its detected "
      "spots, then LAP, MHT K=4 and the association transformer side by side")
def demo_movie(viewer: Any) -> None:
    demo_still(viewer, "--movie")


@shot("detect", size=SCREEN, caption="The sample movie (SNR 4), the spots the Detect spots "
      "widget found (yellow rings) and the ground truth; the Track widget offers the spots "
      "and their truth")
def detect_guide(viewer: Any) -> None:
    viewer.open_sample("napari-mpt", "movie_snr4")
    detect = dock(viewer, "Detect spots")
    run(detect)
    dock(viewer, "Track").reset_choices()
    front(detect)


# --- spot detection (the detection guide) -------------------------------------------------
@shot("detect_real", caption="The Detect spots widget on the real sample (Beads in water): "
      "the settings the movie chose, the quality histogram with the threshold line, frame "
      "60's spots as cyan rings; and a close-up of the canvas (detect_real_canvas.png)")
def detect_real(viewer: Any) -> Pictures:
    viewer.open_sample("napari-mpt", "bulk_water")
    detect = dock(viewer, "Detect spots")
    viewer.dims.set_current_step(0, 60)
    detect.preview()
    wait(detect)
    print(detect.status.value)
    pictures = {"detect_real": window(viewer)}
    image = viewer.layers[0]
    viewer.camera.center = (0.0, *(v * 64 for v in image.scale[1:]))
    viewer.camera.zoom *= 3.0
    pictures["detect_real_canvas"] = canvas(viewer)
    return pictures


# --- trust without a truth (docs/guide/trust.md) -------------------------------------------
@shot("review", caption="The Review dock on the real beads (trackpy's bulk-water crop): LAP "
      "and trackpy on the detected spots; where they disagree (gold: a link only LAP makes, "
      "violet: only trackpy), the pairwise disagreement and the count per frame; the queue, "
      "disputed and least confident links first, with the link under review in white and "
      "its alternatives in orange")
def review(viewer: Any) -> None:
    viewer.open_sample("napari-mpt", "bulk_water")
    detect = dock(viewer, "Detect spots")
    run(detect)
    track = dock(viewer, "Track")
    track.reset_choices()
    for method in ("lap", "trackpy"):
        track.method.value = method
        run(track)
    panel = dock(viewer, "Review")
    panel.reset_choices()
    panel.session_file.value = Path(tempfile.mkdtemp()) / "review.json"
    if not panel.compare():
        raise RuntimeError(panel.message)
    scene = getattr(viewer, "scene", None)
    camera = scene.camera if scene is not None else viewer.camera
    camera.zoom *= 6.0
    front(panel)
    panel.scroll_area.verticalScrollBar().setValue(
        panel.summary.native.mapTo(panel.body.native, panel.summary.native.rect().topLeft()).y())
    pump(1.0)


# --- the machinery ------------------------------------------------------------------------
def window(viewer: Any) -> Any:
    """The whole window (canvas and docks) as it shows now, without notifications."""
    return _picture(viewer, canvas_only=False)


def canvas(viewer: Any) -> Any:
    """The canvas alone as it shows now."""
    return _picture(viewer, canvas_only=True)


def _picture(viewer: Any, canvas_only: bool) -> Any:
    from napari._qt.dialogs.qt_notification import NapariQtNotification
    from qtpy.QtWidgets import QApplication

    for toast in [w for w in QApplication.allWidgets() if isinstance(w, NapariQtNotification)]:
        toast.close()               # messages of the moment, not of the picture
    pump(0.5)
    return viewer.screenshot(canvas_only=canvas_only, flash=False)


def save(picture: Any, path: Path) -> None:
    """A picture as a PNG of 256 colours, written whole, then renamed."""
    from PIL import Image

    image = Image.fromarray(picture).convert("RGB")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE) \
            .save(tmp, format="PNG", optimize=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def make(shots: list[Shot], out: Path) -> None:
    import napari

    out.mkdir(parents=True, exist_ok=True)
    for s in shots:
        t0 = time.monotonic()
        viewer = napari.Viewer(title=f"napari-mpt: {s.name}", show=True)
        try:
            viewer.window.resize(*s.size)
            pump()
            pictures = s.make(viewer) or {s.name: window(viewer)}
            for name, picture in pictures.items():
                save(picture, out / f"{name}.png")
        finally:
            viewer.close()
        print(f"wrote {', '.join(f'{out / n}.png' for n in pictures)} ({s.size[0]} x "
              f"{s.size[1]}, {time.monotonic() - t0:.0f} s): {s.caption}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="screenshots to make (default: all)")
    p.add_argument("--out", type=Path, default=OUT, help=f"folder (default: {OUT})")
    p.add_argument("--list", action="store_true", help="list the screenshots and exit")
    args = p.parse_args(argv)
    if args.list:
        for s in SHOTS.values():
            print(f"{s.name:28s} {s.size[0]} x {s.size[1]}  {s.caption}")
        return 0
    unknown = [n for n in args.names if n not in SHOTS]
    if unknown:
        p.error(f"no screenshot named {', '.join(unknown)} (--list shows them)")
    shots = [SHOTS[n] for n in args.names] if args.names else list(SHOTS.values())
    from napari_mpt.napari.demo import virtual_display

    with tempfile.TemporaryDirectory() as settings, virtual_display(*SCREEN):
        # napari keeps window sizes and reader choices in its settings file: not ours
        os.environ["NAPARI_CONFIG"] = str(Path(settings) / "settings.yaml")
        make(shots, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
