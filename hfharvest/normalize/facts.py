"""What the run says of each model besides its record, one on-disk row a model
(RunInputs.facts_of): the lookups both normalize jobs make a model's output from, and what the
document cache keys hold of them.

A model's facts are read as one JSON text (one lookup, no decoding for a model whose output is
reused), and a cache key holds that text as it is, with a digest of each enriched entity the
model names (made once per entity, from the entity's stored text), so a changed dataset
description changes the documents of exactly the models naming it. A model's facts are decoded
once for its key (for the entities it names), and again only for a document that is made.
"""

from __future__ import annotations

import hashlib
import json
import marshal
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import TYPE_CHECKING

from ..entities import KINDS
from .fair4ml import Lookups

if TYPE_CHECKING:
    from ..spill import DiskMap

# Record fields no output shows as they are, left out of the keys: they change at every harvest.
PER_HARVEST = frozenset({"extraction_metadata", "downloads", "likes"})
# Entity digests kept, of each kind: a bounded number (see ModelFacts._digest). 100 000 models
# name 7 600 datasets, 3 800 articles and 21 000 base models: at 4 096 a kind, or in all, most
# of the lookups of the latter missed (a query and a sha256 each).
ENTITY_DIGESTS = 16384


@dataclass(frozen=True)
class ModelFacts:
    """`facts`: model id -> `[ids of each kind in KINDS order, relations, dataset sources,
    identifiers]` (RunInputs.facts_of); `identifiers`: whether the run has that file (without
    it a model's own ids are taken from its articles); `shared`: what every model's lookups
    share, the enriched entities (entity id -> slim entity, on disk) and the settings."""

    facts: DiskMap
    identifiers: bool
    shared: Lookups = field(default_factory=lambda: Lookups({}, {}, {}))
    digests: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Per instance (another run's entity of the same id may differ) and per kind, in KINDS
        # order: a cache of one string argument keys its entries on the string itself.
        digests = (lru_cache(maxsize=ENTITY_DIGESTS)(partial(self._digest, kind)) for kind in KINDS)
        object.__setattr__(self, "digests", tuple(digests))

    def text(self, model_id: str) -> str:
        return self.facts.text(model_id) or "null"

    def lookups(self, model_id: str, text: str) -> Lookups:
        """A model's lookups, as the run's whole maps, a file each, give them for it."""
        *ids, relations, sources, own = _values(text)
        only = lambda value: {} if value is None else {model_id: value}  # noqa: E731
        return replace(
            self.shared,
            mappings={kind: only(value) for kind, value in zip(KINDS, ids, strict=True)},
            relations=only(relations and relation_objects(relations)),
            identifiers=only(own and identifier_strings(own)) if self.identifiers else None,
            dataset_sources=only(sources),
        )

    def document_inputs(self, record: dict, text: str) -> dict:
        """Everything a model's document is made from (its cache key is made of this): the
        record less what changes every harvest, the facts text as stored, a digest of each
        entity the model names, the settings."""
        named = [
            digest(entity)
            for digest, ids in zip(self.digests, _values(text), strict=False)
            for entity in ids or ()
        ]
        return {
            "record": stable(record),
            "facts": text,
            "entities": named,
            "identified": self.identifiers,
            "max_chars": self.shared.max_chars,
        }

    def _digest(self, kind: str, entity: str) -> bytes:
        """A digest of the entity as stored: made once for the entities many models name (a
        licence, a language), not for every model that names them."""
        text = self.shared.entities[kind].text(entity)
        return hashlib.sha256((text or "").encode()).digest()


def _values(text: str) -> list:
    return json.loads(text) or [None] * (len(KINDS) + 3)


def key_digest(material) -> str:
    """The sha256 of a cache key's material (JSON values, tuples) by marshal's version 2: it
    writes no references (equal values give equal bytes, shared objects or not) and tells every
    JSON type apart (1, 1.0 and True differ), in a third to a half of json.dumps(sort_keys)'s
    CPU; the same values in another order only miss."""
    return hashlib.sha256(marshal.dumps(material, 2)).hexdigest()


def stable(record: dict) -> dict:
    """The record less what changes at every harvest (its other keys in their order)."""
    kept = record.copy()  # in C, then three deletions: not a test of every key in Python
    for key in PER_HARVEST:
        kept.pop(key, None)
    return kept


def relation_objects(bases: dict) -> dict[str, dict]:
    """Base id -> {relation, source}; plain relation strings read as metadata."""
    return {
        base: value if isinstance(value, dict) else {"relation": value, "source": None}
        for base, value in bases.items()
    }


def identifier_strings(ids: list) -> list[str]:
    return [i if isinstance(i, str) else i.get("id", "") for i in ids]
