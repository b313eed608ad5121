"""READMEs cached by model id + commit sha, shared by every run under one data root; and the
records one run fetched by id, so that a rerun of that run fetches only what it could not get.

A commit never changes, so a README entry never goes stale: a listing that shows an unchanged sha
costs no further request. Each entry carries a checksum; a corrupt one is dropped and refetched.
Model ids become file names only once validated (no `..`, no absolute paths, ASCII only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from .ids import validate_model_id
from .jsonio import atomic_writer

log = logging.getLogger(__name__)

SHA = re.compile(r"[0-9a-f]{7,64}")
LEGACY_OWNER = "~"  # ids without an owner (gpt2); `~` is never part of a Hub id
ENTRY_MAX_BYTES = 64 * 1024 * 1024  # a README is cut at 5 MiB: an entry beyond this is damage


@dataclass(frozen=True)
class CachedCard:
    text: str | None  # None: the repo has no README at that commit (or it is gated)
    truncated: bool
    gated: bool = False  # only ever cached for anonymous runs


class _EntryStore:
    """Checksummed JSON entries under `root`, counting hits and misses (threads share it)."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _tally(self, found: bool) -> None:
        with self._lock:
            if found:
                self.hits += 1
            else:
                self.misses += 1

    @staticmethod
    def _write(path: Path, entry: dict) -> None:
        entry["checksum"] = _checksum(entry)
        with atomic_writer(path, fsync=False) as handle:  # checksummed: torn ones are refetched
            json.dump(entry, handle, ensure_ascii=False)


class CardCache(_EntryStore):
    def __init__(self, root: str | Path):
        super().__init__(Path(root) / "readmes")

    def _path(self, model_id: str, sha: str) -> Path:
        validate_model_id(model_id)  # ids become paths only once checked: no `..`, no `/x`
        if not SHA.fullmatch(sha):
            raise ValueError(f"not a commit sha: {sha!r}")
        owner, _, name = model_id.rpartition("/")
        return self.root / (owner or LEGACY_OWNER) / name / f"{sha}.json"

    def get(self, model_id: str, sha: str | None) -> CachedCard | None:
        if not sha or not SHA.fullmatch(sha):
            return None
        card = self._load(self._path(model_id, sha), model_id, sha)
        self._tally(card is not None)
        return card

    def put(self, model_id: str, sha: str | None, text: str | None, truncated: bool,
            gated: bool = False) -> None:  # fmt: skip
        if not sha or not SHA.fullmatch(sha):
            return
        entry = {"model_id": model_id, "sha": sha, "text": text, "truncated": truncated}
        entry["gated"] = gated
        self._write(self._path(model_id, sha), entry)

    def _load(self, path: Path, model_id: str, sha: str) -> CachedCard | None:
        entry = _load_entry(path, {"model_id": model_id, "sha": sha})
        if entry is None:
            return None
        try:
            return CachedCard(entry["text"], bool(entry["truncated"]), bool(entry["gated"]))
        except KeyError as err:
            log.warning("corrupt cache entry %s (no %s): dropped, will refetch", path, err)
            with suppress(OSError):
                path.unlink(missing_ok=True)
            return None


class RecordCache(_EntryStore):
    """The records one run fetched by exact id (model_info + README), under its run folder.

    A rerun of the same run reuses them: only models that were not fetched, or whose README
    failed, cost requests. Scoped to one run on purpose: a new run is a new snapshot of the Hub.
    """

    def __init__(self, root: str | Path):
        super().__init__(Path(root))

    def _path(self, model_id: str) -> Path:
        validate_model_id(model_id)
        owner, _, name = model_id.rpartition("/")
        return self.root / (owner or LEGACY_OWNER) / f"{name}.json"

    def get(self, model_id: str) -> dict | None:
        entry = _load_entry(self._path(model_id), {"model_id": model_id})
        record = entry.get("record") if entry else None
        if not isinstance(record, dict) or not isinstance(record.get("extraction_metadata"), dict):
            record = None
        self._tally(record is not None)
        return record

    def put(self, model_id: str, record: dict) -> None:
        self._write(self._path(model_id), {"model_id": model_id, "record": record})


def _load_entry(path: Path, key: dict) -> dict | None:
    """A checksummed entry whose key fields match `key`; None if missing, or if damaged (then
    it is deleted, to be refetched)."""
    try:
        if path.stat().st_size > ENTRY_MAX_BYTES:
            raise ValueError(f"over {ENTRY_MAX_BYTES} bytes")
        entry = json.loads(path.read_text(encoding="utf-8"))
        checksum = entry.pop("checksum")
        if checksum != _checksum(entry) or any(entry[k] != v for k, v in key.items()):
            raise ValueError("checksum or key mismatch")
        return entry
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        log.warning("corrupt cache entry %s (%s): dropped, will refetch", path, err)
        with suppress(OSError):
            path.unlink(missing_ok=True)
        return None


def _checksum(entry: dict) -> str:
    canonical = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()
