"""Enrich stage glue: what the enrichers need from the run folder and the config."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..hub import REPLICA, resolve_endpoint
from ..jsonio import iter_models, read_failures

ARXIV_REPLICA_PATH = "/api/query"  # the replica hub answers arXiv's API here


def arxiv_endpoint(endpoint: str) -> str:
    """`replica` means the workflow's replica hub, which also speaks arXiv's API."""
    if endpoint == REPLICA:
        return resolve_endpoint(REPLICA) + ARXIV_REPLICA_PATH
    return endpoint


def ancestors_subset(models_path: str, base_ids: Iterable[str]) -> dict:
    """The ancestors artifact reduced to the base models' records (streamed, not loaded)."""
    wanted = set(base_ids)
    models = [record for record in iter_models(models_path) if record["modelId"] in wanted]
    return {"models": models, "failures": read_failures(models_path)}


def mentioned_ids(mapping: dict[str, list[str]]) -> set[str]:
    return {entity_id for ids in mapping.values() for entity_id in ids}


def enrichment_counts(entities: list[dict]) -> dict:
    reasons = Counter(e.get("reason", "unresolved") for e in entities if not e["enriched"])
    enriched = sum(1 for e in entities if e["enriched"])
    return {
        "entities": len(entities),
        "enriched": enriched,
        "unresolved": len(entities) - enriched,
        "unresolved_by_reason": dict(sorted(reasons.items())),
    }


def identification_counts(mapping: dict[str, list[str]]) -> dict:
    return {
        "models": len(mapping),
        "models_with_entities": sum(1 for ids in mapping.values() if ids),
        "distinct_entities": len(mentioned_ids(mapping)),
    }
