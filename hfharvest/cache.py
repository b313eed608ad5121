"""READMEs cached by model id + commit sha, shared by every run under one data root.

A commit never changes, so an entry never goes stale: a listing that shows an unchanged sha
costs no further request. Each entry carries a checksum; a corrupt one is dropped and refetched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .ids import validate_model_id
from .jsonio import atomic_writer

log = logging.getLogger(__name__)

SHA = re.compile(r"[0-9a-f]{7,64}")
LEGACY_OWNER = "~"  # ids without an owner (gpt2); `~` is never part of a Hub id


@dataclass(frozen=True)
class CachedCard:
    text: str | None  # None: the repo has no README at that commit (or it is gated)
    truncated: bool
    gated: bool = False  # only ever cached for anonymous runs


class CardCache:
    def __init__(self, root: str | Path):
        self.root = Path(root) / "readmes"
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _path(self, model_id: str, sha: str) -> Path:
        validate_model_id(model_id)  # ids become paths only once checked: no `..`, no `/x`
        if not SHA.fullmatch(sha):
            raise ValueError(f"not a commit sha: {sha!r}")
        owner, _, name = model_id.rpartition("/")
        return self.root / (owner or LEGACY_OWNER) / name / f"{sha}.json"

    def get(self, model_id: str, sha: str | None) -> CachedCard | None:
        if not sha or not SHA.fullmatch(sha):
            return None
        path = self._path(model_id, sha)
        card = self._load(path, model_id, sha)
        with self._lock:
            if card is None:
                self.misses += 1
            else:
                self.hits += 1
        return card

    def put(self, model_id: str, sha: str | None, text: str | None, truncated: bool,
            gated: bool = False) -> None:  # fmt: skip
        if not sha or not SHA.fullmatch(sha):
            return
        entry = {"model_id": model_id, "sha": sha, "text": text, "truncated": truncated}
        entry["gated"] = gated
        entry["checksum"] = _checksum(entry)
        with atomic_writer(self._path(model_id, sha)) as handle:
            json.dump(entry, handle, ensure_ascii=False)

    def _load(self, path: Path, model_id: str, sha: str) -> CachedCard | None:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            checksum = entry.pop("checksum")
            if checksum != _checksum(entry) or (entry["model_id"], entry["sha"]) != (model_id, sha):
                raise ValueError("checksum or key mismatch")
            return CachedCard(entry["text"], bool(entry["truncated"]), bool(entry["gated"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            log.warning("corrupt cache entry %s (%s): dropped, will refetch", path, err)
            path.unlink(missing_ok=True)
            return None


def _checksum(entry: dict) -> str:
    canonical = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()
