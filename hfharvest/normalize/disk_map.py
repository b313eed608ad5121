"""A read-only mapping kept on disk: the run's per-model maps at Hub scale.

The normalize stage looks up, for each model it streams, that model's entities, relations and
identifiers. Held as dicts these grow with the number of models (several GB at 1.5 million);
a temporary SQLite table (the standard library's, a B-tree with a bounded page cache) answers
the same `get` in constant memory.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

_BATCH = 10_000
_MISSING = object()


class DiskMap:
    """`DiskMap(pairs)`: `[]`, `get`, `in`, `len`, `items`, `values` like a dict, kept on disk.

    `convert` turns a stored value into what callers get (applied on each read).
    """

    def __init__(self, pairs: Iterable[tuple[str, object]], convert: Callable = lambda v: v):
        self._dir = tempfile.TemporaryDirectory(prefix="hfharvest-map-")
        self._db = sqlite3.connect(Path(self._dir.name) / "map.sqlite", check_same_thread=False)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "CREATE TABLE map (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
        )
        self._convert = convert
        batch: list[tuple[str, str]] = []
        for key, value in pairs:
            batch.append((key, json.dumps(value, ensure_ascii=False)))
            if len(batch) >= _BATCH:
                self._insert(batch)
                batch = []
        self._insert(batch)

    def _insert(self, rows: list[tuple[str, str]]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO map VALUES (?, ?)", rows)

    def get(self, key: str, default=None):
        row = self._db.execute("SELECT value FROM map WHERE key = ?", (key,)).fetchone()
        return default if row is None else self._convert(json.loads(row[0]))

    def __getitem__(self, key: str):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM map WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM map").fetchone()[0]

    def items(self) -> Iterator[tuple[str, object]]:
        for key, value in self._db.execute("SELECT key, value FROM map ORDER BY key"):
            yield key, self._convert(json.loads(value))

    def values(self) -> Iterator[object]:
        return (value for _, value in self.items())

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()
