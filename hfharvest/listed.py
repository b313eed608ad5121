"""A model's API record read as huggingface_hub's ModelInfo reads it, without building one.

ModelInfo parses both dates with strptime, turns `cardData` into a ModelCardData that is deep-
copied back into a dict, and the record copied again through JSON: two thirds of the listing's
CPU (~60 us a model, 100 pages of 1 000 models on every run). An entry of the plain shape the
Hub lists (the fields we ask for, dates in its own form, a `cardData` without the keys
ModelCardData interprets) is read here into the same values; any other entry returns None and
is read by ModelInfo, as before, with all its odd cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

# The keys a listing entry or a model_info answer has when we ask for MODEL_FIELDS (and the
# files): `_id`, `id` and the fields (hub.MODEL_FIELDS, kept equal by a test), and two that
# ModelInfo keeps and model_info_to_dict never reads.
PLAIN_KEYS = frozenset({
    "_id", "id", "modelId", "private", "author", "sha", "lastModified", "createdAt",
    "downloads", "likes", "library_name", "pipeline_tag", "tags", "cardData", "gated",
    "disabled", "safetensors", "siblings",
})  # fmt: skip
# ModelCardData's own attributes, in the order its __init__ sets them: they come first in its
# dict, then the card's other keys in their order.
CARD_ATTRIBUTES = ("base_model", "datasets", "eval_results", "language", "library_name",
                   "license", "license_name", "license_link", "metrics", "model_name",
                   "pipeline_tag", "tags")  # fmt: skip
# Keys ModelCardData does more with than keep (model-index becomes eval results and back) or
# that clash with its parameters: such a card is left to it.
CARD_SPECIAL = frozenset({"model-index", "eval_results", "ignore_metadata_errors", "self"})
# The Hub's dates (see hub._is_hub_date): the fraction is cut or padded to microseconds, as
# huggingface_hub's parse_datetime does.
HUB_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?Z"
)
_ODD = object()


class Counts(NamedTuple):
    """SafeTensorsInfo's two attributes (it also copies itself into a dict, with asdict)."""

    parameters: dict
    total: object


class Sibling(NamedTuple):
    """RepoSibling's one attribute read (hub.readme_listed): importing huggingface_hub's
    hf_api for its class cost every by-id fetch 0.05 s of start-up."""

    rfilename: str


@dataclass(slots=True)
class ListedModel:
    """The ModelInfo attributes hub.model_info_to_dict and hub.readme_listed read. `card_data`
    is what ModelCardData.to_dict would give, already JSON (it came from the answer's JSON)."""

    id: str
    author: object = None
    sha: object = None
    last_modified: datetime | None = None
    created_at: datetime | None = None
    downloads: object = None
    likes: object = None
    library_name: object = None
    pipeline_tag: object = None
    tags: object = None
    card_data: dict | None = None
    gated: object = None
    disabled: object = None
    safetensors: Counts | None = None
    siblings: list[Sibling] | None = None
    _hfharvest_dropped: list[str] = field(default_factory=list)  # nothing: a plain entry


def plain_model(data: dict, file_names: list[dict] | None) -> ListedModel | None:
    """The entry (its id already validated) as ModelInfo reads it, or None when it is not of
    the plain shape. `file_names` is hub._file_names of its `siblings`."""
    if not data.keys() <= PLAIN_KEYS:
        return None
    last_modified = hub_date(data.get("lastModified"))
    created_at = hub_date(data.get("createdAt"))
    card = card_dict(data.get("cardData"))
    counts = data.get("safetensors")
    if _ODD in (last_modified, created_at, card) or (counts and not _counts(counts)):
        return None
    return ListedModel(
        data["id"], data.get("author"), data.get("sha"), last_modified, created_at,
        data.get("downloads"), data.get("likes"), data.get("library_name"),
        data.get("pipeline_tag"), data.get("tags"), card, data.get("gated"),
        data.get("disabled"),
        Counts(counts["parameters"], counts["total"]) if counts else None,
        None if file_names is None else [Sibling(name["rfilename"]) for name in file_names],
    )  # fmt: skip


def hub_date(value) -> datetime | None | object:
    """parse_datetime's datetime of a date in the Hub's form; None for none; else _ODD."""
    if value is None:
        return None
    if not isinstance(value, str) or not (match := HUB_DATE.fullmatch(value)):
        return _ODD
    *parts, fraction = match.groups()
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        return datetime(*map(int, parts), micro, tzinfo=UTC)
    except ValueError:
        return _ODD


def card_dict(card) -> dict | None | object:
    """ModelCardData(**card).to_dict() of a card without CARD_SPECIAL keys (an empty card is
    none, as ModelInfo reads it); _ODD for any other card."""
    if card is None or card == {}:
        return None
    if not isinstance(card, dict) or not card.keys().isdisjoint(CARD_SPECIAL):
        return _ODD
    tags = card.get("tags")
    if tags is not None:
        if not isinstance(tags, (list, str)):
            return _ODD  # ModelCardData would iterate it, or raise
        tags = _unique([tags] if isinstance(tags, str) else tags)
    shaped = {key: card.get(key) for key in CARD_ATTRIBUTES}
    shaped["tags"] = tags
    shaped.update((key, value) for key, value in card.items() if key not in shaped)
    return {key: value for key, value in shaped.items() if value is not None}


def _unique(tags: list) -> list:
    """The tags once each, in order, as ModelCardData keeps them (by ==, not by hash)."""
    unique: list = []
    for tag in tags:
        if tag not in unique:
            unique.append(tag)
    return unique


def _counts(counts) -> bool:
    """Whether `safetensors` is the mapping ModelInfo reads (see hub._tolerated)."""
    return (
        isinstance(counts, dict)
        and isinstance(counts.get("parameters"), dict)
        and "total" in counts
    )
