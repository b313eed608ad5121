"""What every enricher shares: grouping a mapping by entity, and the unresolved record."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from ..entities import entity


def models_by_entity(mapping: Mapping[str, Iterable]) -> dict[str, list[str]]:
    """`{model_id: [entity ids]}` -> `{entity id: sorted model ids}`, sorted by entity id.

    Ids that are not non-empty strings are skipped (an identify stage never emits them).
    """
    grouped: dict[str, set[str]] = {}
    for model_id, ids in mapping.items():
        for entity_id in ids or ():
            if isinstance(entity_id, str) and entity_id.strip():
                grouped.setdefault(entity_id, set()).add(model_id)
    return {key: sorted(grouped[key]) for key in sorted(grouped)}


def unresolved(
    kind: str,
    entity_id: str,
    models: list[str],
    *,
    source: str,
    reason: str,
    message: str | None = None,
    **fields,
) -> dict:
    """An entity that stays in the output, saying why it could not be enriched."""
    extra = {"message": message} if message else {}
    return entity(
        kind,
        entity_id,
        source=source,
        enriched=False,
        reason=reason,
        **extra,
        **fields,
        models=models,
    )


def map_in_threads(func: Callable, items: list, threads: int) -> list:
    """`[func(item) for item in items]` on a small thread pool, in input order."""
    if threads <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(func, items))
