"""Merge: one deduplicated model set, streamed, in a deterministic order.

Order: the first artifact's models in their order (the latest listing, newest first), then
models only later artifacts have, in theirs (the models file's order).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..jsonio import ModelText, dumps_record, iter_models, iter_models_as_written, read_failures
from .extract import Outcome

log = logging.getLogger(__name__)

# A stage file is ours, but may have been edited by hand: records without these are skipped.
REQUIRED = ("modelId", "extraction_metadata")

GOOD_CARD = {"ok", "missing", "truncated"}  # we asked and the Hub answered
_NONE = object()
_KEY = "extraction_metadata"
_KEY_TEXT, _SOURCES_TEXT = f'"{_KEY}": ', '"sources": '  # as json.dumps writes these keys


@dataclass
class _Choice:
    index: int  # the artifact whose record is kept
    card_good: bool
    sources: list[str] = field(default_factory=list)
    written: bool = False


class NeedsPlan(Exception):
    """One pass cannot merge these files: an id twice in one file, from two sources (the first
    record's `sources` would need the second's, and it is written already)."""


def write_merged(path: str, paths: list[str]) -> None:
    """merge_artifacts into the stage file `path`: in one pass over the models when only one
    file has any (a run without a models file, or with only one), else planned first."""
    from ..workflow import write_stage

    try:
        write_stage(path, "merge_models", merge_artifacts(paths, one_pass=True))
    except NeedsPlan as err:
        log.info("%s: merged again with a plan", err)
        write_stage(path, "merge_models", merge_artifacts(paths))


def merge_artifacts(paths: list[str], one_pass: bool = False) -> Iterator[Outcome]:
    """Union of the artifacts' models by model id, each listing every source that had it.

    A later artifact's record wins only when it got the README the earlier one could not. A
    failure is kept only if no source got what it was about.

    With `one_pass`, when only one artifact has models they are read once, not twice (a plan
    first): the same outcomes, or NeedsPlan raised where one pass cannot give them.
    """
    only = _only_with_models(paths) if one_pass else None
    if only is not None:
        plan: dict[str, _Choice] = {}
        unusable: list[dict] = []
        yield from _one_pass(paths[only], only, plan, unusable)
    else:
        plan, unusable = _plan(paths)
        yield from _planned(paths, plan)
    yield from ((None, failure) for failure in unusable)  # first among the failures
    seen = set()
    for failure in (f for path in paths for f in read_failures(path) if isinstance(f, dict)):
        key = (failure.get("model_id"), failure.get("reason"), failure.get("part"))
        if key not in seen and _still_failing(failure, plan):
            seen.add(key)
            yield None, failure


def _only_with_models(paths: list[str]) -> int | None:
    """The index of the one artifact with models (usable or not), or None."""
    having = [
        index for index, path in enumerate(paths) if next(iter_models(path), _NONE) is not _NONE
    ]
    return having[0] if len(having) == 1 else None


def _planned(paths: list[str], plan: dict[str, _Choice]) -> Iterator[Outcome]:
    for index, path in enumerate(paths):
        for record in _usable(path):
            choice = plan[record["modelId"]]
            if choice.index == index and not choice.written:
                choice.written = True
                record["extraction_metadata"]["sources"] = choice.sources
                yield record, None


def _one_pass(path: str, index: int, plan: dict[str, _Choice],
              unusable: list[dict]) -> Iterator[Outcome]:  # fmt: skip
    """The planned merge of the one artifact with models, read once: each id's first record is
    written with its source; a later record of the id only sets what the plan would have."""
    for number, record in enumerate(iter_models_as_written(path), start=1):
        if (problem := _problem(record)) is not None:
            unusable.append(_unusable(path, number, problem))
            continue
        meta = record["extraction_metadata"]
        good, source = meta.get("card_status", "ok") in GOOD_CARD, meta.get("source")
        if (choice := plan.get(record["modelId"])) is not None:
            if source not in choice.sources:
                raise NeedsPlan(f"{path}: {record['modelId']} twice, from two sources")
            choice.card_good = choice.card_good or good
            continue
        plan[record["modelId"]] = _Choice(index, good, [source], written=True)
        yield _with_sources(record, [source]), None


def _with_sources(record: dict, sources: list) -> dict:
    """The record with its `extraction_metadata.sources` added. One read as written keeps its
    text, the metadata and what follows it made again (not the whole record), where the text
    ends as json.dumps writes them (else the record is encoded again)."""
    meta = record["extraction_metadata"]
    if type(record) is not ModelText or "sources" in meta:
        meta["sources"] = sources
        return dict(record) if type(record) is ModelText else record
    keys = list(record)
    rest = "".join(
        f", {dumps_record(k)}: {dumps_record(record[k])}" for k in keys[keys.index(_KEY) + 1 :]
    )
    meta_text = dumps_record(meta)
    before = f"{_KEY_TEXT}{meta_text}{rest}}}"
    meta["sources"] = sources
    if len(meta) == 1 or not record.text.endswith(before):  # (an empty one had no `, `)
        return dict(record)
    # `sources` is the metadata's last key: its text is the one before, that key added
    meta_text = f"{meta_text[:-1]}, {_SOURCES_TEXT}{dumps_record(sources)}}}"
    record.text = f"{record.text[: -len(before)]}{_KEY_TEXT}{meta_text}{rest}}}"
    return record


def _unusable(path: str, number: int, problem: str) -> dict:
    message = f"{path}: model {number} is {problem}: skipped"
    return {"model_id": f"{path}#{number}", "reason": "bad_input", "message": message}


def _usable(path: str):
    return (record for record in iter_models(path) if _problem(record) is None)


def _problem(record) -> str | None:
    if not isinstance(record, dict):
        return f"a {type(record).__name__}, not a model record"
    missing = [key for key in REQUIRED if key not in record]
    if missing or not isinstance(record["extraction_metadata"], dict):
        return f"a record without {', '.join(missing) or 'extraction_metadata'}"
    if not isinstance(record["modelId"], str):
        return "a record whose modelId is not a string"
    return None


def _plan(paths: list[str]) -> tuple[dict[str, _Choice], list[dict]]:
    """Which artifact's record to keep for each id (a pass that holds ids, not records), and a
    failure for each record that is not one."""
    plan: dict[str, _Choice] = {}
    unusable = []
    for index, path in enumerate(paths):
        for number, record in enumerate(iter_models(path), start=1):
            if (problem := _problem(record)) is not None:
                unusable.append(_unusable(path, number, problem))
                continue
            meta = record["extraction_metadata"]
            good = meta.get("card_status", "ok") in GOOD_CARD
            choice = plan.setdefault(record["modelId"], _Choice(index, good))
            if good and not choice.card_good:
                choice.index, choice.card_good = index, True
            source = meta.get("source")
            if source not in choice.sources:
                choice.sources.append(source)
    return plan, unusable


def _still_failing(failure: dict, plan: dict[str, _Choice]) -> bool:
    choice = plan.get(failure.get("model_id"))
    if choice is None:
        return True
    return failure.get("part") == "card" and not choice.card_good
