"""Small files in other tools' formats (a trackpy ``locate`` result, TrackMate spot
tables), written by the tests of any folder that reads them."""

from __future__ import annotations

import numpy as np

TRACKPY_COLUMNS = ("y", "x", "mass", "size", "ecc", "signal", "raw_mass", "ep", "frame")


def trackpy_csv(path, frames: int = 10, empty: int = 5, seed: int = 0) -> list[int]:
    """A trackpy ``locate``/``batch`` result saved by pandas (unnamed index column first):
    30 particles, 26 to 33 spots per frame (missed and spurious ones), frame ``empty``
    without any.  Returns the number of spots of each frame."""
    rng = np.random.default_rng(seed)
    counts = [0 if f == empty else int(rng.integers(26, 34)) for f in range(frames)]
    lines = ["," + ",".join(TRACKPY_COLUMNS)]
    row = 0
    for f, n in enumerate(counts):
        for _ in range(n):
            y, x = (float(v) for v in rng.uniform(0, 256, 2))
            feats = [float(v) for v in rng.uniform(0.1, 500, 6)]
            lines.append(f"{row},{y!r},{x!r}," + ",".join(f"{v!r}" for v in feats) + f",{f}")
            row += 1
    path.write_text("\n".join(lines) + "\n")
    return counts


TM_HEADER = ("LABEL,ID,TRACK_ID,QUALITY,POSITION_X,POSITION_Y,POSITION_Z,POSITION_T,FRAME,"
             "RADIUS,VISIBILITY,MEAN_INTENSITY_CH1\n")
TM_LABELS = ("Label,Spot ID,Track ID,Quality,X,Y,Z,T,Frame,Radius,Visibility,Mean intensity ch1\n"
             "Label,Spot ID,Track ID,Quality,X,Y,Z,T,Frame,R,Visibility,Mean ch1\n"
             ",,,(quality),(pixel),(pixel),(pixel),(sec),,(pixel),,(counts)\n")
TM_ROWS = ("ID10,10,0,5.5,1.0,2.0,0.0,0.0,0,2.5,1,100\n"
           "ID11,11,0,5.1,2.0,2.5,0.0,0.5,1,2.5,1,110\n"
           "ID12,12,,3.0,40.0,50.0,0.0,0.5,1,2.5,1,90\n"       # in no track
           "ID13,13,1,4.0,9.0,8.0,0.0,0.0,0,2.5,1,120\n"
           "ID14,14,1,4.2,9.5,8.5,0.0,1.0,2,2.5,1,125\n")
