"""Enrich stage glue: what the enrichers need from the run folder and the config, and the
entity files written and counted as streams."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path

from ..jsonio import iter_entries, iter_items, write_items
from ..spill import count_distinct

log = logging.getLogger(__name__)

ARXIV_REPLICA_PATH = "/api/query"  # the replica hub answers arXiv's API here


def arxiv_endpoint(endpoint: str) -> str:
    """`replica` means the workflow's replica hub, which also speaks arXiv's API."""
    from ..hub import REPLICA, resolve_endpoint  # the Hub client only for the jobs that call

    if endpoint == REPLICA:
        return resolve_endpoint(REPLICA) + ARXIV_REPLICA_PATH
    return endpoint


def mentioned_ids(mapping: dict[str, list[str]]) -> set[str]:
    return {entity_id for ids in mapping.values() for entity_id in ids}


class EntityCounter:
    """Counts entities as they stream past (`counter.watch(entities)`), holding none of them."""

    def __init__(self):
        self.entities = self.enriched = 0
        self.reasons: Counter = Counter()

    def watch(self, entities: Iterable[dict]) -> Iterator[dict]:
        for entity in entities:
            self.entities += 1
            if entity.get("enriched"):
                self.enriched += 1
            else:
                self.reasons[entity.get("reason", "unresolved")] += 1
            yield entity

    @property
    def counts(self) -> dict:
        return {
            "entities": self.entities,
            "enriched": self.enriched,
            "unresolved": self.entities - self.enriched,
            "unresolved_by_reason": dict(sorted(self.reasons.items())),
        }


def enrichment_counts(entities: Iterable[dict]) -> dict:
    counter = EntityCounter()
    for _ in counter.watch(entities):
        pass
    return counter.counts


def write_entities(output, entities: Iterable[dict], extra_requests=None) -> dict:
    """An enrich stage's outputs: `output.entities`, one JSON list of entities sorted by id, one
    a line, written as the enricher yields them; `output.requests`, the requests the job spent
    per budget (`extra_requests`: those the Hub client does not count, arXiv's)."""
    from .budget import write_spent

    counter = EntityCounter()
    write_items(output.entities, counter.watch(entities))
    write_spent(output.requests, Path(output.requests).stem, extra_requests)
    log.info("%s: %s", output.entities, counter.counts)
    return counter.counts


def file_enrichment_counts(path: str) -> dict:
    """enrichment_counts of an enrich output, streamed."""
    return enrichment_counts(iter_items(path))


def file_identification_counts(path: str) -> dict:
    """identification_counts of an identify mapping, streamed; distinct ids counted on disk."""
    counts = {"models": 0, "models_with_entities": 0}

    def named():
        for _, entity_ids in iter_entries(path):
            counts["models"] += 1
            if entity_ids:
                counts["models_with_entities"] += 1
                yield entity_ids

    # the ids of a model at once: count_distinct takes them in batches, not one by one
    distinct = count_distinct(chain.from_iterable(named()))
    return {**counts, "distinct_entities": distinct}


def identification_counts(mapping: dict[str, list[str]]) -> dict:
    return {
        "models": len(mapping),
        "models_with_entities": sum(1 for ids in mapping.values() if ids),
        "distinct_entities": len(mentioned_ids(mapping)),
    }
