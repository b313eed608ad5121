"""The run folder as the normalize stage reads it: the one module that knows its file layout.

Everything else in `hfharvest.normalize` asks this module for models, entity maps and entities,
so a change of the run folder's format (streamed or sharded files) stays here.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..entities import KINDS
from ..jsonio import iter_entries, iter_entry_chunks, iter_items, iter_models, read_failures
from ..spill import DiskMap
from .facts import identifier_strings, relation_objects

# The enrich outputs, by entity kind (rules/enrich.smk writes them under these names).
ENTITY_FILES = {
    "datasets": "hf_datasets_specific.json",
    "articles": "arxiv_articles.json",
    "base_models": "hf_base_models.json",
    "tasks": "tasks.json",
    "licenses": "licenses.json",
    "languages": "languages.json",
    "keywords": "keywords.json",
}
# Entity fields the stage uses; the rest (a base model's whole record, `models`) stays on disk.
ENTITY_FIELDS = {
    "datasets": ("pretty_name", "description", "author", "license", "languages", "task_categories"),
    "articles": ("title", "authors", "published", "doi", "arxiv_id", "primary_category"),
    "base_models": ("depth", "relations"),
    "tasks": ("label", "modality"),
    "licenses": ("spdx_id", "name", "url", "osi_approved", "category"),
    "languages": ("iso639_1", "iso639_3", "name"),
    "keywords": ("count",),
}
COMMON_FIELDS = ("entity_id", "kind", "id", "enriched", "reason")
IDENTIFIERS_FILE = "identified/identifiers.json"  # written by newer identify stages, optional
RELATIONS_FILE = "identified/base_model_relations.json"
DATASET_SOURCES_FILE = "identified/dataset_sources.json"  # optional, like IDENTIFIERS_FILE
MODELS_FILE = "hf_models_with_ancestors.json"
ENTITY_MEMO = 1024  # entities of a kind kept decoded (the slim fields only): a bounded number


@dataclass(frozen=True)
class RunInputs:
    """Paths of one run's files; `stages` maps a stage name to its file (for its failures)."""

    models: Path
    identified: dict[str, Path]
    relations: Path
    entities: dict[str, Path]
    stages: dict[str, Path] = field(default_factory=dict)
    identifiers: Path | None = None
    dataset_sources: Path | None = None

    @classmethod
    def from_folder(cls, run: str | Path, stages: dict[str, str] | None = None) -> RunInputs:
        run = Path(run)
        identifiers, sources = run / IDENTIFIERS_FILE, run / DATASET_SOURCES_FILE
        return cls(
            models=run / MODELS_FILE,
            identified={kind: run / "identified" / f"{kind}.json" for kind in KINDS},
            relations=run / RELATIONS_FILE,
            entities={kind: run / name for kind, name in ENTITY_FILES.items()},
            stages={name: run / path for name, path in (stages or {}).items()},
            identifiers=identifiers if identifiers.exists() else None,
            dataset_sources=sources if sources.exists() else None,
        )

    @classmethod
    def from_files(
        cls,
        models: str,
        identified: list[str],
        relations: str,
        entities: list[str],
        stages: dict[str, str] | None = None,
        identifiers: str | None = None,
        dataset_sources: str | None = None,
    ) -> RunInputs:
        """From a rule's named inputs: entity maps and enrich outputs told apart by file name."""
        kinds = {name: kind for kind, name in ENTITY_FILES.items()}
        return cls(
            models=Path(models),
            identified={Path(p).stem: Path(p) for p in identified},
            relations=Path(relations),
            entities={kinds[Path(p).name]: Path(p) for p in entities},
            stages={name: Path(path) for name, path in (stages or {}).items()},
            identifiers=Path(identifiers) if identifiers else None,
            dataset_sources=Path(dataset_sources) if dataset_sources else None,
        )

    @classmethod
    def from_rule(cls, inputs, stages=()) -> RunInputs:
        """From a normalize rule's `snakemake.input` (its named inputs; `stages` by name)."""
        return cls.from_files(
            inputs.models,
            inputs.identified,
            inputs.relations,
            inputs.entities,
            stages={name: inputs[name] for name in stages},
            identifiers=inputs.get("identifiers"),
            dataset_sources=inputs.get("dataset_sources"),
        )

    def iter_models(self) -> Iterator[dict]:
        return iter_models(self.models)

    # The per-model maps below are kept on disk (DiskMap): they grow with the number of models.
    def mapping(self, kind: str) -> DiskMap:
        """Model id -> the ids of the entities of `kind` it names."""
        return DiskMap(iter_entries(self.identified[kind]))

    def relations_of(self) -> DiskMap:
        """Model id -> base id -> {relation, source}; plain relation strings read as metadata."""
        return DiskMap(iter_entries(self.relations), relation_objects)

    def identifiers_of(self) -> DiskMap | None:
        """Model id -> its own identifiers (DOI, Hub URL), when the identify stage wrote them."""
        if self.identifiers is None:
            return None
        return DiskMap(iter_entries(self.identifiers), identifier_strings)

    def dataset_sources_of(self) -> DiskMap | dict:
        """Model id -> dataset id -> `metadata` or `card_text`; {} when the run has no such file."""
        return DiskMap(iter_entries(self.dataset_sources)) if self.dataset_sources else {}

    def facts_of(self) -> DiskMap:
        """Model id -> `[ids of each kind in KINDS order, relations, dataset sources,
        identifiers]` (a file's value, None where it has no entry for the model): every
        per-model file in one map, one lookup a model. The identify stage writes them sorted
        by model id, so they are merged as they stream, each value's text as written (a
        model's is the list's JSON text, never decoded and encoded again); a file that is not
        sorted is sorted on disk first."""
        files = [*(self.identified[kind] for kind in KINDS), self.relations,
                 self.dataset_sources, self.identifiers]  # fmt: skip
        try:
            return DiskMap(_aligned([iter_entry_chunks(path) if path else None for path in files]),
                           encoded=True)  # fmt: skip
        except _Unsorted:
            sorted_files = [DiskMap(iter_entries(path)) if path else {} for path in files]
            return DiskMap(_merged([iter(entries.items()) for entries in sorted_files]))

    def named(self, kind: str) -> list[str]:
        """The distinct ids of the entities of `kind` the run's models name, sorted: from that
        kind's identify file alone, its lists' texts decoded where not empty."""
        chunks = iter_entry_chunks(self.identified[kind])
        texts = (text for chunk in chunks for _, text in chunk if text != "[]")
        return sorted({entity for text in texts for entity in json.loads(text) or ()})

    def iter_entities(self, kind: str) -> Iterator[dict]:
        """The enriched entities of `kind`, slimmed to the fields the stage uses."""
        keep = (*COMMON_FIELDS, *ENTITY_FIELDS[kind])
        for entity in iter_items(self.entities[kind]):
            slim = {key: entity.get(key) for key in keep}
            slim["source"] = (entity.get("extraction_metadata") or {}).get("source")
            yield slim

    def entities_by_id(self, kind: str) -> DiskMap:
        """Entity id -> slim entity; popular entities (licences, languages, a hub of a base)
        stay decoded in memory, a bounded number of them."""
        pairs = ((entity["id"], entity) for entity in self.iter_entities(kind))
        return DiskMap(pairs, memo=ENTITY_MEMO)

    def iter_failures(self) -> Iterator[dict]:
        """Every stage's failures, each with the stage it was recorded in."""
        for stage, path in self.stages.items():
            for failure in read_failures(path):
                yield {"stage": stage, **failure}


class _Unsorted(ValueError):
    pass


def _aligned(files: list[Iterator[list[tuple[str, str]]] | None]) -> Iterator[tuple[str, str]]:
    """`(key, JSON text of [each file's value text or null])` by key from files' chunks of
    `(key, value text)` sorted by key (None: no file). While every file holds the same keys in
    the same order (as the identify stage writes them) a chunk's lists are compared and joined
    whole; from the first that differ on, entry by entry. Raises _Unsorted."""
    present = [chunks for chunks in files if chunks is not None]
    buffers: list[list[tuple[str, str]]] = [[] for _ in present]
    last = ""
    while True:
        for chunks, buffer in zip(present, buffers, strict=True):
            if not buffer:
                buffer.extend(next(chunks, ()))
        count = min(map(len, buffers), default=0)
        keys = [key for key, _ in buffers[0][:count]] if count else []
        if not keys or not _same_keys(keys, buffers, last):
            break
        columns = iter(buffer[:count] for buffer in buffers)
        values = [_NULLS if chunks is None else map(_text, next(columns)) for chunks in files]
        yield from zip(keys, map("[{}]".format, map(", ".join, zip(*values))))  # noqa: B905
        last = keys[-1]
        for buffer in buffers:
            del buffer[:count]
    rest = iter(itertools.chain(buffer, itertools.chain.from_iterable(chunks))
                for buffer, chunks in zip(buffers, present, strict=True))  # fmt: skip
    streams = [iter(()) if chunks is None else next(rest) for chunks in files]
    yield from _listed(_merged(streams, after=last))


_NULLS = itertools.repeat("null")  # the value of a file the run does not have
_text = operator.itemgetter(1)


def _same_keys(keys: list[str], buffers: list[list[tuple[str, str]]], last: str) -> bool:
    """Whether each buffer starts with `keys`, which come after `last` in increasing order."""
    count = len(keys)
    return (
        last < keys[0]
        and all(map(str.__lt__, keys, keys[1:]))
        and all([key for key, _ in buffer[:count]] == keys for buffer in buffers[1:])
    )


def _listed(merged: Iterator[tuple[str, list]]) -> Iterator[tuple[str, str]]:
    """Each key's values' texts as the JSON text of their list (dumps_record's, for texts as it
    writes them)."""
    for key, texts in merged:
        yield key, f"[{', '.join('null' if text is None else text for text in texts)}]"


def _merged(
    streams: list[Iterator[tuple[str, object]]], after: str = ""
) -> Iterator[tuple[str, list]]:
    """`(key, [each stream's value or None])` by key from streams sorted by key, all past
    `after`; a key given twice in one stream takes its last value (as a dict would). Raises
    _Unsorted."""
    heads = [next(stream, None) for stream in streams]
    while live := [head[0] for head in heads if head is not None]:
        if (key := min(live)) <= after and after:
            raise _Unsorted(key)
        values = [head[1] if head and head[0] == key else None for head in heads]
        heads = [next(stream, None) if head and head[0] == key else head
                 for stream, head in zip(streams, heads, strict=True)]  # fmt: skip
        if not all(head is None or head[0] > key for head in heads):
            _settle(key, streams, heads, values)
        yield key, values


def _settle(key: str, streams: list[Iterator], heads: list, values: list) -> None:
    """A key given again in a stream takes its last value; a smaller key after it means the
    stream is not sorted."""
    for index, stream in enumerate(streams):
        while (head := heads[index]) is not None and head[0] == key:
            values[index] = head[1]
            heads[index] = next(stream, None)
        if head is not None and head[0] < key:
            raise _Unsorted(key)
