"""Identify stage, pure part: a model record in, the ids of the entities it names out.

One module per kind; each identifier takes one record (our pipeline's, or a Hub API body) and
returns the sorted, deduplicated ids of that kind. They are total: odd values (a string for
`cardData`, numbers among the tags, a 20 MB card) read as empty, never as an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ._fields import model_id
from .articles import identify_articles
from .base_models import base_model_mappings, identify_base_models
from .datasets import dataset_sources, identify_datasets
from .identifiers import identify_identifiers
from .keywords import identify_keywords
from .languages import identify_languages
from .licenses import identify_licenses
from .tasks import identify_tasks

# Keyed by the kind names of hfharvest.entities.KINDS, then `identifiers`: the model's own ids
# (Hub URL, repository DOI), which describe the model itself and have no entity to enrich.
IDENTIFIERS: dict[str, Callable[[dict], list[str]]] = {
    "datasets": identify_datasets,
    "articles": identify_articles,
    "base_models": identify_base_models,
    "keywords": identify_keywords,
    "licenses": identify_licenses,
    "languages": identify_languages,
    "tasks": identify_tasks,
    "identifiers": identify_identifiers,
}


def identify_models(kind: str, records: Iterable[dict]) -> dict[str, list[str]]:
    """{model id: sorted ids of `kind`} for every record that has a model id (an empty list when
    it names none). A model id seen twice gets the union."""
    if kind not in IDENTIFIERS:
        raise ValueError(f"unknown entity kind {kind!r}; one of {tuple(IDENTIFIERS)}")
    identify = IDENTIFIERS[kind]
    found: dict[str, set[str]] = {}
    for record in records:
        if (model := model_id(record)) is not None:
            found.setdefault(model, set()).update(identify(record))
    return {model: sorted(ids) for model, ids in sorted(found.items())}


def base_model_relations(
    records: Iterable[dict], renamed: Mapping[str, str] | None = None
) -> dict[str, dict[str, dict]]:
    """{model id: {base id: {relation, source, as_written}}}: relation one of hfharvest.lineage's
    (`finetune`, ..., or `base_model` when the link names none), source `metadata` or
    `card_text`, and the ids the record wrote for that base (an old name of a renamed repo
    among them)."""
    return base_model_mappings(records, renamed)[1]


def dataset_provenance(records: Iterable[dict]) -> dict[str, dict[str, str]]:
    """{model id: {dataset id: `metadata` or `card_text`}}, for every record with a model id."""
    found: dict[str, dict[str, str]] = {}
    for record in records:
        if (model := model_id(record)) is not None:
            merged = found.setdefault(model, {})
            for dataset, source in dataset_sources(record).items():
                merged.setdefault(dataset, source)
    return {model: dict(sorted(sources.items())) for model, sources in sorted(found.items())}


__all__ = [
    "IDENTIFIERS",
    "base_model_mappings",
    "base_model_relations",
    "dataset_provenance",
    "identify_articles",
    "identify_base_models",
    "identify_datasets",
    "identify_identifiers",
    "identify_keywords",
    "identify_languages",
    "identify_licenses",
    "identify_models",
    "identify_tasks",
]
