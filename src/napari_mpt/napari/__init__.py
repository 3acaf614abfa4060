"""The napari layer: widgets, reader, writer, sample data.  Thin: it calls the core."""
