"""Make the real sample movie shipped with the plugin (``src/napari_mpt/sample_data/``).

    python scripts/make_samples.py [BULK_WATER_TIF]

``bulk_water_crop.tif``: frames 0-119 and the 256 x 256 px at (y 84, x 192) of trackpy's
bulk-water walkthrough movie (``bulk_water_green_300.tif``, the green channel of
soft-matter/trackpy-examples ``sample_data/bulk_water/``, 1 um latex beads in water,
dark on a bright field), zlib-compressed, with its calibration (100/285 um per px, 24
frames per second: trackpy-examples' README) in the ImageJ metadata.  Licence: BSD-3 or
CC-BY-3.0 (trackpy-examples); attribution in ``sample_data/README.txt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tifffile

from napari_mpt.core.calibration import Calibration
from napari_mpt.io import write_movie

SOURCE = Path("../shared/realdata/trackpy_bulk_water/bulk_water_green_300.tif")
OUT = Path(__file__).resolve().parents[1] / "src" / "napari_mpt" / "sample_data" / "bulk_water_crop.tif"
FRAMES, Y0, X0, SIZE = 120, 84, 192, 256
PIXEL_UM, FRAME_S = 100.0 / 285.0, 1.0 / 24.0


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    movie = tifffile.imread(source)[:FRAMES, Y0:Y0 + SIZE, X0:X0 + SIZE]
    cal = Calibration((PIXEL_UM, PIXEL_UM), FRAME_S, "micrometer", "second")
    write_movie(OUT, movie, cal, compress=True)
    print(f"wrote {OUT} {movie.shape} {movie.dtype}, {OUT.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
