"""Base-model links of a model record: which model it was derived from, and how."""

from __future__ import annotations

ADAPTER = "adapter"  # what a PEFT repo holds of its base
RELATIONS = (ADAPTER, "finetune", "quantized", "merge")
PLAIN = "base_model"  # a link that names no relation


def base_model_links(record: dict) -> list[tuple[str, str]]:
    """(base id, relation) pairs from `base_model:` tags and `cardData.base_model`, sorted.

    A tag with a relation (`base_model:finetune:org/x`) beats the plain tag and the card for the
    same base; the card's `base_model_relation` applies to the bases the card names.
    """
    links: dict[str, str] = {}
    for tag in record.get("tags") or []:
        if not isinstance(tag, str) or not tag.startswith("base_model:"):
            continue
        rest = tag.removeprefix("base_model:")
        relation, _, base = rest.partition(":")
        if base and relation in RELATIONS:
            links[base] = relation
        elif rest:
            links.setdefault(rest, PLAIN)
    card = record.get("cardData")
    if isinstance(card, dict):
        relation = card.get("base_model_relation")
        relation = relation if relation in RELATIONS else PLAIN
        for base in _as_list(card.get("base_model")):
            if links.get(base, PLAIN) == PLAIN:
                links[base] = relation
    return sorted(links.items())


def _as_list(value) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []
