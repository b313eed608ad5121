"""Identify stage glue: the models streamed one by one, each model's result reused across runs
when what identification reads of it did not change, the mappings written entry by entry.

The reuse cache is one SQLite file per kind under `<data_root>/cache/identify/<endpoint hash>/`
(`ENDPOINT` beside it names the endpoint, as the README cache does): `{digest: result}`, the
digest covering the record fields the identifiers read and the identify code itself, so a new
identifier version or an edited card is a miss. One file per kind rather than a file per model:
1.5 million models times eight kinds would be twelve million small files. Like the README
cache it is an optimisation: one that cannot be opened or written is a warning, not a failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from functools import cache
from pathlib import Path

from ..cards import CardStore, with_text
from ..identify import identifier
from ..identify._fields import model_id
from ..jsonio import atomic_writer, iter_models, read_key, write_entries
from ..progress import CONSOLE
from ..runconfig import cache_endpoint, endpoint_key, folder_digest
from ..spill import Groups

log = logging.getLogger(__name__)

# What the identifiers read of a record (hfharvest/identify/_fields.py and the two direct reads).
# The card by its digest (`card_sha256`): a hit never reads the text; `card` for records that
# carry the text inline.
FIELDS = ("modelId", "id", "tags", "cardData", "card", "card_sha256", "library_name",
          "pipeline_tag")  # fmt: skip
_PACKAGE = Path(__file__).parent.parent
_CODE = ("identify", "data", "ids.py", "lineage.py")  # what the identifiers' answers depend on
_BATCH = 5_000


@cache
def code_version() -> str:
    digest = hashlib.sha256()
    for name in _CODE:
        path = _PACKAGE / name
        if path.is_dir():
            digest.update(folder_digest(path).encode())
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def record_digest(kind: str, record: dict) -> str:
    fields = {key: record.get(key) for key in FIELDS}
    text = json.dumps([kind, code_version(), fields], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


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
    """`{digest: JSON result}` in `<folder>/<endpoint hash>/<kind>.sqlite`; counts hits/misses."""

    def __init__(self, folder: str | Path | None, endpoint: str, kind: str):
        self.hits = self.misses = 0
        self._db = None
        self._pending: list[tuple[str, str]] = []
        if folder is not None:
            try:
                self._db = _open(Path(folder), endpoint, kind)
            except (OSError, sqlite3.Error) as err:
                log.warning("identify cache off: %s", err, extra=CONSOLE)

    def get(self, digest: str):
        if self._db is not None:
            try:
                row = self._db.execute("SELECT result FROM results WHERE digest = ?", (digest,))
                found = row.fetchone()
            except sqlite3.Error as err:
                self._off(err)
                found = None
            if found is not None:
                self.hits += 1
                return json.loads(found[0])
        self.misses += 1
        return None

    def put(self, digest: str, result) -> None:
        if self._db is not None:
            self._pending.append((digest, json.dumps(result, ensure_ascii=False)))
            if len(self._pending) >= _BATCH:
                self.flush()

    def flush(self) -> None:
        if self._db is not None and self._pending:
            try:
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
    return db


def identify_run(kind: str, models_path: str, outputs: dict[str, str], cache: ResultCache,
                 cards: CardStore | None = None) -> dict:  # fmt: skip
    """Identify `kind` in every model of the artifact and write `outputs` (`mapping`, and
    `sources` for datasets, `relations` for base models). Card texts come from `cards` (only
    for models the cache does not hold). Returns the counts it logged."""
    renamed = (read_key(models_path, "renamed", {}) or {}) if kind == "base_models" else {}
    unreadable = 0
    with Groups() as groups:
        for record in iter_models(models_path):
            if (model := model_id(record)) is None:
                continue
            digest = record_digest(kind, record)
            result = cache.get(digest)
            if result is None:
                record, problem = with_text(record, cards)
                result = per_model(kind, record)
                if problem is None:  # an answer without the card must not outlive the run
                    cache.put(digest, result)
                else:
                    unreadable += 1
            if kind == "base_models":
                from ..identify.base_models import relations_from_links

                result = relations_from_links(model, result, renamed)
            if isinstance(result, dict):
                groups.add(model, result.keys(), result.values())
            else:
                groups.add(model, result)
        cache.close()
        counts = {"models": write_entries(outputs["mapping"], groups.members())}
        if "sources" in outputs:
            write_entries(outputs["sources"], _payloads(groups))
        if "relations" in outputs:
            write_entries(outputs["relations"], _payloads(groups))
    counts |= {"cache_hits": cache.hits, "cache_misses": cache.misses}
    if unreadable:  # each named in a warning above; identified from the metadata only
        counts["cards_unreadable"] = unreadable
    log.info("identify %s: %s", kind, counts)
    return counts


def _payloads(groups: Groups):
    for key, rows in groups.items():
        yield key, dict(rows)


def cache_from(config: dict, kind: str) -> ResultCache:
    """The run's identify cache (none with `hf.cache: false`), keyed by the cache endpoint."""
    folder = f"{config['data_root']}/cache/identify" if config["hf"]["cache"] else None
    return ResultCache(folder, cache_endpoint(config), kind)
