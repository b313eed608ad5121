"""Where in a model record an identified entity came from: metadata or the card's text.

The identify stage writes entity ids only; the provenance a consumer filters on is read back
from the record here (the same fields the identifiers read, see hfharvest/identify/).
"""

from __future__ import annotations

from ..identify._fields import card_values, prefixed_tags
from ..identify.articles import arxiv_article, doi_article

METADATA = "metadata"
CARD_TEXT = "card_text"
ENRICHED = "enriched"
# The Hub mints a DOI for a repository on request (10.57967/hf/<n>): the model's own identifier,
# not something it cites.
REPOSITORY_DOI_PREFIX = "doi:10.57967/hf/"


def entity_origin(
    kind: str, record: dict, entity: str, stated: str | None = None
) -> tuple[str, str]:
    """(source, field) of one identified entity of `record`; `stated` is the source the identify
    stage recorded for a dataset or base model (card text is their fallback, not a field)."""
    if stated == CARD_TEXT:
        return CARD_TEXT, "card"
    if kind == "articles":
        tagged = {arxiv_article(v) for v in prefixed_tags(record, "arxiv:")}
        tagged |= {doi_article(v) for v in prefixed_tags(record, "doi:")}
        return (METADATA, "tags") if entity in tagged else (CARD_TEXT, "card")
    card_keys = {
        "datasets": "datasets",
        "licenses": "license",
        "languages": "language",
        "tasks": "pipeline_tag",
        "keywords": "tags",
        "base_models": "base_model",
    }
    if kind == "tasks" and record.get("pipeline_tag") == entity:
        return METADATA, "pipeline_tag"
    if card_values(record, card_keys[kind]):
        return METADATA, f"cardData.{card_keys[kind]}"
    return METADATA, "tags"


def is_repository_doi(article: str) -> bool:
    return article.lower().startswith(REPOSITORY_DOI_PREFIX)
