"""Finished tasks on disk, so an interrupted sweep resumes where it stopped.

One append-only JSON-lines file per figure; each finished task is one line written with a
single ``write`` and ``fsync``-ed before the next task is counted as done.  A line cut
short by a crash is ignored on reading (that task simply runs again).  Only the process
that drives the sweep writes, so no locking is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


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
