"""``napari-mpt demo``: napari with the plugin docked, a Brownian pair, both trackers run.

With a display it opens the viewer and stays open.  Without one (or with
``--screenshot``) it renders the same scene on an Xvfb server it starts itself, writes
a PNG, prints the comparison table and exits.  Import-light: napari, Qt and torch are
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

DEFAULT_SCREENSHOT = Path("out") / "napari-mpt-demo.png"
DEFAULT_CHECKPOINT = "transformer_150_30"


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..options import add_param_options
    from ..params import SimulationParams

    p = subparsers.add_parser(
        "demo", help="open napari with the plugin docked, a Brownian pair and both trackers "
        "run (no display: render on Xvfb, write a screenshot, print the table)",
        description="Simulate a Brownian pair (here by default with --measurement-noise 5 "
        "--seed 7, a pair that comes close), track it with MHT (known priors: eta' = mu, "
        "nu' = sigma) and the transformer through the Track widget, and compare them.")
    p.add_argument("--screenshot", metavar="PATH", default=None,
                   help="render off-screen, write this PNG, print the table and exit "
                   f"(the default without a display: {DEFAULT_SCREENSHOT})")
    add_param_options(p, SimulationParams)
    # a pair that comes close: MHT makes a few wrong links worth looking at
    p.set_defaults(measurement_noise=5.0, seed=7)
    p.add_argument("--lookback", type=int, default=8, help="MHT lookback K (default: 8)")
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                   help=f"transformer checkpoint name or .pt path (default: {DEFAULT_CHECKPOINT})")
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
    from ..errors import MPTError

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
    from ..options import params_from_args
    from ..params import MHTParams, SimulationParams, TransformerParams, known_priors

    sim = params_from_args(SimulationParams, args)
    # known priors, as in the paper's Fig. 2(a): eta' = mu, nu' = sigma
    mht = MHTParams(lookback=args.lookback, **known_priors(sim))
    transformer = None if args.no_transformer else TransformerParams(
        checkpoint=args.checkpoint, device=args.device)
    notes = []
    if transformer is not None and args.checkpoint == DEFAULT_CHECKPOINT:
        from .transformer_controls import checkpoint_names, transformer_installed

        if transformer_installed() and DEFAULT_CHECKPOINT not in checkpoint_names():
            notes.append(f"transformer: no shipped checkpoint {DEFAULT_CHECKPOINT!r} in this "
                         "installation, skipped (give one with --checkpoint PATH)")
            transformer = None
    screenshot = args.screenshot
    if screenshot is None and not has_display():
        screenshot = str(DEFAULT_SCREENSHOT)
    if screenshot is None:
        return _interactive(sim, mht, transformer, tuple(args.size), notes)
    offscreen = shutil.which("Xvfb") is not None or not has_display()
    with virtual_display() if offscreen else contextlib.nullcontext():
        return _still(sim, mht, transformer, tuple(args.size), Path(screenshot), notes)


def _print_table(scene) -> None:
    from .runs import format_table

    p = scene.simulate.params()
    print(f"Brownian simulation: N={p.particles}, T={p.frames}, mu={p.process_noise}, "
          f"sigma={p.measurement_noise}, seed={p.seed}")
    print(format_table(scene.records()))
    for note in scene.notes:
        print(note)


def _interactive(sim, mht, transformer, size, notes: list[str]) -> int:
    import napari

    from .scene import build_scene

    scene = build_scene(sim, mht, transformer, size=size)
    scene.notes[:0] = notes
    _print_table(scene)
    napari.run()
    return 0


def _still(sim, mht, transformer, size, path: Path, notes: list[str]) -> int:
    from .scene import build_scene, show_whole_tracks

    scene = build_scene(sim, mht, transformer, size=size)
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
