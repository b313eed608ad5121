"""JSON files written atomically: readers see the old file or the new one, never half."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

JSON_MAX_BYTES = 2 * 1024**3  # a run artifact beyond this is a bug, not data


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w"):
    """Open a temporary file beside `path`; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data) -> None:
    with atomic_writer(path) as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1, sort_keys=False)
        handle.write("\n")


def read_json(path: str | Path):
    path = Path(path)
    size = path.stat().st_size
    if size > JSON_MAX_BYTES:
        raise ValueError(f"{path}: {size} bytes is over the {JSON_MAX_BYTES}-byte cap")
    with path.open(encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None


def write_artifact(
    path: str | Path, stage: str, models: Iterable[dict], failures: list[dict], **metadata
) -> dict:
    """Write a stage's output: its models, its failures and counts. Returns the counts."""
    models = list(models)
    counts = {"models": len(models), "failures": len(failures)}
    write_json(
        path,
        {"stage": stage, **metadata, "counts": counts, "models": models, "failures": failures},
    )
    return counts
