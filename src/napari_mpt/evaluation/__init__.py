"""Scores against a truth: link and association Jaccards and the ISBI 2012 measures for
tracks (:mod:`.metrics`), precision, recall and RMSE for detections (:mod:`.detections`)."""
