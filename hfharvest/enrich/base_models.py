"""Base models: the full records the ancestors stage already fetched, with relation and depth."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..entities import entity
from .common import models_by_entity, unresolved

SOURCE = "ancestors_artifact"


def enrich_base_models(
    ancestors_artifact: Mapping, mapping: Mapping[str, Iterable[str]]
) -> list[dict]:
    """One entity per base model id, from `hf_models_with_ancestors.json` (no requests).

    A base model the ancestors stage fetched carries its record, its depth and how it was pulled
    in (`pulled_in_by`: `[{model_id, relation}]`); one it could not fetch is kept with
    `enriched: False` and that failure's reason; one absent from the artifact is `not_harvested`.
    """
    records = {
        record.get("modelId"): record
        for record in ancestors_artifact.get("models") or []
        if isinstance(record, dict) and record.get("modelId")
    }
    failures = {
        failure.get("model_id"): failure
        for failure in ancestors_artifact.get("failures") or []
        if isinstance(failure, dict) and failure.get("model_id") and failure.get("part") != "card"
    }
    renamed = {
        (record.get("extraction_metadata") or {}).get("requested_id"): model_id
        for model_id, record in records.items()
        if (record.get("extraction_metadata") or {}).get("requested_id")
    }
    result = []
    for base_id, models in models_by_entity(mapping).items():
        record = records.get(base_id) or records.get(renamed.get(base_id))
        if record is not None:
            result.append(_enriched(base_id, models, record))
        else:
            failure = failures.get(base_id) or {
                "reason": "not_harvested",
                "message": "not in the ancestors artifact (models or failures)",
            }
            result.append(
                unresolved(
                    "base_models",
                    base_id,
                    models,
                    source=SOURCE,
                    reason=failure.get("reason") or "unresolved",
                    message=failure.get("message"),
                    pulled_in_by=failure.get("pulled_in_by") or [],
                )
            )
    return result


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
