"""Natural languages of a model: `cardData.language` and the tags that are language codes.

Each language is its shortest ISO 639 code (639-1 when there is one, else 639-3), through
langcodes: `en`, `eng`, `English`, `en-US` -> `en`; `cmn` -> `zh`. `multilingual` -> `mul`
(ISO 639-2/3 "multiple languages": the card says so, and a catalogue can filter on it).
`code` (programming languages) and values that name no language are dropped.

Tags are weaker evidence than the card: a tag adds a language only if it is a two-letter
ISO 639-1 code, or if it agrees (normalised) with the card's `language:`; a tag listed in
data/not_languages.txt (libraries, frameworks, model types: `jax`, `ast`, `opt`, `ml`, ...)
never does. The card's own `language:` is taken as declared.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files

import langcodes

from ._fields import card_values, tags

MULTILINGUAL = "mul"
# Valid codes that name no one's language: "undetermined", "no linguistic content". (`code`
# needs no entry: langcodes knows no language by that name.)
_NOT_A_LANGUAGE = frozenset({"und", "zxx"})
_ISO_639_CODE = re.compile(r"[a-z]{2,3}")
_CODE_SHAPED = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{1,8})*", re.I)
_NAME_SHAPED = re.compile(r"[^\W\d_]+(?:[ '()-][^\W\d_]+)*")
_MAX_CHARS = 60  # longer values are sentences, not language names


def identify_languages(record: dict) -> list[str]:
    return sorted(_languages(record))


def language_tags(record: dict) -> set[str]:
    """Tags that stand for one of the model's languages, so are not keywords; that includes
    the Hub's copies of the card's values (`russian` when the card says `language: russian`)."""
    languages = _languages(record)
    return {tag for tag, language in _tag_readings(record).items() if language in languages}


def _languages(record: dict) -> set[str]:
    declared = {language for item in _card_items(record) if (language := normalise_language(item))}
    from_tags = {
        language
        for tag, language in _tag_readings(record).items()
        if language
        and tag.lower() not in not_languages()
        and (language in declared or _is_two_letter_code(tag))
    }
    return declared | from_tags


def _card_items(record: dict) -> list[str]:
    """`cardData.language` items; a string may list several: `en, de`."""
    items = (part.strip() for value in card_values(record, "language") for part in value.split(","))
    return [item for item in items if item]


def _tag_readings(record: dict) -> dict[str, str | None]:
    """Each tag that could be a language, read as one: code-shaped tags (`en`, `eng`, `en-us`)
    and tags that repeat a `cardData.language` item (`russian`, `multilingual`)."""
    card_items = {item.casefold() for item in _card_items(record)}
    return {
        tag: normalise_language(tag)
        for tag in tags(record)
        if _CODE_SHAPED.fullmatch(tag) or tag.casefold() in card_items
    }


def _is_two_letter_code(tag: str) -> bool:
    return len(tag) == 2 and tag.isascii() and tag.isalpha()


@functools.lru_cache(maxsize=4096)
def normalise_language(value: str) -> str | None:
    """The shortest ISO 639 code of a language code or name, or None when it names no language."""
    value = value.strip()
    if len(value) > _MAX_CHARS:
        return None
    if value.lower() == "multilingual":
        return MULTILINGUAL
    code = _code_from_tag(value) if langcodes.tag_is_valid(value) else _code_from_name(value)
    is_iso_639 = code is not None and _ISO_639_CODE.fullmatch(code) is not None  # not `x-foo`
    return code if is_iso_639 and code not in _NOT_A_LANGUAGE else None


def _code_from_tag(tag: str) -> str | None:
    try:
        code = langcodes.Language.get(langcodes.standardize_tag(tag, macro=True)).language
        given = langcodes.Language.get(tag, normalize=False).language
    except (ValueError, LookupError):
        return None
    # CLDR folds Tagalog `tl` into Filipino `fil`; ISO 639-1 still has `tl`: keep the shorter.
    if code and given and len(given) == 2 and len(code) > 2:
        return given
    return code


def _code_from_name(name: str) -> str | None:
    if not _NAME_SHAPED.fullmatch(name):
        return None
    try:
        return _code_from_tag(langcodes.find(name).to_tag())
    except (ValueError, LookupError):
        return None


@functools.cache
def not_languages() -> frozenset[str]:
    """The tags of data/not_languages.txt, lower-cased."""
    text = files("hfharvest").joinpath("data/not_languages.txt").read_text(encoding="utf-8")
    entries = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(entry for entry in entries if entry)
