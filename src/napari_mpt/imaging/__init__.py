"""Pixels: Gaussian spots drawn on a grid, plain and as the detector's filter sees them
(:mod:`.render`).  Used by the movie simulator and by the detector's model fits."""
