"""Identify stage glue: the models streamed one by one, each model's answers reused across runs
when what identification reads of it did not change, the mappings written entry by entry.

One pass over the models in the job's process looks each record up once for every kind; only
the records with a kind missing are identified (their card read once, the kinds' shared scan of
its text done once), the first few here and the rest of a cold or large run in the job's
threads' worker processes. A warm run's pass starts no worker.

The reuse cache is one SQLite file, `rows.sqlite`, under `<data_root>/cache/identify/<endpoint
hash>/` (`ENDPOINT` beside it names the endpoint, as the README cache does): `{digest: {kind:
row texts}}`, the digest covering the record fields the identifiers read and the identify code
itself (the cached form too: identify/rows.py), so a new identifier version or an edited card is
a miss. The texts are what the files hold, so a hit is written without decoding and encoding
its answers again (checked as they are put, checksummed: stages/row_entries.py). One file
rather than a file per model: 1.5 million models would be as many small files. Like the README
cache it is an optimisation: one that cannot be opened or written is a warning, not a failure.
(`ResultCache` also keeps, by kind, what add_ancestor_models reuses.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path

from ..cards import CardStore, store_from, with_text
from ..errors import shown
from ..forked import ForkedWindow
from ..identify import KINDS, identifier
from ..identify._fields import model_id
from ..identify.rows import cached_texts, dumps, relations_texts
from ..jsonio import atomic_writer, dumps_record, iter_models, read_key, write_entry_files
from ..progress import CONSOLE
from ..runconfig import cache_endpoint, code_digest, endpoint_key
from ..spill import KeyedRows
from .row_entries import rows_entry, rows_text

log = logging.getLogger(__name__)

# What the identifiers read of a record (hfharvest/identify/_fields.py and the two direct reads).
# The card by its digest (`card_sha256`): a hit never reads the text; `card` for records that
# carry the text inline.
FIELDS = ("modelId", "id", "tags", "cardData", "card", "card_sha256", "library_name",
          "pipeline_tag")  # fmt: skip
IDENTIFIER_CODE = ("identify", "data", "ids.py", "lineage.py")  # what their answers depend on
ROWS = "rows"  # the cache of every kind's row texts, by record
_BATCH = 5_000
# Lookups per read transaction: one transaction per SELECT costs SQLite a lock and a header
# check each time (2.2 times the CPU of 100 000 lookups in one); a bounded one never holds
# off another run's writer for long.
_READS_PER_TRANSACTION = 5_000
# The first this many records with a miss are identified in the job's process: a warm run's
# few changed models cost less here than starting workers; past it (a cold or large run, about
# 0.6 ms of CPU a record) the rest go to worker processes, one a thread of the job.
INLINE_MISSES = 1_000
# The kinds whose every id costs enrich a request (dataset_info, an arXiv batch's share): one card
# naming 100 000 of them would be a day of requests. Real cards name a few, a few hundred at most.
CAPPED_KINDS = ("datasets", "articles")
MAX_ENTITIES_PER_MODEL = 1000  # hf.max_entities_per_model


@cache
def code_version() -> str:
    return code_digest(IDENTIFIER_CODE)[:16]


def record_digest(kind: str, record: dict) -> str:
    return _digest(kind, _fields_bytes(record))


def _fields_bytes(record: dict) -> bytes:
    """What the identifiers read of `record`, serialised once for every kind: marshal's version
    2 (no references: the same bytes for the same values in the same order, each type its own
    code), a third of the CPU of json.dumps(sort_keys) (100 000 records: 0.25 s, not 0.66).
    Fields in another order (a card's keys) only miss."""
    fields = [record.get(key) for key in FIELDS]
    try:
        return marshal.dumps(fields, 2)
    except ValueError:  # a value JSON never gives (a record not read from a file): its text
        return b"\0" + _FIELDS_ENCODER.encode(fields).encode()


# json.dumps(fields, default=str), its encoder made once: json.dumps builds one a call
_FIELDS_ENCODER = json.JSONEncoder(default=str)


def _digest(kind: str, fields: bytes) -> str:
    # kind and version hold no NUL: they and the fields cannot run into each other
    return hashlib.sha256(f"{kind}\0{code_version()}\0".encode() + fields).hexdigest()


def per_model(kind: str, record: dict):
    """What is cached for one record: the ids (datasets: with their sources; base models: the
    links as written, before renames, which depend on the whole run)."""
    if kind == "datasets":
        from ..identify.datasets import dataset_sources

        return dataset_sources(record)
    if kind == "base_models":
        from ..identify.base_models import written_links

        return written_links(record)
    return identifier(kind)(record)


class ResultCache:
    """`{digest: JSON result}` in `<folder>/<endpoint hash>/<kind>.sqlite`; counts hits/misses.
    ROWS holds `{kind: [texts]}` in row_entries' form: only sound texts are put, or read."""

    def __init__(self, folder: str | Path | None, endpoint: str, kind: str):
        self.hits = self.misses = 0
        self._db = None
        self._pending: list[tuple[str, str]] = []
        self._reads = 0
        self._kind = kind
        if folder is not None:
            try:
                self._db = _open(Path(folder), endpoint, kind)
            except (OSError, sqlite3.Error) as err:
                log.warning("identify cache off: %s", err, extra=CONSOLE)

    def get(self, digest: str):
        if self._db is not None:
            try:
                self._in_read_transaction()
                row = self._db.execute("SELECT result FROM results WHERE digest = ?", (digest,))
                found = row.fetchone()
            except sqlite3.Error as err:
                self._off(err)
                found = None
            if found is not None:
                self.hits += 1
                return self._decoded(digest, found[0])
        self.misses += 1
        return None

    def _decoded(self, digest: str, stored):
        if self._kind != ROWS:
            return json.loads(stored)
        found, legacy = rows_entry(stored)
        if legacy and found:  # an earlier release's entry, sound: kept in this form from now
            self.put(digest, found)
        return found

    def _in_read_transaction(self) -> None:
        self._reads += 1
        if self._reads > _READS_PER_TRANSACTION and self._db.in_transaction:
            self._db.commit()
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._reads = 1

    def release(self) -> None:
        """End the read transaction: a job that looks up between long waits (a fetch) must not
        hold off another job's writes meanwhile."""
        if self._db is not None and self._db.in_transaction:
            try:
                self._db.commit()
            except sqlite3.Error as err:
                self._off(err)

    def put(self, digest: str, result) -> None:
        if self._db is None:
            return
        stored = dumps_record(result) if self._kind != ROWS else rows_text(result)
        if stored is not None:
            self._pending.append((digest, stored))
            if len(self._pending) >= _BATCH:
                self.flush()

    def flush(self) -> None:
        if self._db is not None and self._pending:
            try:
                self._db.commit()  # ends the read transaction: a writer never upgrades one
                with self._db:
                    self._db.executemany(
                        "INSERT OR REPLACE INTO results VALUES (?, ?)", self._pending
                    )
            except sqlite3.Error as err:
                self._off(err)
        self._pending = []

    def close(self) -> None:
        self.flush()
        if self._db is not None:
            self._db.close()

    def _off(self, err: Exception) -> None:
        log.warning("identify cache off: %s", err, extra=CONSOLE)
        self._db.close()
        self._db = None


def _open(root: Path, endpoint: str, kind: str) -> sqlite3.Connection:
    """The kind's database, in real folders only: a planted symlink is refused, not followed."""
    key, normalized = endpoint_key(endpoint)
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}.sqlite"
    for part in (root, folder, path):
        if part.is_symlink() or (part.exists() and part != path and not part.is_dir()):
            raise OSError(f"{part} is not a real folder or file of the cache")
    if path.exists() and not path.is_file():
        raise OSError(f"{path} is not a regular file")
    with atomic_writer(folder / "ENDPOINT", fsync=False) as handle:  # replaces, never follows
        handle.write(normalized + "\n")
    db = sqlite3.connect(path, timeout=60)
    db.execute("CREATE TABLE IF NOT EXISTS results (digest TEXT PRIMARY KEY, result TEXT)")
    if kind == ROWS:
        _remove_replaced(folder)
    return db


def _remove_replaced(folder: Path) -> None:
    """The per-kind databases ROWS replaced (1.6 KB a model, never read again): removed."""
    for kind in KINDS:
        for name in (f"{kind}.sqlite", f"{kind}.sqlite-journal"):
            path = folder / name
            if path.is_file() and not path.is_symlink():  # a link is not ours to act on
                path.unlink(missing_ok=True)


class _Misses:
    """Records whose answers some kind's cache did not hold: the first INLINE_MISSES identified
    here, the rest, with more than one worker, in forked worker processes (forked.py)."""

    def __init__(self, cards: CardStore | None, workers: int):
        self._cards, self._workers = cards, workers
        self._inline = 0
        self._window: ForkedWindow | None = None

    def __enter__(self) -> _Misses:
        return self

    def __exit__(self, *exc) -> None:
        if self._window is not None:
            self._window.close()

    def add(self, job, record: dict, missed: list[str]) -> list[tuple]:
        """The job queued; the `(job, answer)` of those done (`identify_missed`'s answers)."""
        if self._window is None and (self._workers < 2 or self._inline < INLINE_MISSES):
            self._inline += 1
            return [(job, identify_missed(record, missed, self._cards))]
        if self._window is None:
            self._window = ForkedWindow(_in_worker, self._workers, _start_worker, (self._cards,))
        return self._window.add(job, (record, missed))

    def rest(self) -> Iterator[tuple]:
        return self._window.rest() if self._window is not None else iter(())


def identify_missed(record: dict, missed: list[str], cards: CardStore | None) -> tuple[dict, bool]:
    """({kind: its cached texts} for the `missed` kinds, whether the card was unreadable)."""
    record, problem = with_text(record, cards)
    model = model_id(record)
    answers = {kind: cached_texts(kind, per_model(kind, record), model) for kind in missed}
    return answers, bool(problem)


_worker_cards: CardStore | None = None  # a worker's card store, set as it starts


def _start_worker(cards: CardStore | None) -> None:
    global _worker_cards
    _worker_cards = cards


def _in_worker(record: dict, missed: list[str]) -> tuple[dict, bool]:
    return identify_missed(record, missed, _worker_cards)


# a row's texts joined into one column of the sorted rows (a column each cost SQLite a tenth of
# a warm pass): JSON texts never hold a raw tab
_SEP = "\t"
_EXTRAS = ("sources", "relations")  # a kind's file of payloads beside its mapping


class _Pass:
    """One pass over the models: each record's answers from the cache or identified, its row
    added (`seq`: its place in the file, as answers from workers come back in any order)."""

    def __init__(self, outputs: dict, rows: KeyedRows, cache: ResultCache, renamed: dict,
                 cap: int | None):  # fmt: skip
        self.outputs, self.rows, self.cache, self.renamed, self.cap = (
            outputs, rows, cache, renamed, cap
        )  # fmt: skip
        self.kinds = list(outputs)
        self.files = _files(outputs)
        self.widths = {kind: sum(k == kind for k, _ in self.files) for kind in self.kinds}
        self.cached = {kind: _CACHED_WIDTHS.get(kind, 1) for kind in self.kinds}
        self.tally = {kind: dict.fromkeys(_COUNTS, 0) for kind in self.kinds}
        self.looked_up = 0

    def look_up(self, record: dict) -> tuple[str, dict, list[str]]:
        """(digest, {kind: texts} the cache holds, the kinds it does not)."""
        digest, found, missed = _looked_up(self.cache, record, self.cached)
        self.looked_up += 1
        for kind in missed:
            self.tally[kind]["cache_misses"] += 1
        return digest, found, missed

    def answered(self, job: tuple, answer: tuple[dict, bool]) -> None:
        """A missed record's answers: cached unless the card was unreadable, and its row added."""
        (seq, model, digest, found), (identified, unreadable) = job, answer
        if unreadable:  # each named in a warning; an answer without the card must not be kept
            for kind in identified:
                self.tally[kind]["cards_unreadable"] += 1
        else:
            self.cache.put(digest, found | identified)
        self.add(seq, model, found | identified)

    def add(self, seq: int, model: str, texts: dict) -> None:
        row: list[str] = []
        for kind in self.kinds:
            if kind == "base_models":
                found = relations_texts(model, texts[kind], self.renamed)
            elif kind in CAPPED_KINDS and self.cap is not None:
                found = self._capped(kind, model, texts[kind])
            else:
                found = texts[kind]
            row += found[: self.widths[kind]]
        self.rows.add(model, _SEP.join(row), seq=seq)

    def _capped(self, kind: str, model: str, texts: list[str]) -> list[str]:
        """At most `cap` ids (each one a request to enrich), with a warning."""
        # n ids are written with n - 1 commas: fewer commas need no parse
        if texts[0].count(",") < self.cap or len(ids := json.loads(texts[0])) <= self.cap:
            return texts
        log.warning("%s: %d %s named, the first %d kept (hf.max_entities_per_model)",
                    model, len(ids), kind, self.cap)  # fmt: skip
        self.tally[kind]["models_capped"] += 1
        ids = ids[: self.cap]
        kept = [dumps(ids)]
        if len(texts) > 1:
            payloads = json.loads(texts[1])
            kept.append(dumps({i: payloads[i] for i in ids}))
        return kept

    def write(self) -> dict:
        """Each kind's files, in one pass over the rows, and the counts it logs."""
        paths = [self.outputs[kind][name] for kind, name in self.files]
        payloads = [name != "mapping" for _, name in self.files]
        models = write_entry_files(paths, _merged(self.rows, payloads))
        counts = {}
        for kind in self.kinds:
            self.tally[kind]["cache_hits"] = self.looked_up - self.tally[kind]["cache_misses"]
            tally = {key: n for key, n in self.tally[kind].items() if n or key.startswith("cache")}
            counts[kind] = {"models": models} | tally
            log.info("identify %s: %s", kind, counts[kind])
        return counts


def _looked_up(cache: ResultCache, record: dict,
               widths: dict[str, int]) -> tuple[str, dict, list[str]]:  # fmt: skip
    """(digest, {kind: texts} the cache holds, the kinds of `widths` it does not)."""
    digest = _digest(ROWS, _fields_bytes(record))
    found = cache.get(digest) or {}  # its texts sound (row_entries), or none
    # a kind whose entry is not the list of texts cached_texts gives is a miss
    missed = [
        kind
        for kind, width in widths.items()
        if type(texts := found.get(kind)) is not list or len(texts) != width
    ]
    return digest, found, missed


def _files(outputs: dict) -> list[tuple[str, str]]:
    """A row's texts: each kind's ids, then its payloads when it has an extra file."""
    return [
        (kind, name)
        for kind in outputs
        for name in ("mapping", *(extra for extra in _EXTRAS if extra in outputs[kind]))
    ]


_COUNTS = ("cache_hits", "cache_misses", "cards_unreadable", "models_capped")
_CACHED_WIDTHS = {"datasets": 2, "base_models": 3}  # texts cached_texts gives (others: 1)


def identify_run(
    outputs: dict[str, dict[str, str]],
    models_path: str,
    cache: ResultCache,
    cards: CardStore | None = None,
    max_per_model: int | None = None,
    workers: int = 1,
) -> dict:
    """Identify each kind of `outputs` ({kind: {"mapping": path}, with `sources` for datasets
    and `relations` for base models}) in every model of the artifact, in one pass, and write
    its files. Records the cache (`ResultCache` of ROWS) does not answer for every kind are
    identified, their cards read from `cards`, in `workers` processes past the first
    INLINE_MISSES. Returns {kind: the counts it logged}. A model's datasets and articles beyond
    `max_per_model` (each one a request to enrich) are cut, with a warning."""
    kinds = list(outputs)
    renamed = (read_key(models_path, "renamed", {}) or {}) if "base_models" in kinds else {}
    with KeyedRows(1) as rows, _Misses(cards, workers) as misses:
        run = _Pass(outputs, rows, cache, renamed, max_per_model)
        for seq, record in enumerate(iter_models(models_path)):
            if (model := model_id(record)) is None:
                continue
            digest, found, missed = run.look_up(record)
            if not missed:
                run.add(seq, model, found)
                continue
            for job, answer in misses.add((seq, model, digest, found), record, missed):
                run.answered(job, answer)
        for job, answer in misses.rest():
            run.answered(job, answer)
        cache.close()
        return run.write()


def _merged(rows: KeyedRows, payloads: list[bool]) -> Iterator[tuple[str, Sequence[str]]]:
    """Each model's row, by model id. A model listed twice gets the union of its rows' ids, the
    first payload of an id winning (`payloads`: which texts are payloads)."""
    for model, added in rows.by_key():
        if len(added) == 1:
            yield model, added[0][0].split(_SEP)
        else:
            rows = [row.split(_SEP) for (row,) in added]
            yield model, [_union([texts[i] for texts in rows], p) for i, p in enumerate(payloads)]


def _union(texts: list[str], payloads: bool) -> str:
    merged: dict = {}
    for text in texts:
        found = json.loads(text)
        for entity in found:
            merged.setdefault(entity, found[entity] if payloads else None)
    ids = sorted(merged)
    return dumps({i: merged[i] for i in ids} if payloads else ids)


def identify_all(outputs: dict[str, dict[str, str]], models_path: str, config: dict,
                 threads: int = 1) -> dict:  # fmt: skip
    """Every kind of `outputs`, with the run's cache and card store; the records the cache does
    not answer identified in `threads` worker processes past the first INLINE_MISSES (forked:
    Linux only, see forked.py)."""
    cap = config["hf"].get("max_entities_per_model", MAX_ENTITIES_PER_MODEL)
    workers = threads if sys.platform == "linux" else 1
    cache = cache_from(config, ROWS)
    return identify_run(outputs, models_path, cache, store_from(config), cap, workers)


def identify_ahead(outcomes: Iterable[tuple], config: dict,
                   limit: int | None = None) -> Iterator[tuple]:  # fmt: skip
    """The (record, failure) outcomes as they come; on the way, the answers of every kind for
    the first `limit` records (INLINE_MISSES) put in the run's identify cache, unless it holds
    them, as the identify job would (`hf.cache: false`: nothing).

    A by-id fetch mostly waits on the Hub: identified there, between its answers, the models
    are hits when the identify job reads them, which then loads no identifier (a 35-id run's
    identify job: 0.35 -> 0.1 s of CPU, on the run's critical path). What it reads is the record
    as the file will hold it (a JSON round trip), so a record the later stages change in what
    the identifiers read is a miss there, identified again, never a stale hit."""
    if not config["hf"]["cache"]:
        yield from outcomes
        return
    limit = INLINE_MISSES if limit is None else limit
    widths = {kind: _CACHED_WIDTHS.get(kind, 1) for kind in KINDS}
    cache, cards = cache_from(config, ROWS), store_from(config)
    try:
        for record, failure in outcomes:
            if record is not None and limit > 0:
                limit -= 1
                _put_ahead(json.loads(json.dumps(record, ensure_ascii=False)), cache, cards,
                           widths)  # fmt: skip
            yield record, failure
    finally:
        cache.close()


def _put_ahead(record: dict, cache: ResultCache, cards: CardStore, widths: dict) -> None:
    if model_id(record) is None:
        return
    digest, found, missed = _looked_up(cache, record, widths)
    cache.release()  # the next lookup comes after the Hub's next answer
    if not missed:
        return
    try:
        identified, unreadable = identify_missed(record, missed, cards)
    except Exception as err:  # noqa: BLE001 - the identify job meets it again, and says so
        log.warning("%s: not identified ahead (%s: %s)", model_id(record), type(err).__name__,
                    shown(str(err)))  # fmt: skip
        return
    if not unreadable:  # as _Pass.answered: an answer without the card is not kept
        cache.put(digest, found | identified)


def kind_outputs(named: dict[str, str], kinds: list[str]) -> dict[str, dict[str, str]]:
    """The rule's named outputs (`<kind>`, `dataset_sources`, `base_model_relations`) by kind."""
    extras = {"datasets": ("sources", "dataset_sources"),
              "base_models": ("relations", "base_model_relations")}  # fmt: skip
    outputs = {kind: {"mapping": named[kind]} for kind in kinds}
    for kind, (key, name) in extras.items():
        if kind in outputs and name in named:
            outputs[kind][key] = named[name]
    return outputs


def cache_from(config: dict, kind: str) -> ResultCache:
    """The run's identify cache (none with `hf.cache: false`), keyed by the cache endpoint."""
    folder = f"{config['data_root']}/cache/identify" if config["hf"]["cache"] else None
    return ResultCache(folder, cache_endpoint(config), kind)
