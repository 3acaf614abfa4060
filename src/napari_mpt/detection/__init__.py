"""Spot detection in movies: filter, threshold, find peaks, fit Gaussians
(:mod:`.detect`), with joint fits of crowded spots (:mod:`.multi`)."""
