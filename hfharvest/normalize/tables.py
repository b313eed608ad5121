"""The run as Parquet tables, written in record batches (never a whole-run frame in memory).

Keys are stable across runs: `model_id` (the Hub id) for models, `entity_id` (the UUIDv5 of kind
and id, hfharvest/entities.py) for entities; every row carries `run_id`, so one database can
hold several runs. README.md ("Tables") documents every column.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
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
from .fair4ml import Lookups, model_iri, repository_ids
from .origin import RecordOrigins

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

    def __init__(self, writer: pq.ParquetWriter, batch_rows: int):
        self._writer, self._batch_rows, self._rows = writer, batch_rows, []
        # pyarrow builds a new Field object at each access: read the columns once, not per row
        self._columns = [(column.name, column.type) for column in writer.schema]
        self.count = 0

    def add(self, row: dict) -> None:
        self._rows.append({name: _coerce(row.get(name), kind) for name, kind in self._columns})
        if len(self._rows) >= self._batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._writer.write_batch(pa.RecordBatch.from_pylist(self._rows, self._writer.schema))
            self.count += len(self._rows)
            self._rows = []


def write_tables(
    models: Iterable[dict],
    entities: dict[str, Iterable[dict]],
    failures: Iterable[dict],
    lookups: Lookups,
    out: dict[str, Path],
    run_id: str,
    batch_rows: int,
) -> dict[str, int]:
    """Write every table of `SCHEMAS` to `out[name]`, each file atomically; return row counts."""
    with ExitStack() as stack:
        writers = {}
        for name, schema in SCHEMAS.items():
            handle = stack.enter_context(atomic_writer(out[name], "wb"))
            parquet = stack.enter_context(pq.ParquetWriter(handle, schema, compression="zstd"))
            writers[name] = TableWriter(parquet, batch_rows)
        for record in models:
            _model_rows(record, lookups, writers, run_id)
        for kind, items in entities.items():
            for entity in items:
                writers[f"entities_{kind}"].add({**entity, "run_id": run_id})
        for failure in failures:
            pulled = failure.get("pulled_in_by")
            row = {**failure, "run_id": run_id, "pulled_in_by": pulled and json.dumps(pulled)}
            writers["failures"].add(row)
        for writer in writers.values():
            writer.flush()
    return {name: writer.count for name, writer in writers.items()}


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
