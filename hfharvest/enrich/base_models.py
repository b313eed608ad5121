"""Base models: the full records the ancestors stage already fetched, with relation and depth."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ..entities import entity
from ..jsonio import iter_failures, iter_models
from ..spill import Table
from .common import models_by_entity, unresolved

SOURCE = "ancestors_artifact"


def enrich_base_models(
    ancestors_path: str | Path, mapping: Mapping[str, Iterable[str]] | Iterable[tuple]
) -> Iterator[dict]:
    """One entity per base model id, from `hf_models_with_ancestors.json` (no requests).

    A base model the ancestors stage fetched carries its record, its depth and how it was pulled
    in (`pulled_in_by`: `[{model_id, relation}]`); one it could not fetch is kept with
    `enriched: False` and that failure's reason; one absent from the artifact is `not_harvested`.

    A join on disk: the artifact is streamed once and only the base models' records and
    failures are kept, in a temporary table, so memory does not grow with the harvest.
    """
    grouped = models_by_entity(mapping)
    with Table() as found:
        _keep_bases(ancestors_path, grouped, found)
        for base_id, models in grouped.items():
            record = found.first(base_id)
            if record is not None and record[0] == "record":
                yield _enriched(base_id, models, record[1])
                continue
            failure = (record or [None, None])[1] or {
                "reason": "not_harvested",
                "message": "not in the ancestors artifact (models or failures)",
            }
            yield unresolved(
                "base_models",
                base_id,
                models,
                source=SOURCE,
                reason=failure.get("reason") or "unresolved",
                message=failure.get("message"),
                pulled_in_by=failure.get("pulled_in_by") or [],
            )
    grouped.close()


# The member a row is kept under orders what a base id finds first: its own record, then the
# record of the repo it was renamed to (requested under the old id), then its failure.
_OWN, _RENAMED, _FAILURE = "0", "1", "2"


def _keep_bases(path: str | Path, grouped, found: Table) -> None:
    for record in iter_models(path):
        if not isinstance(record, dict) or not record.get("modelId"):
            continue
        requested = (record.get("extraction_metadata") or {}).get("requested_id")
        if record["modelId"] in grouped:
            found.put(record["modelId"], _OWN, ["record", record])
        if requested and requested in grouped:
            found.put(requested, _RENAMED, ["record", record])
    for failure in iter_failures(path):
        model = failure.get("model_id") if isinstance(failure, dict) else None
        if model and failure.get("part") != "card" and model in grouped:
            found.put(model, _FAILURE, ["failure", failure])


def _enriched(base_id: str, models: list[str], record: Mapping) -> dict:
    ancestry = record.get("ancestry") or {}
    pulled_in_by = [link for link in ancestry.get("pulled_in_by") or [] if isinstance(link, dict)]
    relations = sorted({link.get("relation") for link in pulled_in_by if link.get("relation")})
    return entity(
        "base_models",
        base_id,
        source=SOURCE,
        model_id=record.get("modelId"),
        depth=ancestry.get("depth", 0),
        relations=relations,
        pulled_in_by=pulled_in_by,
        harvested_as=(record.get("extraction_metadata") or {}).get("source"),
        record=dict(record),
        models=models,
    )
