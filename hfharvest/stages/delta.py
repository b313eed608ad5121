"""What changed in the latest listing since the previous successful run on the same data root
and endpoint: models added, updated (old and new sha), and gone.

The previous run is found through a pointer, `<data_root>/1_raw/hf/.last_run/<endpoint hash>.json`,
written atomically when a run succeeds (never guessed from folder names): it names that run
and its listing file, and keeps the run before it, so that rerunning the same run_id compares
with the run before, not with itself.

Beside its listing, each delta writes the listing's `(model id, sha)` rows
(`<listing>_shas.json.gz`, with the listing file's sha256): the next run's delta reads those
instead of parsing the whole records again, when they still match the listing's bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from json.encoder import encode_basestring  # json.dumps of a str, ensure_ascii=False
from pathlib import Path

from ..jsonio import (
    atomic_gzip_writer,
    atomic_writer,
    iter_items,
    iter_model_lines,
    read_head_key,
    read_json,
    write_json,
)
from ..runconfig import endpoint_key
from ..spill import ScratchDB

log = logging.getLogger(__name__)
_KEPT_BATCH = 10_000  # rows of the kept (model id, sha) file written at once

POINTER_FOLDER = ".last_run"


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
    """`(model id, sha)` of a listing stage file, in listing order (streamed): from the start of
    each line when the file is laid out as list_latest_models writes it, else (from the first
    line that is not) from each record parsed."""
    return iter_model_lines(
        path, _listed_sha, lambda record: (record["modelId"], record.get("sha"))
    )


# The start of a listing's line (hub.model_info_to_dict's first keys, in its order): the id and
# sha read there, not the whole record parsed (a third of a warm write_delta's CPU). An id with
# an escape, or any other start, is not read here.
_LISTED = re.compile(
    rb'\{"modelId": "([^"\\\x00-\x1f]*)", "author": (?:null|"(?:[^"\\\x00-\x1f]|\\.)*"), '
    rb'"sha": (?:null|"([0-9a-f]*)")[,}]'
)


def _listed_sha(line: bytes) -> tuple[str, str | None] | None:
    if (match := _LISTED.match(line)) is None:
        return None
    model_id, sha = match.groups()
    try:
        return model_id.decode("utf-8"), None if sha is None else sha.decode("ascii")
    except UnicodeDecodeError:
        return None


def shas_path(listing: str | Path) -> Path:
    """Where the delta keeps a listing's `(model id, sha)` rows: beside it."""
    listing = Path(listing)
    stem = listing.name.removesuffix(".gz").removesuffix(".json")
    return listing.with_name(f"{stem}_shas.json.gz")


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def kept_shas(listing: str | Path) -> Iterator[tuple[str, object]] | None:
    """The listing's rows as its run's delta kept them, if that file is there and was written
    from these very bytes of the listing (its sha256); else None. Rows that are not
    `[model id, sha]` raise ValueError as they are met."""
    try:
        if read_head_key(shas_path(listing), "listing_sha256") != file_sha256(listing):
            return None
    except (OSError, ValueError, EOFError):
        return None
    return _kept_rows(shas_path(listing))


def _kept_rows(path: Path) -> Iterator[tuple[str, object]]:
    for row in iter_items(path, "rows.item"):
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)):
            raise ValueError(f"{path}: not a [model id, sha] row: {str(row)[:100]}")
        yield row[0], row[1]


def _keeping(pairs: Iterable[tuple[str, object]], handle) -> Iterator[tuple[str, object]]:
    """`pairs`, each also written to `handle` as one `[model id, sha]` line of `"rows"` (in
    batches: a write a row cost more than the parse it saves the next run)."""
    lines: list[str] = []
    separator = "\n"
    for model_id, sha in pairs:
        plain = isinstance(model_id, str) and isinstance(sha, str)
        lines.append(f"[{encode_basestring(model_id)}, {encode_basestring(sha)}]" if plain
                     else _dumps([model_id, sha]))  # fmt: skip
        if len(lines) >= _KEPT_BATCH:
            handle.write(separator + ",\n".join(lines))
            lines, separator = [], ",\n"
        yield model_id, sha
    handle.write((separator + ",\n".join(lines) if lines else "") + "\n]}\n")


# Both listings in one scratch database, and the delta as three queries: the Hub lists 1.5
# million ids, and a lookup a model from Python (with its sha as JSON) cost a warm run twice
# the CPU of a cold one. A sha that is not a string (or null) is kept as sorted JSON in `other`.
_SCHEMA = """
CREATE TABLE previous (id TEXT PRIMARY KEY, sha TEXT, other TEXT) WITHOUT ROWID;
CREATE TABLE current (pos INTEGER PRIMARY KEY, id TEXT, sha TEXT, other TEXT);
"""
_ADDED = """SELECT c.id, c.sha, c.other FROM current c
WHERE NOT EXISTS (SELECT 1 FROM previous p WHERE p.id = c.id) ORDER BY c.pos"""
_UPDATED = """SELECT c.id, p.sha, p.other, c.sha, c.other FROM current c
JOIN previous p ON p.id = c.id WHERE p.sha IS NOT c.sha OR p.other IS NOT c.other
ORDER BY c.pos"""
_GONE = """SELECT p.id, p.sha, p.other FROM previous p
WHERE NOT EXISTS (SELECT 1 FROM current c WHERE c.id = p.id) ORDER BY p.id"""


def _rows(pairs: Iterable[tuple[str, object]]) -> Iterator[tuple[str, str | None, str | None]]:
    for model_id, sha in pairs:
        plain = sha is None or isinstance(sha, str)
        yield model_id, sha if plain else None, None if plain else json.dumps(sha, sort_keys=True)


def _sha(sha: str | None, other: str | None):
    return sha if other is None else json.loads(other)


def _dumps(entry: dict) -> str:
    return json.dumps(entry, ensure_ascii=False)


def _write_list(handle, key: str, entries: Iterable[dict], counts: Counter) -> None:
    """`, "key": [` then one JSON entry a line, counted in `counts[key]`."""
    handle.write(f",\n{json.dumps(key)}: [")
    for i, entry in enumerate(entries):
        handle.write(",\n" if i else "\n")
        handle.write(_dumps(entry))
        counts[key] += 1
    handle.write("\n]")


def _changes(db) -> Iterator[tuple[str, Iterator[dict]]]:
    """Each list's name and its entries, read from the database as they are written."""
    added = (
        {"model_id": model_id, "sha": _sha(sha, other)}
        for model_id, sha, other in db.execute(_ADDED)
    )
    yield "added", added
    updated = (
        {"model_id": model_id, "old_sha": _sha(old, old_other), "new_sha": _sha(new, new_other)}
        for model_id, old, old_other, new, new_other in db.execute(_UPDATED)
    )
    yield "updated", updated
    gone = (
        {"model_id": model_id, "sha": _sha(sha, other)}
        for model_id, sha, other in db.execute(_GONE)
    )
    yield "gone", gone


class Listings(ScratchDB):
    """The previous and the current listing's `(model id, sha)` rows, on disk: the previous
    one's last row of an id wins (as in a map), the current one keeps every row in order."""

    def __init__(self) -> None:
        super().__init__(_SCHEMA)

    def load_previous(self, pairs: Iterable[tuple[str, object]]) -> None:
        """The previous listing's rows; none at all if reading them fails part way."""
        try:
            self.db.executemany("INSERT OR REPLACE INTO previous VALUES (?, ?, ?)", _rows(pairs))
        except BaseException:
            self.db.execute("DELETE FROM previous")
            raise

    def load_current(self, pairs: Iterable[tuple[str, object]]) -> None:
        self.db.executemany("INSERT INTO current (id, sha, other) VALUES (?, ?, ?)", _rows(pairs))
        self.db.execute("CREATE INDEX current_id ON current (id)")

    def count(self, table: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def stream_delta(out: str, header: dict, listing: str, listings: Listings) -> dict:
    """Write `header`, then added and updated (in listing order) and gone (in model id order),
    one entry a line, then the counts. Both listings are on disk, in `listings`; the current
    one's rows are kept beside it as they are loaded, for the next run's delta."""
    with atomic_gzip_writer(shas_path(listing)) as kept:
        kept.write(f'{{"listing_sha256": "{file_sha256(listing)}", "rows": [')
        listings.load_current(_keeping(listing_shas(listing), kept))
    counts: Counter = Counter(listed=listings.count("current"),
                              previous_listed=listings.count("previous"),
                              added=0, updated=0, gone=0)  # fmt: skip
    with atomic_writer(out) as handle:
        handle.write(json.dumps(header, ensure_ascii=False)[:-1])
        for key, entries in _changes(listings.db):
            _write_list(handle, key, entries, counts)
        counts["unchanged"] = counts["listed"] - counts["added"] - counts["updated"]
        handle.write(f',\n"counts": {json.dumps(dict(counts))}}}\n')
    return dict(counts)


def _previous_listing(listings: Listings, before: dict | None) -> str | None:
    """Load the previous run's `(model id, sha)` rows (those its delta kept, else from its
    listing); None, or why there are none."""
    if before is None:
        return "no previous successful run on this data root and endpoint"
    if (rows := kept_shas(before["listing"])) is not None:
        try:
            listings.load_previous(rows)
            return None
        except (OSError, ValueError, EOFError) as err:
            log.warning(
                "%s unreadable (%s): its listing read instead", shas_path(before["listing"]), err
            )
    try:
        listings.load_previous(listing_shas(before["listing"]))
    except (OSError, ValueError, KeyError) as err:
        return f"previous run's listing {before['listing']} unreadable ({err})"
    return None


def write_delta(out: str, listing: str, pointer: Path, run_id: str, endpoint: str) -> dict:
    """Write the run's delta file and return its counts; a first run (or one whose previous
    listing is gone) has every listed model added, and says why in `previous_run`. The
    listing's rows are kept beside it (`shas_path`)."""
    before = previous_run(read_pointer(pointer), run_id)
    with Listings() as listings:
        note = _previous_listing(listings, before)
        header = {"stage": "delta", "endpoint": endpoint, "run_id": run_id}
        header["previous_run"] = {"run_id": before["run_id"], "finished_at": before.get(
            "finished_at")} if note is None else {"run_id": None, "note": note}  # fmt: skip
        return stream_delta(out, header, listing, listings)


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
