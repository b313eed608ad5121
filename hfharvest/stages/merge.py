"""Merge: one deduplicated model set, streamed, in a deterministic order.

Order: the first artifact's models in their order (the latest listing, newest first), then
models only later artifacts have, in theirs (the models file's order).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..jsonio import iter_models, read_failures
from .extract import Outcome

GOOD_CARD = {"ok", "missing", "truncated"}  # we asked and the Hub answered


@dataclass
class _Choice:
    index: int  # the artifact whose record is kept
    card_good: bool
    sources: list[str] = field(default_factory=list)
    written: bool = False


def merge_artifacts(paths: list[str]) -> Iterator[Outcome]:
    """Union of the artifacts' models by model id, each listing every source that had it.

    A later artifact's record wins only when it got the README the earlier one could not. A
    failure is kept only if no source got what it was about.
    """
    plan = _plan(paths)
    for index, path in enumerate(paths):
        for record in iter_models(path):
            choice = plan[record["modelId"]]
            if choice.index == index and not choice.written:
                choice.written = True
                record["extraction_metadata"]["sources"] = choice.sources
                yield record, None
    seen = set()
    for failure in (f for path in paths for f in read_failures(path)):
        key = (failure["model_id"], failure["reason"], failure.get("part"))
        if key not in seen and _still_failing(failure, plan):
            seen.add(key)
            yield None, failure


def _plan(paths: list[str]) -> dict[str, _Choice]:
    """Which artifact's record to keep for each id (a pass that holds ids, not records)."""
    plan: dict[str, _Choice] = {}
    for index, path in enumerate(paths):
        for record in iter_models(path):
            meta = record["extraction_metadata"]
            good = meta.get("card_status", "ok") in GOOD_CARD
            choice = plan.setdefault(record["modelId"], _Choice(index, good))
            if good and not choice.card_good:
                choice.index, choice.card_good = index, True
            if meta["source"] not in choice.sources:
                choice.sources.append(meta["source"])
    return plan


def _still_failing(failure: dict, plan: dict[str, _Choice]) -> bool:
    choice = plan.get(failure["model_id"])
    if choice is None:
        return True
    return failure.get("part") == "card" and not choice.card_good
