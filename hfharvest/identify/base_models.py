"""Base models a model was derived from (`base_model:` tags, `cardData.base_model`)."""

from __future__ import annotations

from ..ids import id_from_line
from ..lineage import PLAIN, base_model_links
from ._fields import card_data, model_id, tags


def identify_base_models(record: dict) -> list[str]:
    return sorted(relations_of(record))


def relations_of(record: dict) -> dict[str, str]:
    """{base id: relation} for the bases that are valid Hub model ids, the model itself excluded.

    A card that names its base by URL (`https://huggingface.co/org/name`) counts as `org/name`.
    """
    own = model_id(record)
    # Only the two fields base_model_links reads, cleaned, so that odd values cannot trip it.
    links = base_model_links({"tags": tags(record), "cardData": card_data(record)})
    relations: dict[str, str] = {}
    for base, relation in links:
        hub_id = _hub_model_id(base)
        if hub_id and hub_id != own and relations.get(hub_id, PLAIN) == PLAIN:
            relations[hub_id] = relation
    return dict(sorted(relations.items()))


def _hub_model_id(value: str) -> str | None:
    try:
        return id_from_line(value.strip())
    except ValueError:  # InvalidModelId, or a URL too broken to split
        return None
