"""The run's lookups as whole maps, a file each (RunInputs' per-file maps): the reference the
normalize jobs' per-model facts (stage.load_facts, one lookup a model) are checked against."""

from __future__ import annotations

from hfharvest.entities import KINDS
from hfharvest.normalize.fair4ml import Lookups
from hfharvest.normalize.inputs import RunInputs
from hfharvest.normalize.stage import entities_of


def load_lookups(inputs: RunInputs, max_chars: int, entities: bool = True) -> Lookups:
    """Entity maps and relations for every model; the enriched entities too when asked."""
    return Lookups(
        mappings={kind: inputs.mapping(kind) for kind in KINDS},
        relations=inputs.relations_of(),
        entities=entities_of(inputs) if entities else {},
        identifiers=inputs.identifiers_of(),
        dataset_sources=inputs.dataset_sources_of(),
        max_chars=max_chars,
    )
