"""Sharded extraction: the README-fetching work split into K jobs, gathered back in order.

Shard i of K takes items i, i+K, i+2K, ... of the listing (or of the models file's ids), so
gathering round-robin restores the original order: the gathered file is the same for any K.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import islice, zip_longest

from ..jsonio import (
    iter_model_texts,
    iter_models,
    iter_models_as_written,
    read_failures,
    read_tail,
)
from .extract import Extractor, Outcome, file_ids

SCATTER_ITEM = re.compile(r"(\d+)-of-(\d+)")
_MISSING = object()


def shard_of(scatteritem: str) -> tuple[int, int]:
    """Snakemake's `{scatteritem}` ("3-of-8") as a 0-based shard index and the shard count."""
    match = SCATTER_ITEM.fullmatch(scatteritem)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ValueError(f"not a scatter item: {scatteritem!r}")
    return int(match.group(1)) - 1, int(match.group(2))


def take_shard(items: Iterable, scatteritem: str) -> Iterator:
    index, count = shard_of(scatteritem)
    return islice(items, index, None, count)


def latest_shard(extractor: Extractor, listing_path: str, scatteritem: str) -> Iterator[Outcome]:
    """READMEs for this shard's part of the latest listing."""
    # The listing file already holds the failures of its records (dropped fields): not again.
    records = take_shard(iter_models(listing_path), scatteritem)
    if extractor.cache is not None:  # the READMEs looked up in the listing's order
        extractor.cache.follow_trail(scatteritem)
    return extractor.with_cards((record, None) for record in records)


def file_shard(
    extractor: Extractor, models_file: str | None, scatteritem: str
) -> Iterator[Outcome]:
    """Records and READMEs for this shard's part of the models file's ids. Each shard parses
    the file itself (a file of ids parses in a second at a million lines) rather than wait for
    split_models_file: that job runs beside the shards, for the gather's failures."""
    model_ids = list(take_shard(file_ids(models_file, strict=True)[0], scatteritem))
    return extractor.by_ids(model_ids, source="file", total=len(model_ids))


def gather(shard_paths: list[str], first_failures: Iterable[dict] = (),
           parsed: bool = True) -> Iterator[Outcome]:  # fmt: skip
    """The shards' records interleaved back into their original order (a renamed repo listed
    twice kept once), then `first_failures` and the shards' failures sorted by model id.
    `parsed=False` for a gather that only writes them: a record may then hold its `modelId`
    alone beside its text (jsonio.iter_model_texts), its line not parsed."""
    seen: set[str] = set()
    read = iter_models_as_written if parsed else iter_model_texts  # written as they were
    streams = [read(path) for path in shard_paths]
    for row in zip_longest(*streams, fillvalue=_MISSING):
        for record in row:
            if record is not _MISSING and record["modelId"] not in seen:
                seen.add(record["modelId"])
                yield record, None
    for failure in first_failures:
        yield None, failure
    failures = [failure for path in shard_paths for failure in read_failures(path)]
    for failure in sorted(failures, key=lambda f: (f["model_id"], f["reason"])):
        yield None, failure


METADATA = ("hub_requests", "card_cache")  # the counters a gather adds up


def summed_metadata(tails: Iterable[dict], keys=METADATA) -> dict:
    """Request and cache counters of several stage files (their read_tail), added up."""
    totals: dict[str, dict[str, int]] = {}
    for tail in tails:
        for key in keys:
            for name, value in (tail.get(key) or {}).items():
                totals.setdefault(key, {})[name] = totals.get(key, {}).get(name, 0) + value
    return totals


def shard_tails(shard_paths: list[str]) -> list[dict]:
    return [read_tail(path, METADATA) for path in shard_paths]
