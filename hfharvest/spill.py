"""Groups kept on disk: `(key, member, payload)` rows in, `(key, [(member, payload)])` out,
sorted by key then member, so a job's memory does not grow with the number of models.

A temporary SQLite database (the standard library's) does the sorting and deduplication: its
B-tree is an external sort that already exists, and a `WITHOUT ROWID` primary key keeps the rows
in key order. The first payload given for a (key, member) wins, as `dict.setdefault` would.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

_BATCH = 10_000  # rows per executemany: few round trips, a small buffer
_BATCH_BYTES = 4 * 1024 * 1024
_PRESENT = ""  # the member of a key's presence row: a key with no members still comes out


class Groups:
    """`with Groups() as groups: groups.add(key, members) ... for key, rows in groups.items()`."""

    def __init__(self, folder: str | Path | None = None):
        self._dir = tempfile.TemporaryDirectory(prefix="hfharvest-groups-", dir=folder)
        self._db = sqlite3.connect(Path(self._dir.name) / "groups.sqlite")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "CREATE TABLE rows (key TEXT, member TEXT, payload TEXT,"
            " PRIMARY KEY (key, member)) WITHOUT ROWID;"
        )
        self._pending: list[tuple[str, str, str | None]] = []

    def __enter__(self) -> Groups:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()

    def add(self, key: str, members: Iterable = (), payloads: Iterable | None = None) -> None:
        """The key (even with no members), its members and, optionally, one payload each."""
        rows = [(key, _PRESENT, None)]
        if payloads is None:
            rows += [(key, member, None) for member in members]
        else:
            rows += [
                (key, member, json.dumps(payload, ensure_ascii=False))
                for member, payload in zip(members, payloads, strict=True)
            ]
        self._pending += rows
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT OR IGNORE INTO rows VALUES (?, ?, ?)", self._pending)
        self._pending = []

    def __contains__(self, key: str) -> bool:
        self._flush()
        query = "SELECT 1 FROM rows WHERE key = ? AND member = ''"
        return self._db.execute(query, (key,)).fetchone() is not None

    def __len__(self) -> int:
        self._flush()
        return self._db.execute("SELECT count(*) FROM rows WHERE member = ''").fetchone()[0]

    def items(self) -> Iterator[tuple[str, list[tuple[str, object]]]]:
        """`(key, [(member, payload), ...])` by key, members sorted, payloads decoded."""
        self._flush()
        rows = self._db.execute("SELECT key, member, payload FROM rows ORDER BY key, member")
        for key, group in groupby(rows, key=lambda row: row[0]):
            yield (
                key,
                [
                    (member, None if payload is None else json.loads(payload))
                    for _, member, payload in group
                    if member != _PRESENT
                ],
            )

    def members(self) -> Iterator[tuple[str, list[str]]]:
        """`(key, sorted members)` by key."""
        for key, rows in self.items():
            yield key, [member for member, _ in rows]


def count_distinct(values: Iterable[str]) -> int:
    """How many distinct strings, counted on disk (an entity kind can have a million ids)."""
    with Groups() as groups:
        for value in values:
            groups.add(value)
        return len(groups)


class Table(Groups):
    """`{(key, member): payload}` on disk where the last payload put wins (as `dict[k] = v`)."""

    _pending_bytes = 0

    def put(self, key: str, member: str, payload) -> None:
        text = json.dumps(payload, ensure_ascii=False)
        self._pending.append((key, member, text))
        self._pending_bytes += len(text)
        # Payloads are whole records (a card can be megabytes): bound the buffer by size too.
        if len(self._pending) >= _BATCH or self._pending_bytes >= _BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany("INSERT OR REPLACE INTO rows VALUES (?, ?, ?)", self._pending)
        self._pending = []
        self._pending_bytes = 0

    def first(self, key: str):
        """The payload of the key's smallest member, or None."""
        self._flush()
        row = self._db.execute(
            "SELECT payload FROM rows WHERE key = ? ORDER BY member LIMIT 1", (key,)
        ).fetchone()
        return None if row is None else json.loads(row[0])
