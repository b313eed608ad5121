"""READMEs cached by endpoint, model id and commit sha, shared by every run under one data root;
and the records one run fetched by id, so that a rerun of that run fetches only what it could
not get.

A commit never changes, so a README entry never goes stale: a listing that shows an unchanged sha
costs no further request. Entries are partitioned by endpoint (a folder per endpoint hash, the
endpoint written beside them): a replica's READMEs are never served to a run against the Hub.
Only READMEs the Hub gave are cached, and a gated refusal to a run without a token (at that
commit it cannot change without one); a run with a token, and any other refusal, asks again.

The cache is an optimisation: one that cannot be written is a warning and the run goes on
without it. It reads and writes only regular files and real folders under its root: each path
component is opened with O_NOFOLLOW relative to its parent, so a symlink, a FIFO or a device
planted in the cache is never followed (it is dropped as a corrupt entry). Each entry carries a
checksum; a corrupt one is dropped and refetched. Model ids become file names only once
validated (no `..`, no absolute paths, ASCII only).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import secrets
import stat
import threading
import time
import weakref
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .ids import validate_model_id
from .progress import CONSOLE
from .runconfig import endpoint_key
from .trail import TrailWalk, TrailWriter, trail_line, trail_lines

if TYPE_CHECKING:
    from .cards import CardStore

log = logging.getLogger(__name__)

SHA = re.compile(r"[0-9a-f]{7,64}")
VERSION = re.compile(r"[0-9a-f]{7,64}|v[0-9]{1,6}")  # a commit sha, or an arXiv version
LEGACY_OWNER = "~"  # ids without an owner (gpt2); `~` is never part of a Hub id
ENTRY_MAX_BYTES = 64 * 1024 * 1024  # a README is cut at 5 MiB: an entry beyond this is damage
ENDPOINT_FILE = "ENDPOINT"  # in each endpoint's folder: which endpoint its entries came from
TRAILS = "~trails"  # beside it, the fetch jobs' trails (trail.py); `~` is in no owner's name
TRAIL_NAME = re.compile(r"[0-9]{1,6}-of-[0-9]{1,6}")  # a fetch shard's scatter item
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
# A planted symlink (ELOOP), a file where a folder should be (ENOTDIR), a FIFO or device (ENXIO).
_TAMPERED = {errno.ELOOP, errno.ENOTDIR, errno.ENXIO, errno.EISDIR}
# json.dumps(..., sort_keys=True, ensure_ascii=False) with its encoder made once (as
# jsonio.dumps_record): json.dumps builds one per call with options.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


class CardUnreadable(Exception):
    """A card the card store cannot give (hfharvest/cards.py): `reason` is `missing` or
    `tampered`."""

    def __init__(self, digest: str, reason: str, detail: str):
        super().__init__(f"card {digest[:12]}: {detail}")
        self.reason = reason


class TamperedEntry(OSError):
    """A cache path that is not a regular file in real folders under the cache's root."""


@dataclass(frozen=True)
class CachedCard:
    text: str | None  # None: the repo has no README at that commit (or it was refused)
    truncated: bool
    refused: str | None = None  # "gated": refused to a run without a token at that commit
    source: str | None = None  # "bulk_dump": taken from the Hub's dump of cards (bulk_cards.py)
    digest: str | None = None  # the text's digest in the card store, when asked without text


class EntryStore:
    """Checksummed JSON entries in folders under `root` (threads share it), counting hits and
    misses. `root` itself is the user's (it may be a symlink); everything under it is ours."""

    max_bytes = ENTRY_MAX_BYTES  # an entry beyond this is damage

    def __init__(self, root: str | Path, what: str):
        self.root = Path(root)
        self.what = what
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.writable = True
        self._kept: tuple[int, weakref.finalize] | None = None  # the base folder, see _open_dir

    def _tally(self, found: bool) -> None:
        with self._lock:
            if found:
                self.hits += 1
            else:
                self.misses += 1

    # -- safe file access ----------------------------------------------------------------------
    def _open_dir(self, parts: list[str], create: bool) -> int:
        """A descriptor of root/parts..., every component a real folder (O_NOFOLLOW).

        The store's base folder (`_base`, else the root) is walked once and its descriptor
        kept: a warm run looks up every listed model's entry, and a walk from the root cost
        five opens and closes each time. A base removed under us is walked again."""
        base = getattr(self, "_base", [])
        if parts[: len(base)] != base:
            return self._walk(self._open_root(), parts, create)
        try:
            return self._below_base(base, parts[len(base) :], create)
        except FileNotFoundError:
            if not self._forget_base_if_gone():
                raise
        return self._below_base(base, parts[len(base) :], create)

    def _below_base(self, base: list[str], rest: list[str], create: bool) -> int:
        """`_walk` from the kept base folder, its first step taken from the kept descriptor
        itself (a copy of it for each lookup was two more system calls)."""
        kept = self._base_fd(base, create)
        if not rest:
            return os.dup(kept)
        return self._walk(self._child(kept, rest[0], create), rest[1:], create)

    def _open_root(self) -> int:
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)

    @staticmethod
    def _child(fd: int, part: str, create: bool) -> int:
        """The real folder `part` in `fd` (made first with `create`); `fd` stays open."""
        if create:
            with suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
        return os.open(part, _DIR_FLAGS, dir_fd=fd)

    @classmethod
    def _walk(cls, fd: int, parts: list[str], create: bool) -> int:
        """Descend from `fd` (taken: closed on the way) through `parts`, real folders only."""
        try:
            for part in parts:
                child = cls._child(fd, part, create)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _base_fd(self, base: list[str], create: bool) -> int:
        """The kept descriptor of the base folder (not a copy: see _forget_base_if_gone)."""
        with self._lock:
            if self._kept is None:
                fd = self._walk(self._open_root(), base, create)
                self._kept = (fd, weakref.finalize(self, os.close, fd))
            return self._kept[0]

    def _forget_base_if_gone(self) -> bool:
        """Whether the kept base folder was removed (then it is forgotten, to be walked anew).
        Its descriptor stays open until the store goes: another thread may be opening below
        it, and a number closed and given again would lead that thread into another folder."""
        with self._lock:
            if self._kept is None:
                return True
            fd, _ = self._kept
            if os.fstat(fd).st_nlink > 0:  # still there: the entry's folder is what is absent
                return False
            self._kept = None
            return True

    def read_entry(self, parts: list[str], name: str) -> bytes | None:
        """The entry's bytes; None if absent. Raises TamperedEntry for anything but a regular
        file in real folders, ValueError for one over the size cap."""
        try:
            folder = self._open_dir(parts, create=False)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise TamperedEntry(err.errno, f"{'/'.join(parts)}: not a real folder") from None
        try:
            try:  # O_NONBLOCK: opening a planted FIFO must not wait for a writer
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
            except FileNotFoundError:
                return None
            except OSError as err:
                self._drop(folder, name)
                raise TamperedEntry(err.errno, "not a regular file") from None
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    self._drop(folder, name)
                    raise TamperedEntry(errno.EINVAL, "not a regular file")
                if info.st_size > self.max_bytes:
                    raise ValueError(f"over {self.max_bytes} bytes")
                # As much as the file holds (a byte more shows one that grew): asking for
                # the cap made Python allocate 64 MiB per read, most of a warm lookup's CPU.
                data = os.read(fd, info.st_size + 1)
                if len(data) == info.st_size:  # a regular file's read stops short at its end
                    return data
                return data + _read_up_to(fd, info.st_size + 1 - len(data))
            finally:
                os.close(fd)
        finally:
            os.close(folder)

    @staticmethod
    def _drop(folder: int, name: str) -> None:
        with suppress(OSError):
            os.unlink(name, dir_fd=folder)  # removes a planted link itself, never its target

    def store_entry(self, parts: list[str], name: str, data: bytes) -> bool:
        """Write atomically (a temporary file renamed over the entry); a cache that cannot be
        written is switched off with one warning, a tampered path is skipped. Whether it was
        written."""
        if not self.writable:
            return False
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self._switch_off(err)
            return False
        try:
            folder = self._open_dir(parts, create=True)
        except OSError as err:
            self._write_failed(parts, err)
            return False
        temporary = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         0o644, dir_fd=folder)  # fmt: skip
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            # Checksummed entries need no fsync: a torn one is detected and refetched.
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError as err:
            with suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            self._write_failed(parts, err)
            return False
        finally:
            os.close(folder)
        return True

    def _write_failed(self, parts: list[str], err: OSError) -> None:
        where = self.root.joinpath(*parts)
        if err.errno in _TAMPERED:
            log.warning("%s cache: %s is not a real folder: entry not cached", self.what, where)
        else:
            self._switch_off(err)

    def _switch_off(self, err: OSError) -> None:
        with self._lock:
            if not self.writable:
                return
            self.writable = False
        log.warning("%s cache %s cannot be written (%s): going on without it", self.what,
                    self.root, err.strerror or err, extra=CONSOLE)  # fmt: skip

    def _shown(self, parts: list[str], name: str) -> Path:
        """Where an entry is, for messages only: a warm run reads 1.5 million entries and
        speaks of a handful (the path, built each time, was a tenth of a lookup's CPU)."""
        return self.root.joinpath(*parts, name)

    # -- entries -------------------------------------------------------------------------------
    def _write_entry(self, parts: list[str], name: str, entry: dict) -> bytes | None:
        """Write the entry, checksummed; its bytes, or None if it could not be written."""
        data = _signed(_canonical(entry))
        return data if self.store_entry(parts, name, data) else None

    def _load_entry(self, parts: list[str], name: str, key: dict) -> dict | None:
        """A checksummed entry whose key fields match `key`; None if missing, or if damaged
        (then it is deleted, to be refetched)."""
        return self._load_entry_bytes(parts, name, key)[0]

    def _load_entry_bytes(self, parts: list[str], name: str,
                          key: dict) -> tuple[dict | None, bytes | None]:  # fmt: skip
        """`_load_entry`, and its bytes in the signed form (`_verified`)."""
        try:
            data = self.read_entry(parts, name)
            return (None, None) if data is None else _verified(data, key)
        except TamperedEntry as err:
            where = self._shown(parts, name)
            log.warning("cache entry %s: %s: ignored, will refetch", where, err.strerror)
        except PermissionError as err:
            where = self._shown(parts, name)
            log.warning("cache entry %s cannot be read (%s): will refetch", where, err.strerror)
        except (OSError, *_DAMAGED) as err:
            where = self._shown(parts, name)
            log.warning("corrupt cache entry %s (%s): dropped, will refetch", where, err)
            with suppress(OSError):
                folder = self._open_dir(parts, create=False)
                self._drop(folder, name)
                os.close(folder)
        return None, None


_DAMAGED = (ValueError, KeyError, TypeError, AttributeError, RecursionError)  # of an entry's bytes


def _verified(data: bytes, key: dict) -> tuple[dict, bytes]:
    """The entry `data` holds, its checksum and key fields checked (one of _DAMAGED if not),
    and its bytes in the signed form (`_signed`)."""
    entry, signed = _signed_entry(data)
    if any(entry[k] != v for k, v in key.items()):
        raise ValueError("key mismatch")
    return entry, signed


def _signed_entry(data: bytes) -> tuple[dict, bytes]:
    """The entry, its checksum checked, and its signed bytes: `data` itself when it is in that
    form (its checksum is then that of the bytes after it, nothing encoded again), else made
    from the entry (one written before that form, or by hand)."""
    if data.startswith(_SIGNED_HEAD) and data[_SIGNED_END : _SIGNED_END + 3] == b'", ':
        canonical = b"{" + data[_SIGNED_END + 3 :]
        if hashlib.sha256(canonical).hexdigest().encode() == data[len(_SIGNED_HEAD) : _SIGNED_END]:
            return json.loads(canonical.decode("utf-8")), data
    entry = json.loads(data.decode("utf-8"))
    checksum = entry.pop("checksum")
    canonical = _canonical(entry)
    if checksum != hashlib.sha256(canonical).hexdigest():
        raise ValueError("checksum mismatch")
    return entry, _signed(canonical)


# An entry's bytes: `{"checksum": "<sha256 of the rest>", ` then the rest of its canonical JSON
# (sorted keys), so that reading one hashes its bytes instead of encoding it again. Entries of
# other forms (`"checksum"` anywhere, over the canonical JSON of the others) are read too.
_SIGNED_HEAD = b'{"checksum": "'
_SIGNED_END = len(_SIGNED_HEAD) + 64  # a sha256's hex digest


def _canonical(entry: dict) -> bytes:
    return _CANONICAL_JSON.encode(entry).encode()


def _signed(canonical: bytes) -> bytes:
    checksum = hashlib.sha256(canonical).hexdigest().encode()
    return b'%s%s", %s' % (_SIGNED_HEAD, checksum, canonical[1:])


class CardCache(EntryStore):
    """READMEs under `<root>/readmes/<endpoint hash>/<owner>/<name>/<sha>.json`: each entry
    holds the README's digest (`sha256`), its text is in the card store (hfharvest/cards.py)."""

    def __init__(self, root: str | Path, endpoint: str, store: CardStore):
        super().__init__(root, "README")
        self.store = store
        folder, self.endpoint = endpoint_key(endpoint)
        self._base = ["readmes", folder]
        self._marked = False
        self._following: TrailWalk | None = None
        self._trail_out: TrailWriter | None = None

    def _where(self, model_id: str, sha: str) -> tuple[list[str], str]:
        validate_model_id(model_id)  # ids become paths only once checked: no `..`, no `/x`
        if not SHA.fullmatch(sha):
            raise ValueError(f"not a commit sha: {sha!r}")
        owner, _, name = model_id.rpartition("/")
        return [*self._base, owner or LEGACY_OWNER, name], f"{sha}.json"

    def _path(self, model_id: str, sha: str) -> Path:
        """Where the entry lives (for people and tests; access goes through the safe openers)."""
        parts, name = self._where(model_id, sha)
        return self.root.joinpath(*parts, name)

    def get(self, model_id: str, sha: str | None, text: bool = True) -> CachedCard | None:
        """The README at `sha`, its text read (and checked) from the card store; None when not
        cached, or when the store cannot give the text (then it is fetched again).

        With `text=False` only its digest, when the store holds a blob of the size the entry
        recorded: a warm run writes records that name cards, it need not read 1.5 million of
        them. Whoever reads a text checks it against its digest (CardStore.read), and a damaged
        blob is removed there, so the next run fetches it again."""
        if not sha or not SHA.fullmatch(sha):
            return None
        entry = self._entry(model_id, sha)
        card = None
        if entry is not None:
            try:
                card = self._card(model_id, sha, entry, text)
            except KeyError as err:
                where = self._path(model_id, sha)
                log.warning("corrupt cache entry %s (no %s): will refetch", where, err)
            except (CardUnreadable, ValueError) as err:
                log.warning("%s@%s: README cached, but %s: will refetch", model_id, sha, err)
        self._tally(card is not None)
        return card

    def _entry(self, model_id: str, sha: str) -> dict | None:
        """The entry from the trail of the run before, if it holds it as it should (its own
        id and sha: the id needs no check to become a path), else from its file; kept in this
        job's trail."""
        key = {"model_id": model_id, "sha": sha}
        entry, data = None, None
        if self._following is not None:
            with self._lock:  # the fetch job asks in one thread; anyone else may not
                data = self._following.find(model_id, sha)
        if data is not None:
            with suppress(*_DAMAGED):  # a damaged line: the file is read instead
                entry, data = _verified(data, key)
        if entry is None:
            entry, data = self._load_entry_bytes(*self._where(model_id, sha), key)
        if entry is not None:
            self._trail(model_id, sha, data)
        return entry

    def follow_trail(self, name: str) -> None:
        """Walk the trail `name` the job of the run before left (see trail.py) and leave one
        for the next run's: for a job that looks up a listing's entries in its order (a fetch
        shard, a `name` each). The new trail is in place once `flush` is called."""
        if not TRAIL_NAME.fullmatch(name):
            raise ValueError(f"not a trail name: {name!r}")
        try:
            self.root.mkdir(parents=True, exist_ok=True)  # a first run's: its trail is kept too
            folder = self._open_dir([*self._base, TRAILS], create=True)
        except OSError as err:  # the cache's own writes say why, once
            log.info("README trail not kept (%s): entries read from their files", err)
            return
        try:
            self._trail_out = TrailWriter(folder, f"{name}.gz")
        except OSError as err:
            os.close(folder)
            log.info("README trail not kept (%s): entries read from their files", err)
            return
        self._following = TrailWalk(trail_lines(folder, f"{name}.gz"))

    def _trail(self, model_id: str, sha: str, data: bytes) -> None:
        if self._trail_out is not None:
            with self._lock:
                self._trail_out.add(trail_line(model_id, sha, data))

    def flush(self) -> None:
        """Put this job's trail in place (see follow_trail)."""
        with self._lock:
            out, self._trail_out, self._following = self._trail_out, None, None
        if out is not None:
            out.close()

    def _card(self, model_id: str, sha: str, entry: dict, text: bool = True) -> CachedCard:
        refused, source = entry.get("refused"), entry.get("source")
        refused = refused if isinstance(refused, str) else None
        source = source if isinstance(source, str) else None
        truncated = bool(entry["truncated"])
        if "text" in entry:  # an entry of a version that kept the text: moved to the store
            self.put(model_id, sha, entry["text"], truncated, refused, source)
            return CachedCard(entry["text"], truncated, refused, source)
        digest = entry["sha256"]
        size = entry.get("bytes")  # entries written before sizes were kept: read the text
        if not text and digest is not None and isinstance(size, int):
            if self.store.holds(digest, size):
                return CachedCard(None, truncated, refused, source, digest)
            self.store.discard(digest)  # else `put` would keep the damaged blob
            raise CardUnreadable(digest, "missing", "blob absent or not of its recorded size")
        found = None if digest is None else self.store.read(digest)
        if not text and found is not None:  # an entry without its size: rewritten with it
            self.put(model_id, sha, found, truncated, refused, source)
        return CachedCard(found, truncated, refused, source, digest)

    def holds(self, model_id: str, sha: str) -> bool:
        """Whether an entry exists (no read, no tally): for writers that must not overwrite."""
        return self._path(model_id, sha).is_file()

    def put(self, model_id: str, sha: str | None, text: str | None, truncated: bool,
            refused: str | None = None, source: str | None = None) -> str | None:  # fmt: skip
        """Cache a README the Hub gave (text, or None when the repo has none at `sha`), or its
        refusal (`refused="gated"`) to a run without a token: at that commit, without a token,
        the answer cannot change; a run with a token asks again. Returns the text's digest in
        the card store (None for no text, or a sha that cannot be cached)."""
        if not sha or not SHA.fullmatch(sha):
            return None
        if not self._marked:  # which endpoint this folder's entries came from, for people
            self._marked = True
            self.store_entry(self._base, ENDPOINT_FILE, f"{self.endpoint}\n".encode())
        parts, name = self._where(model_id, sha)
        data = None if text is None else text.encode("utf-8")
        digest = None if data is None else self.store.put_bytes(data)
        entry = {"model_id": model_id, "sha": sha, "sha256": digest, "truncated": truncated}
        if data is not None:
            entry["bytes"] = len(data)
        if refused:
            entry["refused"] = refused
        if source:
            entry["source"] = source
        if (written := self._write_entry(parts, name, entry)) is not None:
            self._trail(model_id, sha, written)
        return digest


class RecordCache(EntryStore):
    """The records one run fetched by exact id (model_info + README), under its run folder, in
    a folder per endpoint: a run whose endpoint changed fetches everything anew.

    A rerun of the same run reuses them: only models that were not fetched, or whose README
    failed, cost requests. Scoped to one run on purpose: a new run is a new snapshot of the Hub.
    """

    def __init__(self, root: str | Path, endpoint: str):
        super().__init__(root, "record")
        self._base = [endpoint_key(endpoint)[0]]

    def _where(self, model_id: str) -> tuple[list[str], str]:
        validate_model_id(model_id)
        owner, _, name = model_id.rpartition("/")
        return [*self._base, owner or LEGACY_OWNER], f"{name}.json"

    def _path(self, model_id: str) -> Path:
        parts, name = self._where(model_id)
        return self.root.joinpath(*parts, name)

    def get(self, model_id: str) -> dict | None:
        entry = self._load_entry(*self._where(model_id), {"model_id": model_id})
        record = entry.get("record") if entry else None
        if not isinstance(record, dict) or not isinstance(record.get("extraction_metadata"), dict):
            record = None
        self._tally(record is not None)
        return record

    def put(self, model_id: str, record: dict) -> None:
        self._write_entry(*self._where(model_id), {"model_id": model_id, "record": record})


def _read_up_to(fd: int, size: int) -> bytes:
    """Up to `size` bytes of `fd`, fewer only at its end (a file object's `read(size)`, without
    building one for each of a warm run's million entries)."""
    chunks = []
    while size > 0 and (chunk := os.read(fd, size)):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class EntityCache(EntryStore):
    """Enriched entities by their own version, shared by the data root's runs:
    `<root>/entities/<kind>/<endpoint hash>/<owner>/<name>/<version>.json`, and beside them
    `latest.json`: which version was seen last and when (a UTC epoch in seconds).

    A version never changes (a dataset's commit sha, an arXiv paper's `vN`), so an entry never
    goes stale; what does is knowing the *current* version: `fresh()` trusts the last one seen
    for `max_age_s`, after which the source is asked again. Partitioned by endpoint like
    READMEs, so one endpoint's entities are never served to a run against another.
    """

    LATEST = "latest.json"  # never a version's name: versions are hex shas or `v<N>`

    def __init__(self, root: str | Path, kind: str, endpoint: str, clock=time.time):
        super().__init__(root, kind)
        self._base = ["entities", kind, endpoint_key(endpoint)[0]]
        self._clock = clock

    def _parts(self, entity_id: str) -> list[str]:
        validate_model_id(entity_id)  # dataset ids and arXiv ids fit the Hub's id grammar
        owner, _, name = entity_id.rpartition("/")
        return [*self._base, owner or LEGACY_OWNER, name]

    @staticmethod
    def _version_name(version: str) -> str:
        if not VERSION.fullmatch(version):
            raise ValueError(f"not an entity version: {version!r}")
        return f"{version}.json"

    def get(self, entity_id: str, version: str | None) -> dict | None:
        """The entity's fields at `version`, or None (also for a version that is no string: an
        odd answer's `sha: 12345`)."""
        if not isinstance(version, str) or not VERSION.fullmatch(version):
            return None
        key = {"id": entity_id, "version": version}
        entry = self._load_entry(self._parts(entity_id), self._version_name(version), key)
        fields = entry.get("fields") if entry else None
        found = isinstance(fields, dict)
        self._tally(found)
        return fields if found else None

    def _latest(self, entity_id: str, max_age_s: float) -> dict | None:
        """The last-seen entry if it was seen within `max_age_s`, with `age`: seconds since."""
        entry = self._load_entry(self._parts(entity_id), self.LATEST, {"id": entity_id})
        seen = entry.get("seen_at") if entry else None
        if not isinstance(seen, int | float) or not 0 <= self._clock() - seen <= max_age_s:
            return None
        entry["age"] = self._clock() - seen
        return entry

    def is_fresh(self, entity_id: str, max_age_s: float) -> bool:
        """Whether `fresh()` would answer, without counting a hit or a miss."""
        return self._latest(entity_id, max_age_s) is not None

    def fresh(self, entity_id: str, max_age_s: float) -> dict | None:
        """The fields of the version last seen, if it was seen within `max_age_s`; for an
        entity the source said it does not have, `{"missing": message}`."""
        return self.fresh_version(entity_id, max_age_s)[0]

    def fresh_version(self, entity_id: str, max_age_s: float) -> tuple[dict | None, str | None]:
        """`fresh()`, and the version its fields are (None when there are none, or `missing`)."""
        fields, version, _ = self._fresh(entity_id, max_age_s)
        return fields, version

    def fresh_age(self, entity_id: str, max_age_s: float) -> tuple[dict | None, float | None]:
        """`fresh()`, and how long ago (s) it was seen: one read where `fresh` and then
        `is_fresh` with a shorter age were two."""
        fields, _, age = self._fresh(entity_id, max_age_s)
        return fields, age

    def _fresh(self, entity_id: str, max_age_s: float) -> tuple:
        """(fields, version, age): see fresh_version and fresh_age."""
        entry = self._latest(entity_id, max_age_s)
        if entry is None:
            self._tally(False)
            return None, None, None
        if isinstance(entry.get("missing"), str):
            self._tally(True)
            return {"missing": entry["missing"]}, None, entry["age"]
        version = entry.get("version")
        fields = self.get(entity_id, version)
        return fields, (version if fields is not None else None), entry["age"]

    def missing(self, entity_id: str, message: str) -> None:
        """The source says it has no such entity (now): asked again once that is stale."""
        entry = {"id": entity_id, "version": None, "missing": message, "seen_at": self._clock()}
        self._write_entry(self._parts(entity_id), self.LATEST, entry)

    def put(self, entity_id: str, version: str, fields: dict) -> None:
        """Store `fields` as the entity at `version`, and mark it the version seen now."""
        if not isinstance(version, str) or not VERSION.fullmatch(version):
            return
        parts = self._parts(entity_id)
        entry = {"id": entity_id, "version": version, "fields": fields}
        self._write_entry(parts, self._version_name(version), entry)
        self.seen(entity_id, version)

    def seen(self, entity_id: str, version: str) -> None:
        """The source says `version` is current now (a listing's sha that is already cached)."""
        entry = {"id": entity_id, "version": version, "seen_at": self._clock()}
        self._write_entry(self._parts(entity_id), self.LATEST, entry)
