"""Seeded sweeps on Dask with a resumable store: what ``reproduce`` and ``benchmark`` share.

The driver submits the tasks still missing from a :class:`ResultStore`, writes each result
as it arrives (so Ctrl-C loses at most the tasks in flight) and advances a progress bar.
A sweep runs on a small in-process cluster, or on an existing one (``--scheduler``).
Finished tasks are one append-only JSON-lines file; each is one line written with a
single ``write`` and ``fsync``-ed before the next task is counted as done, and a line cut
short by a crash is ignored on reading (that task simply runs again).  Only the driving
process writes, so no locking is needed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import MPTError


class ResultStore:
    """Task results of one figure, keyed by :attr:`Task.key`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._records: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break  # a torn last line from an interrupted write
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "key" in record:
                    self._records[record["key"]] = record

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._records.get(key)

    def records(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored records, restricted to ``keys`` (in their order) when given."""
        if keys is None:
            return list(self._records.values())
        return [self._records[k] for k in keys if k in self._records]

    def add(self, record: dict[str, Any]) -> None:
        """Append one record durably."""
        line = json.dumps(record, sort_keys=True, allow_nan=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self._records[record["key"]] = record

    def _repair_tail(self) -> None:
        """End a torn last line with a newline so the next record starts on its own line."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")


class ClusterError(MPTError):
    """The Dask scheduler given with ``--scheduler`` cannot be reached."""


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2,
                processes: bool = False, timeout: float = 30.0) -> Iterator[Any]:
    """A Dask client: to ``scheduler`` when given, else to a local cluster of ``workers``
    single-threaded workers (threads of this process unless ``processes``), closed on exit.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        with client:
            yield client
        return
    # no dashboard, and the scheduler's own HTTP server on a free port: its default, 8787,
    # is taken by any other cluster on the machine (a warning on every run)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                      dashboard_address=None, silence_logs=logging.ERROR,
                      scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"}
                      ) as cluster, \
            Client(cluster) as client:
        yield client


def run_tasks(client: Any, fn: Callable[..., dict[str, Any]], tasks: Sequence[tuple[str, Any]],
              store: ResultStore, *, progress: bool = True, desc: str = "tasks",
              on_record: Callable[[dict[str, Any]], None] | None = None,
              done: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Run ``fn(arg)`` for each ``(key, arg)`` of ``tasks`` not done yet (``done(key)``;
    by default: its key is in ``store``); each result (a dict) is stored under its key as
    it arrives.

    Returns ``{"tasks", "ran", "reused", "elapsed_s"}``.
    """
    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    finished = done if done is not None else store.__contains__
    todo = [(k, a) for k, a in tasks if not finished(k)]
    futures = {client.submit(fn, a, key=f"{desc}-{k}", pure=False): k for k, a in todo}
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc=desc, unit="task", disable=not progress, leave=True,
               dynamic_ncols=True)
    try:
        for fut in as_completed(list(futures)):
            record = {**fut.result(), "key": futures[fut]}
            store.add(record)
            if on_record is not None:
                on_record(record)
            bar.update(1)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        bar.close()
    return {"tasks": len(tasks), "ran": len(todo), "reused": len(tasks) - len(todo),
            "elapsed_s": time.perf_counter() - t0}


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, lo, hi, sample std) with a Student-t interval for the mean over seeds; the
    interval is the mean itself when there is one value or all agree."""
    n = len(values)
    if n == 0:
        nan = float("nan")
        return nan, nan, nan, nan
    mean = math.fsum(values) / n
    if n == 1:
        return mean, mean, mean, 0.0
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return mean, min(mean - half, mean), max(mean + half, mean), std
