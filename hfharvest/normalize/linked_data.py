"""Write FAIR4ML documents as JSON Lines and N-Triples, one model at a time.

pyld turns each document into triples with a document loader that refuses every URL: the
context is inline, so nothing may be fetched. Documents have no blank nodes (fair4ml.py mints an
IRI for every node), so each document's triples are appended as they are.

Documents are written in blocks, each block one gzip member of each file (a gzip file may be a
series of members, RFC 1952 2.2: zcat, Python's gzip, rdflib through gzip.open and DuckDB read
them as one), so that a rerun can copy an unchanged block's compressed bytes (doc_cache.py)
instead of compressing its documents again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from pyld import jsonld
from zlib_ng import zlib_ng

from ..jsonio import GZIP_LEVEL, atomic_writer


def _no_fetch(url, options=None):
    raise jsonld.JsonLdError(
        f"refusing to fetch {url}: hfharvest contexts are inline",
        "jsonld.LoadDocumentError",
        code="loading document failed",
    )


OPTIONS = {"format": "application/n-quads", "documentLoader": _no_fetch}


# pyld compares each value it adds with those its property holds (JsonLdProcessor.add_value):
# time quadratic in a model's keywords or datasets (8 000 of each: 60 s; the Hub's JSON cap
# allows a million). A document with a list longer than LONG_LIST is converted in parts of about
# SPLIT_VALUES values (8 000 of each: 2 s); the others in one piece, as they always were.
LONG_LIST = 1000
SPLIT_VALUES = 100


def to_ntriples(document: dict) -> str:
    """The document's triples as N-Triples lines (the default graph of N-Quads is N-Triples).

    A document with a list longer than LONG_LIST is flattened (every node has an IRI) and
    converted in parts of at most SPLIT_VALUES values of a property; the triples are the same,
    each written once."""
    if not _has_long_list(document):
        return jsonld.to_rdf(document, OPTIONS)
    nodes: list[dict] = []
    _flatten(document, nodes)
    context = document.get("@context", {})
    lines: dict[str, None] = {}
    for part in _parts(nodes):
        rdf = jsonld.to_rdf({"@context": context, "@graph": part}, OPTIONS)
        if "_:" in rdf:  # a blank node's label is per conversion: parts would mix them up
            return jsonld.to_rdf(document, OPTIONS)
        lines.update(dict.fromkeys(rdf.splitlines(keepends=True)))
    return "".join(lines)


def _has_long_list(value) -> bool:
    if isinstance(value, list):
        return len(value) > LONG_LIST or any(_has_long_list(item) for item in value)
    if isinstance(value, dict):
        return any(_has_long_list(item) for item in value.values())
    return False


def _flatten(node: dict, out: list[dict]) -> dict:
    """`node` and the nodes in it appended to `out` as flat nodes (nested nodes replaced by
    references, every value in a list); returns the reference to `node`."""
    flat = {}
    for key, value in node.items():
        if key == "@context":
            continue
        if key.startswith("@"):
            flat[key] = value
            continue
        items = value if isinstance(value, list) else [value]
        flat[key] = [
            _flatten(item, out) if isinstance(item, dict) and "@id" in item and len(item) > 1
            else item
            for item in items
        ]  # fmt: skip
    out.append(flat)
    return {"@id": node["@id"]}


def _parts(nodes: list[dict]) -> Iterable[list[dict]]:
    """The flat nodes in groups of about SPLIT_VALUES values, a long property in slices."""
    batch: list[dict] = []
    size = 0
    for node in nodes:
        for piece in _sliced(node):
            count = sum(len(v) for k, v in piece.items() if not k.startswith("@"))
            if batch and size + count > SPLIT_VALUES:
                yield batch
                batch, size = [], 0
            batch.append(piece)
            size += count
    if batch:
        yield batch


def _sliced(node: dict) -> Iterable[dict]:
    long = [k for k, v in node.items() if not k.startswith("@") and len(v) > SPLIT_VALUES]
    yield {key: value for key, value in node.items() if key not in long}
    for key in long:
        for start in range(0, len(node[key]), SPLIT_VALUES):
            yield {"@id": node["@id"], key: node[key][start : start + SPLIT_VALUES]}


@dataclass
class LinkedDataStats:
    documents: int = 0
    nodes: int = 0
    triples: int = 0
    properties: Counter = field(default_factory=Counter)  # property -> documents that have it

    def add(self, other: LinkedDataStats) -> None:
        self.documents += other.documents
        self.nodes += other.nodes
        self.triples += other.triples
        self.properties.update(other.properties)

    def as_dict(self) -> dict:
        return {
            "documents": self.documents,
            "nodes": self.nodes,
            "triples": self.triples,
            "documents_with_property": dict(sorted(self.properties.items())),
        }


def count_nodes(value) -> int:
    """Nodes (objects with an @id) in a document, the document's own included."""
    if isinstance(value, list):
        return sum(count_nodes(item) for item in value)
    if isinstance(value, dict):
        own = 1 if "@id" in value and len(value) > 1 else 0
        return own + sum(count_nodes(v) for k, v in value.items() if k != "@context")
    return 0


@dataclass(frozen=True)
class Written:
    """A document as the files get it: its JSON line, its N-Triples, and what the stats count
    of it, so that a cached one is copied into the files without being parsed again."""

    line: str  # the document as one JSON line, its newline included
    ntriples: str
    nodes: int
    properties: tuple[str, ...]  # its own properties (not @id, @type, @context)


def written(document: dict, ntriples: str | None = None) -> Written:
    """The document serialized (its triples made here unless given)."""
    return Written(
        json.dumps(document, ensure_ascii=False) + "\n",
        to_ntriples(document) if ntriples is None else ntriples,
        count_nodes(document),
        tuple(key for key in document if not key.startswith("@")),
    )


@dataclass(frozen=True)
class Block:
    """Documents in a row as the files get them: a gzip member of their JSON lines, one of their
    N-Triples, and their stats."""

    lines: bytes
    triples: bytes
    stats: LinkedDataStats


def _member() -> zlib_ng._Compress:
    return zlib_ng.compressobj(GZIP_LEVEL, zlib_ng.DEFLATED, 31)  # 31: a gzip header, mtime 0


def pack(documents: Iterable[Written]) -> Block:
    """The documents compressed into one block, one document at a time."""
    lines, triples, stats = _member(), _member(), LinkedDataStats()
    packed_lines: list[bytes] = []
    packed_triples: list[bytes] = []
    for document in documents:
        packed_lines.append(lines.compress(document.line.encode("utf-8")))
        packed_triples.append(triples.compress(document.ntriples.encode("utf-8")))
        stats.documents += 1
        stats.nodes += document.nodes
        stats.triples += document.ntriples.count("\n")
        stats.properties.update(document.properties)
    packed_lines.append(lines.flush())
    packed_triples.append(triples.flush())
    return Block(b"".join(packed_lines), b"".join(packed_triples), stats)


EMPTY = pack(())  # what a file with no documents holds: one empty member, a valid gzip file


def write_linked_data(streams: dict[Path, Iterable[Block]],
                      ntriples: Path) -> dict[str, LinkedDataStats]:  # fmt: skip
    """Stream each group of blocks into its JSON Lines file, and all the triples into one
    N-Triples file (each gzip-compressed, as linked-data dumps are published, and written
    atomically); return what was written."""
    stats = {}
    with ExitStack() as stack:
        triples = stack.enter_context(atomic_writer(ntriples, "wb"))
        any_triples = False
        for path, blocks in streams.items():
            lines = stack.enter_context(atomic_writer(path, "wb"))
            stats[Path(path).name] = counted = LinkedDataStats()
            for block in blocks:
                lines.write(block.lines)
                triples.write(block.triples)
                counted.add(block.stats)
            if not counted.documents:
                lines.write(EMPTY.lines)
            any_triples = any_triples or counted.documents > 0
        if not any_triples:
            triples.write(EMPTY.triples)
    return stats
