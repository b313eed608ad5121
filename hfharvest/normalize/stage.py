"""The normalize stage's tables job and what both its jobs share (the linked-data job is in
linked_stage.py; the catalogue and the PostgreSQL load work from the tables, see catalogue.py and
postgres.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..entities import KINDS
from . import TABLES
from .facts import ModelFacts
from .fair4ml import Lookups
from .inputs import RunInputs

if TYPE_CHECKING:
    from .table_cache import TableCache


def table_paths(folder: str | Path) -> dict[str, Path]:
    return {name: Path(folder) / f"{name}.parquet" for name in TABLES}


def load_facts(inputs: RunInputs, max_chars: int = 0, entities: bool = True) -> ModelFacts:
    """Every model's facts in one map (one lookup a model); the enriched entities when asked."""
    shared = Lookups({}, {}, entities_of(inputs) if entities else {}, max_chars=max_chars)
    return ModelFacts(inputs.facts_of(), inputs.identifiers is not None, shared)


def entities_of(inputs: RunInputs) -> dict:
    return {kind: inputs.entities_by_id(kind) for kind in KINDS}


def normalize_tables(inputs: RunInputs, folder: Path, run_id: str, batch_rows: int,
                     cache: TableCache | None = None) -> dict:  # fmt: skip
    """The run's tables; a model's rows from `cache` when nothing they are made from changed."""
    from .tables import write_tables  # pyarrow: a third of normalize_fair4ml's imports' CPU

    return write_tables(
        inputs.iter_models(),
        {kind: inputs.iter_entities(kind) for kind in KINDS},
        inputs.iter_failures(),
        load_facts(inputs, entities=False),
        table_paths(folder),
        run_id,
        batch_rows,
        cache,
    )
