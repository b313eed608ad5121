"""Total accessors for the record fields identifiers read: odd values read as empty, never raise."""

from __future__ import annotations

# Citations and links sit near the top of a card; past 1 MB a card is a data dump or a generated
# table, and scanning it would only cost time.
MAX_CARD_CHARS = 1_000_000


def model_id(record: object) -> str | None:
    """`modelId` (our records) or `id` (Hub API bodies)."""
    if not isinstance(record, dict):
        return None
    for key in ("modelId", "id"):
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def card_data(record: object) -> dict:
    """The card's YAML metadata; `{}` when missing or not a mapping (a string, a list, ...)."""
    data = record.get("cardData") if isinstance(record, dict) else None
    return data if isinstance(data, dict) else {}


def card_values(record: object, key: str) -> list[str]:
    """`cardData[key]` as a list of strings, whether the card gave a scalar or a list."""
    return strings(card_data(record).get(key))


def tags(record: object) -> list[str]:
    """The Hub's tags, then the card's own `tags:` (usually the same), deduplicated, in order.

    Non-string Hub tags are dropped; card tags may be YAML numbers (`- 2020`) and become strings.
    """
    hub = record.get("tags") if isinstance(record, dict) else None
    hub_tags = [tag.strip() for tag in hub if isinstance(tag, str)] if isinstance(hub, list) else []
    return list(dict.fromkeys([*filter(None, hub_tags), *card_values(record, "tags")]))


def prefixed_tags(record: object, prefix: str) -> list[str]:
    """Values of the tags that start with `prefix` (`dataset:squad` -> `squad`)."""
    values = (tag.removeprefix(prefix).strip() for tag in tags(record) if tag.startswith(prefix))
    return [value for value in values if value]


def card_text(record: object) -> str:
    """The README text (`card`), capped at MAX_CARD_CHARS; `""` when missing."""
    text = record.get("card") if isinstance(record, dict) else None
    return text[:MAX_CARD_CHARS] if isinstance(text, str) else ""


def strings(value: object) -> list[str]:
    """A scalar or a list of scalars as stripped, non-empty strings; anything nested is dropped."""
    items = value if isinstance(value, list) else [value]
    texts = [
        str(item)
        for item in items
        if isinstance(item, str | int | float) and not isinstance(item, bool)
    ]
    return [text.strip() for text in texts if text.strip()]
