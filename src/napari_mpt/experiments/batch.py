"""``napari-mpt batch``: detect, track and analyze many movies or spot files, as Dask tasks.

One task per input file, on the sweep machinery ``benchmark`` and ``reproduce`` use
(:mod:`.sweep`): a local cluster by default, an existing one with ``--scheduler``, a
progress bar, and a resumable store (``OUT/batch.jsonl``): a file whose inputs, settings
and outputs have not changed since it finished is skipped; one that failed runs again.

Each input is a movie (TIFF: detect, then track, then analyze) or a spot file (CSV,
TrackMate XML, GEFF: track, then analyze).  Per file, in ``OUT/<name>/``:
``detections.csv`` (movies), the tracks (``tracks.csv``, ``tracks.geff`` or
``tracks.trackmate.xml``, in the input's calibration), ``statistics.csv`` (one row per
track) and ``summary.json``.  For the batch: ``batch.csv`` (one row per file: counts,
times, ensemble D and alpha, or the reason it failed) and ``statistics.csv``, every
file's track statistics in one table with a ``file`` column.  Import-light:
``napari-mpt --help`` imports this module.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MOVIES = (".tif", ".tiff")
SPOTS = (".csv", ".xml", ".geff", ".zarr")
TRACK_FILES = {"csv": "tracks.csv", "geff": "tracks.geff", "trackmate": "tracks.trackmate.xml"}
SUMMARY_COLUMNS = ("file", "kind", "out", "detections", "tracks", "links", "detect_s", "track_s",
                   "analyze_s", "wall_s", "method", "label", "median_D", "ensemble_D",
                   "ensemble_alpha", "length_unit", "time_unit", "error")


def register(subparsers: argparse._SubParsersAction) -> None:
    from dataclasses import fields

    from ..api import TRACKERS
    from ..core.params import DetectParams, StatsParams
    from ..core.params.options import add_param_options

    p = subparsers.add_parser(
        "batch", help="detect, track and analyze many movies or spot files as Dask tasks "
        "(resumable; per-file outputs and one combined table)",
        description="Run detect -> track -> analyze on every movie (TIFF) and track -> "
        "analyze on every spot file (CSV, TrackMate XML, GEFF) found in the folders and "
        "globs given, one Dask task per file, on a local cluster or --scheduler.  Finished "
        "files are kept in OUT/batch.jsonl, so a second run skips them.")
    p.add_argument("inputs", nargs="+", metavar="FOLDER_OR_GLOB",
                   help="folders (their movies and spot files), globs or files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", choices=tuple(TRACKERS), default="mht",
                   help="tracker (see napari-mpt track --help for each one's options)")
    seen: set[str] = set()
    for entry in TRACKERS.values():
        add_param_options(p, entry.params, skip=tuple(seen))
        seen |= {f.name for f in fields(entry.params)}
    add_param_options(p, DetectParams, prefix="detect-")
    add_param_options(p, StatsParams, skip=tuple(seen))
    p.add_argument("--tracks-format", choices=tuple(TRACK_FILES), default="csv",
                   help="format of each file's tracks (default: csv)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (default: a "
                   "local cluster)")
    p.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    p.add_argument("--processes", action="store_true", help="local workers as processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_batch)


def find_inputs(patterns: list[str]) -> list[Path]:
    """The movies and spot files named by ``patterns``: a folder gives its own files (not
    its sub-folders', except GEFF folders), a glob its matches, a file itself; each once,
    in the order found.  An InputError names a pattern that gives none."""
    from ..core.errors import InputError

    out: list[Path] = []
    for pattern in patterns:
        p = Path(pattern)
        if p.is_dir() and p.suffix.lower() not in (".geff", ".zarr"):
            found = sorted(q for q in p.iterdir() if _kind(q) is not None)
        else:
            found = [Path(q) for q in sorted(glob.glob(pattern)) if _kind(Path(q)) is not None]
        if not found:
            raise InputError(pattern, "names no movie (.tif) or spot file (.csv, .xml, .geff)")
        out += [q for q in found if q.resolve() not in {r.resolve() for r in out}]
    return out


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in MOVIES and path.is_file():
        return "movie"
    if suffix in SPOTS and (path.is_file() or suffix in (".geff", ".zarr")):
        return "spots"
    return None


@dataclass(frozen=True)
class FileTask:
    """One input file and everything that decides its outputs (plain data: it travels to
    a Dask worker as it is)."""

    path: str
    out: str
    method: str
    tracker: dict[str, Any] = field(default_factory=dict)
    detect: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    stats_given: tuple[str, ...] = ()
    tracks_format: str = "csv"

    @property
    def key(self) -> str:
        """Names the file (its path, size and modification time) and the settings."""
        st = _stat(self.path)
        text = json.dumps([str(Path(self.path).resolve()), st, asdict(self)], sort_keys=True)
        return f"{Path(self.path).name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _stat(path: str) -> list[int]:
    p = Path(path)
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    return [sum(q.stat().st_size for q in files), max((q.stat().st_mtime_ns for q in files),
                                                      default=0)]


def run_file(task: FileTask) -> dict[str, Any]:
    """Detect (movies), track and analyze one file, writing its outputs; a refusal (a bad
    file, a tracker's limit) is recorded as ``error``, never raised, so one file does not
    stop the batch."""
    from ..core.errors import MPTError

    record: dict[str, Any] = {"file": task.path, "out": task.out, "method": task.method}
    t0 = time.perf_counter()
    try:
        record.update(_run(task))
    except MPTError as exc:
        record["error"] = str(exc)
    record["wall_s"] = time.perf_counter() - t0
    return record


def _run(task: FileTask) -> dict[str, Any]:
    from ..analysis.stats import physical_units, track_statistics, write_stats
    from ..api import TRACKERS, track
    from ..core.calibration import Calibration
    from ..core.params import DetectParams, StatsParams
    from ..io import (
        read_detections,
        read_movie,
        read_track_file,
        with_detection_positions,
        write_detections,
        write_json,
        write_tracks,
    )

    out = Path(task.out)
    rec: dict[str, Any] = {}
    cal = Calibration()
    t = time.perf_counter()
    if _kind(Path(task.path)) == "movie":
        from ..detection.detect import detect

        rec["kind"] = "movie"
        movie = read_movie(task.path)
        detections = detect(movie.data, DetectParams.from_dict(task.detect), source=task.path)
        cal = movie.calibration
        write_detections(out / "detections.csv", detections)
    else:
        rec["kind"] = "spots"
        found = read_track_file(task.path)
        detections = found.detections if found is not None else read_detections(task.path)
        cal = found.calibration if found is not None else cal
    rec.update(detections=len(detections), detect_s=time.perf_counter() - t)
    t = time.perf_counter()
    result = track(detections, TRACKERS[task.method].make(**task.tracker))
    tracks = with_detection_positions(result.tracks, detections)
    write_tracks(out / TRACK_FILES[task.tracks_format], tracks, cal, detections)
    rec.update(track_s=time.perf_counter() - t, label=result.label,
               tracks=len(result.tracks.ids()), links=int(result.info.get("links", 0)) or None)
    t = time.perf_counter()
    params = StatsParams.from_dict(task.stats)
    px, dt = physical_units(cal)
    params = params.replace(**{k: v for k, v in (("pixel_size", px), ("frame_interval", dt))
                               if v > 0 and k not in task.stats_given})
    stats = track_statistics(result.tracks, params)
    write_stats(out / "statistics.csv", stats)
    summary = stats.summary()
    rec["analyze_s"] = time.perf_counter() - t
    ens = summary.get("ensemble", {})
    rec.update(median_D=summary.get("median_D"), ensemble_D=ens.get("D"),
               ensemble_alpha=ens.get("alpha"), length_unit=stats.units.length,
               time_unit=stats.units.time)
    write_json(out / "summary.json", {**rec, "file": task.path, "tracker": result.summary(),
                                      "statistics": summary})
    return rec


def _outputs_exist(task: FileTask) -> bool:
    out = Path(task.out)
    return all((out / name).exists() for name in
               (TRACK_FILES[task.tracks_format], "statistics.csv", "summary.json"))


def folder_names(paths: list[Path]) -> list[str]:
    """One output folder per input: its stem, numbered where two inputs share one."""
    names: list[str] = []
    for p in paths:
        stem = p.name[: -len(p.suffix)] if p.suffix else p.name
        name, n = stem, 2
        while name in names:
            name, n = f"{stem}-{n}", n + 1
        names.append(name)
    return names


def tasks_from_args(args: argparse.Namespace) -> list[FileTask]:
    from ..api import TRACKERS
    from ..core.params import DetectParams, StatsParams
    from ..core.params.options import params_from_args

    paths = find_inputs(args.inputs)
    tracker: dict[str, Any] = params_from_args(TRACKERS[args.method].params, args).to_dict()
    detect = params_from_args(DetectParams, args, prefix="detect_").to_dict()
    stats = params_from_args(StatsParams, args).to_dict()
    given = tuple(k for k in ("pixel_size", "frame_interval") if getattr(args, k) is not None)
    out = Path(args.out)
    return [FileTask(str(p), str(out / name), args.method, tracker, detect, stats, given,
                     args.tracks_format)
            for p, name in zip(paths, folder_names(paths), strict=True)]


def write_tables(out: Path, records: list[dict[str, Any]]) -> tuple[Path, Path]:
    """``batch.csv`` (one row per file) and ``statistics.csv`` (every file's tracks)."""
    import csv

    from ..io import atomic_write

    summary = out / "batch.csv"
    with atomic_write(summary) as fh:
        w = csv.DictWriter(fh, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in records:
            w.writerow({k: "" if r.get(k) is None else r[k] for k in SUMMARY_COLUMNS})
    combined = out / "statistics.csv"
    header: list[str] | None = None
    with atomic_write(combined) as fh:
        w2 = csv.writer(fh)
        for r in records:
            path = Path(r["out"]) / "statistics.csv"
            if r.get("error") or not path.is_file():
                continue
            with open(path, newline="", encoding="utf-8") as src:
                rows = list(csv.reader(src))
            if not rows:
                continue
            if header is None:
                header = rows[0]
                w2.writerow(["file", *header])
            index = [rows[0].index(h) if h in rows[0] else None for h in header]
            for row in rows[1:]:
                w2.writerow([r["file"], *("" if i is None else row[i] for i in index)])
    return summary, combined


def _cmd_batch(args: argparse.Namespace) -> int:
    import sys

    from ..core.errors import ParameterError
    from .sweep import ResultStore, dask_client, run_tasks

    if args.workers < 1:
        raise ParameterError("workers", f"must be >= 1, got {args.workers}")
    tasks = tasks_from_args(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    store = ResultStore(out / "batch.jsonl")
    keyed = {t.key: t for t in tasks}

    def done(key: str) -> bool:
        rec = store.get(key)
        return rec is not None and not rec.get("error") and _outputs_exist(keyed[key])

    t0 = time.perf_counter()
    with dask_client(args.scheduler, args.workers, args.processes) as client:
        stats = run_tasks(client, run_file, list(keyed.items()), store, done=done,
                          progress=not args.no_progress, desc="batch")
    records = store.records(keyed)
    table, combined = write_tables(out, records)
    failed = [r for r in records if r.get("error")]
    ok = len(records) - len(failed)
    wall = time.perf_counter() - t0
    per = f", {wall / stats['ran']:.2f} s per file run" if stats["ran"] else ""
    print(f"{ok} of {len(records)} file(s) done ({stats['ran']} run, {stats['reused']} "
          f"reused) in {wall:.1f} s{per}; wrote {table}, {combined} and one folder per file "
          f"in {out}")
    for r in failed:
        print(f"napari-mpt: error: {r['error']}", file=sys.stderr)
    return 1 if failed else 0
