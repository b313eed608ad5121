"""Merge: one deduplicated model set, in a deterministic order."""

from __future__ import annotations

GOOD_CARD = {"ok", "missing"}  # we asked and the Hub answered


def merge_harvests(*artifacts: dict) -> tuple[list[dict], list[dict]]:
    """Union of the artifacts' models by model id, sorted by id.

    The first artifact's record wins unless a later one got the README the first could not.
    Each kept record lists every source it came from; a failure is kept only if no source got
    what it was about.
    """
    merged: dict[str, dict] = {}
    for artifact in artifacts:
        for record in artifact["models"]:
            model_id = record["modelId"]
            sources = (
                merged[model_id]["extraction_metadata"]["sources"] if model_id in merged else []
            )
            if model_id not in merged or (
                _card_status(record) in GOOD_CARD
                and _card_status(merged[model_id]) not in GOOD_CARD
            ):
                merged[model_id] = record
            source = record["extraction_metadata"]["source"]
            record_sources = sources + ([source] if source not in sources else [])
            merged[model_id]["extraction_metadata"]["sources"] = record_sources
    failures = [
        failure
        for artifact in artifacts
        for failure in artifact["failures"]
        if _still_failing(failure, merged)
    ]
    return [merged[key] for key in sorted(merged)], _dedupe(failures)


def _card_status(record: dict) -> str:
    return record["extraction_metadata"].get("card_status", "ok")


def _still_failing(failure: dict, merged: dict[str, dict]) -> bool:
    record = merged.get(failure["model_id"])
    if record is None:
        return True
    return failure.get("part") == "card" and _card_status(record) not in GOOD_CARD


def _dedupe(failures: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for failure in failures:
        key = (failure["model_id"], failure["reason"], failure.get("part"))
        if key not in seen:
            seen.add(key)
            unique.append(failure)
    return unique
