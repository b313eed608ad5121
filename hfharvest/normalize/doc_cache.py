"""FAIR4ML documents and their triples, cached by a digest of everything they are made from.

When an incremental harvest reruns the stage, a model whose record, entities, relations and
settings did not change costs a file read (its entry compressed: a tenth of the disk) instead of
a JSON-LD conversion (pyld's is most of the stage's time); dataset documents are cached the same
way. Documents are also cached a block at a time, compressed as the files get them
(linked_data.Block), keyed by their documents' keys: a block none of whose documents changed is
copied, neither read document by document nor compressed again (compression was most of a warm
run's time). The key also covers the code that writes documents and the library versions, so a
change of either never serves an old document. Each entry sits in a slot named by what it is of
(a model's or dataset's document at the run's settings, or the block that ends with it) and
holds its key: a new
version replaces the old one, so the cache grows with the models, not with every run's changes
(content-addressed, a daily refresh of 2 % of the Hub added 30 000 documents and 20 % of the
blocks a day, kept for ever). A slot whose key is another is a miss.
Entries carry a checksum; a torn one is a miss. Like the other caches (hfharvest/cache.py), it
reads and writes only regular files in real folders under its root: a planted FIFO hung the
stage, a link to /dev/zero filled its memory, and a linked folder took its writes elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from functools import cache
from importlib import metadata
from pathlib import Path

from zlib_ng import zlib_ng

from ..cache import EntryStore
from ..runconfig import code_digest
from ..stages.identify import IDENTIFIER_CODE
from .facts import key_digest
from .linked_data import Block, LinkedDataStats, Written

_LIBRARIES = ("PyLD", "markdown-it-py")
# A document's entry: its JSON line and triples (a card's sections are capped at
# normalize.max_text_chars each); one beyond this, stored or decompressed, is damage, never read.
ENTRY_MAX_BYTES = 256 * 1024 * 1024
# A document's entry is compressed: about 20 KB of JSON and N-Triples a model, a tenth of that
# stored (at 100 000 models, about 200 MB instead of 2 GB). Level 2: ratio 9.7 at 50 us a
# document, level 6 gives 11.5 at 75 us (zlib-ng, documents of a 20 000-model run).
ENTRY_LEVEL = 2


# What shapes a document: the modules that write it (fair4ml and what it imports, the
# vocabularies, the cache's own format), the identifiers it asks where an entity was stated and
# how a model's facts are read into its lookups (facts.py). Not the tables, the catalogue or the
# stage's plumbing: an edit there keeps every entry (tests/test_normalize.py checks that a fresh
# import of the writers loads nothing else).
DOCUMENT_CODE = (
    *IDENTIFIER_CODE,
    *(f"normalize/{name}" for name in ("fair4ml.py", "facts.py", "origin.py", "sections.py",
                                       "vocab.py", "vocab", "linked_data.py", "doc_cache.py")),
)  # fmt: skip


@cache
def code_version() -> str:
    """A digest of the code that shapes a document and of the libraries it calls."""
    libraries = [f"{library}=={metadata.version(library)}" for library in _LIBRARIES]
    return hashlib.sha256(json.dumps([code_digest(DOCUMENT_CODE), libraries]).encode()).hexdigest()


def _checksum(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class DocumentCache:
    """One file per slot: a JSON header line (key, checksum, node count, properties), then the
    document's JSON line and its N-Triples as the output files get them, compressed, so that a
    hit is one read, one hash and one decompression, never a parse."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits = self.misses = 0
        self._files = EntryStore(root, "normalize")
        self._files.max_bytes = ENTRY_MAX_BYTES

    def again(self) -> DocumentCache:
        """The same cache with its own counts (the stats count model documents only)."""
        return DocumentCache(self.root)

    @staticmethod
    def key(inputs: dict) -> str:
        """The digest of a document's inputs (JSON values) and of the code that writes it
        (100 000 records: 0.25 s of CPU, 0.8 by json.dumps(sort_keys))."""
        return key_digest([code_version(), inputs])

    @staticmethod
    def _name(slot: str) -> str:
        """The file of a slot (a model's or dataset's document, or a block ending with it)."""
        return hashlib.sha256(slot.encode()).hexdigest()

    def get(self, slot: str, key: str) -> Written | None:
        """The document in `slot` if it was stored under `key`; else None (a miss)."""
        name = self._name(slot)
        try:
            data = self._files.read_entry([name[:2]], f"{name}.nt")
            if data is None:
                raise FileNotFoundError(slot)
            header, _, packed = data.partition(b"\n")
            facts = json.loads(header)
            if facts["key"] != key or facts["checksum"] != _checksum(packed):
                raise ValueError("another version, or damaged")
            line, _, ntriples = _inflated(packed).decode("utf-8").partition("\n")
            document = Written(line + "\n", ntriples, facts["nodes"], tuple(facts["properties"]))
        except (OSError, ValueError, KeyError, TypeError, zlib_ng.error):
            document = None
        found = document is not None
        self.hits, self.misses = self.hits + found, self.misses + (not found)
        return document

    @staticmethod
    def block_key(keys: list[str]) -> str:
        """The key of a block: the keys of its documents, in their order."""
        return hashlib.sha256(" ".join(keys).encode()).hexdigest()

    def get_block(self, slot: str, key: str) -> Block | None:
        """The block in `slot` if stored under `key`, its documents counted as hits; else None."""
        name = self._name(slot)
        try:
            data = self._files.read_entry(["blocks", name[:2]], f"{name}.gz")
            if data is None:
                raise FileNotFoundError(slot)
            header, _, body = data.partition(b"\n")
            facts = json.loads(header)
            checksum = facts.pop("checksum")
            if facts["key"] != key:
                raise ValueError("another version of the block")
            if checksum != _checksum(json.dumps(facts, sort_keys=True).encode() + body):
                raise ValueError("checksum mismatch")
            cut = facts["lines_bytes"]
            stats = LinkedDataStats(facts["documents"], facts["nodes"], facts["triples"],
                                    Counter(facts["properties"]))  # fmt: skip
            block = Block(body[:cut], body[cut:], stats)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        self.hits += stats.documents
        return block

    def put_block(self, slot: str, key: str, block: Block) -> None:
        stats, body, name = block.stats, block.lines + block.triples, self._name(slot)
        facts = {"key": key, "lines_bytes": len(block.lines), "documents": stats.documents,
                 "nodes": stats.nodes, "triples": stats.triples,
                 "properties": dict(stats.properties)}  # fmt: skip
        facts["checksum"] = _checksum(json.dumps(facts, sort_keys=True).encode() + body)
        entry = json.dumps(facts).encode() + b"\n" + body
        self._files.store_entry(["blocks", name[:2]], f"{name}.gz", entry)

    def put(self, slot: str, key: str, document: Written) -> None:
        """Store the document in `slot`, replacing the version there (the cache holds the latest
        version of each document and block: it grows with the models, not with the runs)."""
        body, name = (document.line + document.ntriples).encode("utf-8"), self._name(slot)
        packed = zlib_ng.compress(body, ENTRY_LEVEL)
        facts = {"key": key, "checksum": _checksum(packed), "nodes": document.nodes,
                 "properties": list(document.properties)}  # fmt: skip
        entry = json.dumps(facts).encode() + b"\n" + packed
        self._files.store_entry([name[:2]], f"{name}.nt", entry)


def _inflated(packed: bytes) -> bytes:
    """A document entry's body, decompressed: no more than ENTRY_MAX_BYTES of it, and all of it."""
    inflate = zlib_ng.decompressobj()
    body = inflate.decompress(packed, ENTRY_MAX_BYTES)
    if not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
        raise ValueError("a damaged or oversized document entry")
    return body
