"""The per-model rows of the tables (models, lineage_edges, model_entities), cached by a digest
of everything they are made from, in blocks of consecutive models.

A warm run's unchanged model then costs a digest instead of its rows being built. Blocks are
content-defined: one ends after a model whose id hashes to 0 modulo `BLOCK_MODELS`, so a model
that moves (the listing puts updated models first) or is added changes the block it leaves and
the one it joins, never the blocks between. An entry is named by its block's last model id and
holds the rows of each of its models with that model's digest: a block one of whose models
changed reuses the others' rows, and one whose models all are in its entry (some left it, or
moved in it) is not written again. A row is reused only for a model whose digest it was stored
under, so an entry that is stale (the block changed) or written by another run is never wrong,
only a miss. Rows are stored without what changes every run or harvest (`run_id`, a model's
`downloads` and `likes`): those are set per run. The key covers the code that makes rows,
pyarrow's version and Python's (digests are of marshal's bytes); entries are partitioned by
endpoint like the other caches, checksummed, and read and written only as regular files in
real folders under the root (hfharvest/cache.py).
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from functools import cache
from pathlib import Path

import pyarrow as pa

from ..cache import EntryStore
from ..runconfig import code_digest, endpoint_key
from ..stages.identify import IDENTIFIER_CODE

# Models per block, on average. A block is written again only when it holds a model its entry
# did not (see tables._block_rows), so a warm run writes the few blocks changed models are in:
# at 20 000 models (400 changed), 32, 64 and 128 took the same CPU, cold and warm, within the
# noise; 64 writes less than 128 and keeps half the files of 32.
BLOCK_MODELS = 64
# Each entry is compressed whole: zstd level 1 keeps a quarter of its Arrow bytes for about
# 0.1 ms a block, where Arrow's own IPC compression (a codec call per column buffer) kept a
# third for five times the CPU.
CODEC = pa.Codec("zstd", compression_level=1)
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
        json.dumps([code_digest(TABLE_CODE), pa.__version__, sys.version_info[:2]]).encode()
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
    (checksum and name, the body's size and its tables' byte lengths), then the body compressed
    with `CODEC`: a JSON line of the block's models (digest and row counts each), then each
    table as an Arrow IPC stream."""

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
            header, _, stored = data.partition(b"\n")
            facts = json.loads(header)
            if facts["checksum"] != hashlib.sha256(stored).hexdigest() or facts["name"] != name:
                return None
            if not 0 <= facts["size"] <= ENTRY_MAX_BYTES:
                return None
            body = CODEC.decompress(stored, decompressed_size=facts["size"], asbytes=True)
            listed, _, body = body.partition(b"\n")
            models = [(digest, list(counts)) for digest, counts in json.loads(listed)]
            tables, start = {}, 0
            for table, size in zip(MODEL_TABLES, facts["sizes"], strict=True):
                with pa.ipc.open_stream(pa.py_buffer(body[start : start + size])) as reader:
                    tables[table] = reader.read_all()
                start += size
                if not tables[table].schema.equals(schemas[table]):
                    return None
            for index, table in enumerate(MODEL_TABLES):
                if sum(counts[index] for _, counts in models) != tables[table].num_rows:
                    return None
            return Block(tables, models)
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            return None

    def put(self, name: str, block: Block) -> None:
        parts = [json.dumps(block.models).encode() + b"\n"]
        for table in MODEL_TABLES:
            sink = pa.BufferOutputStream()
            # One batch of its own buffers: a table of slices would write their parents' bytes.
            rows = block.tables[table].combine_chunks()
            with pa.ipc.new_stream(sink, rows.schema) as writer:
                writer.write_table(rows)
            parts.append(sink.getvalue().to_pybytes())
        body = b"".join(parts)
        stored = CODEC.compress(body, asbytes=True)
        facts = {"checksum": hashlib.sha256(stored).hexdigest(), "name": name,
                 "size": len(body), "sizes": [len(part) for part in parts[1:]]}  # fmt: skip
        self._files.store_entry(*self._where(name), json.dumps(facts).encode() + b"\n" + stored)
