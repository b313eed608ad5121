"""JSON artifacts: written atomically and streamed, so 1.5 million records never sit in memory.

A stage file is one JSON object: `{"stage", ...metadata, "models": [...], "failures": [...],
"counts": {...}}`. Models are written one by one as they come and read back one by one. An
identify mapping is one JSON object `{model id: value}` with one entry a line; an enrich output
is one JSON list with one entity a line: both written and read entry by entry.

Run files are our own outputs, so they have no size cap (a full harvest's model file passes
any fixed one); a caller reading untrusted JSON passes `max_bytes`. A path ending in `.gz` is
written and read gzip-compressed (the run's internal files: a run keeps them at a tenth of the
bytes, and `zcat` still reads them).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from json.encoder import encode_basestring  # json.dumps of a str, ensure_ascii=False
from pathlib import Path
from typing import IO, TypeVar

import ijson

# zlib-ng's gzip: the same format and level, compressed in about half of zlib's CPU (the
# normalize stage's N-Triples: 0.35 s against 0.58 s for 5 000 documents, the same ratio)
from zlib_ng import gzip_ng

from .answers import SURROGATE_ESCAPE, finite_or_none, int64_or_none

T = TypeVar("T")

# json.dumps(record, ensure_ascii=False), its encoder made once (json.dumps builds one per call
# when given options): stages write a record per model.
dumps_record = json.JSONEncoder(ensure_ascii=False).encode


def _file_mode() -> int:
    """0666 less the process's umask (read once: os.umask can only be read by setting it)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w", fsync: bool = True):
    """Open a temporary file beside `path`; rename it into place only if the block succeeds.

    `fsync=False` for files that carry their own checksum (cache entries): a torn one is
    detected and refetched, so it need not wait for the disk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp makes it 0600; an output is as readable as any file
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


GZIP_LEVEL = 6  # gzip's default: N-Triples and JSON Lines shrink 15-20 times


@contextmanager
def atomic_gzip_writer(path: str | Path):
    """A text handle whose lines land gzip-compressed in `path`, atomically. The same input
    gives the same bytes (no time or name in the header), so reruns compare equal."""
    with (
        atomic_writer(path, "wb") as raw,
        gzip_ng.GzipFile(
            filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0
        ) as packed,
        io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as text,
    ):
        yield text


def write_json(path: str | Path, data) -> None:
    with atomic_writer(path) as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


def compressed(path: str | Path) -> bool:
    return str(path).endswith(".gz")


class _Capped(io.RawIOBase):
    """A decompressed stream that fails once more than `max_bytes` came out of it."""

    def __init__(self, stream, path: Path, max_bytes: int):
        self._stream, self._path, self._cap, self._left = stream, path, max_bytes, max_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self._stream.readinto(buffer)
        self._left -= count
        if self._left < 0:
            raise ValueError(f"{self._path}: over the {self._cap}-byte cap decompressed")
        return count

    def close(self) -> None:
        self._stream.close()
        super().close()


def _open_checked(path: str | Path, max_bytes: int | None = None):
    path = Path(path)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"{path}: {size} bytes is over the {max_bytes}-byte cap")
    if not compressed(path):
        return path.open("rb")
    stream = gzip_ng.open(path, "rb")  # noqa: SIM115 - the caller closes it, as with path.open
    return stream if max_bytes is None else io.BufferedReader(_Capped(stream, path, max_bytes))


def read_json(path: str | Path, max_bytes: int | None = None):
    """A whole JSON file: only for small files (a summary, an id list); stream the others."""
    with _open_checked(path, max_bytes) as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None


def _items(path: str | Path, prefix: str) -> Iterator:
    with _open_checked(path) as handle:
        try:
            yield from ijson.items(handle, prefix, use_float=True)
        except ijson.JSONError as err:
            raise ValueError(f"{path}: invalid JSON: {err}") from None


def iter_models(path: str | Path) -> Iterator[dict]:
    """The artifact's model records, one at a time."""
    return _items(path, "models.item")


class ModelText(dict):
    """A model record and `text`, the JSON text its stage file holds for it: ArtifactWriter
    writes that text, not the record encoded again. Only for records passed on unchanged (a
    gather's): a change made to one would not be written."""

    __slots__ = ("text",)


_HEAD = re.compile(rb'\{"stage": "[^"\\]*", "models": \[\n')  # as ArtifactWriter writes it
_MODELS_END = b'], "failures": [\n'


def _refused(text: str):
    raise ValueError(f"{text}: not read here")


def _int64(text: str) -> int:
    return value if (value := int64_or_none(text)) is not None else _refused(text)


def _finite(text: str) -> float:
    return value if (value := finite_or_none(text)) is not None else _refused(text)


# json.loads refusing what ijson (yajl) reads otherwise or refuses: NaN and Infinity, integers
# beyond 64 bits, non-finite floats (lone surrogates are looked for in the text)
_STRICT = json.JSONDecoder(parse_int=_int64, parse_float=_finite, parse_constant=_refused)


def iter_models_as_written(
    path: str | Path, read: Callable[[bytes], bool] | None = None
) -> Iterator[dict]:
    """iter_models, each record a ModelText: a file laid out as ArtifactWriter writes it (one
    model a line) is read a line at a time by json.loads; from a line it refuses (what ijson
    might read otherwise, or a layout not ArtifactWriter's) on, by ijson as iter_models.

    `read(line)` False: that line's record is passed over, not parsed (nor checked beyond the
    layout), for a reader that wants few of them; records ijson reads all come."""
    if read is None:
        return iter_model_lines(path, _written, _same)
    lines = iter_model_lines(path, lambda raw: _written(raw) if read(raw) else _PASSED, _same)
    return (record for record in lines if record is not _PASSED)


_PASSED = ModelText()  # a line `read` passed over


def _same(record: dict) -> dict:
    return record


def iter_model_lines(path: str | Path, read_line: Callable[[bytes], T | None],
                     read_record: Callable[[dict], T]) -> Iterator[T]:  # fmt: skip
    """`read_line` of each model's line (`{...}`, without its comma) of a file laid out as
    ArtifactWriter writes it; from the first line it reads as None (or a layout not
    ArtifactWriter's) on, `read_record` of each record iter_models parses."""

    def lines(handle) -> Iterator[bytes | None] | None:
        return _model_lines(handle) if _HEAD.fullmatch(handle.readline()) else None

    return _lines_read(path, lines, read_line, lambda: map(read_record, iter_models(path)))


def _lines_read(path: str | Path, lines: Callable[[IO[bytes]], Iterator[bytes | None] | None],
                read_line: Callable[[bytes], T | None], fallback: Callable[[], Iterator[T]]
                ) -> Iterator[T]:  # fmt: skip
    """`read_line` of each line `lines` gives of the opened file (None for a file, or from a
    line, not in its layout); from the first it reads as None on, `fallback()`'s values past
    those already read (a fast reader of our own layouts, with the full parser behind it)."""
    done = 0
    with _open_checked(path) as handle:
        if (found := lines(handle)) is not None:
            for raw in found:
                if raw is None or (value := read_line(raw)) is None:
                    break
                yield value
                done += 1
            else:
                return
    yield from itertools.islice(fallback(), done, None)


def _model_lines(handle) -> Iterator[bytes | None]:
    """The model lines after the head, then None if the layout is not ArtifactWriter's."""
    last = False  # a line without a comma: the models end after it
    for line in handle:
        if line == _MODELS_END and last:
            return
        if last or not line.endswith(b"\n"):
            break  # not ArtifactWriter's layout: no models, or one cut or split
        last = not line.endswith(b",\n")
        raw = line[:-1] if last else line[:-2]
        if not (raw[:1] == b"{" and raw[-1:] == b"}"):
            break
        yield raw
    yield None


def _written(raw: bytes) -> ModelText | None:
    """The record of a model line, with its text; None if it is not read here."""
    if (decoded := _decoded(raw)) is None:
        return None
    written = ModelText(decoded[1])
    written.text = decoded[0]
    return written


def _parsed(raw: bytes):
    """The value of a line as ijson reads it; None if it is not read here."""
    return None if (decoded := _decoded(raw)) is None else decoded[1]


def _decoded(raw: bytes) -> tuple[str, object] | None:
    """A line's text and value, if json.loads reads it as ijson does; else None."""
    try:
        text = raw.decode("utf-8")
        value = _STRICT.decode(text)
    except ValueError:
        return None
    return None if SURROGATE_ESCAPE.search(raw) else (text, value)


def iter_model_texts(path: str | Path) -> Iterator[dict]:
    """iter_models_as_written for a reader that passes records on unchanged and looks at their
    `modelId` alone (a gather): a line that starts with its id, as ArtifactWriter writes a Hub
    record, is not parsed (nor checked beyond its layout), its ModelText holds only that id;
    any other line is read as there."""
    return iter_model_lines(path, _id_and_text, _same)


# A model line's start when its record's first key is its id, without an escape in it.
_ID_FIRST = re.compile(rb'\{"modelId": "([^"\\\x00-\x1f]*)", ')


def _id_and_text(raw: bytes) -> ModelText | None:
    if (found := _ID_FIRST.match(raw)) is None or SURROGATE_ESCAPE.search(raw):
        return _written(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    written = ModelText(modelId=found.group(1).decode("utf-8"))
    written.text = text
    return written


def iter_entries(path: str | Path) -> Iterator[tuple[str, object]]:
    """An identify mapping's `(model id, value)` pairs, one at a time."""
    with _open_checked(path) as handle:
        try:
            yield from ijson.kvitems(handle, "", use_float=True)
        except ijson.JSONError as err:
            raise ValueError(f"{path}: invalid JSON: {err}") from None


def iter_entry_chunks(path: str | Path) -> Iterator[list[tuple[str, str]]]:
    """iter_entries' pairs with each value's JSON text, not the value, in lists: a file laid out
    as write_entry_files writes it (one entry a line, keys without escapes) is split by a
    regular expression a megabyte of lines at a time, each value's text as written (not parsed:
    its reader parses those it uses, and a malformed one fails there); from a chunk not in that
    layout on, ijson's values, encoded."""
    done = 0
    with _open_checked(path) as handle:
        if handle.readline(3) == b"{\n":  # not a whole file of one line
            for pairs in _entry_chunks(handle):
                if pairs is None:
                    break
                yield pairs
                done += len(pairs)
            else:
                return
    entries = itertools.islice(iter_entries(path), done, None)
    while pairs := [(key, dumps_record(value)) for key, value in itertools.islice(entries, 10_000)]:
        yield pairs


_KEY = r'"([^"\\\x00-\x1f]*)": '  # a key as encode_basestring writes it, when it escapes nothing
_ENTRIES = re.compile(f"^{_KEY}(.+),$", re.MULTILINE)  # an entry line but the last
_LAST_ENTRY = re.compile(f"{_KEY}(.+)\n")
ENTRY_CHUNK = 1 << 20  # bytes of lines split at a time


def _entry_chunks(handle) -> Iterator[list[tuple[str, str]] | None]:
    """The entries after the opening brace, a chunk at a time, then None if the layout is not
    write_entry_files'."""
    empty = True
    while lines := handle.readlines(ENTRY_CHUNK):
        if not lines[-1].endswith(b",\n") and lines[-1] != b"}\n":
            lines.append(handle.readline())  # the closing brace, after the last entry
        end = lines[-1] == b"}\n"
        entries = lines[:-1] if end else lines
        last = entries.pop() if end and entries and not entries[-1].endswith(b",\n") else None
        if end and last is None and not (empty and not entries):
            break  # a comma before the closing brace
        try:
            pairs = _ENTRIES.findall(b"".join(entries).decode("utf-8"))
            final = None if last is None else _LAST_ENTRY.fullmatch(last.decode("utf-8"))
        except UnicodeDecodeError:
            break
        if len(pairs) != len(entries) or (last is not None and final is None):
            break  # a line not an entry's (each line matches once, or not at all)
        yield [*pairs, final.groups()] if final else pairs
        empty = False
        if end:
            if not handle.read(1):  # nothing after the closing brace
                return
            break
    yield None


def iter_items(path: str | Path, prefix: str = "item") -> Iterator:
    """The items of a file holding one JSON list (an enrich output), one at a time: by
    json.loads a line at a time where the file is laid out as write_items writes it, else by
    ijson; with `prefix` (ijson's), those of a list inside it."""
    if prefix != "item":
        return _items(path, prefix)

    def lines(handle) -> Iterator[bytes | None] | None:
        opened = handle.readline(3) == b"[\n"  # not a whole file of one line
        return _member_lines(handle, b"]\n") if opened else None

    return _lines_read(path, lines, _parsed, lambda: _items(path, prefix))


def _member_lines(handle, closing: bytes) -> Iterator[bytes | None]:
    """The lines after the opening one, without their commas, then None if the layout is not
    one member a line up to `closing` at the end."""
    comma = True  # the line before ended with a comma, or opened: a member may follow
    empty = True
    for line in handle:
        if line == closing and (empty or not comma):
            if not handle.read(1):  # nothing after the closing line
                return
            break
        if not comma or not line.endswith(b"\n"):
            break
        comma = line.endswith(b",\n")
        yield line[:-2] if comma else line[:-1]
        empty = False
    yield None


def write_entries(path: str | Path, entries: Iterable[tuple[str, object]],
                  encoded: bool = False) -> int:  # fmt: skip
    """`{key: value, ...}` from pairs, one entry a line, atomically; returns how many. With
    `encoded`, each value is already its JSON text."""
    texts = ((key, (value if encoded else dumps_record(value),)) for key, value in entries)
    return write_entry_files([path], texts)


def write_entry_files(paths: Sequence[str | Path], entries: Iterable[tuple[str, Sequence[str]]]
                      ) -> int:  # fmt: skip
    """write_entries of several files in one pass: each entry is a key and its value's JSON
    text in each file, in the order of `paths`."""
    count = 0
    with ExitStack() as stack:
        handles = [stack.enter_context(atomic_writer(path)) for path in paths]
        for handle in handles:
            handle.write("{")
        for key, values in entries:
            head = f"{',' if count else ''}\n{encode_basestring(key)}: "
            for handle, value in zip(handles, values, strict=True):
                handle.write(head + value)  # one call, not two: 10 files of 100 000 entries
            count += 1
        for handle in handles:
            handle.write("\n}\n")
    return count


def write_items(path: str | Path, items: Iterable) -> int:
    """`[item, ...]`, one item a line, atomically; returns how many."""
    count = 0
    with atomic_writer(path) as handle:
        handle.write("[")
        for item in items:
            handle.write(",\n" if count else "\n")
            handle.write(json.dumps(item, ensure_ascii=False))
            count += 1
        handle.write("\n]\n")
    return count


# Where a stage file's models end (ArtifactWriter.close writes it once; a model is one JSON line
# starting with `{`, so no model line can be this one).
_TAIL_MARK = b'\n], "failures": [\n'
_TAIL_BLOCK = 1 << 20
_HEAD_KEYS = ("stage", "models")  # written before the mark
_TAIL_KEPT_MAX = 16 * 1024 * 1024  # a compressed file's tail (failures, counts) kept in memory
_TAILS_KEPT = 4  # compressed files whose tails a process remembers
_TAILS: dict[tuple, tuple[int | None, bytes | None]] = {}
_TAILS_LOCK = threading.Lock()


def _tail_offset(handle) -> int | None:
    """The offset of the stage file's `"failures": [` (its models skipped), found by reading
    backwards from the end; None for a file that is not a stage file."""
    end = handle.seek(0, os.SEEK_END)
    position, after = end, b""
    while position > 0:
        start = max(0, position - _TAIL_BLOCK)
        handle.seek(start)
        block = handle.read(position - start) + after[: len(_TAIL_MARK)]
        if (found := block.rfind(_TAIL_MARK)) >= 0:
            return start + found + 4  # the `"failures"` key itself
        position, after = start, block
    return None


def _tail_forward(handle) -> tuple[int | None, bytes | None]:
    """`_tail_offset` of a compressed file, which cannot be read from its end: its text is
    scanned from the start for the last mark, without parsing (decompressing is a tenth of
    the CPU of parsing the models). With the offset comes the text from there to the end, kept
    as it streams past when it is at most `_TAIL_KEPT_MAX` bytes (else None: the caller seeks,
    which decompresses the file a second time)."""
    position, found, carry = 0, None, b""
    kept: list[bytes] | None = None
    size = 0
    while chunk := handle.read(_TAIL_BLOCK):
        block = carry + chunk
        if (at := block.rfind(_TAIL_MARK)) >= 0:
            found = position - len(carry) + at + 4
            kept = [block[at + 4 :]]
            size = len(kept[0])
        elif kept is not None:
            kept.append(chunk)
            size += len(chunk)
            kept = kept if size <= _TAIL_KEPT_MAX else None
        carry = block[-(len(_TAIL_MARK) - 1) :]  # a mark cut in two by the block's end
        position += len(chunk)
    return found, None if kept is None else b"".join(kept)


def _compressed_tail(handle) -> tuple[int | None, bytes | None]:
    """`_tail_forward` of an open compressed file, remembered for the process's next reads of
    the same file: a job reads a stage file's failures, counts and request counts one by one,
    and each scan decompressed it whole twice. The same file is the same device, inode, size
    and modification time, and the same gzip trailer (the CRC-32 and size of the whole text):
    an inode freed and given again within a clock tick must also hold the same text."""
    fd = handle.fileno()
    info = os.fstat(fd)
    trailer = os.pread(fd, 8, max(0, info.st_size - 8))
    identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, trailer)
    if (tail := _TAILS.get(identity)) is None:
        tail = _tail_forward(handle)
        with _TAILS_LOCK:
            while len(_TAILS) >= _TAILS_KEPT:
                _TAILS.pop(next(iter(_TAILS)))
            _TAILS[identity] = tail
    return tail


class _Prefixed:
    """A read-only stream of `prefix` then the rest of `handle` (what ijson reads)."""

    def __init__(self, prefix: bytes, handle):
        self._prefix, self._handle = prefix, handle

    def read(self, size: int = -1) -> bytes:
        if self._prefix and size != 0:  # ijson reads 0 bytes first to learn the type
            chunk, self._prefix = self._prefix, b""
            return chunk
        return self._handle.read(size)


def _tail_items(path: str | Path, prefix: str) -> Iterator:
    """`_items` of a key written after the models (failures, counts, metadata), read from where
    the models end instead of parsing past a million of them; any other file is read whole."""
    if prefix.partition(".")[0] in _HEAD_KEYS:
        yield from _items(path, prefix)
        return
    with _open_checked(path) as handle:
        if compressed(path):
            offset, text = _compressed_tail(handle)
        else:
            offset, text = _tail_offset(handle), None
        if offset is None:
            yield from _items(path, prefix)
            return
        if text is None:
            handle.seek(offset)
        stream = _Prefixed(b"{", handle) if text is None else io.BytesIO(b"{" + text)
        try:
            yield from ijson.items(stream, prefix, use_float=True)
        except ijson.JSONError as err:
            raise ValueError(f"{path}: invalid JSON: {err}") from None


def read_tail(path: str | Path, keys: Sequence[str]) -> dict:
    """The `keys` a stage file holds after its models (failures, counts, metadata), those it
    has: a compressed file is scanned once for all of them (its tail is remembered)."""
    found = {key: read_key(path, key, _MISSING) for key in keys}
    return {key: value for key, value in found.items() if value is not _MISSING}


_MISSING = object()


def read_head_key(path: str | Path, key: str, default=None):
    """A top-level value written before any other (a file's header): read from the start, the
    rest of the file neither read nor parsed."""
    return next(_items(path, key), default)


def iter_failures(path: str | Path) -> Iterator[dict]:
    return _tail_items(path, "failures.item")


def read_failures(path: str | Path) -> list[dict]:
    return list(iter_failures(path))


def read_key(path: str | Path, key: str, default=None):
    """One top-level value of a JSON file, streamed (the file is never loaded whole); in a stage
    file, a key written after the models is read from the file's end."""
    return next(_tail_items(path, key), default)


def read_counts(path: str | Path) -> dict:
    return read_key(path, "counts")


class ArtifactWriter:
    """Streams models into a stage file; failures and counts are written when it closes."""

    def __init__(self, handle, stage: str):
        self._handle = handle
        self._models = 0
        self.failures: list[dict] = []
        self.metadata: dict = {}  # known only at the end (request counts, cache hits)
        handle.write(f'{{"stage": {json.dumps(stage)}, "models": [\n')

    def add_model(self, record: dict) -> None:
        self._handle.write(",\n" if self._models else "")
        if type(record) is ModelText:
            self._handle.write(record.text)  # read from a stage file and passed on unchanged
        else:
            self._handle.write(dumps_record(record))
        self._models += 1

    def add_failure(self, failure: dict) -> None:
        self.failures.append(failure)

    def add(self, outcomes: Iterable[tuple[dict | None, dict | None]]) -> None:
        for record, failure in outcomes:
            if record is not None:
                self.add_model(record)
            if failure is not None:
                self.add_failure(failure)

    @property
    def counts(self) -> dict:
        return {"models": self._models, "failures": len(self.failures)}

    def close(self) -> None:
        failures = ",\n".join(json.dumps(f, ensure_ascii=False) for f in self.failures)
        tail = json.dumps({"counts": self.counts, **self.metadata}, ensure_ascii=False)
        self._handle.write(f'\n], "failures": [\n{failures}\n], {tail[1:]}\n')


@contextmanager
def artifact_writer(path: str | Path, stage: str):
    """`with artifact_writer(path, stage) as out: out.add_model(...)`; atomic as a whole,
    gzip-compressed when `path` ends in `.gz`."""
    with (atomic_gzip_writer if compressed(path) else atomic_writer)(path) as handle:
        writer = ArtifactWriter(handle, stage)
        yield writer
        writer.close()
