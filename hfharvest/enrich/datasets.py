"""Datasets: the Hub's dataset record (HfApi.dataset_info) and its Croissant JSON-LD."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from itertools import islice
from urllib.parse import quote

from huggingface_hub.hf_api import DatasetInfo

from .. import errors
from ..cache import EntityCache
from ..entities import entity
from ..hub import HubClient
from ..ids import is_model_id
from ..spill import DiskMap
from ..threads import ordered_map
from .common import models_by_entity, unresolved

SOURCE = "hub_api"
# A Croissant document is JSON-LD the Hub makes from the dataset viewer's metadata: tens of kB,
# a few hundred for datasets of many configs. Parsed, JSON takes up to ~25 times its bytes, and a
# few are held until written (WINDOW_PER_THREAD): 4 MiB (~100 MB parsed at worst) is the cap.
CROISSANT_MAX_BYTES = 4 * 1024 * 1024
INVALID = "not a Hub dataset id (free text?): never requested"
# Croissant answers worth keeping with a sha: a transient failure is asked again.
KEPT_CROISSANT = {"ok", "missing"}
log = logging.getLogger(__name__)


def is_dataset_id(value: str) -> bool:
    """Hub dataset ids follow the same grammar as model ids (`name` or `org/name`)."""
    return is_model_id(value)


def fetch_croissant(
    client: HubClient, dataset_id: str, max_bytes: int | None = CROISSANT_MAX_BYTES
) -> dict | None:
    """GET {endpoint}/api/datasets/{id}/croissant; None when the Hub has none (404). An answer
    over `max_bytes` (hub.croissant_max_mb; else the client's JSON cap) is `malformed`."""
    url = f"{client.endpoint}/api/datasets/{quote(dataset_id, safe='/')}/croissant"
    body = client.get_json(url, dataset_id, missing_ok=True, max_bytes=max_bytes)
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
# Pages of the listing read at most (the Hub's ~500 in 2025, twice over); and never more pages
# than datasets to ask, which would cost more than asking them one by one.
LISTING_MAX_PAGES = 1000


# Datasets done ahead of the one written next, per thread: their Croissant documents are held
# until written (a chunk of 256 held up to 256 of them).
WINDOW_PER_THREAD = 2
# The listing fields dataset_fields() reads: with them a listed dataset needs no dataset_info.
# (All are in huggingface_hub's ExpandDatasetProperty_T, the listing's `expand` values.)
LISTING_EXPAND = ("author", "cardData", "citation", "createdAt", "description", "disabled",
                  "downloads", "gated", "lastModified", "likes", "paperswithcode_id", "sha",
                  "tags")  # fmt: skip
DEFERRED = "deferred"  # Croissant not asked this run (over hf.croissant_max): asked in a later one


class CroissantBudget:
    """At most `limit` Croissant requests in a run (None: no limit), shared by the threads."""

    def __init__(self, limit: int | None, max_bytes: int = CROISSANT_MAX_BYTES):
        self.left = limit
        self.max_bytes = max_bytes  # one answer's cap
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left is None:
                return True
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def spent(self) -> bool:
        """Whether no request is left (final: `left` only goes down)."""
        return self.left is not None and self.left <= 0


def enrich_datasets(
    client: HubClient,
    mapping: Mapping[str, Iterable[str]] | Iterable[tuple[str, Iterable[str]]],
    threads: int = 8,
    *,
    croissant: bool = True,
    cache: EntityCache | None = None,
    max_age_h: float = 24.0,
    bulk_min: int = BULK_MIN,
    croissant_max: int | None = None,
    listing_max_pages: int = LISTING_MAX_PAGES,
    croissant_max_bytes: int = CROISSANT_MAX_BYTES,
) -> Iterator[dict]:
    """One entity per dataset id, sorted by id, from the Hub's dataset record (+ Croissant when
    it has one), yielded as they are made (entities and model lists are kept on disk, never
    all in memory).

    An id that is not a Hub dataset id (free text such as `Indonesian Wikipedia`) is never sent
    to the Hub: it is kept with `enriched: False`, reason `invalid_id`. A dataset the Hub does
    not have is `not_found`; 5xx, timeouts and malformed answers keep their reason too.

    With a cache (keyed by endpoint, dataset id and sha), a dataset seen within `max_age_h` costs
    no request. When at least `bulk_min` others need asking, the Hub's paged dataset listing
    gives their current sha and record fields (`expand`): one request per 1000 datasets, and
    none per dataset. The rest are asked one by one (`dataset_info`). Croissant is reused when
    the sha is one already cached; at most `croissant_max` are asked in a run (the rest are
    `croissant_status: deferred`, asked by a later run), so a whole Hub's datasets stay within
    the `api` budget. The listing reads at most `listing_max_pages` pages, and no more pages than
    datasets to ask; a listing stopped there (or looping, or failing) keeps what it listed and
    the other datasets are asked one by one. A Croissant answer over `croissant_max_bytes` is
    `croissant_status: malformed` (the record is kept).
    """
    max_age_s = max_age_h * 3600
    budget = CroissantBudget(croissant_max if croissant else 0, croissant_max_bytes)
    by_dataset = models_by_entity(mapping)
    listed = _listing_entries(client, by_dataset, cache, max_age_s, bulk_min, listing_max_pages)
    try:
        known = (
            (dataset_id, models, _known(dataset_id, models, cache, max_age_s, listed, croissant))
            for dataset_id, models in by_dataset.items()
        )
        finish = partial(_finish, client, croissant=croissant, cache=cache, budget=budget)
        yield from ordered_map(lambda item: finish(*item), known, threads,
                               answer_here=partial(_ready, finish, budget),
                               window_per_thread=WINDOW_PER_THREAD)  # fmt: skip
    finally:
        by_dataset.close()
        listed.close()


def _listing_entries(client, by_dataset, cache, max_age_s: float, bulk_min: int,
                     max_pages: int) -> DiskMap:  # fmt: skip
    """`{dataset id: listing entry}` of the wanted datasets, from the Hub's dataset listing, on
    disk, when at least `bulk_min` datasets would be asked one by one; else empty. The listing
    reads at most `max_pages` pages, and no more than there are datasets to ask."""
    if cache is None:
        return DiskMap(())
    stale = (d for d in by_dataset if is_dataset_id(d) and not cache.is_fresh(d, max_age_s))
    to_ask = sum(1 for _ in islice(stale, max(bulk_min, max_pages)))
    if to_ask < bulk_min:
        return DiskMap(())
    pages = max(1, min(max_pages, to_ask))
    entries = client.list_datasets(PAGE_SIZE, LISTING_EXPAND, pages)
    return DiskMap(_wanted_entries(entries, by_dataset, max_pages))


def _wanted_entries(entries: Iterator[dict], by_dataset, max_pages: int) -> Iterator[tuple]:
    """The wanted datasets' listing entries, until the listing ends or stops: it is an
    optimisation, so a listing that fails, loops or runs past its pages keeps what it listed,
    and the datasets it did not list are asked one by one."""
    try:
        for entry in entries:
            if entry["id"] in by_dataset:
                yield entry["id"], entry
    except errors.HarvestError as err:
        cause = err.message
        if "pages: stopped" in cause:  # the bound: say which key sets it
            cause += (f" (hf.datasets_listing_max_pages {max_pages}, or the datasets to ask if "
                      "fewer)")  # fmt: skip
        log.warning("dataset listing stopped: %s; the datasets it did not list are asked one by "
                    "one", cause)  # fmt: skip


def _known(dataset_id: str, models: list[str], cache, max_age_s: float, listed: DiskMap,
           croissant: bool) -> dict | None:  # fmt: skip
    """What is known without a `dataset_info` request: `{"entity": ...}` when nothing is to
    ask, `{"fields": ...}` when only Croissant may be (a record from the listing or the cache;
    `cached: True` when those fields are the cache's entry at their own sha), None when the Hub
    must be asked for the record."""
    if not is_dataset_id(dataset_id):
        return {"entity": unresolved("datasets", dataset_id, models, source=SOURCE,
                                     reason="invalid_id", message=INVALID)}  # fmt: skip
    if cache is None:
        return None
    fields, version = cache.fresh_version(dataset_id, max_age_s)
    entry = listed.get(dataset_id) if fields is None else None
    if entry is not None and (fields := cache.get(dataset_id, entry["sha"])) is not None:
        version = entry["sha"]
        cache.seen(dataset_id, version)
    if fields is not None and not (croissant and fields.get("croissant_status") == DEFERRED):
        return {"entity": _from_cache(dataset_id, fields, models)}
    if fields is None and entry is not None:
        try:
            fields = dataset_fields(DatasetInfo(**entry))
        except Exception:  # noqa: BLE001 - an entry we cannot read: asked one by one
            return None
    if fields is None:
        return None
    return {"fields": fields, "cached": version is not None and fields.get("sha") == version}


def _ready(finish, budget: CroissantBudget, item: tuple) -> dict | None:
    """The entity of a dataset that needs no request (most of a warm run's): made here, not
    handed to a thread. So is a cached record waiting for its Croissant once the run's
    Croissant requests are spent: it stays deferred, and is neither asked nor written."""
    known = item[2]
    if known is None:
        return None
    if "entity" in known:
        return known["entity"]
    return finish(*item) if known["cached"] and budget.spent() else None


def _finish(client, dataset_id, models, known, *, croissant, cache, budget) -> dict:
    if known is not None and "entity" in known:
        return known["entity"]
    fields = known["fields"] if known else None
    cached = bool(known and known["cached"])
    return _dataset(client, dataset_id, models, croissant, cache, budget, fields, cached)


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
    budget: CroissantBudget | None = None,
    fields: dict | None = None,
    cached: bool = False,
) -> dict:
    """The dataset's entity: its record (`fields` from the listing or the cache, else asked),
    and its Croissant (reused by sha, else asked within the budget). `cached`: `fields` are the
    cache's entry at their sha (not read again; and one still deferred is not written again: a
    rewrite would mark as seen now a record nobody asked the Hub for)."""
    if fields is None:
        try:
            fields = dataset_fields(client.dataset_info(dataset_id))
        except errors.HarvestError as err:
            if cache is not None and err.reason == "not_found":
                cache.missing(dataset_id, err.message)
            return unresolved("datasets", dataset_id, models, source=SOURCE, reason=err.reason,
                              message=err.message)  # fmt: skip
        except Exception as err:  # an answer we could not read: this dataset only
            return unresolved("datasets", dataset_id, models, source=SOURCE, reason="malformed",
                              message=f"{type(err).__name__}: {err}")  # fmt: skip
    sha = fields.get("sha")
    known = fields if cached else _cached(cache, dataset_id, sha)
    fields = dict(fields)
    if with_croissant and known and known.get("croissant_status") in KEPT_CROISSANT:
        fields["croissant"], status = known.get("croissant"), known["croissant_status"]
    elif with_croissant and (budget is None or budget.take()):
        cap = budget.max_bytes if budget is not None else CROISSANT_MAX_BYTES
        fields["croissant"], status = _croissant(client, dataset_id, cap)
    else:
        fields["croissant"], status = None, DEFERRED if with_croissant else "skipped"
    fields["croissant_status"] = status
    unchanged = cached and status == DEFERRED and known.get("croissant_status") == DEFERRED
    if (
        cache is not None
        and sha
        and status in {*KEPT_CROISSANT, "skipped", DEFERRED}
        and not unchanged
    ):
        cache.put(dataset_id, sha, fields)
    return entity("datasets", dataset_id, source=SOURCE, **fields, models=models)


def _cached(cache: EntityCache | None, dataset_id: str, sha) -> dict | None:
    return cache.get(dataset_id, sha) if cache is not None and sha else None


def _croissant(client: HubClient, dataset_id: str, max_bytes: int) -> tuple[dict | None, str]:
    try:
        body = fetch_croissant(client, dataset_id, max_bytes)
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
