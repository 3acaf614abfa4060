"""GEFF in and out through the ``geff`` package: what we write passes geff's structure
validation and says what the field learned to fill in (axes with types and units,
display hints, the tracklet property, node and edge properties); it reads back
losslessly, as do other tools' graphs; bad folders are refused with their name."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mpt import api
from napari_mpt.cli import main
from napari_mpt.core.calibration import Calibration
from napari_mpt.core.errors import InputError
from napari_mpt.io import read_detections, read_geff, read_tracks, write_geff, write_tracks
from napari_mpt.io.graphs import track_links

geff = pytest.importorskip("geff")


@pytest.fixture(scope="module")
def scored():
    """Tracks with what a run carries: detections taken, a gap, vertex and link features."""
    sim = api.simulate(api.SimulationParams(particles=6, frames=12, seed=5,
                                            detection_probability=0.8, clutter=1))
    res = api.track(sim.detections, api.LAPParams(gap_closing_frames=2))
    score = api.evaluate(res.tracks, sim.truth)
    n = len(res.tracks)
    return res.tracks.with_features(
        amplitude=np.linspace(1, 2, n), wrong_link=score.wrong_link.astype(np.int64),
        link_score=np.linspace(0, 1, n))


CAL = Calibration((0.16, 0.16), 0.05, "µm", "s")


def same_tracks(a, b, exclude=("node_id",)) -> None:
    np.testing.assert_array_equal(a.track_id, b.track_id)
    np.testing.assert_array_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.coords, b.coords)
    np.testing.assert_array_equal(a.detection, b.detection)
    keys = sorted(set(a.features) - set(exclude))
    assert keys == sorted(set(b.features) - set(exclude))
    _, ends = track_links(a)
    for k in keys:
        x, y = np.asarray(a.features[k]), np.asarray(b.features[k])
        if k.startswith("link_") or k.endswith("_link"):     # a link's value: where one enters
            x, y = x[ends], y[ends]
        np.testing.assert_array_equal(x, y, err_msg=k)


def test_what_we_write_validates_and_says_what_it_holds(scored, tmp_path):
    path = write_geff(tmp_path / "run.geff", scored, CAL)
    geff.validate_structure(str(path))                    # geff's own check accepts it
    from geff.core_io import read_to_memory

    mem = read_to_memory(str(path))
    meta = mem["metadata"]
    assert meta.directed
    assert [(a.name, a.type, a.unit, a.scale, a.scaled_unit) for a in meta.axes] == [
        ("t", "time", "frame", 0.05, "second"), ("y", "space", "pixel", 0.16, "micrometer"),
        ("x", "space", "pixel", 0.16, "micrometer")]
    hints = meta.display_hints
    assert (hints.display_time, hints.display_vertical, hints.display_horizontal,
            hints.display_depth) == ("t", "y", "x", None)
    assert meta.track_node_props == {"tracklet": "tracklet"}
    assert "napari_mpt" in meta.extra
    nodes = mem["node_props"]
    assert {"t", "y", "x", "tracklet", "detection", "amplitude"} <= set(nodes)
    assert "wrong_link" not in nodes and "link_score" not in nodes
    link_features = {k for k in scored.features if k.startswith("link_") or k.endswith("_link")}
    assert {"wrong_link", "link_score"} <= set(mem["edge_props"]) == link_features
    np.testing.assert_array_equal(nodes["tracklet"]["values"], scored.track_id)
    np.testing.assert_array_equal(nodes["t"]["values"], scored.frame)
    # one edge per pair of consecutive vertices of a track, carrying the entering vertex's value
    a, b = track_links(scored)
    np.testing.assert_array_equal(mem["edge_ids"], np.column_stack([a, b]))
    np.testing.assert_array_equal(mem["edge_props"]["link_score"]["values"],
                                  scored.features["link_score"][b])


def test_round_trip_is_lossless(scored, tmp_path):
    write_tracks(tmp_path / "a.geff", scored, CAL)            # through the format switch
    first = read_geff(tmp_path / "a.geff")
    same_tracks(scored, first.tracks)
    assert first.calibration == CAL
    np.testing.assert_array_equal(first.tracks.features["node_id"], np.arange(len(scored)))
    # again, from what was read: node ids, metadata and everything else kept
    write_geff(tmp_path / "a.geff", first.tracks, first.calibration, first.metadata)
    second = read_geff(tmp_path / "a.geff")
    same_tracks(first.tracks, second.tracks, exclude=())
    assert second.metadata.axes == first.metadata.axes
    assert read_tracks(tmp_path / "a.geff").ndim == 2
    assert len(read_detections(tmp_path / "a.geff")) == len(scored)


def test_3d_round_trip(tmp_path):
    sim = api.simulate(api.SimulationParams(particles=3, frames=5, ndim=3, seed=2))
    cal = Calibration((0.5, 0.1, 0.1), 2.0, "micrometer", "second")
    write_geff(tmp_path / "z.geff", sim.truth, cal)
    back = read_geff(tmp_path / "z.geff")
    same_tracks(sim.truth, back.tracks)
    assert back.calibration == cal and back.metadata.display_hints.display_depth == "z"


def test_another_tools_graph_with_a_division_reads_as_tracklets(tmp_path):
    """A networkx lineage written by geff itself (no tracklet property, a division, other
    axis names): one vertex per node, tracklets cut at the division, its props kept."""
    import networkx as nx

    g = nx.DiGraph()
    pos = {1: (0, 5.0, 5.0), 2: (1, 6.0, 5.0), 3: (2, 7.0, 4.0), 4: (2, 7.0, 6.0),
           5: (3, 8.0, 4.0), 9: (0, 50.0, 50.0)}
    for n, (t, row, col) in pos.items():
        g.add_node(n, frame=t, row=row, col=col, area=10.0 * n)
    g.add_edges_from([(1, 2), (2, 3), (2, 4), (3, 5)], cost=0.5)
    geff.write(g, str(tmp_path / "lineage.zarr"), axis_names=["frame", "row", "col"],
               axis_types=["time", "space", "space"], axis_units=["frame", "pixel", "pixel"])
    f = read_geff(tmp_path / "lineage.zarr")
    chains = {tuple(f.tracks.features["node_id"][f.tracks.track_id == t].tolist())
              for t in f.tracks.ids()}
    assert chains == {(1, 2), (3, 5), (4,), (9,)}
    node = dict(zip(f.tracks.features["node_id"].tolist(), range(len(f.tracks)), strict=True))
    assert f.tracks.features["area"][node[5]] == 50.0
    assert f.tracks.features["link_cost"][node[5]] == 0.5 and np.isnan(
        f.tracks.features["link_cost"][node[3]])                     # cut at the division
    np.testing.assert_array_equal(f.tracks.coords[node[4]], (7.0, 6.0))
    assert len(f.detections) == 6 and not f.calibration.known


def test_a_geff_feeds_track_evaluate_and_analyze(scored, tmp_path, capsys):
    write_geff(tmp_path / "in.geff", scored, CAL)
    out = tmp_path / "again.geff"
    assert main(["track", str(tmp_path / "in.geff"), "--method", "trackpy", "--out", str(out),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "trackpy"
    assert read_geff(out).calibration == CAL                  # the input's calibration
    assert main(["evaluate", str(out), str(tmp_path / "in.geff"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tp"] > 0
    assert main(["analyze", str(out), "--out", str(tmp_path / "s.csv"), "--min-length", "2"]) == 0


BAD_METADATA = {"geff": {"geff_version": "1.0", "directed": True, "node_props_metadata": {},
                         "edge_props_metadata": {}}}


def test_bad_folders_are_refused_with_name_and_problem(tmp_path, scored):
    missing = tmp_path / "nothing.geff"
    with pytest.raises(InputError, match=f"^{missing}: file not found$"):
        read_geff(missing)
    empty = tmp_path / "empty.geff"
    empty.mkdir()
    with pytest.raises(InputError) as err:
        read_geff(empty)
    assert str(err.value).startswith(f"{empty}: not a valid GEFF (") and "\n" not in str(err.value)
    # a valid graph without time and space axes cannot be tracks
    import networkx as nx

    g = nx.DiGraph()
    g.add_node(0, a=1.0)
    geff.write(g, str(tmp_path / "noaxes.geff"))
    with pytest.raises(InputError, match="needs one time axis and 2 or 3 space axes"):
        read_geff(tmp_path / "noaxes.geff")
    # fractional frames
    h = nx.DiGraph()
    h.add_node(0, t=0.5, y=1.0, x=1.0)
    geff.write(h, str(tmp_path / "half.geff"), axis_names=["t", "y", "x"],
               axis_types=["time", "space", "space"])
    with pytest.raises(InputError, match=r"node 0: time axis 't' is 0\.5, not a whole frame"):
        read_geff(tmp_path / "half.geff")


def test_writing_replaces_a_geff_but_never_another_folder(scored, tmp_path, monkeypatch):
    path = tmp_path / "run.geff"
    write_geff(path, scored)
    write_geff(path, scored, CAL)                              # a GEFF: replaced
    assert read_geff(path).calibration == CAL
    other = tmp_path / "photos.geff"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="exists and is not a folder this writer made"):
        write_geff(other, scored)
    assert (other / "keep.txt").read_text() == "mine"
    # a failure while writing leaves the old GEFF and no temporary folder
    monkeypatch.setattr("geff.core_io.write_arrays", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_geff(path, scored)
    assert read_geff(path).calibration == CAL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.geff", "run.geff"]
