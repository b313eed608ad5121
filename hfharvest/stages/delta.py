"""What changed in the latest listing since the previous successful run on the same data root
and endpoint: models added, updated (old and new sha), and gone.

The previous run is found through a pointer, `<data_root>/1_raw/hf/.last_run/<endpoint hash>.json`,
written atomically when a run succeeds (never guessed from folder names): it names that run
and its listing file, and keeps the run before it, so that rerunning the same run_id compares
with the run before, not with itself.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from ..jsonio import atomic_writer, iter_models, read_json, write_json
from ..runconfig import endpoint_key
from ..spill import DiskMap

log = logging.getLogger(__name__)

POINTER_FOLDER = ".last_run"
_ABSENT = object()


def pointer_path(runs_root: str | Path, endpoint: str) -> Path:
    return Path(runs_root) / POINTER_FOLDER / f"{endpoint_key(endpoint)[0]}.json"


def read_pointer(path: Path) -> dict | None:
    try:
        pointer = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:  # a damaged pointer: this run is a first run
        log.warning("last-run pointer %s unreadable (%s): every model counts as added", path, err)
        return None
    return pointer if isinstance(pointer, dict) else None


def previous_run(pointer: dict | None, run_id: str) -> dict | None:
    """The run to compare with: the pointer's, or the one before it when that is this run."""
    if pointer and pointer.get("run_id") == run_id:
        pointer = pointer.get("before")
    return pointer if pointer and pointer.get("listing") else None


def listing_shas(path: str | Path) -> Iterator[tuple[str, str | None]]:
    """`(model id, sha)` of a listing stage file, in listing order (streamed)."""
    return ((record["modelId"], record.get("sha")) for record in iter_models(path))


def _passing_changes(listing: str, previous: DiskMap, counts: Counter,
                     spills: dict) -> Iterator[tuple[str, str | None]]:  # fmt: skip
    """The listing's `(model id, sha)` pairs, in listing order, for the current map; on the way
    each added or updated entry goes to its spill file (the listing is read once)."""
    for model_id, sha in listing_shas(listing):
        counts["listed"] += 1
        old = previous.get(model_id, _ABSENT)
        if old is _ABSENT:
            counts["added"] += 1
            spills["added"].write(_dumps({"model_id": model_id, "sha": sha}) + "\n")
        elif old != sha:
            counts["updated"] += 1
            entry = {"model_id": model_id, "old_sha": old, "new_sha": sha}
            spills["updated"].write(_dumps(entry) + "\n")
        yield model_id, sha


def _gone(previous: DiskMap, current: DiskMap, counts: Counter) -> Iterator[dict]:
    for model_id, sha in previous.items():
        counts["previous_listed"] += 1
        if model_id not in current:
            counts["gone"] += 1
            yield {"model_id": model_id, "sha": sha}


def _dumps(entry: dict) -> str:
    return json.dumps(entry, ensure_ascii=False)


def _write_list(handle, key: str, lines: Iterable[str]) -> None:
    """`, "key": [` then one JSON entry a line."""
    handle.write(f",\n{json.dumps(key)}: [")
    for i, line in enumerate(lines):
        handle.write(",\n" if i else "\n")
        handle.write(line)
    handle.write("\n]")


def stream_delta(out: str, header: dict, listing: str, previous: DiskMap) -> dict:
    """Write `header`, then added, updated and gone, then the counts, one entry a line.

    Both listings are kept in on-disk maps (the Hub lists 1.5 million ids), and the lists are
    streamed: added and updated go to spill files first so that each is one JSON array; gone
    comes in model id order."""
    counts: Counter = Counter(listed=0, previous_listed=0, added=0, updated=0, gone=0)
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as added,
        tempfile.TemporaryFile("w+", encoding="utf-8") as updated,
        DiskMap(
            _passing_changes(listing, previous, counts, {"added": added, "updated": updated})
        ) as current,
        atomic_writer(out) as handle,
    ):
        handle.write(json.dumps(header, ensure_ascii=False)[:-1])
        for key, spill in (("added", added), ("updated", updated)):
            spill.seek(0)
            _write_list(handle, key, (line.rstrip("\n") for line in spill))
        _write_list(handle, "gone", map(_dumps, _gone(previous, current, counts)))
        counts["unchanged"] = counts["listed"] - counts["added"] - counts["updated"]
        handle.write(f',\n"counts": {json.dumps(dict(counts))}}}\n')
    return dict(counts)


def _previous_listing(before: dict | None) -> tuple[DiskMap, str | None]:
    """The previous run's `{model id: sha}` on disk, or an empty map and the reason."""
    if before is None:
        return DiskMap(()), "no previous successful run on this data root and endpoint"
    try:
        return DiskMap(listing_shas(before["listing"])), None
    except (OSError, ValueError, KeyError) as err:
        return DiskMap(()), f"previous run's listing {before['listing']} unreadable ({err})"


def write_delta(out: str, listing: str, pointer: Path, run_id: str, endpoint: str) -> dict:
    """Write the run's delta file and return its counts; a first run (or one whose previous
    listing is gone) has every listed model added, and says why in `previous_run`."""
    before = previous_run(read_pointer(pointer), run_id)
    previous, note = _previous_listing(before)
    header = {"stage": "delta", "endpoint": endpoint, "run_id": run_id}
    header["previous_run"] = {"run_id": before["run_id"], "finished_at": before.get(
        "finished_at")} if note is None else {"run_id": None, "note": note}  # fmt: skip
    with previous:
        return stream_delta(out, header, listing, previous)


def mark_last_run(pointer: Path, run_id: str, listing: str, endpoint: str) -> None:
    """After a successful run: make it the one the next run compares with (atomic write)."""
    old = read_pointer(pointer)
    if old and old.get("run_id") == run_id:
        old = old.get("before")  # rerunning a run keeps the run before it
    if old:
        old.pop("before", None)  # one step back is all a delta needs: the file stays small
    pointer.parent.mkdir(parents=True, exist_ok=True)
    finished = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    write_json(pointer, {"endpoint": endpoint, "run_id": run_id,
                         "listing": str(Path(listing).resolve()), "finished_at": finished,
                         "before": old})  # fmt: skip
