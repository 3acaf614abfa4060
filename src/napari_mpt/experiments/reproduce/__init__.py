"""Reproduce the paper's Figures 2-6 (section IV) on a Dask cluster.

:mod:`.figures` declares each figure (simulation, trackers, axes); :mod:`.tasks` turns a
figure into independent, seeded tasks and runs one; :mod:`.models` finds or trains the
transformers a figure needs; :mod:`.store` keeps every finished task on disk so an
interrupted run resumes; :mod:`.runner` sends the tasks to Dask; :mod:`.summary` and
:mod:`.plot` turn the results into the CSV and PNG; :mod:`.cli` is ``napari-mpt reproduce``.

Nothing heavy (dask, matplotlib, torch) is imported until a figure is actually run.
"""
