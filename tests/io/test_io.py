"""CSV readers and writers: round trips, other tools' column names, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mpt import simulate
from napari_mpt.core.errors import InputError
from napari_mpt.io import (
    atomic_write,
    read_detections,
    read_tracks,
    write_detections,
    write_tracks,
)


def test_round_trip(tmp_path):
    sim = simulate(frames=6, seed=4)
    write_detections(tmp_path / "d.csv", sim.detections)
    write_tracks(tmp_path / "t.csv", sim.truth.with_features(wrong=np.arange(12) % 2 == 0))
    det = read_detections(tmp_path / "d.csv")
    tr = read_tracks(tmp_path / "t.csv")
    np.testing.assert_array_equal(det.coords, sim.detections.coords)
    np.testing.assert_array_equal(det.frame, sim.detections.frame)
    np.testing.assert_array_equal(tr.coords, sim.truth.coords)
    np.testing.assert_array_equal(tr.detection, sim.truth.detection)
    assert tr.features["wrong"].tolist() == [1.0, 0.0] * 6


def test_any_column_order_and_trackpy_names(tmp_path):
    p = tmp_path / "tp.csv"
    p.write_text("x,mass,y,frame,particle\n1.5,9,2.5,0,7\n3.5,9,4.5,1,7\n")
    t = read_tracks(p)
    assert t.track_id.tolist() == [7, 7]
    np.testing.assert_array_equal(t.coords, [[2.5, 1.5], [4.5, 3.5]])
    assert "mass" in t.features
    d = read_detections(p)
    np.testing.assert_array_equal(d.coords, [[2.5, 1.5], [4.5, 3.5]])


def test_three_d(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("frame,z,y,x\n0,1,2,3\n1,4,5,6\n")
    assert read_detections(p).coords.shape == (2, 3)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("frame,y,x\n", "no data rows"),
    ("frame,y\n0,1\n", "missing column 'x'"),
    ("frame,y,x\n0,1,2\n1,nan,3\n", "line 3: column 'y' is nan"),
    ("frame,y,x\n0,1,2\n1.5,2,3\n", "line 3: column 'frame': '1.5' is not an integer"),
    ("frame,y,x\n0,1,2\nzero,2,3\n", "line 3: column 'frame': 'zero' is not a number"),
    ("frame,y,x\n0,1,\n", "line 2: column 'x' is empty"),
    ("frame,y,x\n-1,1,2\n", "line 2: frame -1 is negative"),
])
def test_bad_detection_files_name_file_line_and_problem(tmp_path, text, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        read_detections(p)
    assert str(p) in str(err.value)
    assert message in str(err.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_detections(tmp_path / "missing.csv")
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00")
    # what the file is and what was expected, in one line (not Python's UnicodeDecodeError)
    with pytest.raises(InputError, match=r"image.csv: is a PNG image, not a CSV table; "
                                         r"expected comma-separated text with a header line$"):
        read_detections(binary)
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("frame,y,x\n0,1,2 \xb5m\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"is not UTF-8 text \(it holds byte 0xb5\); expected "
                                         r"a CSV table saved as UTF-8 text"):
        read_detections(latin)
    with pytest.raises(InputError, match="cannot read"):
        read_detections(tmp_path)


def test_duplicate_track_vertex(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("track_id,frame,y,x\n0,0,1,1\n0,0,2,2\n")
    with pytest.raises(InputError, match="line 3: track 0 has two vertices in frame 0"):
        read_tracks(p)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("precious\n")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_written_files_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_detections(tmp_path / "d.csv", simulate(frames=3).detections)
    finally:
        os.umask(umask)
    assert (tmp_path / "d.csv").stat().st_mode & 0o777 == 0o644


def test_empty_tracks_keep_their_dimension_and_round_trip(tmp_path):
    """A tracker may return no tracks: the container, the writer and the reader cope."""
    from napari_mpt.core.data import Tracks

    empty = Tracks([], [], np.zeros((0, 3)))
    assert (len(empty), empty.ndim) == (0, 3)
    write_tracks(tmp_path / "none.csv", empty)
    header = (tmp_path / "none.csv").read_text().splitlines()[0]
    assert header.startswith("track_id,frame,z,y,x")
