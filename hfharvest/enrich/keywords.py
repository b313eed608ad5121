"""Keywords: free tag strings, enriched with how many models carry them and which."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ..entities import entity
from .common import models_by_entity

SOURCE = "models"


def enrich_keywords(mapping: Mapping[str, Iterable[str]] | Iterable[tuple]) -> Iterator[dict]:
    """One entity per keyword: the keyword, the number of models and the models (streamed)."""
    return (
        entity(
            "keywords", keyword, source=SOURCE, keyword=keyword, count=len(models), models=models
        )
        for keyword, models in models_by_entity(mapping).items()
    )
