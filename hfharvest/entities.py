"""Identified entities: a stable id per (kind, normalised id), and one record shape for all."""

from __future__ import annotations

import uuid
from functools import lru_cache

from .stages.extract import now_iso

KINDS = ("datasets", "articles", "base_models", "keywords", "licenses", "languages", "tasks")
# Fixed namespace: the same entity gets the same id in every run, on every machine.
_NAMESPACE = uuid.UUID("6f1c1a52-4d0e-5b7e-9a55-0d7c2f9e4b21")


@lru_cache(maxsize=1 << 16)  # a licence or a popular base is named by thousands of models
def entity_id(kind: str, normalised_id: str) -> str:
    """Deterministic id of an entity: a UUIDv5 of its kind and normalised id."""
    if kind not in KINDS:
        raise ValueError(f"unknown entity kind {kind!r}; one of {KINDS}")
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{normalised_id}"))


def entity(
    kind: str,
    normalised_id: str,
    *,
    source: str,
    enriched: bool = True,
    reason: str | None = None,
    **fields,
) -> dict:
    """One enriched (or unresolvable) entity; an unresolved one says why, it is never dropped."""
    record = {"entity_id": entity_id(kind, normalised_id), "kind": kind, "id": normalised_id}
    record["enriched"] = enriched
    if not enriched:
        record["reason"] = reason or "unresolved"
    record.update(fields)
    record["extraction_metadata"] = {"source": source, "extracted_at": now_iso()}
    return record
