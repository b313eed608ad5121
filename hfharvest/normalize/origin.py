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


_CARD_KEYS = {
    "datasets": "datasets",
    "licenses": "license",
    "languages": "language",
    "tasks": "pipeline_tag",
    "keywords": "tags",
    "base_models": "base_model",
}


class RecordOrigins:
    """Where each identified entity of one record was stated, the record's fields read once per
    kind: read again for each entity, a record of 100 000 tags or `cardData.datasets` took time
    quadratic in their number (4 000 of each: 19 s; the Hub's JSON cap allows a million)."""

    def __init__(self, record: dict):
        self.record = record
        self._tagged: set[str] | None = None
        self._card: dict[str, bool] = {}

    def __call__(self, kind: str, entity: str, stated: str | None = None) -> tuple[str, str]:
        """(source, field) of one identified entity; `stated` is the source the identify
        stage recorded for a dataset or base model (card text is their fallback, not a field)."""
        if stated == CARD_TEXT:
            return CARD_TEXT, "card"
        if kind == "articles":
            if self._tagged is None:
                record = self.record
                self._tagged = {arxiv_article(v) for v in prefixed_tags(record, "arxiv:")}
                self._tagged |= {doi_article(v) for v in prefixed_tags(record, "doi:")}
            return (METADATA, "tags") if entity in self._tagged else (CARD_TEXT, "card")
        key = _CARD_KEYS[kind]
        if kind == "tasks" and self.record.get("pipeline_tag") == entity:
            return METADATA, "pipeline_tag"
        if key not in self._card:
            self._card[key] = bool(card_values(self.record, key))
        return (METADATA, f"cardData.{key}") if self._card[key] else (METADATA, "tags")


def is_repository_doi(article: str) -> bool:
    return article.lower().startswith(REPOSITORY_DOI_PREFIX)
