"""Files users can open anywhere, read strictly and written atomically: detections and
tracks as CSV (ours, trackpy's, TrackMate's; :mod:`.tables`), the ISBI 2012 challenge's
track XML (:mod:`.isbi_xml`), TrackMate's XML (:mod:`.trackmate_xml`), GEFF graphs
(:mod:`.geff`), movies as TIFF (:mod:`.movie`), JSON (:mod:`.files`).

Any problem raises :class:`~napari_mpt.core.errors.InputError` naming the file, the line
and what is wrong; every writer goes through :func:`.files.atomic_write`.
"""

from .files import TrackFile, atomic_directory, atomic_write, write_json
from .geff import is_geff_path, read_geff, write_geff
from .movie import Movie, check_movie_axes, read_movie, write_movie
from .tables import (
    TRACK_ID_NAMES,
    normalise_header,
    read_detections,
    read_isbi_xml,
    read_track_file,
    read_tracks,
    with_detection_positions,
    write_detections,
    write_isbi_xml,
    write_tracks,
)
from .trackmate_xml import read_trackmate_xml, write_trackmate_xml

__all__ = ["TRACK_ID_NAMES", "Movie", "TrackFile", "atomic_directory", "atomic_write",
           "check_movie_axes", "is_geff_path", "normalise_header", "read_detections",
           "read_geff", "read_isbi_xml", "read_movie", "read_track_file", "read_trackmate_xml",
           "read_tracks", "with_detection_positions", "write_detections", "write_geff",
           "write_isbi_xml", "write_json", "write_movie", "write_trackmate_xml", "write_tracks"]
