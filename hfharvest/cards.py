"""The card store: README texts by content, written once and shared by every run and model of
a data root (issue 10, item 3: a daily run must not write the whole card corpus again).

`<data_root>/store/cards/<h[:2]>/<h>.md`, h the SHA-256 of the text's UTF-8 bytes: plain text
files a user opens with any tool. Model records carry `card_sha256` instead of the text, and
the README cache keeps the digest, so each distinct text is on disk once. A blob is written
atomically and never rewritten (its name is its content); the store only grows, like the caches.

A store is never trusted blindly: every read checks the digest and the size cap, and opens only
regular files in real folders (the README cache's safe openers). A missing or damaged blob is a
`CardUnreadable` for that model, never a crash; a damaged one is deleted, so the README cache
misses and the README is fetched again by the next fetch of that model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from pathlib import Path

from .cache import CardUnreadable, EntryStore, TamperedEntry

__all__ = ["CardStore", "CardUnreadable", "store_from", "with_text"]

log = logging.getLogger(__name__)

DIGEST = re.compile(r"[0-9a-f]{64}")
# A README is cut at hub.readme_max_mb decoded bytes, then decoded with U+FFFD for invalid
# bytes: each replaced byte may take 3 bytes once re-encoded. A blob beyond that is damage.
UTF8_GROWTH = 3


class CardStore(EntryStore):
    """Texts under `root/<h[:2]>/<h>.md`. Writing one that cannot be stored raises OSError: a
    record must never name a blob that is not there."""

    def __init__(self, root: str | Path, readme_max_bytes: int):
        super().__init__(root, "card store")
        self.max_bytes = readme_max_bytes * UTF8_GROWTH
        self._root_text = str(self.root)

    @staticmethod
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @staticmethod
    def _where(digest: str) -> tuple[list[str], str]:
        if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
            raise ValueError(f"not a card digest: {digest!r}")
        return [digest[:2]], f"{digest}.md"

    def path(self, digest: str) -> Path:
        """Where the blob lives (for people and tests; reads go through `read`)."""
        return Path(self._text_path(digest))

    def _text_path(self, digest: str) -> str:
        """`path` as text: a warm run asks `holds` of every listed model, and pathlib's joins
        were most of its CPU."""
        parts, name = self._where(digest)
        return f"{self._root_text}/{parts[0]}/{name}"  # os.path.join was a third of `holds`

    def put(self, text: str) -> str:
        """Store `text` once; its digest. A blob already there is not rewritten."""
        return self.put_bytes(text.encode("utf-8"))

    def put_bytes(self, data: bytes) -> str:
        """`put` of a text already encoded (UTF-8)."""
        digest = hashlib.sha256(data).hexdigest()
        try:
            present = stat.S_ISREG(os.lstat(self._text_path(digest)).st_mode)
        except OSError:  # absent, or a path we cannot use: _store says which
            present = False
        if not present:
            self.store_entry(*self._where(digest), data)
        return digest

    def holds(self, digest: str, size: int) -> bool:
        """Whether a regular file of `size` bytes is stored under `digest` (one lstat, no read:
        readers check the content)."""
        try:
            found = os.lstat(self._text_path(digest))
        except OSError:
            return False
        return stat.S_ISREG(found.st_mode) and found.st_size == size

    def discard(self, digest: str) -> None:
        """Remove a blob found damaged without reading it (a size that is not its text's)."""
        self._remove(*self._where(digest))

    def read(self, digest: str) -> str:
        """The text whose digest is `digest`, checked; CardUnreadable if missing or damaged."""
        parts, name = self._where(digest)
        try:
            data = self.read_entry(parts, name)
        except TamperedEntry as err:
            raise CardUnreadable(digest, "tampered", err.strerror or "not a regular file") from None
        except ValueError as err:  # over the size cap
            self._remove(parts, name)
            raise CardUnreadable(digest, "tampered", f"{err}; removed") from None
        except OSError as err:
            raise CardUnreadable(digest, "missing", err.strerror or str(err)) from None
        if data is None:
            raise CardUnreadable(digest, "missing", f"no {self.path(digest)}")
        if hashlib.sha256(data).hexdigest() != digest:
            self._remove(parts, name)
            raise CardUnreadable(digest, "tampered", "content does not match its digest; removed")
        return data.decode("utf-8")

    def _remove(self, parts: list[str], name: str) -> None:
        try:
            folder = self._open_dir(parts, create=False)
        except OSError:
            return
        try:
            self._drop(folder, name)
        finally:
            os.close(folder)

    # A card the store cannot take is a failure of the job (disk full, a planted folder), not a
    # warning as in the caches: the record would name a blob that does not exist.
    def _write_failed(self, parts: list[str], err: OSError) -> None:
        raise OSError(err.errno, f"card store {self.root.joinpath(*parts)}: {err.strerror}")

    def _switch_off(self, err: OSError) -> None:
        raise OSError(err.errno, f"card store {self.root} cannot be written: {err.strerror}")


def store_root(data_root: str | Path) -> Path:
    return Path(data_root) / "store" / "cards"


def store_from(config: dict) -> CardStore:
    """The data root's card store, its read cap from `hub.readme_max_mb` (a bound, read from the
    config: it changes no output)."""
    max_mb = config.get("hub", {}).get("readme_max_mb", 5)
    return CardStore(store_root(config["data_root"]), int(max_mb * 1024 * 1024))


def with_text(record: dict, store: CardStore | None) -> tuple[dict, CardUnreadable | None]:
    """The record with its README text in `card`, read from the store by `card_sha256` (a
    record that carries its text inline, or none, is returned as it is); a card the store cannot
    give leaves `card` null and is returned beside the record."""
    digest = record.get("card_sha256")
    if store is None or not isinstance(digest, str) or isinstance(record.get("card"), str):
        return record, None
    try:
        return {**record, "card": store.read(digest)}, None
    except (CardUnreadable, ValueError) as err:
        problem = (
            err
            if isinstance(err, CardUnreadable)
            else CardUnreadable(str(digest), "tampered", str(err))
        )
        log.warning("%s: %s", record.get("modelId"), problem)
        return {**record, "card": None}, problem
