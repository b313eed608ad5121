"""The bulk bootstrap of README fetching (`hf.bulk_cards`, issue 10 item 7).

The Hub publishes every model card with its metadata as a dataset refreshed daily (DUMP_ID,
Parquet shards under `data/`). Before a shard of the latest listing fetches its READMEs, this
downloads the dump through the ordinary dataset file routes (HubClient.download, into
<data_root>/cache/bulk), streams it in record batches and, for each listed model whose dump row
has the listing's `last_modified`, puts the row's card into the README cache under the listed
sha, marked `source: bulk_dump`. Extractor.fill_card then finds it there; models changed since
the dump, missing from it, or gated are fetched one by one as without the dump. Card-less models
are not: with `hf.bulk_cards` the listing asks for each model's file names (`expand=siblings`),
and one without README.md is marked so that no request is sent for it (extract.NO_README_LISTED).

A dump that cannot be had or read is a warning: every README is then fetched individually.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from ..cache import SHA
from ..hub import process_rate_limiter
from ..ids import is_model_id
from ..jsonio import iter_models
from ..runconfig import endpoint_key
from .extract import NO_README_LISTED, Extractor
from .shards import take_shard

log = logging.getLogger(__name__)

DUMP_ID = "librarian-bots/model_cards_with_metadata"
SOURCE = "bulk_dump"
COLUMNS = ["modelId", "last_modified", "card"]
DEADLINE_S = 1800.0  # one dump file's download (hf.bulk_deadline_s)
BATCH_ROWS = 1_000  # rows decoded at a time at most: memory is a batch, not a shard
BATCH_BYTES = 32 * 2**20  # and about this many decoded bytes (fewer rows of long cards)
ROW_GROUP_MAX_MB = 256.0  # hf.bulk_row_group_max_mb: the largest value decodable at once
REVISION = re.compile(r"[0-9a-f]{40}")  # a commit id: the dump's folder in the local cache
SHARD_NAME = re.compile(r"data/[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.parquet")


class DumpUnusable(Exception):
    """The dump is absent, too big or not the Parquet we expect."""


def prime_shard(extractor: Extractor, listing_path: str, scatteritem: str,
                hf: dict) -> dict | None:  # fmt: skip
    """With `hf.bulk_cards`, prime the README cache for this shard of the latest listing."""
    if not hf.get("bulk_cards"):
        return None
    records = take_shard(iter_models(listing_path), scatteritem)
    return prime_from_dump(extractor, records, hf.get("bulk_max_mb", 2048),
                           hf.get("bulk_deadline_s", DEADLINE_S),
                           hf.get("bulk_row_group_max_mb", ROW_GROUP_MAX_MB))  # fmt: skip


def prime_from_dump(extractor: Extractor, records: Iterable[dict], max_mb: float,
                    deadline_s: float = DEADLINE_S,
                    group_max_mb: float = ROW_GROUP_MAX_MB) -> dict:  # fmt: skip
    """Put the dump's cards of `records` (listed models) into the extractor's README cache.

    Returns the counts (also logged): rows used, stale, missing, no README listed (no
    request, no row wanted), fetched individually, requests spent.
    """
    cache = extractor.cache
    if cache is None:
        log.warning("hf.bulk_cards needs hf.cache (the README cache it fills): not used")
        return {}
    wanted, listed, no_readme = _wanted(records, gated_ok=extractor.client.authenticated)
    counts = {"listed": listed, "no_readme": no_readme, "used": 0, "stale": 0, "cached": 0,
              "unusable_card": 0}  # fmt: skip
    sent = process_rate_limiter().total_requests
    try:
        bulk_dir, max_bytes = cache.root.parent / "bulk", int(max_mb * 2**20)
        for path in _dump_files(extractor, bulk_dir, max_bytes, deadline_s):
            try:
                _take_rows(path, wanted, cache, counts, extractor.client.readme_max_bytes,
                           int(group_max_mb * 2**20))  # fmt: skip
            except Exception:
                path.unlink(missing_ok=True)  # a kept file that cannot be read is not kept
                raise
    except Exception as err:  # noqa: BLE001 - any failure of an optional source is a fallback
        log.warning("bulk dump %s not usable (%s: %s): READMEs fetched one by one",
                    DUMP_ID, type(err).__name__, str(err)[:300])  # fmt: skip
        counts["unusable"] = True
    counts["missing"] = len(wanted)  # wanted, and in no row of the dump
    # Listed, not taken from the dump (gated ones included): fetched one by one.
    counts["individual"] = listed - no_readme - counts["used"] - counts["cached"]
    counts["requests"] = process_rate_limiter().total_requests - sent
    log.info("bulk dump %s: %s", DUMP_ID, counts)
    return counts


def _wanted(records: Iterable[dict], gated_ok: bool) -> tuple[dict, int, int]:
    """(listed model id -> (sha, last_modified) of those the dump may serve, records listed,
    records listed without a README). Gated models are left out without a token: their README
    is refused to such a run, the dump would not be."""
    wanted, listed, no_readme = {}, 0, 0
    for record in records:
        listed += 1
        if record["extraction_metadata"].get("card_source") == NO_README_LISTED:
            no_readme += 1
            continue
        sha, modified = record.get("sha"), record.get("last_modified")
        model_id = record.get("modelId")
        if not is_model_id(model_id) or not isinstance(sha, str) or not SHA.fullmatch(sha):
            continue  # an id or sha that cannot key the cache: asked individually
        if not isinstance(modified, str):
            continue
        if record.get("gated") and not gated_ok:
            continue
        try:
            wanted[model_id] = (sha, datetime.fromisoformat(modified))
        except ValueError:
            continue
    return wanted, listed, no_readme


def _dump_files(extractor: Extractor, cache_root: Path, max_bytes: int,
                deadline_s: float) -> Iterable[Path]:  # fmt: skip
    """The dump's Parquet shards, each downloaded (or found in the local cache) when needed.

    Kept at <cache_root>/<endpoint hash>/<revision>/<file name>, both checked here first, so a
    hostile revision or file name cannot choose a path; an earlier revision's files are removed
    once a newer one is asked for (the dump is a few GB)."""
    from filelock import FileLock
    from huggingface_hub import hf_hub_url

    client = extractor.client
    info = client.dataset_info(DUMP_ID)  # within the client's caps and retries
    names = sorted(s.rfilename for s in info.siblings or () if _is_shard(s.rfilename))
    if not names or not isinstance(info.sha, str) or not REVISION.fullmatch(info.sha):
        raise DumpUnusable("no Parquet shards under data/, or no usable revision")
    endpoint_dir = cache_root / endpoint_key(extractor.cache.endpoint)[0]
    revision_dir = endpoint_dir / info.sha
    _forget_other_revisions(endpoint_dir, info.sha)
    for name in names:
        path = revision_dir / name
        # One download for all the fetch shards running at once: the others wait for it.
        with FileLock(endpoint_dir / f".{info.sha}.lock", timeout=deadline_s):
            if not path.is_file():  # written whole (atomically) by an earlier job, or not at all
                url = hf_hub_url(DUMP_ID, name, repo_type="dataset", revision=info.sha,
                                 endpoint=client.endpoint)  # fmt: skip
                client.download(url, path, DUMP_ID, max_bytes=max_bytes, deadline_s=deadline_s,
                                deadline_key="hf.bulk_deadline_s")  # fmt: skip
        yield path


def _forget_other_revisions(endpoint_dir: Path, revision: str) -> None:
    if endpoint_dir.is_dir():
        for old in endpoint_dir.iterdir():
            if old.name != revision and REVISION.fullmatch(old.name):
                shutil.rmtree(old, ignore_errors=True)
            elif old.name.endswith(".lock") and old.name != f".{revision}.lock":
                old.unlink(missing_ok=True)


def _is_shard(name: object) -> bool:
    """A Parquet file right under data/, named plainly (it becomes a local path)."""
    return isinstance(name, str) and SHARD_NAME.fullmatch(name) is not None


def _take_rows(path: Path, wanted: dict, cache, counts: dict, cache_cap: int,
               group_cap: int) -> None:  # fmt: skip
    """Stream one shard in batches; cache the current cards of wanted models (and forget them)."""
    import pyarrow.parquet as pq

    shard = pq.ParquetFile(path)
    if not set(COLUMNS) <= set(shard.schema_arrow.names):
        raise DumpUnusable(f"{path.name}: columns {shard.schema_arrow.names}, want {COLUMNS}")
    for group, rows in _row_groups(shard, group_cap):
        for batch in shard.iter_batches(batch_size=rows, row_groups=[group], columns=COLUMNS):
            _take_batch(batch, wanted, cache, counts, cache_cap)


def _row_groups(shard, group_cap: int) -> Iterable[tuple[int, int]]:
    """(row group, rows per batch) of a shard whose row groups decode within `group_cap` bytes
    (as its footer says: a few KB of zstd can hold GBs of one repeated character), in batches
    of about BATCH_BYTES."""
    meta, wanted = shard.metadata, set(COLUMNS)
    for group in range(meta.num_row_groups):
        chunks = meta.row_group(group)
        decoded = sum(chunks.column(c).total_uncompressed_size for c in range(chunks.num_columns)
                      if chunks.column(c).path_in_schema in wanted)  # fmt: skip
        if decoded > group_cap:
            raise DumpUnusable(f"row group {group} decodes to {decoded} bytes, over "
                               f"hf.bulk_row_group_max_mb ({group_cap} bytes)")  # fmt: skip
        per_row = decoded / max(chunks.num_rows, 1)
        yield group, max(1, min(BATCH_ROWS, int(BATCH_BYTES / max(per_row, 1))))


def _take_batch(batch, wanted: dict, cache, counts: dict, cache_cap: int) -> None:
    ids = batch.column("modelId").to_pylist()
    hit = [i for i, model_id in enumerate(ids) if model_id in wanted]
    if not hit:
        return
    modified = batch.column("last_modified").to_pylist()
    cards = batch.column("card")
    for i in hit:
        model_id = ids[i]
        if model_id not in wanted:
            continue  # a second row of the same model
        sha, listed = wanted.pop(model_id)
        if modified[i] != listed:
            counts["stale"] += 1
            continue
        card = cards[i].as_py()
        if not isinstance(card, str) or not card or len(card.encode()) > cache_cap:
            counts["unusable_card"] += 1  # card-less here, or a README the client would cut
            continue
        if cache.holds(model_id, sha):
            counts["cached"] += 1
            continue
        cache.put(model_id, sha, card, False, source=SOURCE)
        counts["used"] += 1
