"""FAIR4ML documents and their triples, cached by a digest of everything they are made from.

When an incremental harvest reruns the stage, a model whose record, entities, relations and
settings did not change costs a file read instead of a JSON-LD conversion (pyld's is most of the
stage's time). The key also covers the code that writes documents and the library versions, so
a change of either never serves an old document. Entries carry a checksum; a torn one is a miss.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import metadata, resources
from pathlib import Path

from ..jsonio import atomic_writer

_LIBRARIES = ("PyLD", "markdown-it-py")


@cache
def code_version() -> str:
    """A digest of the modules that shape a document, the bundled vocabularies, the libraries."""
    digest = hashlib.sha256()
    package = resources.files("hfharvest")
    folders = [package / "normalize", package / "normalize" / "vocab", package / "identify"]
    for folder in folders:
        for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
            if item.is_file() and item.name.endswith((".py", ".ttl", ".jsonld", ".gz")):
                digest.update(item.name.encode() + b"\0" + item.read_bytes())
    for library in _LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}".encode())
    return digest.hexdigest()


def _checksum(entry: dict) -> str:
    body = json.dumps([entry["document"], entry["ntriples"]], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


class DocumentCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.hits = self.misses = 0

    @staticmethod
    def key(inputs: dict) -> str:
        """The digest of a document's inputs (JSON values) and of the code that writes it."""
        text = json.dumps([code_version(), inputs], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> tuple[dict, str] | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            found = entry.get("checksum") == _checksum(entry)
        except (OSError, ValueError, KeyError, TypeError):
            found = False
        self.hits, self.misses = self.hits + found, self.misses + (not found)
        return (entry["document"], entry["ntriples"]) if found else None

    def put(self, key: str, document: dict, ntriples: str) -> None:
        entry = {"document": document, "ntriples": ntriples}
        entry["checksum"] = _checksum(entry)
        with atomic_writer(self._path(key), fsync=False) as handle:  # checksummed: no fsync
            json.dump(entry, handle, ensure_ascii=False)
