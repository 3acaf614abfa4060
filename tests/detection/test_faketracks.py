"""Known answers from another tool: TrackMate's run on Fiji's FakeTracks sample.

TrackMate v6.0.3 (LoG detector radius 5, quality > 3.7114) found 134 spots; its sparse LAP
tracker (15 px linking) made 127 edges, 128 with gap closing (15 px, at most 2 frames).
laptrack's own test (``test_reproducing_trackmate``) reproduces those edges from the spots;
so must ``--method lap``.  The tables are laptrack's test data, shipped under
``tests/data/trackmate`` (BSD-3); the movie is read from the shared real data when present.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from datafiles import TRACKMATE

from napari_mpt.core.data import Detections
from napari_mpt.core.params import DetectParams, LAPParams
from napari_mpt.detection.detect import detect
from napari_mpt.io import read_movie
from napari_mpt.trackers.lap import track_lap

DATA = TRACKMATE


def trackmate_spots() -> pd.DataFrame:
    return pd.read_csv(DATA / "trackmate_tracks_without_gap_closing_spots.csv", index_col=0)


@pytest.mark.parametrize(("name", "params", "edges"), [
    ("without_gap_closing", LAPParams(max_link_distance=15.0, gap_closing_frames=0), 127),
    ("with_gap_closing", LAPParams(max_link_distance=15.0, gap_closing_frames=1,
                                   gap_closing_distance=15.0), 128),
])
def test_lap_reproduces_trackmates_edges(name, params, edges):
    spots = trackmate_spots()
    ref = pd.read_csv(DATA / f"trackmate_tracks_{name}_edges.csv", index_col=0)
    det = Detections(spots["frame"].to_numpy(), spots[["position_y", "position_x"]].to_numpy())
    tracks = track_lap(det, params).tracks
    ids = spots["id"].to_numpy()
    order = np.lexsort((tracks.frame, tracks.track_id))
    tid, row = tracks.track_id[order], tracks.detection[order]
    same = tid[:-1] == tid[1:]
    ours = set(zip(ids[row[:-1][same]].tolist(), ids[row[1:][same]].tolist(), strict=True))
    theirs = set(map(tuple, ref[["spot_source_id", "spot_target_id"]].to_numpy().tolist()))
    assert len(theirs) == edges
    assert ours == theirs


@pytest.mark.slow
def test_detector_finds_trackmates_134_spots(realdata):
    # TrackMate's LoG radius 5 is the Gaussian sigma 5 / sqrt(2) = 3.54 px; quality 13 in
    # noise sd is the level that leaves out, as TrackMate's 3.71 does, a faint spot that
    # sits still in every frame (estimated, the threshold keeps it: it is a real spot)
    movie = read_movie(realdata / "trackmate_faketracks" / "FakeTracks.tif").data
    det = detect(movie, DetectParams(spot_sigma=3.54, threshold=13.0))
    spots = trackmate_spots()
    assert len(det) == len(spots) == 134
    for t in range(len(movie)):
        theirs = spots.loc[spots["frame"] == t, ["position_y", "position_x"]].to_numpy()
        ours = det.coords[det.frame == t]
        assert len(ours) == len(theirs), t
        d = np.linalg.norm(theirs[:, None] - ours[None], axis=-1)
        assert d.min(axis=1).max() <= 1.0 and d.min(axis=0).max() <= 1.0, t
