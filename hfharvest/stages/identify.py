"""Identify stage glue: the models streamed one by one, each model's result reused across runs
when what identification reads of it did not change, the mappings written entry by entry.

One pass over the models serves every kind it is given: the record is parsed, its digest's
fields serialised and its card read (on a miss) once, not once per kind. A large run with
several threads splits the kinds over worker processes, one pass each (`identify_in_workers`).

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
import multiprocessing
import sqlite3
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from functools import cache
from pathlib import Path

from ..cards import CardStore, store_from, with_text
from ..identify import identifier
from ..identify._fields import model_id
from ..joblog import count_worker_peak, own_peak_rss_kib, own_rss_kib
from ..jsonio import atomic_writer, iter_models, read_counts, read_key, write_entries
from ..progress import CONSOLE
from ..runconfig import cache_endpoint, code_digest, endpoint_key
from ..spill import KeyedRows

log = logging.getLogger(__name__)

# What the identifiers read of a record (hfharvest/identify/_fields.py and the two direct reads).
# The card by its digest (`card_sha256`): a hit never reads the text; `card` for records that
# carry the text inline.
FIELDS = ("modelId", "id", "tags", "cardData", "card", "card_sha256", "library_name",
          "pipeline_tag")  # fmt: skip
IDENTIFIER_CODE = ("identify", "data", "ids.py", "lineage.py")  # what their answers depend on
_BATCH = 5_000
# Lookups per read transaction: one transaction per SELECT costs SQLite a lock and a header
# check each time (2.2 times the CPU of 100 000 lookups in one); a bounded one never holds
# off another run's writer for long.
_READS_PER_TRANSACTION = 5_000
# Below this many models one pass does every kind: a pass this small takes a second or two, and
# a worker each for a few kinds would save less than it costs to start and wait for.
PARALLEL_MIN_MODELS = 5_000
# The kinds whose every id costs enrich a request (dataset_info, an arXiv batch's share): one card
# naming 100 000 of them would be a day of requests. Real cards name a few, a few hundred at most.
CAPPED_KINDS = ("datasets", "articles")
MAX_ENTITIES_PER_MODEL = 1000  # hf.max_entities_per_model
# Kinds one worker keeps together: keywords asks which base models a card's text states (to
# leave them out), and in one pass the text is scanned once for both (card_text's cache).
SHARED = ("base_models", "keywords")
# CPU seconds of each unit alone, cold, on a hub-scale run of 20 000 models (2026-11-30; the
# other kinds cost about 1.2 s): the weights that balance the workers.
UNIT_COST = {SHARED: 19.6, ("articles",): 9.0, ("datasets",): 3.1}
OTHER_COST = 1.2


@cache
def code_version() -> str:
    return code_digest(IDENTIFIER_CODE)[:16]


def record_digest(kind: str, record: dict) -> str:
    return _digest(kind, _fields_json(record))


def _fields_json(record: dict) -> str:
    fields = {key: record.get(key) for key in FIELDS}
    return json.dumps(fields, sort_keys=True, default=str)


def _digest(kind: str, fields_json: str) -> str:
    # the text json.dumps([kind, code_version(), fields], sort_keys=True) gives, with the
    # fields serialised once for every kind (kind and version need no escaping)
    text = f'["{kind}", "{code_version()}", {fields_json}]'
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
        self._reads = 0
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
                return json.loads(found[0])
        self.misses += 1
        return None

    def _in_read_transaction(self) -> None:
        self._reads += 1
        if self._reads > _READS_PER_TRANSACTION and self._db.in_transaction:
            self._db.commit()
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._reads = 1

    def put(self, digest: str, result) -> None:
        if self._db is not None:
            self._pending.append((digest, json.dumps(result, ensure_ascii=False)))
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
    return db


def identify_run(
    outputs: dict[str, dict[str, str]],
    models_path: str,
    caches: dict[str, ResultCache],
    cards: CardStore | None = None,
    max_per_model: int | None = None,
) -> dict:
    """Identify each kind of `outputs` ({kind: {"mapping": path}, with `sources` for datasets
    and `relations` for base models}) in every model of the artifact, in one pass, and write
    its files. Card texts come from `cards`, only for models some kind's cache does not hold.
    Returns {kind: the counts it logged}. A model's datasets and articles beyond `max_per_model`
    (each one a request to enrich) are cut, with a warning."""
    kinds = list(outputs)
    renamed = (read_key(models_path, "renamed", {}) or {}) if "base_models" in kinds else {}
    unreadable, capped = dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0)
    with ExitStack() as stack:
        rows = {kind: stack.enter_context(KeyedRows(_columns(outputs[kind]))) for kind in kinds}
        for record in iter_models(models_path):
            if (model := model_id(record)) is None:
                continue
            fields_json = _fields_json(record)
            results, missed = {}, []
            for kind in kinds:
                digest = _digest(kind, fields_json)
                results[kind] = caches[kind].get(digest)
                if results[kind] is None:
                    missed.append((kind, digest))
            if missed:
                record, problem = with_text(record, cards)
                for kind, digest in missed:
                    results[kind] = per_model(kind, record)
                    if problem is None:  # an answer without the card must not outlive the run
                        caches[kind].put(digest, results[kind])
                    else:
                        unreadable[kind] += 1
            for kind in kinds:
                cap = max_per_model if kind in CAPPED_KINDS else None
                capped[kind] += _add(rows[kind], kind, model, results[kind], renamed, cap)
        return {
            kind: _write(kind, rows[kind], outputs[kind], caches[kind], unreadable[kind])
            | ({"models_capped": capped[kind]} if capped[kind] else {})
            for kind in kinds
        }


_EXTRAS = ("sources", "relations")  # a kind's file of payloads beside its mapping


def _columns(outputs: dict) -> int:
    """A row's texts: the sorted ids, and their payloads when the kind has an extra file."""
    return 2 if any(extra in outputs for extra in _EXTRAS) else 1


def _add(rows: KeyedRows, kind: str, model: str, result, renamed: dict,
         cap: int | None = None) -> bool:  # fmt: skip
    """The model's row: its ids sorted and distinct (and each id's payload), as JSON texts,
    at most `cap` of them; whether some were cut."""
    if kind == "base_models":
        from ..identify.base_models import relations_from_links

        result = relations_from_links(model, result, renamed)
    payloads = result if isinstance(result, dict) else dict.fromkeys(result)
    ids = sorted(payloads)
    cut = cap is not None and len(ids) > cap
    if cut:
        log.warning("%s: %d %s named, the first %d kept (hf.max_entities_per_model)",
                    model, len(ids), kind, cap)  # fmt: skip
        ids = ids[:cap]
    if rows.columns == 1:
        rows.add(model, _json(ids))
    else:
        rows.add(model, _json(ids), _json({i: payloads[i] for i in ids}))
    return cut


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _write(kind: str, rows: KeyedRows, outputs: dict, cache: ResultCache, unreadable: int) -> dict:
    cache.close()
    counts = {"models": write_entries(outputs["mapping"], _texts(rows, 0), encoded=True)}
    for extra in _EXTRAS:
        if extra in outputs:
            write_entries(outputs[extra], _texts(rows, 1), encoded=True)
    counts |= {"cache_hits": cache.hits, "cache_misses": cache.misses}
    if unreadable:  # each named in a warning above; identified from the metadata only
        counts["cards_unreadable"] = unreadable
    log.info("identify %s: %s", kind, counts)
    return counts


def _texts(rows: KeyedRows, column: int) -> Iterator[tuple[str, str]]:
    """Each model's JSON text of `column` (0: ids, 1: payloads), by model id. A model listed
    twice gets the union of its rows, the first payload of an id winning."""
    for model, added in rows.by_key():
        if len(added) == 1:
            yield model, added[0][column]
            continue
        merged: dict = {}
        for texts in added:
            found = json.loads(texts[column])
            for entity in found:
                merged.setdefault(entity, found[entity] if column else None)
        ids = sorted(merged)
        yield model, _json(ids if column == 0 else {i: merged[i] for i in ids})


def identify_all(outputs: dict[str, dict[str, str]], models_path: str, config: dict,
                 threads: int = 1) -> dict:  # fmt: skip
    """Every kind of `outputs`, with the run's caches and card store: one pass in this process,
    or, for a large run given threads, one pass per group of kinds in `threads` workers."""
    models = (read_counts(models_path) or {}).get("models", 0)
    parallel = threads > 1 and models >= PARALLEL_MIN_MODELS and sys.platform == "linux"
    groups = kind_groups(list(outputs), threads if parallel else 1)
    if len(groups) == 1:
        return _pass(outputs, models_path, config)
    return identify_in_workers(groups, outputs, models_path, config)


def kind_groups(kinds: list[str], workers: int) -> list[list[str]]:
    """The kinds in at most `workers` groups of near-equal cost: each unit (SHARED, or one
    kind), by falling cost, to the cheapest group so far (longest processing time first)."""
    units = [SHARED] if set(SHARED) <= set(kinds) else []
    units += [(kind,) for kind in kinds if not any(kind in unit for unit in units)]
    units.sort(key=lambda unit: -UNIT_COST.get(unit, OTHER_COST))
    groups: list[list[str]] = [[] for _ in range(max(1, min(workers, len(units))))]
    costs = [0.0] * len(groups)
    for unit in units:
        cheapest = costs.index(min(costs))
        groups[cheapest] += unit
        costs[cheapest] += UNIT_COST.get(unit, OTHER_COST)
    return groups


def identify_in_workers(groups: list[list[str]], outputs: dict, models_path: str,
                        config: dict) -> dict:  # fmt: skip
    """One worker process per group. Forked (Linux only, see identify_all): a spawned one would
    run the job's script again, Snakemake's `__main__`. A worker inherits the job's log, and
    its peak RSS beyond what it shared with the job at the fork adds to the job's (joblog)."""
    context = multiprocessing.get_context("fork")
    shared_kib = own_rss_kib()
    counts: dict[str, dict] = {}
    with ProcessPoolExecutor(len(groups), mp_context=context) as pool:
        jobs = [
            pool.submit(_worker_pass, {kind: outputs[kind] for kind in group}, models_path, config)
            for group in groups
        ]
        for job in jobs:
            found, peak_kib = job.result()
            counts |= found
            count_worker_peak(max(0, peak_kib - shared_kib))
    return counts


def _worker_pass(outputs: dict, models_path: str, config: dict):
    return _pass(outputs, models_path, config), own_peak_rss_kib()


def _pass(outputs: dict, models_path: str, config: dict) -> dict:
    caches = {kind: cache_from(config, kind) for kind in outputs}
    cap = config["hf"].get("max_entities_per_model", MAX_ENTITIES_PER_MODEL)
    return identify_run(outputs, models_path, caches, store_from(config), cap)


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
