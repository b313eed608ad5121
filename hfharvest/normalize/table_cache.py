"""The per-model rows of the tables (models, lineage_edges, model_entities), cached by a digest
of everything they are made from, in blocks of consecutive models.

A warm run's unchanged model then costs a digest instead of its rows being built. Blocks are
content-defined: one ends after a model whose id hashes to 0 modulo `BLOCK_MODELS`, so a model
that moves (the listing puts updated models first) or is added changes the block it leaves and
the one it joins, never the blocks between. An entry is named by its block's last model id and
holds the rows of each of its models with that model's digest: a block one of whose models
changed reuses the others' rows. A row is reused only for a model whose digest it was stored
under, so an entry that is stale (the block changed) or written by another run is never wrong,
only a miss. Rows are stored without what changes every run or harvest (`run_id`, a model's
`downloads` and `likes`): those are set per run. The key covers the code that makes rows and
pyarrow's version; entries are partitioned by endpoint like the other caches, checksummed, and
read and written only as regular files in real folders under the root (hfharvest/cache.py).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from functools import cache
from pathlib import Path

import pyarrow as pa

from ..cache import EntryStore
from ..runconfig import code_digest, endpoint_key
from ..stages.identify import IDENTIFIER_CODE

BLOCK_MODELS = 64  # models per block, on average
ENTRY_MAX_BYTES = 256 * 1024 * 1024  # a block's rows; one beyond this is damage, never read
# What shapes a model's rows: the identifiers' fields (origin.py reads them), the row builders
# and the modules they load (fair4ml.py's sections and vocab, though no row shows them).
TABLE_CODE = (
    *IDENTIFIER_CODE,
    "entities.py",
    *(f"normalize/{name}" for name in ("tables.py", "table_cache.py", "origin.py", "fair4ml.py",
                                       "facts.py", "inputs.py", "sections.py", "vocab.py")),
)  # fmt: skip
# The tables of a model's rows, and the columns set per run (not cached).
MODEL_TABLES = ("models", "lineage_edges", "model_entities")
PER_RUN = {"models": ("run_id", "downloads", "likes"), "lineage_edges": ("run_id",),
           "model_entities": ("run_id",)}  # fmt: skip


@cache
def code_version() -> str:
    return hashlib.sha256(
        json.dumps([code_digest(TABLE_CODE), pa.__version__]).encode()
    ).hexdigest()


def ends_block(model_id: str) -> bool:
    return zlib.crc32(model_id.encode()) % BLOCK_MODELS == 0


def cached_schemas(schemas: dict[str, pa.Schema]) -> dict[str, pa.Schema]:
    """The model tables' schemas less the columns set per run."""
    return {
        name: pa.schema([f for f in schemas[name] if f.name not in PER_RUN[name]])
        for name in MODEL_TABLES
    }


class Block:
    """One entry's rows: a table per model table, and per model its digest and row counts."""

    def __init__(self, tables: dict[str, pa.Table], models: list[tuple[str, list[int]]]):
        self.tables, self.models = tables, models

    def digests(self) -> list[str]:
        return [digest for digest, _ in self.models]

    def rows_of(self) -> dict[str, list[tuple[int, int]]]:
        """Digest -> per table, (first row, row count) of that model (the first of a digest)."""
        found: dict[str, list[tuple[int, int]]] = {}
        starts = [0] * len(MODEL_TABLES)
        for digest, counts in self.models:
            found.setdefault(digest, list(zip(starts, counts, strict=True)))
            starts = [start + count for start, count in zip(starts, counts, strict=True)]
        return found


class TableCache:
    """Blocks of rows under `<root>/<endpoint hash>/<name[:2]>/<name>.arrow`: a JSON header line
    (checksum, the block's models and digests, the tables' byte lengths), then each table as an
    Arrow IPC stream."""

    def __init__(self, root: str | Path, endpoint: str):
        self.root = Path(root)
        self.hits = self.misses = 0  # models whose rows were reused, or made
        self._files = EntryStore(root, "tables")
        self._files.max_bytes = ENTRY_MAX_BYTES
        self._base = [endpoint_key(endpoint)[0]]

    def _where(self, name: str) -> tuple[list[str], str]:
        return [*self._base, name[:2]], f"{name}.arrow"

    @staticmethod
    def name(last_model: str, version: str) -> str:
        """An entry's name: its block's last model id, under the code version and run flags."""
        return hashlib.sha256(json.dumps([version, last_model]).encode()).hexdigest()

    def get(self, name: str, schemas: dict[str, pa.Schema]) -> Block | None:
        """The block stored under `name`, if whole and of these schemas; else None."""
        try:
            data = self._files.read_entry(*self._where(name))
            if data is None:
                return None
            header, _, body = data.partition(b"\n")
            facts = json.loads(header)
            if facts["checksum"] != hashlib.sha256(body).hexdigest() or facts["name"] != name:
                return None
            tables, start = {}, 0
            for table, size in zip(MODEL_TABLES, facts["sizes"], strict=True):
                with pa.ipc.open_stream(pa.py_buffer(body[start : start + size])) as reader:
                    tables[table] = reader.read_all()
                start += size
                if not tables[table].schema.equals(schemas[table]):
                    return None
            models = [(digest, list(counts)) for digest, counts in facts["models"]]
            for index, table in enumerate(MODEL_TABLES):
                if sum(counts[index] for _, counts in models) != tables[table].num_rows:
                    return None
            return Block(tables, models)
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return None

    def put(self, name: str, block: Block) -> None:
        parts = []
        for table in MODEL_TABLES:
            sink = pa.BufferOutputStream()
            # One batch of its own buffers: a table of slices would write their parents' bytes.
            rows = block.tables[table].combine_chunks()
            with pa.ipc.new_stream(sink, rows.schema) as writer:
                writer.write_table(rows)
            parts.append(sink.getvalue().to_pybytes())
        body = b"".join(parts)
        facts = {"checksum": hashlib.sha256(body).hexdigest(), "name": name,
                 "sizes": [len(part) for part in parts], "models": block.models}  # fmt: skip
        self._files.store_entry(*self._where(name), json.dumps(facts).encode() + b"\n" + body)
