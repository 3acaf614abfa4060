"""``napari-mpt benchmark``: trackers x scenarios x seeds on Dask, summarised with 95 %
intervals, written as CSV and plots: which tracker for data like mine."""
