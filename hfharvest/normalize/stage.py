"""The normalize stage's jobs, one function per rule: linked data, tables (the catalogue and the
PostgreSQL load work from the tables, see catalogue.py and postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..cards import CardStore, with_text
from ..entities import KINDS
from . import TABLES
from .doc_cache import DocumentCache
from .fair4ml import Lookups, dataset_document, model_document, model_inputs
from .inputs import RunInputs
from .linked_data import Written, write_linked_data, written
from .table_cache import TableCache
from .tables import ModelFacts, write_tables


def table_paths(folder: str | Path) -> dict[str, Path]:
    return {name: Path(folder) / f"{name}.parquet" for name in TABLES}


def load_lookups(inputs: RunInputs, max_chars: int, entities: bool = True) -> Lookups:
    """Entity maps and relations for every model; the enriched entities too when asked."""
    return Lookups(
        mappings={kind: inputs.mapping(kind) for kind in KINDS},
        relations=inputs.relations_of(),
        entities={kind: inputs.entities_by_id(kind) for kind in KINDS} if entities else {},
        identifiers=inputs.identifiers_of(),
        dataset_sources=inputs.dataset_sources_of(),
        max_chars=max_chars,
    )


def normalize_linked_data(
    inputs: RunInputs,
    models_jsonl: Path,
    datasets_jsonl: Path,
    ntriples: Path,
    max_chars: int,
    cache: DocumentCache | None = None,
    cards: CardStore | None = None,
) -> dict:
    """FAIR4ML documents of the models and of their training datasets, and all their triples;
    documents come from `cache` when nothing they are made from changed (a model's card by its
    digest), else are made, a model's with the card's text from `cards`."""
    lookups = load_lookups(inputs, max_chars)
    trained_on = sorted({d for ids in lookups.mappings["datasets"].values() for d in ids})
    stats = write_linked_data(
        {
            models_jsonl: _model_documents(inputs, lookups, cache, cards),
            datasets_jsonl: _dataset_documents(trained_on, lookups, cache and cache.again()),
        },
        ntriples,
    )
    summary = {name: counted.as_dict() for name, counted in stats.items()}
    if cache is not None:
        summary[Path(models_jsonl).name]["from_cache"] = cache.hits
    return summary


def _model_documents(inputs: RunInputs, lookups: Lookups, cache: DocumentCache | None,
                     cards: CardStore | None) -> Iterator[Written]:  # fmt: skip
    for record in inputs.iter_models():
        if cache is None:
            yield written(model_document(with_text(record, cards)[0], lookups))
            continue
        key = cache.key(model_inputs(record, lookups))
        if (cached := cache.get(key)) is not None:
            yield cached
            continue
        full, problem = with_text(record, cards)
        document = written(model_document(full, lookups))
        if problem is None:  # a document without its card's sections must not outlive the run
            cache.put(key, document)
        yield document


def _dataset_documents(dataset_ids: list[str], lookups: Lookups,
                       cache: DocumentCache | None) -> Iterator[Written]:  # fmt: skip
    for dataset_id in dataset_ids:
        entity = lookups.entity("datasets", dataset_id)
        if cache is None:
            yield written(dataset_document(entity, lookups.max_chars))
            continue
        key = cache.key({"dataset": entity, "max_chars": lookups.max_chars})
        if (cached := cache.get(key)) is not None:
            yield cached
            continue
        document = written(dataset_document(entity, lookups.max_chars))
        cache.put(key, document)
        yield document


def normalize_tables(inputs: RunInputs, folder: Path, run_id: str, batch_rows: int,
                     cache: TableCache | None = None) -> dict:  # fmt: skip
    """The run's tables; a model's rows from `cache` when nothing they are made from changed."""
    return write_tables(
        inputs.iter_models(),
        {kind: inputs.iter_entities(kind) for kind in KINDS},
        inputs.iter_failures(),
        ModelFacts(inputs.facts_of(), identifiers=inputs.identifiers is not None),
        table_paths(folder),
        run_id,
        batch_rows,
        cache,
    )
