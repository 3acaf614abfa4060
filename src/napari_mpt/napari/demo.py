"""``napari-mpt demo``: napari with the plugin docked, a Brownian pair, both trackers run.

``napari-mpt demo --movie`` runs the whole pipeline instead: a simulated movie (a small
ISBI-like vesicle scene), the spots detected in it, and LAP, MHT and the association
transformer on those spots, side by side.  With a display it opens the viewer and stays
open.  Without one (or with ``--screenshot``) it renders the same scene on an Xvfb server
it starts itself, writes a PNG, prints the comparison table and exits.  Import-light: napari, Qt and torch are
imported only when the command runs, so ``napari-mpt --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_SCREENSHOT = Path("out") / "napari-mpt-demo.png"
DEFAULT_CHECKPOINT = "transformer_150_30"
MOVIE_CHECKPOINT = "association"   # spots detected in a movie vary in number per frame
PAIR_SCENE: dict[str, Any] = {"measurement_noise": 5.0, "seed": 7}   # a pair that comes close
MOVIE_SCENE: dict[str, Any] = {"particles": 40, "field_of_view": 160.0, "frames": 40, "seed": 1}
"""The movie scene: ISBI preset vesicle-low shrunk to 40 particles in 160 x 160 px (the
preset's 100 in 512 x 512 is a similar density), 40 frames, movie at SNR 4 (the default)."""
MOVIE_PRESET = "vesicle-low"
MOVIE_FIELDS = ("snr", "psf_sigma", "background")


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..core.params import MovieParams, SimulationParams
    from ..core.params.options import add_param_options

    p = subparsers.add_parser(
        "demo", help="open napari with the plugin docked, a Brownian pair and both trackers "
        "run (no display: render on Xvfb, write a screenshot, print the table)",
        description="Simulate a Brownian pair (here by default with --measurement-noise 5 "
        "--seed 7, a pair that comes close), track it with MHT (known priors: eta' = mu, "
        "nu' = sigma) and the transformer through the Track widget, and compare them. "
        f"With --movie: simulate {MOVIE_PRESET} shrunk to 40 particles in 160 x 160 px for "
        "40 frames (options given still apply), render it as a movie, detect its spots and "
        "track them with LAP, MHT (priors estimated from the spots) and the association "
        "transformer.")
    p.add_argument("--screenshot", metavar="PATH", default=None,
                   help="render off-screen, write this PNG, print the table and exit "
                   f"(the default without a display: {DEFAULT_SCREENSHOT})")
    p.add_argument("--movie", action="store_true",
                   help="the whole pipeline: simulated movie, detected spots, LAP, MHT and "
                   "the association transformer")
    # unset options are None: the scene's own values below, else the model's defaults
    add_param_options(p, SimulationParams)
    add_param_options(p, MovieParams, prefix="movie-", only=MOVIE_FIELDS)
    p.add_argument("--lookback", type=int, default=None,
                   help="MHT lookback K (default: 8; 4 with --movie)")
    p.add_argument("--checkpoint", default=None,
                   help=f"transformer checkpoint name or .pt path (default: {DEFAULT_CHECKPOINT}; "
                   f"{MOVIE_CHECKPOINT} with --movie)")
    p.add_argument("--device", default="cpu", help="transformer device (default: cpu)")
    p.add_argument("--no-transformer", action="store_true", help="run only the MHT")
    p.add_argument("--size", type=int, nargs=2, default=(1600, 1000), metavar=("W", "H"),
                   help="window size in pixels (default: 1600 1000)")
    p.set_defaults(func=run_demo)


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@contextlib.contextmanager
def virtual_display(width: int = 1920, height: int = 1200) -> Iterator[str]:
    """Start ``Xvfb`` on a free display number, point Qt (xcb) at it, stop it after."""
    from ..core.errors import MPTError

    exe = shutil.which("Xvfb")
    if exe is None:
        raise MPTError("no display and no Xvfb: install Xvfb (apt-get install xvfb) or run "
                       "`napari-mpt demo` where a display is available")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [exe, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp"], pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as fh:
            number = fh.readline().strip()   # Xvfb writes it once it accepts clients
        if not number:
            raise MPTError("Xvfb did not start (no display number reported)")
        old = {k: os.environ.get(k) for k in ("DISPLAY", "QT_QPA_PLATFORM")}
        os.environ["DISPLAY"] = f":{number}"
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        try:
            yield os.environ["DISPLAY"]
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_demo(args: argparse.Namespace) -> int:
    build, notes = scene_for(args)
    screenshot = args.screenshot
    if screenshot is None and not has_display():
        screenshot = str(DEFAULT_SCREENSHOT)
    if screenshot is None:
        return _interactive(build, tuple(args.size), notes)
    offscreen = shutil.which("Xvfb") is not None or not has_display()
    with virtual_display() if offscreen else contextlib.nullcontext():
        return _still(build, tuple(args.size), Path(screenshot), notes)


def demo_args(*options: str) -> argparse.Namespace:
    """``napari-mpt demo OPTIONS`` as parsed (the documentation's screenshots use it)."""
    parser = argparse.ArgumentParser(prog="napari-mpt")
    register(parser.add_subparsers())
    return parser.parse_args(["demo", *options])


def scene_for(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The demo's scene builder for ``args`` (called with ``size=`` and, to draw into an
    open viewer, ``viewer=``) and the notes to print with its table."""
    from functools import partial

    from ..core.params import (
        PAPER_FILTER,
        DetectParams,
        LAPParams,
        MHTParams,
        MovieParams,
        SimulationParams,
        TransformerParams,
        known_priors,
    )
    from ..core.params.options import params_from_args
    from ..simulation.presets import PRESETS

    scene_values: dict[str, Any] = {**PRESETS[MOVIE_PRESET], **MOVIE_SCENE} if args.movie else PAIR_SCENE
    unset: dict[str, Any] = {k: v for k, v in scene_values.items() if getattr(args, k, None) is None}
    sim = params_from_args(SimulationParams, args, **unset)
    default_checkpoint = MOVIE_CHECKPOINT if args.movie else DEFAULT_CHECKPOINT
    checkpoint = args.checkpoint or default_checkpoint
    transformer = None if args.no_transformer else TransformerParams(
        checkpoint=checkpoint, device=args.device)
    notes = []
    if transformer is not None and checkpoint == default_checkpoint:
        from .transformer_controls import checkpoint_names, transformer_installed

        if transformer_installed() and default_checkpoint not in checkpoint_names():
            notes.append(f"transformer: no shipped checkpoint {default_checkpoint!r} in this "
                         "installation, skipped (give one with --checkpoint PATH)")
            transformer = None
    if args.movie:
        from .scene import build_movie_scene

        movie = params_from_args(MovieParams, args, prefix="movie_", seed=sim.seed)
        # the spots' noise is the detector's, not the simulation's: MHT estimates its priors
        mht = MHTParams(lookback=args.lookback or 4)
        build = partial(build_movie_scene, sim, movie, DetectParams(), LAPParams(), mht,
                        transformer)
    else:
        from .scene import build_scene

        # the paper's Fig. 2(a) MHT: known priors (eta' = mu, nu' = sigma) and its filter
        mht = MHTParams(lookback=args.lookback or 8, **known_priors(sim), **PAPER_FILTER)
        build = partial(build_scene, sim, mht, transformer)
    return build, notes


def _print_table(scene) -> None:
    from .runs import format_table

    p = scene.simulate.params()
    if scene.simulate.movie.value:
        m = scene.simulate.movie_form.params()
        print(f"{MOVIE_PRESET}-like simulation: N={p.particles}, T={p.frames}, "
              f"{p.field_of_view:g} px, mu={p.process_noise}, P_D={p.detection_probability}, "
              f"clutter={p.clutter}/frame, seed={p.seed}; movie SNR {m.snr:g}, PSF sigma "
              f"{m.psf_sigma:g} px")
    else:
        print(f"Brownian simulation: N={p.particles}, T={p.frames}, mu={p.process_noise}, "
              f"sigma={p.measurement_noise}, seed={p.seed}")
    print(format_table(scene.records()))
    for note in scene.notes:
        print(note)


def _interactive(build, size, notes: list[str]) -> int:
    import napari

    scene = build(size=size)
    scene.notes[:0] = notes
    _print_table(scene)
    napari.run()
    return 0


def _still(build, size, path: Path, notes: list[str]) -> int:
    from .scene import show_whole_tracks

    scene = build(size=size)
    scene.notes[:0] = notes
    show_whole_tracks(scene.viewer)
    try:
        _print_table(scene)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")   # written whole, then renamed
        try:
            scene.viewer.screenshot(str(tmp), canvas_only=False, flash=False)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        print(f"wrote {path}")
    finally:
        scene.viewer.close()
    return 0
