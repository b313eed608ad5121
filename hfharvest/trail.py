"""The README entries a fetch job read, in the order it listed the models: the next run's job of
the same shard reads them back as it walks its own listing, instead of opening each entry's file.

A warm run lists the same models in nearly the same order (newest first: the changed ones move
to the front, the rest keep their order), so the entry of each listed model is the next one in
the trail, or a little ahead. The walk holds at most `window` entries read ahead; a model it
does not find (changed, new, or too far) is looked up in its file as before. What a trail gives
is only where the bytes come from: the cache checks them exactly as a file's (checksum, key).

A line is `<model id>\\t<sha>\\t<entry in its signed form>` (cache.py; one-line JSON); the
file is gzip-compressed, written into a temporary file renamed into place, and opened like the
cache's entries (a regular file, never through a link, in the folder the cache walked).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import weakref
from collections.abc import Iterable, Iterator
from contextlib import suppress

from zlib_ng import gzip_ng, zlib_ng

log = logging.getLogger(__name__)

WINDOW = 20_000  # entries held ahead at most (a few MB): past them a lookup reads the file
MISSED_MAX = 5 * WINDOW  # ids not found that are remembered (see TrailWalk._missed)


class TrailWalk:
    """Entries of an earlier trail, found by (model id, sha) in about the order they were
    written."""

    def __init__(self, lines: Iterable[bytes], window: int = WINDOW):
        self._lines: Iterator[bytes] | None = iter(lines)
        self._ahead: dict[str, tuple[str, bytes]] = {}  # read ahead: id -> (sha, entry)
        # Ids asked and not found (changed or new models, or ahead of the window): a line of
        # theirs read later is no answer to anyone, and is dropped rather than held. Grows with
        # what changed, up to a bound (past it such lines are held, and the walk may stall: the
        # files are read).
        self._missed: set[str] = set()
        self._window = window

    def find(self, model_id: str, sha: str) -> bytes | None:
        """The entry's bytes, if the trail holds them at `sha` within the window."""
        found = self._ahead.pop(model_id, None)
        while found is None and self._lines is not None and len(self._ahead) < self._window:
            line = self._next()
            if line is None:
                break
            if line[0] == model_id:
                found = line[1:]
            elif line[0] in self._missed:
                self._missed.discard(line[0])
            else:
                self._ahead[line[0]] = line[1:]
        if found is None and self._lines is not None and len(self._missed) < MISSED_MAX:
            self._missed.add(model_id)  # (a trail read to its end holds no more lines of it)
        return found[1] if found is not None and found[0] == sha else None

    def _next(self) -> tuple[str, str, bytes] | None:
        for line in self._lines:
            model_id, tab, rest = line.rstrip(b"\n").partition(b"\t")
            sha, tab2, entry = rest.partition(b"\t")
            if tab and tab2:  # a line cut short is skipped: its file is read instead
                return model_id.decode("utf-8", "replace"), sha.decode("ascii", "replace"), entry
        self._lines = None
        return None


def trail_line(model_id: str, sha: str, entry: bytes) -> bytes:
    return b"%s\t%s\t%s\n" % (model_id.encode("utf-8"), sha.encode("ascii"), entry)


def trail_lines(folder: int, name: str) -> Iterator[bytes]:
    """The lines of the trail `name` in `folder` (a regular file, never a link), as far as they
    can be read: a trail that is absent, cut or damaged ends there (the files are read)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError:
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        with os.fdopen(os.dup(fd), "rb") as raw, gzip_ng.GzipFile(fileobj=raw) as lines:
            yield from lines
    except (OSError, EOFError, zlib_ng.error) as err:
        log.info("README trail %s: %s: the rest read from the entries' files", name, err)
    finally:
        os.close(fd)


_TRAIL_BATCH = 1_000


class TrailWriter:
    """A trail written as it grows into a temporary file of `folder`, renamed to `name` by
    `close` (a job that fails leaves the trail before it in place)."""

    def __init__(self, folder: int, name: str):
        self._folder, self._name = folder, name
        self._temporary = f".{name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     0o644, dir_fd=folder)  # fmt: skip
        self._raw = os.fdopen(fd, "wb")
        self._out = gzip_ng.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0,
                                     compresslevel=1)  # fmt: skip
        self._done = weakref.finalize(self, _discard, self._raw, folder, self._temporary)
        self._lines: list[bytes] = []  # compressed a batch at a time (a call a line: 2 us each)

    def add(self, line: bytes) -> None:
        self._lines.append(line)
        if len(self._lines) >= _TRAIL_BATCH:
            self._write()

    def _write(self) -> None:
        self._out.write(b"".join(self._lines))
        self._lines = []

    def close(self) -> None:
        try:
            self._write()
            self._out.close()
            self._raw.close()
            os.replace(self._temporary, self._name, src_dir_fd=self._folder,
                       dst_dir_fd=self._folder)  # fmt: skip
        except OSError as err:
            log.warning("README trail %s not kept: %s", self._name, err)
        self._done()  # the folder closed (and the temporary file removed, if still there)


def _discard(raw, folder: int, temporary: str) -> None:
    """A trail never closed (its job failed): its temporary file removed, its folder closed."""
    with suppress(OSError):
        raw.close()
        os.unlink(temporary, dir_fd=folder)
    with suppress(OSError):
        os.close(folder)
