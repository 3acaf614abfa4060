"""The bottom layer: errors, data containers, run results, FLOP accounting and the one
parameter model.  Imports nothing else of the package, and neither napari nor torch."""
