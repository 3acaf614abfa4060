"""GEFF and TrackMate XML in the viewer: opened with their calibration as the layers'
scale and units, saved from a Tracks layer with it, napari-geff's layer metadata read and
written; trackpy in the Track widget's method menu."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")
pytest.importorskip("geff")

import geff
from datafiles import TRACKMATE
from napari.layers import Points, Tracks
from viewer_checks import dock, run_layer

from napari_mpt import api
from napari_mpt.core.calibration import Calibration
from napari_mpt.core.params import SimulationParams, TrackpyParams
from napari_mpt.io import read_geff, read_trackmate_xml, write_geff
from napari_mpt.napari.layers import detections_from_points

pytestmark = pytest.mark.gui
REFERENCE = TRACKMATE / "trackmate_tracks_with_gap_closing.xml"
CAL = Calibration((0.16, 0.16), 0.05, "micrometer", "second")


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


def units(layer) -> tuple[str, ...]:
    return tuple(str(u) for u in layer.units)


def test_trackmate_xml_opens_as_tracks_and_spots_in_its_units(viewer):
    tracks, spots = viewer.open(str(REFERENCE), plugin="napari-mpt")
    assert isinstance(tracks, Tracks) and isinstance(spots, Points)
    assert len(np.unique(tracks.data[:, 0])) == 5 and len(spots.data) == 134
    assert units(tracks) == ("second", "pixel", "pixel") and list(tracks.scale) == [1, 1, 1]
    assert "quality" in spots.features and "link_cost" in tracks.features


def test_a_calibrated_layer_saved_as_geff_and_trackmate_keeps_its_units(viewer, tmp_path):
    sim = api.simulate(SimulationParams(frames=8, particles=3, seed=2))
    layer = viewer.add_tracks(sim.truth.napari_data(), name="truth", scale=CAL.scale(2),
                              units=CAL.units(2))
    saved = layer.save(str(tmp_path / "truth.geff"), plugin="napari-mpt")
    assert saved == [str(tmp_path / "truth.geff")]
    geff.validate_structure(saved[0])
    assert read_geff(saved[0]).calibration == CAL
    xml = layer.save(str(tmp_path / "truth.trackmate.xml"), plugin="napari-mpt")
    assert read_trackmate_xml(xml[0]).calibration == CAL
    (reopened,) = viewer.open(saved[0], plugin="napari-mpt")   # our GEFF: its tracks only
    np.testing.assert_allclose(reopened.data, layer.data)
    assert units(reopened) == ("second", "micrometer", "micrometer")
    np.testing.assert_allclose(reopened.scale, CAL.scale(2))
    assert not list(tmp_path.glob(".*.tmp"))


def test_geff_layers_carry_napari_geffs_metadata_both_ways(viewer, tmp_path):
    """A layer we read has what napari-geff's reader gives (``geff_metadata``,
    ``edge_properties``, ``node_id``, ``napari_track_id`` and the axis columns) and a
    layer as napari-geff reads it (its axis names, node ids) is saved by our writer with
    them."""
    import networkx as nx

    g = nx.DiGraph()
    for n, (t, r, c) in {10: (0, 1.0, 2.0), 11: (1, 1.5, 2.5), 12: (2, 2.0, 3.0),
                         20: (0, 9.0, 9.0), 21: (1, 9.5, 9.0)}.items():
        g.add_node(n, frame=t, row=r, col=c, score=float(n))
    g.add_edges_from([(10, 11), (11, 12), (20, 21)], p=0.9)
    src = tmp_path / "theirs.zarr"
    geff.write(g, str(src), axis_names=["frame", "row", "col"],
               axis_types=["time", "space", "space"], axis_units=["frame", "pixel", "pixel"])
    layers = viewer.open(str(src), plugin="napari-mpt")
    tracks = next(ly for ly in layers if isinstance(ly, Tracks))
    meta = tracks.metadata["geff_metadata"]
    assert [a.name for a in meta.axes] == ["frame", "row", "col"]
    assert {"node_id", "napari_track_id", "frame", "row", "col", "score"} <= set(tracks.features)
    assert tracks.metadata["edge_properties"][(10, 11)] == {"link_p": 0.9}
    # napari-geff's writer takes the node ids and axis columns from the features
    feats = tracks.features
    np.testing.assert_array_equal(feats["napari_track_id"], tracks.data[:, 0])
    np.testing.assert_array_equal(feats["row"], tracks.data[:, 2])
    out = tracks.save(str(tmp_path / "again.geff"), plugin="napari-mpt")
    back = read_geff(out[0])
    assert [a.name for a in back.metadata.axes] == ["frame", "row", "col"]
    assert sorted(back.tracks.features["node_id"].tolist()) == [10, 11, 12, 20, 21]
    assert "napari_track_id" not in back.tracks.features
    np.testing.assert_allclose(back.tracks.coords, tracks.data[:, 2:])


def test_trackpy_is_in_the_track_widgets_method_menu(viewer, qtbot):
    sim = api.simulate(SimulationParams(particles=10, frames=15, seed=3,
                                        detection_probability=0.9))
    from napari_mpt.napari.layers import detections_layer

    data, kwargs, _ = detections_layer(sim.detections, "spots")
    points = viewer.add_points(data, **kwargs)
    track = dock(viewer, "Track")
    assert "trackpy" in track.method.choices
    track.method.value = "trackpy"
    form = track.forms["trackpy"]
    assert not form.native.isHidden()
    form["memory"].value = "1"
    assert track.run(), track.status.value
    qtbot.waitUntil(lambda: not track.running, timeout=60_000)
    res = api.track(detections_from_points(points), TrackpyParams(memory=1))
    np.testing.assert_allclose(run_layer(viewer, res.label).data, res.tracks.napari_data())
    assert track.table.row_headers == (res.label,)


def test_an_image_zarr_is_left_to_other_readers(tmp_path):
    """napari offers this reader every ``*.zarr``: an OME-Zarr image (no GEFF metadata) is
    not claimed, so napari's own or another plugin's reader opens it."""
    import zarr

    from napari_mpt.napari.reader import get_reader

    image = tmp_path / "image.zarr"
    zarr.open_group(str(image), mode="w").attrs["multiscales"] = []
    assert get_reader(str(image)) is None
    write_geff(tmp_path / "tracks.zarr", api.simulate(SimulationParams(frames=3)).truth)
    assert get_reader(str(tmp_path / "tracks.zarr")) is not None
