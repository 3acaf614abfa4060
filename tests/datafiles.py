"""Where the tests' shipped files are, from any test folder."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The checkout."""
DATA = ROOT / "tests" / "data"
"""Small files of other tools' (TrackMate's) and reference outputs the tests read."""
TRACKMATE = DATA / "trackmate"
BULK_WATER_CROP = ROOT / "src" / "napari_mpt" / "sample_data" / "bulk_water_crop.tif"
"""The shipped crop of trackpy's bulk-water movie (scripts/make_samples.py)."""
