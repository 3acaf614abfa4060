"""TrackMate XML in and out: TrackMate's own file (laptrack's copy, tests/data/trackmate)
read as TrackMate drew it, our tracks written in its structure, read back identically,
calibration carried, bad files refused with their name, line and problem."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from datafiles import TRACKMATE

from napari_mpt import api
from napari_mpt.cli import main
from napari_mpt.core.calibration import Calibration
from napari_mpt.core.errors import InputError
from napari_mpt.io import (
    read_detections,
    read_trackmate_xml,
    read_tracks,
    write_trackmate_xml,
    write_tracks,
)
from napari_mpt.io.graphs import track_links

REFERENCE = TRACKMATE / "trackmate_tracks_with_gap_closing.xml"


def same_table(a, b) -> None:
    np.testing.assert_array_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert sorted(a.features) == sorted(b.features)
    for k in a.features:
        np.testing.assert_array_equal(a.features[k], b.features[k], err_msg=k)


def spot_links(tracks) -> set[tuple[int, int]]:
    a, b = track_links(tracks)
    ids = tracks.features["spot_id"].astype(int)
    return set(zip(ids[a].tolist(), ids[b].tolist(), strict=True))


def reference_edges() -> set[tuple[int, int]]:
    root = ElementTree.parse(REFERENCE).getroot()
    return {(int(e.get("SPOT_SOURCE_ID")), int(e.get("SPOT_TARGET_ID")))
            for e in root.iter("Edge")}


def test_trackmates_file_reads_as_trackmate_drew_it():
    f = read_trackmate_xml(REFERENCE)
    assert len(f.detections) == 134                       # every spot, tracked or not
    assert len(f.tracks.ids()) == 5 and len(f.tracks) == 133
    assert set(f.tracks.ids().tolist()) == {0, 1, 2, 3, 4}   # TrackMate's TRACK_IDs
    assert spot_links(f.tracks) == reference_edges() and len(reference_edges()) == 128
    # positions: TrackMate's POSITION_Y, POSITION_X of the spot each vertex took
    root = ElementTree.parse(REFERENCE).getroot()
    pos = {int(s.get("ID")): (float(s.get("POSITION_Y")), float(s.get("POSITION_X")))
           for s in root.iter("Spot")}
    ids = f.tracks.features["spot_id"].astype(int)
    np.testing.assert_array_equal(f.tracks.coords, [pos[i] for i in ids])
    np.testing.assert_array_equal(f.detections.coords[f.tracks.detection], f.tracks.coords)
    # spot features, lower-cased; edge features on the vertex the edge arrives at
    assert {"quality", "radius", "snr", "mean_intensity", "spot_id"} <= set(f.detections.features)
    cost = f.tracks.features["link_cost"]
    assert np.isnan(cost).sum() == 5 and np.all(cost[~np.isnan(cost)] >= 0)
    assert f.calibration == Calibration((1.0, 1.0), 1.0, "pixel", "second")


def test_reader_agrees_with_geffs_own_converter(tmp_path):
    """geff's TrackMate converter (another reading of the same file) gives the same spots
    and links."""
    convert = pytest.importorskip("geff.convert")
    convert.from_trackmate_xml_to_geff(REFERENCE, tmp_path / "ref.geff")
    from napari_mpt.io import read_geff

    theirs = read_geff(tmp_path / "ref.geff")
    ours = read_trackmate_xml(REFERENCE)
    assert len(theirs.detections) == len(ours.detections)
    ids = theirs.tracks.features["node_id"].astype(int)
    a, b = track_links(theirs.tracks)
    assert set(zip(ids[a].tolist(), ids[b].tolist(), strict=True)) == reference_edges()


def test_written_file_reads_back_identically(tmp_path):
    f = read_trackmate_xml(REFERENCE)
    out = tmp_path / "again.xml"
    write_trackmate_xml(out, f.tracks, f.calibration, f.detections)
    g = read_trackmate_xml(out)
    same_table(f.detections, g.detections)
    same_table(f.tracks, g.tracks)
    np.testing.assert_array_equal(f.tracks.track_id, g.tracks.track_id)
    np.testing.assert_array_equal(f.tracks.detection, g.tracks.detection)
    assert g.calibration == f.calibration
    write_trackmate_xml(tmp_path / "third.xml", g.tracks, g.calibration, g.detections)
    assert (tmp_path / "third.xml").read_text() == out.read_text()


def structure(path: Path) -> set[tuple[str, ...]]:
    """Every element path of a file (``TrackMate/Model/AllSpots/SpotsInFrame/Spot``)."""
    out = set()

    def walk(el, prefix):
        here = (*prefix, el.tag)
        out.add(here)
        for child in el:
            walk(child, here)

    walk(ElementTree.parse(path).getroot(), ())
    return out


def attributes(path: Path, tag: str) -> set[str]:
    return {k for el in ElementTree.parse(path).getroot().iter(tag) for k in el.attrib}


def test_our_tracks_are_written_in_trackmates_structure(tmp_path):
    """What TrackMate's reader reads is where TrackMate put it in its own file: the same
    element paths (less the log, settings and GUI state it does not need) and, on each
    spot, edge, track and the image data, TrackMate's attributes."""
    sim = api.simulate(api.SimulationParams(particles=4, frames=6, seed=3,
                                            detection_probability=0.8))
    res = api.track(sim.detections, api.LAPParams(gap_closing_frames=2))
    out = tmp_path / "ours.trackmate.xml"
    score = np.linspace(0, 1, len(res.tracks))
    write_tracks(out, res.tracks.with_features(link_score=score))
    ours, ref = structure(out), structure(REFERENCE)
    assert ours <= ref
    needed = {p for p in ref if p[1:2] == ("Model",)} | {
        ("TrackMate", "Settings"), ("TrackMate", "Settings", "ImageData")}
    assert needed <= ours
    for tag, must in (("Spot", {"ID", "name", "POSITION_X", "POSITION_Y", "POSITION_Z",
                                "POSITION_T", "FRAME", "QUALITY", "RADIUS", "VISIBILITY"}),
                      ("Edge", {"SPOT_SOURCE_ID", "SPOT_TARGET_ID"}),
                      ("Track", {"name", "TRACK_ID"}),
                      ("ImageData", attributes(REFERENCE, "ImageData")),
                      ("Model", {"spatialunits", "timeunits"})):
        assert must <= attributes(out, tag) and must <= attributes(REFERENCE, tag), tag
    assert "SCORE" in attributes(out, "Edge")
    back = read_tracks(out)
    np.testing.assert_array_equal(back.track_id, res.tracks.track_id)
    np.testing.assert_allclose(back.coords, res.tracks.coords, rtol=0, atol=0)
    np.testing.assert_array_equal(back.frame, res.tracks.frame)
    _, b = track_links(res.tracks)                 # a link's score is on the vertex it enters
    np.testing.assert_array_equal(back.features["link_score"][b], score[b])
    assert np.isnan(np.delete(back.features["link_score"], b)).all()


def test_calibration_goes_to_physical_units_and_back(tmp_path):
    sim = api.simulate(api.SimulationParams(particles=3, frames=5, seed=1))
    cal = Calibration((0.16, 0.16), 0.05, "micrometer", "second")
    out = tmp_path / "cal.trackmate.xml"
    write_tracks(out, sim.truth, cal)
    root = ElementTree.parse(out).getroot()
    assert root.find("Model").get("spatialunits") == "µm"
    assert root.find("Model").get("timeunits") == "sec"
    img = root.find("Settings/ImageData")
    assert float(img.get("pixelwidth")) == 0.16 and float(img.get("timeinterval")) == 0.05
    spot = next(root.iter("Spot"))
    t = int(spot.get("FRAME"))
    assert float(spot.get("POSITION_T")) == pytest.approx(0.05 * t)
    back = read_trackmate_xml(out)
    assert back.calibration == cal
    np.testing.assert_allclose(back.tracks.coords, sim.truth.coords, rtol=1e-12)
    assert back.calibration.layer_kwargs(2) == {"scale": (0.05, 0.16, 0.16),
                                                "units": ("second", "micrometer", "micrometer")}


def test_a_3d_file_round_trips(tmp_path):
    sim = api.simulate(api.SimulationParams(particles=3, frames=5, ndim=3, seed=2))
    cal = Calibration((0.5, 0.1, 0.1), 2.0, "µm", "s")
    write_trackmate_xml(tmp_path / "z.xml", sim.truth, cal)
    back = read_trackmate_xml(tmp_path / "z.xml")
    assert back.tracks.ndim == 3 and back.calibration == cal
    np.testing.assert_allclose(back.tracks.coords, sim.truth.coords, rtol=1e-12)


def test_cli_tracks_and_evaluates_trackmate_files(tmp_path, capsys):
    """TrackMate's spots are an input of ``track``, its tracks of ``evaluate``/``analyze``;
    ``--out x.trackmate.xml`` writes TrackMate XML with the input's calibration."""
    out = tmp_path / "lap.trackmate.xml"
    assert main(["track", str(REFERENCE), "--method", "lap", "--max-link-distance", "15",
                 "--gap-closing-frames", "2", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["links"] == 128 and summary["tracks"] == 6   # 5 tracks + 1 lone spot
    assert spot_links(read_tracks(out)) == {
        (a, b) for a, b in spot_links(read_trackmate_xml(REFERENCE).tracks)}
    assert main(["evaluate", str(out), str(REFERENCE), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["jaccard"] == 1.0
    assert main(["analyze", str(REFERENCE), "--out", str(tmp_path / "s.csv"),
                 "--min-length", "2"]) == 0
    assert len(read_detections(REFERENCE)) == 134


BAD = [
    ("<TrackMate><Model><AllSpots>", "not an XML file"),
    ('<root><Spot ID="1"/></root>', "not a TrackMate file (its root element is <root>"),
    ("<TrackMate><Model/></TrackMate>", "has no <Spot>"),
    ('<TrackMate><Model><AllSpots><SpotsInFrame frame="0">\n<Spot ID="1" POSITION_X="1" '
     'POSITION_Y="2" FRAME="0.5"/></SpotsInFrame></AllSpots></Model></TrackMate>',
     "line 2: <Spot> FRAME='0.5' is not a frame number"),
    ('<TrackMate><Model><AllSpots><SpotsInFrame frame="0">\n<Spot ID="1" POSITION_X="a" '
     'POSITION_Y="2" FRAME="0"/></SpotsInFrame></AllSpots></Model></TrackMate>',
     "line 2: <Spot> POSITION_X='a' is not a number"),
    ('<TrackMate><Model><AllSpots>\n<Spot ID="1" POSITION_X="1" POSITION_Y="2" FRAME="0"/>\n'
     '<Spot ID="1" POSITION_X="3" POSITION_Y="2" FRAME="1"/></AllSpots></Model></TrackMate>',
     "line 3: spot ID 1 is used twice (first on line 2)"),
    ('<TrackMate><Model><AllSpots>\n<Spot ID="1" POSITION_X="1" POSITION_Y="2" FRAME="0"/>\n'
     '</AllSpots><AllTracks><Track TRACK_ID="0">\n<Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="9"/>'
     '</Track></AllTracks></Model></TrackMate>', "line 4: <Edge> SPOT_TARGET_ID=9 names no spot"),
    ('<TrackMate><Model><AllSpots>\n<Spot ID="1" POSITION_X="1" POSITION_Y="2" FRAME="1"/>\n'
     '<Spot ID="2" POSITION_X="1" POSITION_Y="2" FRAME="0"/></AllSpots><AllTracks>'
     '<Track TRACK_ID="0"><Edge SPOT_SOURCE_ID="1" SPOT_TARGET_ID="2"/></Track></AllTracks>'
     '</Model></TrackMate>', "link 1 -> 2 goes from frame 1 to frame 0"),
]


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_bad_files_are_refused_with_name_line_and_problem(tmp_path, text, problem):
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_trackmate_xml(path)
    message = str(err.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_the_writer_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "keep.trackmate.xml"
    out.write_text("old")
    sim = api.simulate(api.SimulationParams(particles=2, frames=4))
    monkeypatch.setattr("napari_mpt.io.trackmate_xml.tracks_to_trackmate_xml",
                        lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_tracks(out, sim.truth)
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [out.name]
