"""Datasets: the Hub's dataset record (HfApi.dataset_info) and its Croissant JSON-LD."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from huggingface_hub.hf_api import DatasetInfo

from .. import errors
from ..entities import entity
from ..hub import HubClient
from ..ids import is_model_id
from .common import map_in_threads, models_by_entity, unresolved

SOURCE = "hub_api"


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


def enrich_datasets(
    client: HubClient,
    mapping: Mapping[str, Iterable[str]],
    threads: int = 8,
    *,
    croissant: bool = True,
) -> list[dict]:
    """One entity per dataset id, from the Hub's dataset record (+ Croissant when it has one).

    An id that is not a Hub dataset id (free text such as `Indonesian Wikipedia`) is never sent
    to the Hub: it is kept with `enriched: False`, reason `invalid_id`. A dataset the Hub does
    not have is `not_found`; 5xx, timeouts and malformed answers keep their reason too.
    """
    items = list(models_by_entity(mapping).items())
    return map_in_threads(lambda item: _dataset(client, *item, croissant), items, threads)


def _dataset(client: HubClient, dataset_id: str, models: list[str], with_croissant: bool) -> dict:
    if not is_dataset_id(dataset_id):
        return unresolved(
            "datasets",
            dataset_id,
            models,
            source=SOURCE,
            reason="invalid_id",
            message="not a Hub dataset id (free text?): never requested",
        )
    try:
        info = client.dataset_info(dataset_id)
        fields = dataset_fields(info)
    except errors.HarvestError as err:
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
    fields["croissant"], status = None, "skipped"
    if with_croissant:
        try:
            fields["croissant"] = fetch_croissant(client, dataset_id)
            status = "ok" if fields["croissant"] is not None else "missing"
        except errors.HarvestError as err:
            status = err.reason
        except Exception as err:
            status = f"malformed: {type(err).__name__}"
    fields["croissant_status"] = status
    return entity("datasets", dataset_id, source=SOURCE, **fields, models=models)


def _iso(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _listed(value) -> list[str]:
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [str(item) for item in items if isinstance(item, str | int | float) and str(item)]


def _from_tags(tags: list[str], prefix: str) -> list[str]:
    return [tag.split(":", 1)[1] for tag in tags if tag.startswith(f"{prefix}:")]
