"""Identify stage, pure part: a model record in, the ids of the entities it names out.

One module per kind; each identifier takes one record (our pipeline's, or a Hub API body) and
returns the sorted, deduplicated ids of that kind. They are total: odd values (a string for
`cardData`, numbers among the tags, a 20 MB card) read as empty, never as an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module

from ._fields import model_id

# The kind names of hfharvest.entities.KINDS, then `identifiers`: the model's own ids (Hub URL,
# repository DOI), which describe the model itself and have no entity to enrich. Each kind's
# identifier is `identify_<kind>` in module `<kind>`, imported when first asked for: a job that
# identifies licences does not load langcodes nor the Hub client's id validator.
KINDS = (
    "datasets",
    "articles",
    "base_models",
    "keywords",
    "licenses",
    "languages",
    "tasks",
    "identifiers",
)
_ELSEWHERE = {"base_model_mappings": "base_models", "dataset_sources": "datasets"}


def identifier(kind: str) -> Callable[[dict], list[str]]:
    if kind not in KINDS:
        raise ValueError(f"unknown entity kind {kind!r}; one of {KINDS}")
    return getattr(import_module(f".{kind}", __name__), f"identify_{kind}")


def __getattr__(name: str):
    if name == "IDENTIFIERS":  # {kind: identifier}, every kind imported
        return {kind: identifier(kind) for kind in KINDS}
    if name.startswith("identify_") and name.removeprefix("identify_") in KINDS:
        return identifier(name.removeprefix("identify_"))
    if name in _ELSEWHERE:
        return getattr(import_module(f".{_ELSEWHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def identify_models(kind: str, records: Iterable[dict]) -> dict[str, list[str]]:
    """{model id: sorted ids of `kind`} for every record that has a model id (an empty list when
    it names none). A model id seen twice gets the union."""
    identify = identifier(kind)
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
    from .base_models import base_model_mappings

    return base_model_mappings(records, renamed)[1]


def dataset_provenance(records: Iterable[dict]) -> dict[str, dict[str, str]]:
    """{model id: {dataset id: `metadata` or `card_text`}}, for every record with a model id."""
    from .datasets import dataset_sources

    found: dict[str, dict[str, str]] = {}
    for record in records:
        if (model := model_id(record)) is not None:
            merged = found.setdefault(model, {})
            for dataset, source in dataset_sources(record).items():
                merged.setdefault(dataset, source)
    return {model: dict(sorted(sources.items())) for model, sources in sorted(found.items())}


__all__ = [
    "IDENTIFIERS",
    "KINDS",
    "identifier",
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
