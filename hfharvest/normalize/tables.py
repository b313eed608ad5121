"""The run as Parquet tables, written in record batches (never a whole-run frame in memory).

Keys are stable across runs: `model_id` (the Hub id) for models, `entity_id` (the UUIDv5 of kind
and id, hfharvest/entities.py) for entities; every row carries `run_id`, so one database can
hold several runs. README.md ("Tables") documents every column.
"""

from __future__ import annotations

import json
import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

# pyarrow's default pool (mimalloc) keeps what the batches freed; malloc, which jobs keep
# returning large blocks (joblog.fix_mmap_threshold), made normalize_tables' peak 20 MB lower at
# 100 000 models for the same CPU. Read when pyarrow loads (pa.set_memory_pool did not do it).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from ..entities import entity_id
from ..jsonio import atomic_writer
from . import TABLES
from .facts import ModelFacts, key_digest, stable
from .fair4ml import Lookups, model_iri, repository_ids
from .origin import RecordOrigins
from .table_cache import MODEL_TABLES, Block, TableCache, cached_schemas, code_version, ends_block

log = logging.getLogger(__name__)

STR, INT, BOOL = pa.string(), pa.int64(), pa.bool_()
TIME = pa.timestamp("s", tz="UTC")
STRS = pa.list_(pa.string())

SCHEMAS = {
    "models": pa.schema(
        [
            ("run_id", STR),
            ("model_id", STR),
            ("author", STR),
            ("sha", STR),
            ("created_at", TIME),
            ("last_modified", TIME),
            ("downloads", INT),
            ("likes", INT),
            ("library_name", STR),
            ("pipeline_tag", STR),
            ("gated", STR),
            ("disabled", BOOL),
            ("harvested_as", STR),
            ("depth", INT),
            ("card_status", STR),
            ("parameters", INT),
            ("hub_url", STR),
            ("repository_doi", STR),
        ]
    ),
    "lineage_edges": pa.schema(
        [
            ("run_id", STR),
            ("child", STR),
            ("parent", STR),
            ("relation", STR),
            ("depth", INT),
            ("source", STR),
        ]
    ),
    "model_entities": pa.schema(
        [
            ("run_id", STR),
            ("model_id", STR),
            ("kind", STR),
            ("entity_id", STR),
            ("id", STR),
            ("source", STR),
            ("source_field", STR),
        ]
    ),
    "failures": pa.schema(
        [
            ("run_id", STR),
            ("stage", STR),
            ("model_id", STR),
            ("reason", STR),
            ("part", STR),
            ("message", STR),
            ("pulled_in_by", STR),
        ]
    ),
}
_ENTITY_COMMON = [
    ("run_id", STR),
    ("entity_id", STR),
    ("id", STR),
    ("enriched", BOOL),
    ("reason", STR),
    ("source", STR),
]
ENTITY_COLUMNS = {
    "datasets": [
        ("pretty_name", STR),
        ("description", STR),
        ("author", STR),
        ("license", STRS),
        ("languages", STRS),
        ("task_categories", STRS),
    ],
    "articles": [
        ("title", STR),
        ("authors", STRS),
        ("published", TIME),
        ("doi", STR),
        ("arxiv_id", STR),
        ("primary_category", STR),
    ],
    "base_models": [("depth", INT), ("relations", STRS)],
    "tasks": [("label", STR), ("modality", STR)],
    "licenses": [
        ("spdx_id", STR),
        ("name", STR),
        ("url", STR),
        ("osi_approved", BOOL),
        ("category", STR),
    ],
    "languages": [("iso639_1", STR), ("iso639_3", STR), ("name", STR)],
    "keywords": [("count", INT)],
}
for _kind, _columns in ENTITY_COLUMNS.items():
    SCHEMAS[f"entities_{_kind}"] = pa.schema(_ENTITY_COMMON + _columns)
CACHED_SCHEMAS = cached_schemas(SCHEMAS)
if tuple(SCHEMAS) != TABLES:  # the files the Snakefile declares are the tables written
    raise RuntimeError(f"normalize.TABLES {TABLES} != the tables with columns {tuple(SCHEMAS)}")


def _coerce(value, kind: pa.DataType):
    """A JSON value as the column's type; what does not fit is null, never an error."""
    if value is None:
        return None
    if kind == STRS:
        items = value if isinstance(value, list) else [value]
        return [str(item) for item in items if isinstance(item, str | int | float)]
    if kind == STR:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if kind == INT:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == BOOL:
        return value if isinstance(value, bool) else None
    if kind == TIME:
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    raise TypeError(kind)


class TableWriter:
    """Rows in, Parquet record batches out, `batch_rows` at a time."""

    def __init__(self, writer: pq.ParquetWriter, batch_rows: int, run_id: str = ""):
        self._writer, self._batch_rows, self._run_id = writer, batch_rows, run_id
        self._rows = _Rows(writer.schema)
        self._tables: list[pa.Table] = []  # rows given as tables, `_pending` of them
        self._values: dict[str, list] = {}  # and their columns given as values
        self._pending = 0
        self.count = 0

    def add(self, row: dict) -> None:
        self._flush_tables()
        self._rows.add(row)
        if len(self._rows.rows) >= self._batch_rows:
            self._flush_rows()

    def add_table(self, table: pa.Table, **values: list) -> None:
        """Rows given as a table of the writer's columns but `run_id` (the writer's) and those
        in `values` (a value a row each), written `batch_rows` at a time: the columns set per
        run are made a batch at a time, not for each block of cached rows."""
        self._flush_rows()
        self._tables.append(table)
        for column, items in values.items():
            self._values.setdefault(column, []).extend(items)
        self._pending += table.num_rows
        while self._pending >= self._batch_rows:
            self._write_tables(self._batch_rows)

    def _write_tables(self, count: int) -> None:
        whole = pa.concat_tables(self._tables)
        given = {"run_id": pa.repeat(pa.scalar(self._run_id, STR), count)}
        given |= {column: pa.array(items[:count], INT) for column, items in self._values.items()}
        columns = [given[f.name] if f.name in given else whole.column(f.name).slice(0, count)
                   for f in self._writer.schema]  # fmt: skip
        self._write(pa.Table.from_arrays(columns, schema=self._writer.schema))
        self._tables = [whole.slice(count)]
        self._values = {column: items[count:] for column, items in self._values.items()}
        self._pending -= count

    def _write(self, table: pa.Table) -> None:
        # One chunk: a table of many small ones is written slower than it is combined.
        self._writer.write_table(table.combine_chunks(), row_group_size=self._batch_rows)
        self.count += table.num_rows

    def flush(self) -> None:
        self._flush_tables()
        self._flush_rows()

    def _flush_tables(self) -> None:
        if self._pending:
            self._write_tables(self._pending)
        self._tables, self._values = [], {}

    def _flush_rows(self) -> None:
        if self._rows.rows:
            self._write(self._rows.table())


def write_tables(
    models: Iterable[dict],
    entities: dict[str, Iterable[dict]],
    failures: Iterable[dict],
    facts: ModelFacts,
    out: dict[str, Path],
    run_id: str,
    batch_rows: int,
    cache: TableCache | None = None,
) -> dict[str, int]:
    """Write every table of `SCHEMAS` to `out[name]`, each file atomically; return row counts.
    A model's rows come from `cache` when nothing they are made from changed."""
    with ExitStack() as stack:
        writers = {}
        for name, schema in SCHEMAS.items():
            handle = stack.enter_context(atomic_writer(out[name], "wb"))
            parquet = stack.enter_context(pq.ParquetWriter(handle, schema, compression="zstd"))
            writers[name] = TableWriter(parquet, batch_rows, run_id)
        for records, rows in _blocks(models, facts, cache):
            writers["models"].add_table(rows["models"], **_per_run_counts(records))
            for name in ("lineage_edges", "model_entities"):
                writers[name].add_table(rows[name])
        for kind, items in entities.items():
            for entity in items:
                writers[f"entities_{kind}"].add({**entity, "run_id": run_id})
        for failure in failures:
            pulled = failure.get("pulled_in_by")
            row = {**failure, "run_id": run_id, "pulled_in_by": pulled and json.dumps(pulled)}
            writers["failures"].add(row)
        for writer in writers.values():
            writer.flush()
    if cache is not None:
        log.info("tables: rows of %d models reused, of %d made", cache.hits, cache.misses)
    return {name: writer.count for name, writer in writers.items()}


Rows = dict[str, pa.Table]  # a block's rows, by model table
SPARE_BLOCKS = 64  # stored blocks kept for models that moved out of them (see _Spare)


def _blocks(models: Iterable[dict], facts: ModelFacts,
            cache: TableCache | None) -> Iterator[tuple[list[dict], Rows]]:  # fmt: skip
    """(records, their rows without the per-run columns), a content-defined block at a time."""
    version = json.dumps([code_version(), facts.identifiers])
    spare = _Spare()
    block: list[dict] = []
    for record in models:
        block.append(record)
        if ends_block(record["modelId"]):
            yield block, _block_rows(block, facts, cache, version, spare)
            block = []
    if block:
        yield block, _block_rows(block, facts, cache, version, spare)


def _digest(record: dict, text: str, version: str) -> str:
    """What a model's cached rows are made from: its record less what changes every harvest
    (`downloads`, `likes`: set per run; `extraction_metadata` but the two fields used), and
    its facts (key_digest: the cache key holds the Python version, as marshal's bytes may
    change with it)."""
    meta = record.get("extraction_metadata") or {}
    return key_digest((version, stable(record), meta.get("source"), meta.get("card_status"), text))


def _block_rows(records: list[dict], facts: ModelFacts, cache: TableCache | None, version: str,
                spare: _Spare) -> dict[str, pa.Table]:  # fmt: skip
    texts = [facts.text(record["modelId"]) for record in records]
    digests = [_digest(r, text, version) for r, text in zip(records, texts, strict=True)]
    name = TableCache.name(records[-1]["modelId"], version)
    stored = cache.get(name, CACHED_SCHEMAS) if cache is not None else None
    if stored is not None and stored.digests() == digests:
        cache.hits += len(records)
        return stored.tables
    reuse = stored.rows_of() if stored is not None else {}
    rows, taken = _Pieces(), 0  # models whose rows are in this block's entry
    for record, text, digest in zip(records, texts, digests, strict=True):
        if digest in reuse:
            rows.add_reused(stored, reuse[digest], digest)
            taken += 1
        elif found := spare.find(digest):
            rows.add_reused(*found, digest)
        else:
            rows.add_made(digest, record, facts.lookups(record["modelId"], text))
    if stored is not None and taken * 2 < len(reuse):
        spare.keep(stored, reuse)
    block = rows.block()
    if cache is not None:
        cache.hits += len(records) - rows.made
        cache.misses += rows.made
        if taken < len(records):  # else the entry holds every model's rows: not written again
            cache.put(name, block)
    return block.tables


class _Spare:
    """The rows of stored blocks most of whose models their block of this run did not take:
    a block whose last model changed moved to the front of the listing, so its entry (named by
    that model) is read by a front block, and its other models, further on, find their rows
    here rather than being made again. The last `SPARE_BLOCKS` such blocks (memory)."""

    def __init__(self):
        self._blocks: deque[dict[str, list[tuple[int, int]]]] = deque()
        self._rows: dict[str, tuple[Block, list[tuple[int, int]]]] = {}

    def keep(self, block: Block, rows: dict[str, list[tuple[int, int]]]) -> None:
        if len(self._blocks) == SPARE_BLOCKS:
            for digest in self._blocks.popleft():
                self._rows.pop(digest, None)
        self._blocks.append(rows)
        self._rows.update((digest, (block, where)) for digest, where in rows.items())

    def find(self, digest: str) -> tuple[Block, list[tuple[int, int]]] | None:
        return self._rows.get(digest)


class _Pieces:
    """A block's rows in model order: ranges of stored blocks' rows (consecutive models' rows
    of one block taken as one range) and rows made."""

    def __init__(self):
        self.made = 0
        self._pieces: dict[str, list] = {name: [] for name in MODEL_TABLES}  # ranges, tables
        self._made = {name: _Rows(CACHED_SCHEMAS[name]) for name in MODEL_TABLES}
        self._models: list[tuple[str, list[int]]] = []

    def add_reused(self, stored: Block, where: list[tuple[int, int]], digest: str) -> None:
        self._end_made()
        for name, (start, count) in zip(MODEL_TABLES, where, strict=True):
            pieces = self._pieces[name]
            last = pieces[-1] if pieces else None
            if isinstance(last, list) and last[0] is stored and last[2] == start:
                last[2] += count
            elif count:
                pieces.append([stored, start, start + count])
        self._models.append((digest, [count for _, count in where]))

    def add_made(self, digest: str, record: dict, lookups: Lookups) -> None:
        before = [len(self._made[name].rows) for name in MODEL_TABLES]
        _model_rows(record, lookups, self._made, run_id="")
        counts = [
            len(self._made[name].rows) - b for name, b in zip(MODEL_TABLES, before, strict=True)
        ]
        self._models.append((digest, counts))
        self.made += 1

    def _end_made(self) -> None:
        for name in MODEL_TABLES:
            if self._made[name].rows:
                self._pieces[name].append(self._made[name].table())

    def block(self) -> Block:
        self._end_made()
        tables = {}
        for name, pieces in self._pieces.items():
            parts = [
                p[0].tables[name].slice(p[1], p[2] - p[1]) if isinstance(p, list) else p
                for p in pieces
            ]
            tables[name] = pa.concat_tables(parts) if parts else CACHED_SCHEMAS[name].empty_table()
        return Block(tables, self._models)


class _Rows:
    """Rows of one table collected as dicts (the columns of `schema` only), then one table."""

    def __init__(self, schema: pa.Schema):
        self.schema, self.rows = schema, []
        # pyarrow builds a new Field object at each access: read the columns once, not per row
        self._columns = [(column.name, column.type) for column in schema]

    def add(self, row: dict) -> None:
        self.rows.append({name: _coerce(row.get(name), kind) for name, kind in self._columns})

    def table(self) -> pa.Table:
        table, self.rows = pa.Table.from_pylist(self.rows, self.schema), []
        return table


def _per_run_counts(records: list[dict]) -> dict[str, list]:
    """The models' columns set per run besides `run_id`, a value a record, in their order."""
    return {  # _coerce's INT inline: an int, never a bool
        column: [v if type(v := r.get(column)) is int else None for r in records]
        for column in ("downloads", "likes")
    }


def _model_rows(record: dict, lookups: Lookups, writers: dict, run_id: str) -> None:
    model_id = record["modelId"]
    depth = (record.get("ancestry") or {}).get("depth", 0)
    meta = record.get("extraction_metadata") or {}
    dois = [i for i in repository_ids(model_id, lookups) if "doi.org/10.57967/hf/" in i]
    writers["models"].add(
        {
            **record,
            "run_id": run_id,
            "model_id": model_id,
            "created_at": record.get("createdAt"),
            "gated": str(record.get("gated")).lower() if record.get("gated") is not None else None,
            "harvested_as": meta.get("source"),
            "depth": depth,
            "card_status": meta.get("card_status"),
            "parameters": (record.get("safetensors") or {}).get("total"),
            "hub_url": model_iri(model_id),
            "repository_doi": dois[0].removeprefix("https://doi.org/") if dois else None,
        }
    )
    for parent, link in sorted(lookups.relations.get(model_id, {}).items()):
        edge = {"run_id": run_id, "child": model_id, "parent": parent, "depth": depth + 1}
        edge |= {"relation": link["relation"], "source": link.get("source") or "metadata"}
        writers["lineage_edges"].add(edge)
    origin = RecordOrigins(record)
    for kind, mapping in lookups.mappings.items():
        stated = lookups.stated(kind, model_id)
        for entity in mapping.get(model_id, []):
            source, field = origin(kind, entity, stated.get(entity))
            row = {"run_id": run_id, "model_id": model_id, "kind": kind, "id": entity}
            row |= {"entity_id": entity_id(kind, entity), "source": source, "source_field": field}
            writers["model_entities"].add(row)
