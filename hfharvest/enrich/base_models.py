"""Base models: the full records the ancestors stage already fetched, with relation and depth."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from itertools import islice
from pathlib import Path

from ..entities import entity
from ..jsonio import ModelText, dumps_record, iter_failures, iter_models_as_written
from ..spill import Table
from .common import models_by_entity, unresolved

SOURCE = "ancestors_artifact"
KEYS_ASKED = 200  # records whose ids are asked in one query: two ids each, 400 < 500


def enrich_base_models(
    ancestors_path: str | Path, mapping: Mapping[str, Iterable[str]] | Iterable[tuple]
) -> Iterator[dict]:
    """One entity per base model id, from `hf_models_with_ancestors.json` (no requests).

    A base model the ancestors stage fetched carries its record, its depth and how it was pulled
    in (`pulled_in_by`: `[{model_id, relation}]`); one it could not fetch is kept with
    `enriched: False` and that failure's reason; one absent from the artifact is `not_harvested`.

    A join on disk: the artifact is streamed once and only the base models' records and
    failures are kept, in a temporary table, so memory does not grow with the harvest.
    """
    grouped = models_by_entity(mapping)
    with Table() as found:
        _keep_bases(ancestors_path, grouped, found)
        for base_id, models in grouped.items():
            record = found.first(base_id)
            if record is not None and record[0] == "record":
                yield _enriched(base_id, models, record[1])
                continue
            failure = (record or [None, None])[1] or {
                "reason": "not_harvested",
                "message": "not in the ancestors artifact (models or failures)",
            }
            yield unresolved(
                "base_models",
                base_id,
                models,
                source=SOURCE,
                reason=failure.get("reason") or "unresolved",
                message=failure.get("message"),
                pulled_in_by=failure.get("pulled_in_by") or [],
            )
    grouped.close()


# The member a row is kept under orders what a base id finds first: its own record, then the
# record of the repo it was renamed to (requested under the old id), then its failure.
_OWN, _RENAMED, _FAILURE = "0", "1", "2"


def _keep_bases(path: str | Path, grouped, found: Table) -> None:
    models = _models(path, partial(_may_be_wanted, grouped))
    while chunk := list(islice(models, KEYS_ASKED)):
        wanted = grouped.present([key for _, *keys in chunk for key in keys if key])
        for record, own, requested in chunk:
            if own in wanted:
                found.put_text(own, _OWN, _payload(record))
            if requested in wanted:
                found.put_text(requested, _RENAMED, _payload(record))
    for failure in iter_failures(path):
        model = failure.get("model_id") if isinstance(failure, dict) else None
        if model and failure.get("part") != "card" and model in grouped:
            found.put(model, _FAILURE, ["failure", failure])


# A line as ArtifactWriter writes a record: its id first, a plain string (no escape in it).
_OWN_ID = re.compile(rb'\{"modelId": "([^"\\]*)", ')


def _may_be_wanted(grouped, line: bytes) -> bool:
    """Whether a record's line is worth parsing: most records are no base model, and parsing
    them all was half the job's CPU. Its id is read from the line's start; a line that might
    hold another (a second `modelId`, a `requested_id`, an escape that could spell either, no
    id where the writer puts it) is parsed."""
    own = _OWN_ID.match(line)
    if own is None or line.count(b'"modelId"') > 1 or b'"requested_id"' in line or b"\\u" in line:
        return True
    try:
        return own[1].decode("utf-8") in grouped
    except UnicodeDecodeError:
        return True


def _models(path: str | Path, read=None) -> Iterator[tuple[dict, str | None, str | None]]:
    """The artifact's records that have an id, each with its id and the id it was requested
    under (None where not a string: no entity has it); with `read`, those of the lines it
    passes (iter_models_as_written)."""
    for record in iter_models_as_written(path, read):
        if isinstance(record, dict) and record.get("modelId"):
            requested = (record.get("extraction_metadata") or {}).get("requested_id")
            yield record, _string(record["modelId"]), _string(requested)


def _string(value) -> str | None:
    return value if isinstance(value, str) else None


def _payload(record: dict) -> str:
    """A kept record's row; a record read as written is not encoded again."""
    text = record.text if isinstance(record, ModelText) else dumps_record(record)
    return f'["record", {text}]'


def _enriched(base_id: str, models: list[str], record: Mapping) -> dict:
    ancestry = record.get("ancestry") or {}
    pulled_in_by = [link for link in ancestry.get("pulled_in_by") or [] if isinstance(link, dict)]
    relations = sorted({link.get("relation") for link in pulled_in_by if link.get("relation")})
    return entity(
        "base_models",
        base_id,
        source=SOURCE,
        model_id=record.get("modelId"),
        depth=ancestry.get("depth", 0),
        relations=relations,
        pulled_in_by=pulled_in_by,
        harvested_as=(record.get("extraction_metadata") or {}).get("source"),
        record=dict(record),
        models=models,
    )
