"""Groups kept on disk: `(key, member, payload)` rows in, `(key, [(member, payload)])` out,
sorted by key then member, so a job's memory does not grow with the number of models (a Groups
holds its first members in memory, up to a bound).

A temporary SQLite database (the standard library's) does the sorting and deduplication: its
B-tree is an external sort that already exists, and a `WITHOUT ROWID` primary key keeps the rows
in key order. The first payload given for a (key, member) wins, as `dict.setdefault` would.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import groupby, islice
from pathlib import Path
from typing import Self

from .jsonio import dumps_record

_BATCH = 10_000  # rows per executemany: few round trips, a small buffer
_BATCH_BYTES = 4 * 1024 * 1024
_HELD_DISTINCT = 20_000  # distinct values count_distinct holds in memory before it spills
# Members Groups holds in memory before it spills: ~8 bytes each and their strings (an
# enrich job's are model ids, one string a model however many entities name it).
_HELD_MEMBERS = 500_000
_MISSING = object()
_BATCH_KEYS = 500  # keys a query asks at once (Groups.present), under SQLite's 999 variables
_PRESENT = ""  # the member of a key's presence row: a key with no members still comes out
# Each scratch database's page cache (KiB). A job holds up to 17 of them (the normalize stage's
# maps), and the OS caches the file's pages anyway: at 16 MB each they were most of the
# normalize jobs' growth with N (normalize_tables 250 -> 179 MB at 100 000 models, same CPU).
_PAGE_CACHE_KIB = 2_000


def _scratch_db(schema: str, folder: str | Path | None = None):
    """(temporary folder, connection) of a throw-away database: no journal, no fsync, a
    bounded page cache."""
    scratch = tempfile.TemporaryDirectory(prefix="hfharvest-spill-", dir=folder)
    db = sqlite3.connect(Path(scratch.name) / "spill.sqlite", check_same_thread=False)
    db.executescript(
        f"PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-{_PAGE_CACHE_KIB};"
        + schema
    )
    return scratch, db


class _Scratch:
    """What owns a throw-away database (`_dir`, `_db`): closed, and removed, on close or at the
    end of a `with`."""

    _dir: tempfile.TemporaryDirectory
    _db: sqlite3.Connection

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


class ScratchDB(_Scratch):
    """A throw-away database of `schema` for a stage's own queries (`db`): on disk, removed on
    close or at the end of a `with`."""

    def __init__(self, schema: str, folder: str | Path | None = None):
        self._dir, self._db = _scratch_db(schema, folder)

    @property
    def db(self) -> sqlite3.Connection:
        return self._db


class Groups(_Scratch):
    """`with Groups() as groups: groups.add(key, members) ... for key, rows in groups.items()`.

    Up to `held` members without payloads are grouped in memory, and the scratch database
    takes them all once there are more (or a payload comes): an enrich job groups a few
    hundred thousand (entity, model) pairs at 100 000 models, and each cost SQLite ~1.5 us
    to insert, several times what a dict takes."""

    def __init__(self, folder: str | Path | None = None, held: int = _HELD_MEMBERS):
        self._dir, self._db = _scratch_db(
            "CREATE TABLE rows (key TEXT, member TEXT, payload TEXT,"
            " PRIMARY KEY (key, member)) WITHOUT ROWID;",
            folder,
        )
        self._pending: list[tuple[str, str, str | None]] = []
        # key -> members (repeats included), until spilled (None); the members held
        self._held: dict[str, list] | None = {} if held > 0 else None
        self._held_count, self._held_max = 0, held

    def add(self, key: str, members: Iterable = (), payloads: Iterable | None = None) -> None:
        """The key (even with no members), its members and, optionally, one payload each."""
        if payloads is None and self._held is not None:
            kept = self._held.setdefault(key, [])
            before = len(kept)
            kept.extend(members)
            self._count_held(len(kept) - before)
            return
        self._spill()
        if payloads is None:
            rows = [(key, member, None) for member in members]
        else:
            rows = [
                (key, member, dumps_record(payload))
                for member, payload in zip(members, payloads, strict=True)
            ]
        self._pending += rows or [(key, _PRESENT, None)]  # a key with members needs no mark
        if len(self._pending) >= _BATCH:
            self._flush()

    def add_pairs(self, pairs: Iterable[tuple[str, str]]) -> None:
        """add of many `(key, member)` pairs, without a call each (an enrich job adds a few
        hundred thousand)."""
        pairs = iter(pairs)
        while batch := list(islice(pairs, _BATCH)):
            if self._held is None:
                self._pending += [(key, member, None) for key, member in batch]
                self._flush()
                continue
            held = self._held
            for key, member in batch:
                if (kept := held.get(key)) is None:
                    held[key] = [member]
                else:
                    kept.append(member)
            self._count_held(len(batch))

    def _count_held(self, added: int) -> None:
        self._held_count += added
        if self._held_count > self._held_max:
            self._spill()

    def _spill(self) -> None:
        """The members held, into the database (from then on, all go there)."""
        if self._held is None:
            return
        held, self._held = self._held, None
        self.add_pairs((key, member) for key, members in held.items() for member in members)
        for key in [key for key, members in held.items() if not members]:
            self.add(key)

    def _flush(self) -> None:
        self._db.executemany("INSERT OR IGNORE INTO rows VALUES (?, ?, ?)", self._pending)
        self._pending = []

    def __contains__(self, key: str) -> bool:
        if self._held is not None:
            return key in self._held
        if self._pending:  # a lookup per model read (enrich_base_models): no empty flushes
            self._flush()
        query = "SELECT 1 FROM rows WHERE key = ? LIMIT 1"
        return self._db.execute(query, (key,)).fetchone() is not None

    def present(self, keys: list[str]) -> set[str]:
        """Those of `keys` the groups hold: one query for many keys (at most _BATCH_KEYS), where
        `in` is one a key."""
        if self._held is not None:
            return {key for key in keys if key in self._held}
        self._flush()
        marks = ", ".join("?" * len(keys))
        query = f"SELECT DISTINCT key FROM rows WHERE key IN ({marks})"
        return {key for (key,) in self._db.execute(query, keys)}

    def __len__(self) -> int:
        if self._held is not None:
            return len(self._held)
        self._flush()
        return self._db.execute("SELECT count(DISTINCT key) FROM rows").fetchone()[0]

    def items(self) -> Iterator[tuple[str, list[tuple[str, object]]]]:
        """`(key, [(member, payload), ...])` by key, members sorted, payloads decoded."""
        if self._held is not None:
            for key, members in self.members():
                yield key, [(member, None) for member in members]
            return
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
        """`(key, sorted members)` by key. Python's order of strings (by code point) is
        SQLite's (by their UTF-8 bytes)."""
        if self._held is not None:
            held = self._held
            for key in sorted(held):
                yield key, sorted(set(held[key]))
            return
        for key, rows in self.items():
            yield key, [member for member, _ in rows]


def count_distinct(values: Iterable[str], held: int = _HELD_DISTINCT) -> int:
    """How many distinct strings: up to `held` of them counted in a set, past that on disk (an
    entity kind can have a million ids): one column, batches handed to SQLite as they come (a
    Groups row a value cost the summary twice the CPU of reading the mappings). Most kinds
    (licences, languages, tasks) have a few hundred ids for any N, and a scratch database
    each cost the summary more than reading its mapping."""
    values = iter(values)
    seen: set[str] = set()
    # a batch at a time into the set: a test of its size after each value cost the summary's
    # eight mappings of 100 000 models 0.15 s of CPU
    while len(seen) <= held:
        if not (batch := list(islice(values, _BATCH))):
            return len(seen)
        seen.update(batch)
    with ScratchDB("CREATE TABLE seen (value TEXT PRIMARY KEY) WITHOUT ROWID;") as scratch:
        insert = "INSERT OR IGNORE INTO seen VALUES (?)"
        scratch.db.executemany(insert, zip(seen))
        del seen
        while batch := list(islice(values, _BATCH)):
            scratch.db.executemany(insert, zip(batch))
        return scratch.db.execute("SELECT count(*) FROM seen").fetchone()[0]


class Table(Groups):
    """`{(key, member): payload}` on disk where the last payload put wins (as `dict[k] = v`)."""

    _pending_bytes = 0

    def __init__(self, folder: str | Path | None = None):
        super().__init__(folder, held=0)  # payloads: on disk from the first

    def put(self, key: str, member: str, payload) -> None:
        self.put_text(key, member, dumps_record(payload))

    def put_text(self, key: str, member: str, text: str) -> None:
        """put of a payload given as its JSON text."""
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
        if self._pending:
            self._flush()
        row = self._db.execute(
            "SELECT payload FROM rows WHERE key = ? ORDER BY member LIMIT 1", (key,)
        ).fetchone()
        return None if row is None else json.loads(row[0])


class KeyedRows(_Scratch):
    """`add(key, *texts)`, then `by_key()`: `(key, [texts of each add])` sorted by key, adds of
    one key in their order (or in the order of the `seq` each add was given). For a job that
    builds each key's value whole and must write them sorted by key: identify keeps a row a
    model (a row a member, in Groups, made its warm pass of 100 000 models take 30 % more CPU)."""

    def __init__(self, columns: int, folder: str | Path | None = None):
        self.columns = columns
        names = ", ".join(f"c{i} TEXT" for i in range(columns))
        self._dir, self._db = _scratch_db(
            # appended, sorted once when read (SQLite's sorter spills to disk as the index
            # did): a key index kept in order through 100 000 adds cost 40 % more CPU
            f"CREATE TABLE rows (key TEXT, seq INTEGER, {names});",
            folder,
        )
        self._insert = f"INSERT INTO rows VALUES (?, ?{', ?' * columns})"
        self._pending: list[tuple] = []
        self._pending_bytes = self._adds = 0

    def add(self, key: str, *texts: str, seq: int | None = None) -> None:
        """`seq`: where the add comes among its key's (by default, after the earlier ones); for
        rows added out of order, such as answers coming back from workers."""
        self._adds += 1
        self._pending.append((key, self._adds if seq is None else seq, *texts))
        self._pending_bytes += sum(map(len, texts))
        if len(self._pending) >= _BATCH or self._pending_bytes >= _BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        self._db.executemany(self._insert, self._pending)
        self._pending = []
        self._pending_bytes = 0

    def by_key(self) -> Iterator[tuple[str, list[tuple[str, ...]]]]:
        self._flush()
        rows = self._db.execute("SELECT * FROM rows ORDER BY key, seq")
        for key, group in groupby(rows, key=lambda row: row[0]):
            yield key, [row[2:] for row in group]


class DiskMap(_Scratch):
    """`DiskMap(pairs)`: `[]`, `get`, `in`, `len`, `items`, `values` like a dict, kept on disk
    (the normalize stage's per-model lookups: as dicts they grow with the number of models).

    `convert` turns a stored value into what callers get (applied on each read). With `memo`,
    the values of that many recently read keys are kept decoded: for maps a few of whose keys
    are asked again and again (a licence or a language is named by thousands of models). Such
    values are shared between callers, who must not change them. With `encoded`, the pairs'
    values are their JSON texts already, stored as they are.
    """

    def __init__(self, pairs: Iterable[tuple[str, object]], convert: Callable = lambda v: v,
                 memo: int = 0, encoded: bool = False):  # fmt: skip
        self._dir, self._db = _scratch_db(
            "CREATE TABLE map (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
        )
        self._convert = convert
        self._read = lru_cache(maxsize=memo)(self._read_row) if memo else self._read_row
        batch: list[tuple[str, str]] = []
        for key, value in pairs:
            batch.append((key, value if encoded else dumps_record(value)))
            if len(batch) >= _BATCH:
                self._insert(batch)
                batch = []
        self._insert(batch)

    def _insert(self, rows: list[tuple[str, str]]) -> None:
        self._db.executemany("INSERT OR REPLACE INTO map VALUES (?, ?)", rows)

    def _read_row(self, key: str):
        row = self._db.execute("SELECT value FROM map WHERE key = ?", (key,)).fetchone()
        return _MISSING if row is None else self._convert(json.loads(row[0]))

    def get(self, key: str, default=None):
        value = self._read(key)
        return default if value is _MISSING else value

    def text(self, key: str) -> str | None:
        """The stored JSON text of a key's value (not decoded, not converted), or None."""
        row = self._db.execute("SELECT value FROM map WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def __getitem__(self, key: str):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM map WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM map").fetchone()[0]

    def __bool__(self) -> bool:  # `map or {}` must not count a million rows per lookup
        return self._db.execute("SELECT 1 FROM map LIMIT 1").fetchone() is not None

    def items(self) -> Iterator[tuple[str, object]]:
        for key, value in self._db.execute("SELECT key, value FROM map ORDER BY key"):
            yield key, self._convert(json.loads(value))

    def values(self) -> Iterator[object]:
        return (value for _, value in self.items())
