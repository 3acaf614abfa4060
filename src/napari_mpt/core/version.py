"""The installed package's version, in a module of its own so that any layer can read it
without importing the package facade (``napari_mpt/__init__`` imports the API)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-mpt")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"
