"""Datasets a model names, as Hub dataset ids.

`metadata`: `dataset:` tags and `cardData.datasets`. `card_text`: the datasets the Trainer's
"fine-tuned version of [X](...) on the Y dataset" sentence names (card_text.py), used only when
the metadata names none: card text never overrides nor extends metadata.
"""

from __future__ import annotations

import re

from ..ids import REPO_SUBPAGES
from ._fields import card_values, prefixed_tags
from .card_text import stated_datasets

METADATA, CARD_TEXT = "metadata", "card_text"

_HUB_DATASET_URL = re.compile(
    r"(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/datasets/(?P<path>[^?#\s]+)", re.I
)
_MARKDOWN_LINK = re.compile(r"\[(?P<text>[^\]]*)\]\((?P<url>[^()\s]+)(?:\s+\"[^\"]*\")?\)")
# `http://www.statmt.org/wmt16/ ([test-set](http://...))`: a value with a linked note after it.
_TRAILING_LINKED_NOTE = re.compile(r"\s*\(\s*\[[^\]]*\]\([^()\s]*\)\s*\)\s*$")
# Longer values are prose or data, not a dataset's name or link; the patterns above take time
# quadratic in a value's length (a run of 160 000 spaces: 45 s), so they never see one.
_MAX_CHARS = 1000


def identify_datasets(record: dict) -> list[str]:
    return sorted(dataset_sources(record))


def dataset_sources(record: dict) -> dict[str, str]:
    """{dataset id: `metadata` or `card_text`}: the metadata's datasets, or else the text's."""
    values = prefixed_tags(record, "dataset:") + card_values(record, "datasets")
    found = {dataset for value in values if (dataset := normalise_dataset(value))}
    if found:
        return dict.fromkeys(sorted(found), METADATA)
    stated = stated_datasets(record) if isinstance(record, dict) else []
    return dict.fromkeys(stated, CARD_TEXT)


def normalise_dataset(value: str) -> str | None:
    """A Hub dataset id for a Hub URL or a link to one; otherwise the value (or link text) as given.

    Hub ids are case-sensitive (`squad_v2`, `HuggingFaceH4/ultrachat_200k`), so case is kept.
    """
    if len(value) > _MAX_CHARS:
        return None
    value = _TRAILING_LINKED_NOTE.sub("", value).strip()
    if link := _MARKDOWN_LINK.fullmatch(value):
        return hub_dataset_id(link["url"]) or link["text"].strip() or None
    return hub_dataset_id(value) or value or None


def hub_dataset_id(url: str) -> str | None:
    """`https://huggingface.co/datasets/org/name[/tree/main/...]` -> `org/name`, else None."""
    match = _HUB_DATASET_URL.fullmatch(url.strip())
    if match is None:
        return None
    segments = [segment for segment in match["path"].split("/") if segment]
    if len(segments) >= 2 and segments[1] not in REPO_SUBPAGES | {"viewer"}:
        return "/".join(segments[:2])
    return segments[0] if segments else None
