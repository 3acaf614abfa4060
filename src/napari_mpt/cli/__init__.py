"""The ``napari-mpt`` command line (:mod:`.main`; ``napari-mpt train`` in :mod:`.train`)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
