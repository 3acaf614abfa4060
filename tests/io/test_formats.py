"""Other tools' files: trackpy and TrackMate CSVs, ISBI 2012 challenge XML, files trackpy
reads back, and the bad inputs real detectors produce."""

from __future__ import annotations

import numpy as np
import pytest
from format_samples import TM_HEADER, TM_LABELS, TM_ROWS, trackpy_csv

from napari_mpt.core.data import Detections, Tracks
from napari_mpt.core.errors import InputError
from napari_mpt.io import (
    read_detections,
    read_tracks,
    with_detection_positions,
    write_isbi_xml,
    write_tracks,
)


# --- trackpy ---------------------------------------------------------------------
def test_trackpy_detections_are_ragged_with_features_and_an_empty_frame(tmp_path):
    p = tmp_path / "spots.csv"
    counts = trackpy_csv(p)
    det = read_detections(p)
    got = det.counts()
    assert got == {f: n for f, n in enumerate(counts) if n}
    assert 5 not in got and min(counts[:5] + counts[6:]) >= 26 and max(counts) <= 33
    assert sorted(det.features) == ["ecc", "ep", "mass", "raw_mass", "signal", "size"]
    first = p.read_text().splitlines()[1].split(",")
    np.testing.assert_array_equal(det.coords[0], [float(first[1]), float(first[2])])
    assert det.features["mass"][0] == float(first[3])


def test_tracks_we_write_open_in_trackpy(tmp_path):
    tp = pytest.importorskip("trackpy")
    pd = pytest.importorskip("pandas")
    # particle 4 moves +1 px in x per frame, particle 9 +2 px in y
    tracks = Tracks([4, 4, 4, 4, 9, 9, 9, 9], [0, 1, 2, 3] * 2,
                    [[5, 0], [5, 1], [5, 2], [5, 3], [0, 7], [2, 7], [4, 7], [6, 7]],
                    [0, 2, 4, 6, 1, 3, 5, -1])
    det = Detections([0, 0, 1, 1, 2, 2, 3], [[5.5, 0], [0, 7], [5, 1.5], [2, 7], [5, 2],
                                             [4, 7], [5, 3]])
    p = tmp_path / "tracks.csv"
    write_tracks(p, with_detection_positions(tracks, det))
    df = pd.read_csv(p)
    assert list(df.columns[:6]) == ["track_id", "frame", "y", "x", "detection", "particle"]
    assert (df["particle"] == df["track_id"]).all()
    assert df["y_detection"].tolist()[:2] == [5.5, 5.0]
    assert np.isnan(df["x_detection"].iloc[-1])          # particle 9 took no detection at t=3
    msd = tp.imsd(df, mpp=1.0, fps=1.0)
    # hand-computed: lag 1 -> 1 px^2 (particle 4) and 4 px^2 (particle 9); lag 2 -> 4, 16
    np.testing.assert_allclose(msd.loc[1.0, [4, 9]], [1.0, 4.0])
    np.testing.assert_allclose(msd.loc[2.0, [4, 9]], [4.0, 16.0])
    back = read_tracks(p)                                   # and we read it back
    np.testing.assert_array_equal(back.track_id, tracks.track_id)
    np.testing.assert_array_equal(back.detection, tracks.detection)
    assert "particle" not in back.features and "y_detection" in back.features


def test_tracks_without_particle_or_detection_positions_still_read(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("track_id,frame,y,x,detection\n0,0,1,2,0\n0,1,1,3,-1\n")
    t = read_tracks(p)
    assert t.detection.tolist() == [0, -1] and t.features == {}


# --- TrackMate -------------------------------------------------------------------
@pytest.mark.parametrize("labels", [TM_LABELS, ""], ids=["trackmate7", "trackmate6"])
def test_trackmate_spot_table(tmp_path, labels):
    p = tmp_path / "export.csv"
    p.write_text(TM_HEADER + labels + TM_ROWS)
    det = read_detections(p)
    assert det.frame.tolist() == [0, 1, 1, 0, 2]
    # napari order (y, x): POSITION_Y first; a constant POSITION_Z is a 2-D image
    np.testing.assert_array_equal(det.coords[:3], [[2.0, 1.0], [2.5, 2.0], [50.0, 40.0]])
    assert det.features["quality"].tolist() == [5.5, 5.1, 3.0, 4.0, 4.2]
    assert det.features["spot_id"].tolist() == [10, 11, 12, 13, 14]
    assert "track_id" not in det.features          # empty for the untracked spot
    tr = read_tracks(p)
    assert tr.track_id.tolist() == [0, 0, 1, 1] and tr.frame.tolist() == [0, 1, 0, 2]
    np.testing.assert_array_equal(tr.coords[2], [8.0, 9.0])


def test_trackmate_spot_table_without_track_id_and_in_3d(tmp_path):
    p = tmp_path / "spots.csv"
    p.write_text("LABEL,ID,QUALITY,POSITION_X,POSITION_Y,POSITION_Z,FRAME\n"
                 "Label,Spot ID,Quality,X,Y,Z,Frame\nLabel,Spot ID,Quality,X,Y,Z,Frame\n"
                 ",,(quality),(micron),(micron),(micron),\n"
                 "ID0,0,1,1.0,2.0,3.0,0\nID1,1,1,4.0,5.0,6.0,1\n")
    det = read_detections(p)
    np.testing.assert_array_equal(det.coords, [[3.0, 2.0, 1.0], [6.0, 5.0, 4.0]])
    with pytest.raises(InputError, match="missing column 'track_id'"):
        read_tracks(p)


def test_trackmate_errors_name_the_real_line(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text(TM_HEADER + TM_LABELS + TM_ROWS.replace("9.5,8.5", "9.5,oops"))
    with pytest.raises(InputError, match=r"export.csv, line 9: column 'y': 'oops' is not a number"):
        read_detections(p)


def test_trackmate_without_any_track(tmp_path):
    p = tmp_path / "export.csv"
    p.write_text(TM_HEADER + "ID1,1,,5,1,2,0,0,0,2,1,9\n")
    assert len(read_detections(p)) == 1
    with pytest.raises(InputError, match="no spot belongs to a track"):
        read_tracks(p)


# --- ISBI 2012 challenge XML -------------------------------------------------------
ISBI = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<root>
<TrackContestISBI2012 snr="4" density="low" scenario="vesicle">
<particle>
<detection t="1" x="11.5" y="21.0" z="0"/>
<detection t="0" x="10.0" y="20.0" z="0"/>
</particle>
<particle>
<detection t="3" x="40.0" y="50.25" z="0"/>
</particle>
</TrackContestISBI2012>
</root>
"""


def test_isbi_xml_is_read(tmp_path):
    p = tmp_path / "tracks.xml"
    p.write_text(ISBI)
    t = read_tracks(p)
    assert t.track_id.tolist() == [0, 0, 1] and t.frame.tolist() == [0, 1, 3]
    np.testing.assert_array_equal(t.coords, [[20.0, 10.0], [21.0, 11.5], [50.25, 40.0]])
    assert t.detection.tolist() == [-1, -1, -1]


@pytest.mark.parametrize("ndim", [2, 3])
def test_isbi_xml_round_trip(tmp_path, ndim):
    rng = np.random.default_rng(ndim)
    tracks = Tracks([3, 3, 3, 8, 8], [0, 1, 2, 1, 4], rng.uniform(0, 100, (5, ndim)))
    p = tmp_path / "out.xml"
    write_isbi_xml(p, tracks, snr="7", density="mid", scenario="receptor")
    text = p.read_text()
    assert '<TrackContestISBI2012 snr="7" density="mid" scenario="receptor">' in text
    assert text.count("<particle>") == 2 and text.count("<detection ") == 5
    back = read_tracks(p)
    assert back.track_id.tolist() == [0, 0, 0, 1, 1]       # particles are anonymous
    assert back.frame.tolist() == tracks.frame.tolist()
    np.testing.assert_array_equal(back.coords, tracks.coords)   # repr() keeps every digit


def test_isbi_xml_from_write_tracks_by_suffix(tmp_path):
    p = tmp_path / "t.xml"
    write_tracks(p, Tracks([0, 0], [0, 1], [[1.0, 2.0], [3.0, 4.0]]))
    assert '<detection t="1" x="4.0" y="3.0" z="0"/>' in p.read_text()


@pytest.mark.parametrize(("text", "message"), [
    ("<root><a>", "not an XML file"),
    ("<root><other/></root>", "not an ISBI 2012 challenge track file"),
    ("<TrackContestISBI2012>\n<detection t='0' x='1' y='1'/></TrackContestISBI2012>",
     "line 2: <detection> outside a <particle>"),
    ("<TrackContestISBI2012><particle>\n\n<detection t='0' y='1'/></particle>"
     "</TrackContestISBI2012>", "line 3: <detection> has no 'x' attribute"),
    ("<TrackContestISBI2012><particle>\n<detection t='0.5' x='1' y='1'/></particle>"
     "</TrackContestISBI2012>", "line 2: <detection> t='0.5' is not a frame number"),
    ("<TrackContestISBI2012><particle>\n<detection t='0' x='1' y='1'/>\n"
     "<detection t='0' x='2' y='1'/></particle></TrackContestISBI2012>",
     "line 3: particle 1 has two detections at t=0"),
    ("<TrackContestISBI2012></TrackContestISBI2012>", "no <detection>"),
])
def test_bad_isbi_xml(tmp_path, text, message):
    p = tmp_path / "bad.xml"
    p.write_text(text)
    with pytest.raises(InputError) as err:
        read_tracks(p)
    assert str(p) in str(err.value) and message in str(err.value)


# --- what real detectors produce -----------------------------------------------------
def test_one_spot_frames_and_thousands_in_one_frame(tmp_path):
    rng = np.random.default_rng(1)
    big = rng.uniform(0, 2048, (5000, 2))
    p = tmp_path / "d.csv"
    p.write_text("frame,y,x\n0,5,5\n" + "".join(f"1,{float(y)!r},{float(x)!r}\n" for y, x in big) + "2,6,6\n")
    det = read_detections(p)
    assert det.counts() == {0: 1, 1: 5000, 2: 1}
    np.testing.assert_array_equal(det.coords[1:5001], big)


def test_coordinates_outside_any_field_of_view_are_kept(tmp_path):
    # a CSV does not know the image size; TrackMate in microns may be offset or negative
    p = tmp_path / "d.csv"
    p.write_text("frame,y,x\n0,-12.5,3\n1,1e6,-0.25\n")
    np.testing.assert_array_equal(read_detections(p).coords, [[-12.5, 3], [1e6, -0.25]])


def test_duplicate_rows_are_refused_with_both_lines(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("frame,y,x,mass\n0,1,2,5\n1,1,2,5\n0,3,4,5\n1,1,2,6\n")
    with pytest.raises(InputError) as err:
        read_detections(p)
    assert str(err.value) == (f"{p}, line 5: repeats line 3 (frame 1, y 1, x 2): the same "
                              "detection is listed twice")


def test_blank_lines_do_not_shift_line_numbers(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("frame,y,x\n\n0,1,2\n\n1,x,3\n")
    with pytest.raises(InputError, match="line 5: column 'y'"):
        read_detections(p)


def test_detection_positions_of_bad_index(tmp_path):
    det = Detections([0], [[1.0, 2.0]], source="d.csv")
    with pytest.raises(InputError, match="has 1 detections but track 0 took detection 3"):
        with_detection_positions(Tracks([0], [0], [[1.0, 2.0]], [3]), det)


def test_a_write_failing_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("old")
    bad = Tracks([0, 0], [0, 1], [[1.0, 2.0], [1.0, 3.0]],
                 features={"note": np.array([1, "text"], dtype=object)})   # row 2 fails
    with pytest.raises(ValueError):
        write_tracks(p, bad)
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["t.csv"]
