"""The normalize_fair4ml job: FAIR4ML documents of the models and of their training datasets,
and their triples, in blocks a document cache can copy whole. Apart from stage.py, whose tables
job need not import pyld (through linked_data and doc_cache)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..cards import CardStore, with_text
from .doc_cache import DocumentCache
from .facts import ModelFacts
from .fair4ml import Lookups, dataset_document, model_document
from .inputs import RunInputs
from .linked_data import Block, Written, pack, write_linked_data, written
from .stage import load_facts


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
    facts = load_facts(inputs, max_chars)
    models = (_model_item(record, facts, cache, cards) for record in inputs.iter_models())
    datasets = (_dataset_item(dataset, facts.shared, cache) for dataset in inputs.named("datasets"))
    stats = write_linked_data(
        {
            models_jsonl: _blocks(models, cache),
            datasets_jsonl: _blocks(datasets, cache and cache.again()),
        },
        ntriples,
    )
    summary = {name: counted.as_dict() for name, counted in stats.items()}
    if cache is not None:
        summary[Path(models_jsonl).name]["from_cache"] = cache.hits
    return summary


# A document to write: its slot (what it is of, "model <id>" or "dataset <id>", and at which
# settings: a setting switched back finds its documents again), its cache key (None without a
# cache) and how to make it, which gives the document and whether it may be
# cached.
Item = tuple[str, str | None, Callable[[], tuple[Written, bool]]]

# Blocks end after a document whose slot's CRC-32 is 0 modulo BLOCK_EVERY, once they hold
# MIN_BLOCK documents; never past MAX_BLOCK (memory). The cuts hang on the models' ids, not on
# their content: a changed model changes only its own block, a moved or added one the block it
# leaves and the one it joins, and a block keeps its slot (its last document's) from run to run,
# so its new version replaces the old in the cache. A block is a gzip member: smaller ones
# compress worse, larger ones are more often touched by a changed model (rebuilt: its other
# documents read from the cache and compressed again, and stored again). About 11 documents a
# block: 2 % of models changed at random touch 20 % of the blocks (36 % at about 23, 8, 64), for
# files 5 % larger; at 20 000 models, a warm run's new cache entries 15 -> 10 MB (about 5 a
# block: 6 MB, files 15 % larger).
BLOCK_EVERY, MIN_BLOCK, MAX_BLOCK = 8, 4, 32


def _blocks(items: Iterable[Item], cache: DocumentCache | None) -> Iterator[Block]:
    """The documents in blocks; a block whose documents' keys are all as cached is copied."""
    for chunk in _chunks(items):
        if cache is None:
            yield pack(make()[0] for _, _, make in chunk)
            continue
        slot, key = chunk[-1][0], cache.block_key([str(key) for _, key, _ in chunk])
        if (block := cache.get_block(slot, key)) is None:
            block, cacheable = _made_block(chunk, cache)
            if cacheable:
                cache.put_block(slot, key, block)
        yield block


def _chunks(items: Iterable[Item]) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        cut = zlib.crc32(item[0].encode()) % BLOCK_EVERY == 0
        if len(chunk) >= MAX_BLOCK or (cut and len(chunk) >= MIN_BLOCK):
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _made_block(chunk: list[Item], cache: DocumentCache) -> tuple[Block, bool]:
    """The chunk's documents, each from the cache or made (and cached), in a block; and whether
    the block may be cached (all its documents may)."""
    cacheable = True

    def documents() -> Iterator[Written]:
        nonlocal cacheable
        for slot, key, make in chunk:
            assert key is not None  # a cache gives every item a key
            if (cached := cache.get(slot, key)) is not None:
                yield cached
                continue
            document, keep = make()
            if keep:
                cache.put(slot, key, document)
            cacheable = cacheable and keep
            yield document

    block = pack(documents())
    return block, cacheable


def _model_item(record: dict, facts: ModelFacts, cache: DocumentCache | None,
                cards: CardStore | None) -> Item:  # fmt: skip
    model_id = record["modelId"]
    text = facts.text(model_id)

    def make() -> tuple[Written, bool]:
        full, problem = with_text(record, cards)
        # a document without its card's sections must not outlive the run
        return written(model_document(full, facts.lookups(model_id, text))), problem is None

    key = cache.key(facts.document_inputs(record, text)) if cache else None
    return f"model {model_id} max_chars={facts.shared.max_chars}", key, make


def _dataset_item(dataset_id: str, lookups: Lookups, cache: DocumentCache | None) -> Item:
    entity = lookups.entity("datasets", dataset_id)

    def make() -> tuple[Written, bool]:
        return written(dataset_document(entity, lookups.max_chars)), True

    key = cache.key({"dataset": entity, "max_chars": lookups.max_chars}) if cache else None
    return f"dataset {dataset_id} max_chars={lookups.max_chars}", key, make
