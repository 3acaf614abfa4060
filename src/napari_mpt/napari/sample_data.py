"""Sample data contributions: layer data tuples napari adds to the viewer.

"Brownian pair" and "simulated movie, SNR 4" are simulated on the fly from a fixed seed;
the others are the example files shipped in ``sample_data/`` (see its README.txt), read
with the plugin's own readers so they arrive exactly as a dropped file would, truth
included.  "Beads in water (real, trackpy)" is a crop of trackpy's bulk-water movie (dark
beads on a bright, textured field; ``scripts/make_samples.py``), in µm and s.
"""

from __future__ import annotations

from pathlib import Path

from ..core.params import SimulationParams
from ..simulation.simulate import simulate
from .layers import simulation_layers
from .reader import read_csv

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"

BULK_WATER = "bulk_water_crop.tif"

EXAMPLES = {
    "pair_T150_sigma1": "Brownian pair, T=150, sigma=1 (file)",
    "pair_T150_sigma5": "Brownian pair, T=150, sigma=5 (file)",
    "pair_T8_sigma1.2": "Brownian pair, T=8, sigma=1.2 (file)",
}


def beads_in_water() -> list[tuple]:
    """120 frames of 256 x 256 px of trackpy's bulk-water walkthrough movie (1 µm beads in
    water, 0.351 µm per px, 24 frames per second), calibrated."""
    from ..io import read_movie
    from .movie_reader import movie_layer

    return [movie_layer(read_movie(SAMPLE_DIR / BULK_WATER), "beads in water (trackpy)")]


def brownian_pair() -> list[tuple]:
    """A Brownian pair simulated on the fly with the default parameters."""
    return simulation_layers(simulate(SimulationParams(seed=0)))


def example(name: str) -> list[tuple]:
    """A shipped example's detections (Points) and truth (Tracks)."""
    return read_csv(SAMPLE_DIR / f"{name}_detections.csv")


def pair_t150_sigma1() -> list[tuple]:
    return example("pair_T150_sigma1")


def pair_t150_sigma5() -> list[tuple]:
    return example("pair_T150_sigma5")


def pair_t8_sigma1_2() -> list[tuple]:
    return example("pair_T8_sigma1.2")


SAMPLE_MOVIE = SimulationParams(particles=30, frames=50, field_of_view=128.0, seed=4)


def simulated_movie_snr4() -> list[tuple]:
    """A 50-frame 128 x 128 movie of 30 Brownian particles at the ISBI SNR 4 (PSF sigma
    1.3 px, background 10, Poisson noise) and its ground truth, paired, so spots detected
    in it are scored by the Track widget."""
    from ..core.params import MovieParams
    from ..simulation.movie import render_movie
    from .layers import KEY, new_pair_id, truth_layer

    sim = simulate(SAMPLE_MOVIE)
    movie_params = MovieParams(snr=4.0, seed=4)
    movie = render_movie(sim, movie_params, frames=SAMPLE_MOVIE.frames)
    pair = new_pair_id()
    meta = {KEY: {"kind": "movie", "pair": pair, "simulation": SAMPLE_MOVIE.to_dict(),
                  "movie": movie_params.to_dict()}}
    image = (movie, {"name": "simulated movie (SNR 4)", "colormap": "gray",
                     "axis_labels": ("t", "y", "x"), "metadata": meta}, "image")
    return [image, truth_layer(sim.truth, "ground truth", pair)]
