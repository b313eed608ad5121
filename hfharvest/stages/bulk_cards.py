"""The bulk bootstrap of README fetching (`hf.bulk_cards`, issue 10 item 7).

The Hub publishes every model card with its metadata as a dataset refreshed daily (DUMP_ID,
Parquet shards under `data/`). Before a shard of the latest listing fetches its READMEs, this
downloads the dump through the ordinary dataset file routes (huggingface_hub's cache under
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
BATCH_ROWS = 1_000  # rows decoded at a time: memory is a batch, not a shard


class DumpUnusable(Exception):
    """The dump is absent, too big or not the Parquet we expect."""


def prime_shard(extractor: Extractor, listing_path: str, scatteritem: str,
                hf: dict) -> dict | None:  # fmt: skip
    """With `hf.bulk_cards`, prime the README cache for this shard of the latest listing."""
    if not hf.get("bulk_cards"):
        return None
    records = take_shard(iter_models(listing_path), scatteritem)
    return prime_from_dump(extractor, records, hf.get("bulk_max_mb", 2048))


def prime_from_dump(extractor: Extractor, records: Iterable[dict], max_mb: float) -> dict:
    """Put the dump's cards of `records` (listed models) into the extractor's README cache.

    Returns the counts (also logged): rows used, stale, missing, no README listed (no
    request, no row wanted), fetched individually, requests spent.
    """
    cache = extractor.cache
    if cache is None:
        log.warning("hf.bulk_cards needs hf.cache (the README cache it fills): not used")
        return {}
    wanted, listed, no_readme = _wanted(records, gated_ok=extractor.client.authenticated)
    counts = {"listed": listed, "no_readme": no_readme, "used": 0, "stale": 0, "cached": 0}
    sent = process_rate_limiter().total_requests
    try:
        for path in _dump_files(extractor, cache.root.parent / "bulk", int(max_mb * 2**20)):
            _take_rows(path, wanted, cache, counts, extractor.client.readme_max_bytes)
    except Exception as err:  # noqa: BLE001 - any failure of an optional source is a fallback
        log.warning("bulk dump %s not usable (%s: %s): READMEs fetched one by one",
                    DUMP_ID, type(err).__name__, str(err)[:300])  # fmt: skip
        counts["unusable"] = True
    counts["missing"] = len(wanted) - counts["stale"]  # or card-less, or over the README cap
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


def _dump_files(extractor: Extractor, cache_root: Path, max_bytes: int) -> Iterable[Path]:
    """The dump's Parquet shards, each downloaded (or found in the local cache) when needed."""
    from huggingface_hub import (
        get_hf_file_metadata,
        hf_hub_download,
        hf_hub_url,
        try_to_load_from_cache,
    )

    client = extractor.client
    cache_dir = cache_root / endpoint_key(extractor.cache.endpoint)[0]
    info = client.dataset_info(DUMP_ID)  # within the client's caps and retries
    names = sorted(s.rfilename for s in info.siblings or () if _is_shard(s.rfilename))
    if not names or not info.sha:
        raise DumpUnusable("no Parquet shards under data/")
    token = client._token or False  # noqa: SLF001 - the client's own token, to its endpoint
    for name in names:
        kept = try_to_load_from_cache(DUMP_ID, name, cache_dir, info.sha, "dataset")
        if isinstance(kept, str):  # this revision was downloaded by an earlier job: no request
            yield Path(kept)
            continue
        url = hf_hub_url(DUMP_ID, name, repo_type="dataset", revision=info.sha,
                         endpoint=client.endpoint)  # fmt: skip
        meta = get_hf_file_metadata(url, token=token, timeout=client.timeout,
                                    endpoint=client.endpoint)  # fmt: skip
        if meta.size is None or meta.size > max_bytes:
            raise DumpUnusable(f"{name}: {meta.size} bytes, over hf.bulk_max_mb")
        yield Path(
            hf_hub_download(
                DUMP_ID,
                name,
                repo_type="dataset",
                revision=info.sha,
                endpoint=client.endpoint,
                token=token,
                cache_dir=cache_dir,
                etag_timeout=client.timeout,
            )  # fmt: skip
        )


def _is_shard(name: str) -> bool:
    return name.startswith("data/") and name.endswith(".parquet") and ".." not in name


def _take_rows(path: Path, wanted: dict, cache, counts: dict, cache_cap: int) -> None:
    """Stream one shard in batches; cache the current cards of wanted models (and forget them)."""
    import pyarrow.parquet as pq

    shard = pq.ParquetFile(path)
    if not set(COLUMNS) <= set(shard.schema_arrow.names):
        raise DumpUnusable(f"{path.name}: columns {shard.schema_arrow.names}, want {COLUMNS}")
    for batch in shard.iter_batches(batch_size=BATCH_ROWS, columns=COLUMNS):
        ids = batch.column("modelId").to_pylist()
        hit = [i for i, model_id in enumerate(ids) if model_id in wanted]
        if not hit:
            continue
        modified = batch.column("last_modified").to_pylist()
        cards = batch.column("card")
        for i in hit:
            model_id = ids[i]
            sha, listed = wanted[model_id]
            card = cards[i].as_py()
            if modified[i] != listed:
                counts["stale"] += 1
                continue
            if not isinstance(card, str) or not card or len(card.encode()) > cache_cap:
                continue  # card-less here, or a README the client would cut: asked individually
            del wanted[model_id]
            if cache.holds(model_id, sha):
                counts["cached"] += 1
                continue
            cache.put(model_id, sha, card, False, source=SOURCE)
            counts["used"] += 1
