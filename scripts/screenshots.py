"""Screenshots of the Detect spots widget on the real sample, for the docs.

    PYTHONPATH=src .venv/bin/python scripts/screenshots.py --size 1400 880 [--out docs/images]

Opens napari (on a virtual display when there is none: Xvfb), the sample "Beads in water
(real, trackpy)", docks Detect spots, previews frame 60 (the settings estimated from the
movie, the quality histogram with the threshold line, the frame's spots as cyan rings),
then detects every frame, and writes ``detect_real.png`` (the window, dock included) and
``detect_real_canvas.png`` (the canvas alone, zoomed on a corner so the rings show).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import time
from pathlib import Path

FRAME = 60


def wait(widget, timeout_s: float = 300.0) -> None:
    from qtpy.QtWidgets import QApplication

    t0 = time.monotonic()
    while widget.running:
        QApplication.processEvents()
        time.sleep(0.02)
        if time.monotonic() - t0 > timeout_s:
            raise TimeoutError("detection did not finish")
    for _ in range(20):                      # let the last repaints through
        QApplication.processEvents()
        time.sleep(0.02)


def save(viewer, path: Path, canvas_only: bool) -> None:
    tmp = path.with_name(f".{path.name}.tmp.png")          # written whole, then renamed
    try:
        viewer.screenshot(str(tmp), canvas_only=canvas_only, flash=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"wrote {path}")


def shoot(size: tuple[int, int] | None, out: Path) -> None:
    import napari

    viewer = napari.Viewer(title="napari-mpt: detect spots in a real movie", show=True)
    try:
        if size:
            viewer.window.resize(*size)
        viewer.open_sample("napari-mpt", "bulk_water")
        _, widget = viewer.window.add_plugin_dock_widget("napari-mpt", "Detect spots")
        viewer.dims.set_current_step(0, FRAME)
        widget.preview()
        wait(widget)
        print(widget.status.value)
        out.mkdir(parents=True, exist_ok=True)
        save(viewer, out / "detect_real.png", canvas_only=False)
        image = viewer.layers[0]
        viewer.camera.center = (0.0, *(v * 64 for v in image.scale[1:]))
        viewer.camera.zoom *= 3.0
        save(viewer, out / "detect_real_canvas.png", canvas_only=True)
    finally:
        viewer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs=2, metavar=("W", "H"),
                    help="window size (default: napari's)")
    ap.add_argument("--out", type=Path, default=Path("docs/images"))
    args = ap.parse_args()
    from napari_mpt.napari.demo import has_display, virtual_display

    offscreen = shutil.which("Xvfb") is not None or not has_display()
    with virtual_display() if offscreen else contextlib.nullcontext():
        shoot(tuple(args.size) if args.size else None, args.out)


if __name__ == "__main__":
    main()
