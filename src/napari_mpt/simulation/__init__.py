"""Simulated particles with their truth: the paper's Brownian model and the real world's
misses, clutter, births and motion types (:mod:`.simulate`), named ISBI-like scenes
(:mod:`.presets`) and rendered fluorescence movies (:mod:`.movie`)."""
