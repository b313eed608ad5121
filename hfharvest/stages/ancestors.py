"""Ancestors: follow base-model links for a number of rounds, keeping how each was pulled in."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from .. import errors
from ..cards import CardStore, with_text
from ..identify.card_text import stated_base_models
from ..ids import InvalidModelId, validate_model_id
from ..jsonio import iter_models_as_written, read_failures
from ..lineage import base_model_links
from .extract import Extractor, Outcome
from .identify import ResultCache, record_digest

log = logging.getLogger(__name__)
Link = tuple[str, str, str]  # (model id, base id, relation)
# A merge of a handful of models is common; a card naming hundreds of bases is not lineage.
MAX_BASES_PER_MODEL = 64
STATED = "stated_base_models"  # the cache of bases a card's text states (identify's, by kind)


def add_ancestors(
    extractor: Extractor,
    models_path: str,
    iterations: int,
    renamed: dict[str, str] | None = None,
    stated: ResultCache | None = None,
) -> Iterator[Outcome]:
    """The merged models, then their base models round by round, `iterations` rounds deep.

    Each added record carries `ancestry`: its depth and which models pulled it in with which
    relation. A base model that cannot be fetched is a failure of its own and ends that branch;
    the round goes on. Only ids and links are held in memory, never records.

    `renamed`, when given, is filled as the outcomes are consumed with every redirect seen,
    `{id as requested: id the Hub answered with}`: the cache the identify stage uses to give a
    renamed base model one id. `stated` keeps, across runs, the bases each card's text states,
    by the card's digest: a warm run reads only the new cards.
    """
    stated = ResultCache(None, "", STATED) if stated is None else stated
    renamed = {} if renamed is None else renamed
    for failure in read_failures(models_path):
        yield None, failure
    known: set[str] = set()
    links: list[Link] = []
    for record in iter_models_as_written(models_path):  # passed on as written: not encoded again
        _note_rename(record, renamed)
        known.add(record["modelId"])
        record_links, failure = _capped_links(record, extractor.cards, stated)
        links += record_links
        yield record, failure
    stated.flush()
    for depth in range(1, iterations + 1):
        wanted = yield from _wanted_bases(links, known)
        if not wanted:
            break
        log.info("round %d: %d base models to fetch", depth, len(wanted))
        links = []
        fetched = extractor.by_ids(
            sorted(wanted), source="ancestors", total=len(wanted), unique=False
        )
        for record, failure in fetched:
            if failure is not None:
                failure["pulled_in_by"] = wanted.get(failure["model_id"], [])
                yield None, failure
            if record is None:
                continue
            _note_rename(record, renamed)
            if record["modelId"] in known:  # renamed to one we have
                continue
            requested = record["extraction_metadata"].get("requested_id", record["modelId"])
            pulled_by = wanted.get(requested, []) + wanted.get(record["modelId"], [])
            record["ancestry"] = {"depth": depth, "pulled_in_by": _unique(pulled_by)}
            known.add(record["modelId"])
            record_links, failure = _capped_links(record, extractor.cards, stated)
            links += record_links
            yield record, failure
    stated.close()


def _note_rename(record: dict, renamed: dict[str, str]) -> None:
    requested = record["extraction_metadata"].get("requested_id")
    if requested and requested != record["modelId"]:
        renamed[requested] = record["modelId"]


def _links(record: dict, cards: CardStore | None, stated: ResultCache) -> list[Link]:
    """The metadata's base-model links, or else those the card's text states in the Hub tools'
    sentences (as the identify stage reads them), so that their records are harvested too."""
    links = base_model_links(record)
    if not links:
        links = _stated_links(record, cards, stated)
    return [(record["modelId"], base, relation) for base, relation in links]


def _stated_links(record: dict, cards: CardStore | None, stated: ResultCache) -> list:
    digest = record.get("card_sha256")  # none, or the text inline: nothing to reuse
    key = record_digest(STATED, {"card_sha256": digest}) if isinstance(digest, str) else None
    if key is not None and (found := stated.get(key)) is not None:
        return [tuple(link) for link in found]
    full, problem = with_text(record, cards)
    links = sorted(stated_base_models(full).items())
    if key is not None and problem is None:  # an answer without the card must not outlive the run
        stated.put(key, links)
    return links


def _capped_links(record: dict, cards: CardStore | None,
                  stated: ResultCache) -> tuple[list[Link], dict | None]:  # fmt: skip
    """The record's links, at most MAX_BASES_PER_MODEL of them (a failure says what was cut)."""
    links = _links(record, cards, stated)
    if len(links) <= MAX_BASES_PER_MODEL:
        return links, None
    message = (
        f"names {len(links)} base models; only the first {MAX_BASES_PER_MODEL} (by id) followed"
    )
    log.warning("%s: %s", record["modelId"], message)
    failure = {"model_id": record["modelId"], "reason": "bad_input", "part": "base_models",
               "message": message}  # fmt: skip
    return links[:MAX_BASES_PER_MODEL], failure


def _wanted_bases(links: Iterable[Link], known: set[str]):
    """Group this round's links by base id; invalid base ids are yielded as failures."""
    wanted: dict[str, list[dict]] = {}
    for model_id, base, relation in links:
        if base in known or base == model_id:
            continue
        link = {"model_id": model_id, "relation": relation}
        try:
            validate_model_id(base)
        except InvalidModelId as err:
            yield None, errors.InvalidId(base, str(err)).as_failure(pulled_in_by=[link])
            continue
        wanted.setdefault(base, []).append(link)
    return wanted


def _unique(links: list[dict]) -> list[dict]:
    unique = {(link["model_id"], link["relation"]): link for link in links}
    return [unique[key] for key in sorted(unique)]
