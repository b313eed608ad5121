"""Languages: ISO 639 codes resolved with langcodes (names from language_data)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import langcodes

from ..entities import entity
from .common import models_by_entity, unresolved

SOURCE = "langcodes"


def enrich_languages(mapping: Mapping[str, Iterable[str]] | Iterable[tuple]) -> Iterator[dict]:
    """One entity per language code: ISO 639-1 (when one exists), ISO 639-3, English name."""
    return (_language(code, models) for code, models in models_by_entity(mapping).items())


def _language(code: str, models: list[str]) -> dict:
    try:
        if not langcodes.tag_is_valid(code):
            raise LookupError(f"{code!r} is not a registered language tag")
        language = langcodes.Language.get(code)
        alpha3 = language.to_alpha3()
    except (LookupError, ValueError) as err:  # LanguageTagError is a ValueError
        return unresolved(
            "languages", code, models, source=SOURCE, reason="unknown_language", message=str(err)
        )
    subtag = language.language
    return entity(
        "languages",
        code,
        source=SOURCE,
        tag=language.to_tag(),
        iso639_1=subtag if subtag and len(subtag) == 2 else None,
        iso639_3=alpha3,
        name=language.language_name("en"),
        display_name=language.display_name("en"),
        models=models,
    )
