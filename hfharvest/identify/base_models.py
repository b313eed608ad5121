"""Base models a model was derived from, with the relation and where it was stated.

`metadata`: `base_model:` tags and `cardData.base_model` (+ `base_model_relation`).
`card_text`: the Hub tools' fixed sentences (card_text.py), used only when the metadata names
no base model at all: card text never overrides nor extends metadata, so a card whose YAML is
right is never made worse by its prose.

One id per base model: a renamed repo is still named by its old id in many cards
(`meta-llama/Meta-Llama-3.1-8B`, `bert-base-uncased`). `renamed` maps an old id to the id the
Hub redirects it to (the ancestors stage records every redirect it followed), so both names
become one base model; the relation file keeps the ids as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..ids import id_from_line
from ..lineage import ADAPTER, PLAIN, base_model_links
from ._fields import card_data, model_id, tags
from .card_text import library_name, stated_base_models

METADATA, CARD_TEXT = "metadata", "card_text"


def identify_base_models(record: dict, renamed: Mapping[str, str] | None = None) -> list[str]:
    return sorted(relations_of(record, renamed))


def relations_of(record: dict, renamed: Mapping[str, str] | None = None) -> dict[str, dict]:
    """{canonical base id: {relation, source, as_written}}, the model itself excluded.

    Two names of one base (its old and new id) make one entry; the stronger relation wins
    (any named relation over the plain `base_model`).
    """
    return relations_from_links(model_id(record), written_links(record), renamed)


def relations_from_links(
    own: str | None, links: Mapping[str, dict], renamed: Mapping[str, str] | None = None
) -> dict[str, dict]:
    """relations_of, from the record's `written_links` (which do not depend on `renamed`)."""
    renamed = renamed or {}
    relations: dict[str, dict] = {}
    for written, link in links.items():
        base = renamed.get(written, written)
        if base == own:
            continue
        entry = relations.setdefault(base, {**link, "relation": PLAIN, "as_written": []})
        if entry["relation"] == PLAIN:
            entry.update(link)
        entry["as_written"] = sorted({*entry["as_written"], written})
    return dict(sorted(relations.items()))


def written_links(record: dict) -> dict[str, dict]:
    """{base id as written: {relation, source}}: the metadata's, or else the card text's.

    Where the metadata names a base without a relation and the text's tool sentence names the
    same base with one (a GGUF repo whose YAML says only `base_model: X`), the relation is
    taken from the text, marked `relation_source: card_text`; the set of bases stays the
    metadata's. On a PEFT card (`library_name: peft`) a base with no relation is an `adapter`'s.
    """
    own = model_id(record)
    stated = stated_base_models(record) if isinstance(record, dict) else {}
    links = {
        base: {"relation": rel, "source": METADATA}
        for base, rel in metadata_relations(record).items()
    }
    if not links:
        links = {base: {"relation": rel, "source": CARD_TEXT} for base, rel in stated.items()}
    if library_name(record) == "peft":  # a PEFT repo holds an adapter of the base it names
        for link in links.values():
            link["relation"] = ADAPTER if link["relation"] == PLAIN else link["relation"]
    for base, link in links.items():
        if link["relation"] == PLAIN and stated.get(base, PLAIN) != PLAIN:
            link |= {"relation": stated[base], "relation_source": CARD_TEXT}
    return {base: link for base, link in links.items() if base != own}


def metadata_relations(record: dict) -> dict[str, str]:
    """{base id: relation} from the metadata, for the bases that are valid Hub model ids.

    A card that names its base by URL (`https://huggingface.co/org/name`) counts as `org/name`.
    """
    # Only the two fields base_model_links reads, cleaned, so that odd values cannot trip it.
    links = base_model_links({"tags": tags(record), "cardData": card_data(record)})
    relations: dict[str, str] = {}
    for base, relation in links:
        hub_id = _hub_model_id(base)
        if hub_id and relations.get(hub_id, PLAIN) == PLAIN:
            relations[hub_id] = relation
    return dict(sorted(relations.items()))


def base_model_mappings(
    records: Iterable[dict], renamed: Mapping[str, str] | None = None
) -> tuple[dict[str, list[str]], dict[str, dict[str, dict]]]:
    """({model id: sorted base ids}, {model id: {base id: relation entry}}) in one pass."""
    relations: dict[str, dict[str, dict]] = {}
    for record in records:
        if (model := model_id(record)) is not None:
            merged = relations.setdefault(model, {})
            for base, entry in relations_of(record, renamed).items():
                merged.setdefault(base, entry)
    relations = {model: dict(sorted(bases.items())) for model, bases in sorted(relations.items())}
    return {model: list(bases) for model, bases in relations.items()}, relations


def _hub_model_id(value: str) -> str | None:
    try:
        return id_from_line(value.strip())
    except ValueError:  # InvalidModelId, or a URL too broken to split
        return None
