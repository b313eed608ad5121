"""What every enricher shares: grouping a mapping by entity, and the unresolved record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ..entities import entity
from ..spill import Groups


class EntityModels:
    """`{entity id: sorted model ids}`, sorted by entity id, kept on disk past a bound
    (hfharvest.spill.Groups): a kind can name a million entities whose model lists together
    hold every model."""

    def __init__(self, mapping: Mapping[str, Iterable] | Iterable[tuple[str, Iterable]]):
        self._groups = Groups()
        pairs = mapping.items() if isinstance(mapping, Mapping) else mapping
        self._groups.add_pairs(
            (entity_id, model_id)
            for model_id, ids in pairs
            for entity_id in ids or ()
            if isinstance(entity_id, str) and entity_id.strip()
        )

    def items(self) -> Iterator[tuple[str, list[str]]]:
        return self._groups.members()

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, entity_id: object) -> bool:
        return isinstance(entity_id, str) and entity_id in self._groups

    def present(self, entity_ids: list[str]) -> set[str]:
        """Those of `entity_ids` (at most spill._BATCH_KEYS) held, in one query."""
        return self._groups.present(entity_ids)

    def close(self) -> None:
        self._groups.close()


def models_by_entity(mapping: Mapping[str, Iterable] | Iterable[tuple]) -> EntityModels:
    """`{model_id: [entity ids]}` (or its `(model id, ids)` pairs, streamed from the identify
    file) -> `{entity id: sorted model ids}`, sorted by entity id.

    Ids that are not non-empty strings are skipped (an identify stage never emits them).
    """
    return EntityModels(mapping)


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
