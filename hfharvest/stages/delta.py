"""What changed in the latest listing since the previous successful run on the same data root
and endpoint: models added, updated (old and new sha), and gone.

The previous run is found through a pointer, `<data_root>/1_raw/hf/.last_run/<endpoint hash>.json`,
written atomically when a run succeeds (never guessed from folder names): it names that run
and its listing file, and keeps the run before it, so that rerunning the same run_id compares
with the run before, not with itself.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from ..jsonio import iter_models, read_json, write_json
from ..runconfig import endpoint_key

log = logging.getLogger(__name__)

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


def listing_shas(path: str | Path) -> dict[str, str | None]:
    """`{model id: sha}` of a listing stage file, in listing order (streamed)."""
    return {record["modelId"]: record.get("sha") for record in iter_models(path)}


def compute_delta(current: dict[str, str | None], previous: dict[str, str | None]) -> dict:
    added = [{"model_id": m, "sha": sha} for m, sha in current.items() if m not in previous]
    updated = [
        {"model_id": m, "old_sha": previous[m], "new_sha": sha}
        for m, sha in current.items()
        if m in previous and previous[m] != sha
    ]
    gone = [{"model_id": m, "sha": sha} for m, sha in previous.items() if m not in current]
    counts = {"listed": len(current), "previous_listed": len(previous)}
    counts |= {"added": len(added), "updated": len(updated), "gone": len(gone)}
    unchanged = len(current) - len(added) - len(updated)
    return {"counts": {**counts, "unchanged": unchanged}, "added": added, "updated": updated,
            "gone": gone}  # fmt: skip


def write_delta(out: str, listing: str, pointer: Path, run_id: str, endpoint: str) -> dict:
    """Write the run's delta file; a first run (or one whose previous listing is gone) has
    every listed model added, and says why in `previous_run`."""
    before = previous_run(read_pointer(pointer), run_id)
    previous: dict[str, str | None] = {}
    note = None
    if before is None:
        note = "no previous successful run on this data root and endpoint"
    else:
        try:
            previous = listing_shas(before["listing"])
        except (OSError, ValueError, KeyError) as err:
            note = f"previous run's listing {before['listing']} unreadable ({err})"
            before = None
    delta = {"stage": "delta", "endpoint": endpoint, "run_id": run_id}
    delta["previous_run"] = {"run_id": before["run_id"], "finished_at": before.get(
        "finished_at")} if before else {"run_id": None, "note": note}  # fmt: skip
    delta |= compute_delta(listing_shas(listing), previous)
    write_json(out, delta)
    return delta


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
