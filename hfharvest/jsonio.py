"""JSON artifacts: written atomically and streamed, so 100 000 records never sit in memory.

A stage file is one JSON object: `{"stage", ...metadata, "models": [...], "failures": [...],
"counts": {...}}`. Models are written one by one as they come and read back one by one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import ijson

JSON_MAX_BYTES = 2 * 1024**3  # a run artifact beyond this is a bug, not data


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
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data) -> None:
    with atomic_writer(path) as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.write("\n")


def _open_checked(path: str | Path):
    path = Path(path)
    size = path.stat().st_size
    if size > JSON_MAX_BYTES:
        raise ValueError(f"{path}: {size} bytes is over the {JSON_MAX_BYTES}-byte cap")
    return path.open("rb")


def read_json(path: str | Path):
    with _open_checked(path) as handle:
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


def iter_list(path: str | Path) -> Iterator:
    """The items of a file that is one JSON list (the enrich outputs), one at a time."""
    return _items(path, "item")


def read_failures(path: str | Path) -> list[dict]:
    return list(_items(path, "failures.item"))


def read_key(path: str | Path, key: str, default=None):
    """One top-level value of a JSON file, streamed (the file is never loaded whole)."""
    return next(_items(path, key), default)


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
        self._handle.write(json.dumps(record, ensure_ascii=False))
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
    """`with artifact_writer(path, stage) as out: out.add_model(...)`; atomic as a whole."""
    with atomic_writer(path) as handle:
        writer = ArtifactWriter(handle, stage)
        yield writer
        writer.close()
