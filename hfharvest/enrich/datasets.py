"""Datasets: the Hub's dataset record (HfApi.dataset_info) and its Croissant JSON-LD."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from urllib.parse import quote

from huggingface_hub.hf_api import DatasetInfo

from .. import errors
from ..cache import EntityCache
from ..entities import entity
from ..hub import HubClient
from ..ids import is_model_id
from ..spill import DiskMap
from .common import map_in_threads, models_by_entity, unresolved

SOURCE = "hub_api"
# Croissant answers worth keeping with a sha: a transient failure is asked again.
KEPT_CROISSANT = {"ok", "missing"}
log = logging.getLogger(__name__)


def is_dataset_id(value: str) -> bool:
    """Hub dataset ids follow the same grammar as model ids (`name` or `org/name`)."""
    return is_model_id(value)


def fetch_croissant(client: HubClient, dataset_id: str) -> dict | None:
    """GET {endpoint}/api/datasets/{id}/croissant; None when the Hub has none (404)."""
    url = f"{client.endpoint}/api/datasets/{quote(dataset_id, safe='/')}/croissant"
    body = client.get_json(url, dataset_id, missing_ok=True)
    if body is not None and not isinstance(body, dict):
        message = f"Croissant answer is a {type(body).__name__}, not a JSON object"
        raise errors.Malformed(dataset_id, message)
    return body


def dataset_fields(info: DatasetInfo) -> dict:
    """The fields of a dataset record we keep, JSON-ready."""
    card_data = info.card_data
    if hasattr(card_data, "to_dict"):
        card_data = card_data.to_dict()
    card_data = json.loads(json.dumps(card_data, default=str)) if card_data else None
    card = card_data or {}
    tags = list(info.tags or [])
    return {
        "dataset_id": info.id,
        "author": info.author,
        "description": info.description or card.get("description"),
        "pretty_name": card.get("pretty_name"),
        "tags": tags,
        "license": _listed(card.get("license")) or _from_tags(tags, "license"),
        "task_categories": _listed(card.get("task_categories"))
        or _from_tags(tags, "task_categories"),
        "size_categories": _listed(card.get("size_categories"))
        or _from_tags(tags, "size_categories"),
        "languages": _listed(card.get("language")) or _from_tags(tags, "language"),
        "arxiv": _from_tags(tags, "arxiv"),
        "paperswithcode_id": info.paperswithcode_id,
        "citation": info.citation,
        "card_data": card_data,
        "last_modified": _iso(info.last_modified),
        "created_at": _iso(info.created_at),
        "sha": info.sha,
        "downloads": info.downloads,
        "likes": info.likes,
        "gated": info.gated,
        "disabled": info.disabled,
    }


# The break-even of bulk against per-dataset requests. The whole Hub's dataset listing is
# about 500 pages of 1000 (some 500 000 datasets, 2025), each one `api` request; per-dataset it
# is one `dataset_info` per dataset not known fresh. Above this many, the listing is cheaper.
BULK_MIN = 500
PAGE_SIZE = 1000


CHUNK = 256  # datasets asked together on the thread pool: output streams chunk by chunk


def enrich_datasets(
    client: HubClient,
    mapping: Mapping[str, Iterable[str]] | Iterable[tuple[str, Iterable[str]]],
    threads: int = 8,
    *,
    croissant: bool = True,
    cache: EntityCache | None = None,
    max_age_h: float = 24.0,
    bulk_min: int = BULK_MIN,
) -> Iterator[dict]:
    """One entity per dataset id, sorted by id, from the Hub's dataset record (+ Croissant when
    it has one), yielded as they are made (entities and model lists are kept on disk, never
    all in memory).

    An id that is not a Hub dataset id (free text such as `Indonesian Wikipedia`) is never sent
    to the Hub: it is kept with `enriched: False`, reason `invalid_id`. A dataset the Hub does
    not have is `not_found`; 5xx, timeouts and malformed answers keep their reason too.

    With a cache (keyed by endpoint, dataset id and sha), a dataset seen within `max_age_h` costs
    no request; when at least `bulk_min` others need asking, their current shas come from the
    Hub's paged dataset listing and only those whose sha changed are fetched; the rest are
    asked one by one (`dataset_info`; Croissant is reused when the sha is one already cached).
    """
    max_age_s = max_age_h * 3600
    by_dataset = models_by_entity(mapping)
    listed = _listed_shas(client, by_dataset, cache, max_age_s, bulk_min)
    try:
        known = (
            (dataset_id, models, _known(dataset_id, models, cache, max_age_s, listed))
            for dataset_id, models in by_dataset.items()
        )
        while chunk := list(islice(known, CHUNK)):  # (itertools.batched is Python 3.12)
            yield from map_in_threads(
                lambda item: item[2] or _dataset(client, *item[:2], croissant, cache),
                chunk,
                threads,
            )
    finally:
        by_dataset.close()
        listed.close()


def _listed_shas(client, by_dataset, cache, max_age_s: float, bulk_min: int) -> DiskMap:
    """`{dataset id: current sha}` from the Hub's dataset listing, on disk, when at least
    `bulk_min` datasets would be asked one by one; else empty."""
    if cache is None:
        return DiskMap(())
    stale = (d for d in by_dataset if is_dataset_id(d) and not cache.is_fresh(d, max_age_s))
    if sum(1 for _ in islice(stale, bulk_min)) < bulk_min:
        return DiskMap(())
    try:
        return DiskMap(client.dataset_shas(PAGE_SIZE))
    except errors.HarvestError as err:  # the listing is an optimisation: fall back per dataset
        log.warning("dataset listing failed (%s): datasets asked one by one", err.message)
        return DiskMap(())


def _known(dataset_id: str, models: list[str], cache, max_age_s: float, listed: DiskMap):
    """The entity when no request is needed (not a dataset id, seen recently, or listed at a
    sha already cached); None when the Hub must be asked."""
    if not is_dataset_id(dataset_id):
        return unresolved("datasets", dataset_id, models, source=SOURCE, reason="invalid_id",
                          message="not a Hub dataset id (free text?): never requested")  # fmt: skip
    if cache is None:
        return None
    fields = cache.fresh(dataset_id, max_age_s)
    sha = listed.get(dataset_id) if fields is None else None
    if sha is not None and (fields := cache.get(dataset_id, sha)) is not None:
        cache.seen(dataset_id, sha)
    return None if fields is None else _from_cache(dataset_id, fields, models)


def _from_cache(dataset_id: str, fields: dict, models: list[str]) -> dict:
    if "missing" in fields:  # the Hub said not found, recently
        record = unresolved("datasets", dataset_id, models, source=SOURCE, reason="not_found",
                            message=fields["missing"])  # fmt: skip
    else:
        record = entity("datasets", dataset_id, source=SOURCE, **fields, models=models)
    record["extraction_metadata"]["from_cache"] = True
    return record


def _dataset(
    client: HubClient,
    dataset_id: str,
    models: list[str],
    with_croissant: bool,
    cache: EntityCache | None = None,
) -> dict:
    try:
        info = client.dataset_info(dataset_id)
        fields = dataset_fields(info)
    except errors.HarvestError as err:
        if cache is not None and err.reason == "not_found":
            cache.missing(dataset_id, err.message)
        return unresolved(
            "datasets", dataset_id, models, source=SOURCE, reason=err.reason, message=err.message
        )
    except Exception as err:  # an answer we could not read: this dataset only
        return unresolved(
            "datasets",
            dataset_id,
            models,
            source=SOURCE,
            reason="malformed",
            message=f"{type(err).__name__}: {err}",
        )
    known = cache.get(dataset_id, info.sha) if cache is not None and info.sha else None
    if with_croissant and known and known.get("croissant_status") in KEPT_CROISSANT:
        fields["croissant"], status = known.get("croissant"), known["croissant_status"]
    elif with_croissant:
        fields["croissant"], status = _croissant(client, dataset_id)
    else:
        fields["croissant"], status = None, "skipped"
    fields["croissant_status"] = status
    if cache is not None and info.sha and status in {*KEPT_CROISSANT, "skipped"}:
        cache.put(dataset_id, info.sha, fields)
    return entity("datasets", dataset_id, source=SOURCE, **fields, models=models)


def _croissant(client: HubClient, dataset_id: str) -> tuple[dict | None, str]:
    try:
        body = fetch_croissant(client, dataset_id)
        return body, "ok" if body is not None else "missing"
    except errors.HarvestError as err:
        return None, err.reason
    except Exception as err:
        return None, f"malformed: {type(err).__name__}"


def _iso(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _listed(value) -> list[str]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [str(item) for item in items if isinstance(item, str | int | float) and str(item)]


def _from_tags(tags: list[str], prefix: str) -> list[str]:
    return [tag.split(":", 1)[1] for tag in tags if tag.startswith(f"{prefix}:")]
