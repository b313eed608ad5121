"""Natural languages of a model: `cardData.language` and the tags that are language codes.

Each language is its shortest ISO 639 code (639-1 when there is one, else 639-3), through
langcodes: `en`, `eng`, `English`, `en-US` -> `en`; `cmn` -> `zh`; a translation pair that
is no language tag, `ru-en`, -> `ru` and `en`. `multilingual` -> `mul`
(ISO 639-2/3 "multiple languages": the card says so, and a catalogue can filter on it).
`code` (programming languages), the names of programming languages a code model lists
(`java`, data/programming_languages.txt) and values that name no language are dropped.

Tags are weaker evidence than the card, and are read only as codes, never as names: a tag
adds a language only if it is a registered language tag whose language is a two-letter ISO
639-1 code (`fr`, `en-us`) not written in capitals (`DA` is TransQuest's "direct assessment",
`RM` a reward model: not Danish, not Romansh), or a valid code that agrees with the card's
`language:` (`deu` with `language: german`). Two letters that are no ISO 639-1 code (`ci`,
`qa`, `ir`, `ua`, `ma`, `pe`, `au`: country codes, abbreviations) are no language, whatever a
name search would say. A tag listed in data/not_languages.txt (libraries, frameworks, model
types: `jax`, `ast`, `opt`, `ml`, ...) never adds one. Names (`russian`, `Basque`) are resolved
only in the card's own `language:`, which is taken as declared; a tag that repeats one of them
stands for it.
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files

import langcodes

from ._fields import card_data, card_text, strings, tags

MULTILINGUAL = "mul"
NORWEGIAN = "no"
# Valid codes that name no one's language: "undetermined", "no linguistic content", "uncoded
# languages" (ISO 639-2's special codes), and `unk`, the placeholder AutoTrain writes when no
# language was chosen (`language: [unk]`), which is also Enawené-Nawé's ISO 639-3 code (a
# language no Hub model is about). (`code`, `unknown`, `other`, `none` need no entry: langcodes
# knows no language by those names, and `multilingual` is `mul`, see above.)
_NOT_A_LANGUAGE = frozenset({"und", "zxx", "mis", "unk"})
_ISO_639_CODE = re.compile(r"[a-z]{2,3}")
_CODE_SHAPED = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{1,8})*", re.I)
_NAME_SHAPED = re.compile(r"[^\W\d_]+(?:[ '()-][^\W\d_]+)*")
_MAX_CHARS = 60  # longer values are sentences, not language names
# ISO 639-1 codes that cards write for a country: (the country's language, the ISO language's
# name), see _country_codes. `arq` is Algerian Arabic.
COUNTRY_CODES = {"kr": ("ko", "Kanuri"), "ch": ("zh", "Chamorro"), "dz": ("arq", "Dzongkha")}
MAX_COUNTRY_LIST = 3
# Two ISO 639-1 codes joined by a hyphen: a translation pair (`ru-en`), see _pair.
_PAIR = re.compile(r"([a-z]{2})-([a-z]{2})", re.I)


def identify_languages(record: dict) -> list[str]:
    return sorted(_languages(record))


def language_tags(record: dict) -> set[str]:
    """Tags that stand for one of the model's languages, so are not keywords; that includes
    the Hub's copies of the card's values (`russian` when the card says `language: russian`)."""
    country = _country_codes(record)
    languages = _languages(record, country)
    pairs = {tag for tag in tags(record) if (pair := _pair(tag)) and set(pair) <= languages}
    readings = _tag_readings(record).items()
    return pairs | {
        tag
        for tag, language in readings
        if country.get(language, language) in languages or language in country
    }


def _languages(record: dict, country: dict[str, str | None] | None = None) -> set[str]:
    """The model's languages, a country code read as its country's (`country`: _country_codes,
    when the caller has it already)."""
    country = _country_codes(record) if country is None else country
    return {country.get(language, language) for language in _read_languages(record)} - {None}


def _read_languages(record: dict) -> set[str]:
    items = _card_items(record)
    about_code = any(item.casefold() == "code" for item in items)
    declared = {
        language
        for item in items
        if not _is_programming_language(item, about_code) and (language := normalise_language(item))
    }
    from_tags = {
        language
        for tag in tags(record)
        if tag.lower() not in not_languages()
        and (language := language_of_code(tag))
        and (language in declared or (_is_iso_639_1(tag) and not tag.isupper()))
    }
    return declared | from_tags


def _country_codes(record: dict) -> dict[str, str | None]:
    """{code: the language it stands for, or None} for the codes of COUNTRY_CODES this card
    writes for a country. ISO 639-1 gives Kanuri, Chamorro and Dzongkha, but over some 28 500
    real cards `kr` was only ever Korean (6 speech models), `ch` Chinese (3) and `dz` Algeria
    (DziriBERT's `[ar, dz]`), while the real languages came in long lists (MMS, NLLB, MADLAD).
    So in a list of at most MAX_COUNTRY_LIST items, in a card that never names the ISO
    language, the code is the country's language (dropped if the card lists that already)."""
    items = [item.casefold() for item in _card_items(record)]
    written = [item for item in items if item in COUNTRY_CODES]
    if not written or len(items) > MAX_COUNTRY_LIST:
        return {}
    found = {}
    for code in written:
        language, iso_name = COUNTRY_CODES[code]
        if not re.search(rf"\b{iso_name}\b", card_text(record), re.I):
            found[code] = None if language in items else language
    return found


def _card_items(record: dict) -> list[str]:
    """`cardData.language` items; a string may list several: `en, de`. A `false` item is the
    code `no` (Norwegian) as YAML 1.1 reads it (PyYAML's safe_load; the Hub's parser, YAML 1.2,
    keeps the string): no other language code reads as a boolean."""
    value = card_data(record).get("language")
    listed = value if isinstance(value, list) else [value]
    values = strings([NORWEGIAN if item is False else item for item in listed])
    items = (part.strip() for value in values for part in value.split(","))
    return [code for item in items if item for code in (_pair(item) or [item])]


def _pair(item: str) -> list[str] | None:
    """The two codes of a translation pair written as one item (`ru-en`, `en-zh`: TransQuest's
    and fairseq's speech translation cards), or None. Only when the item is no language tag:
    `en-de`, `pt-br` and `fr-ca` are locales (English in Germany, Brazilian Portuguese) as
    BCP 47 reads them, and the card may mean either; `en` and `zh` are no regions."""
    match = _PAIR.fullmatch(item.strip())
    if match is None or langcodes.tag_is_valid(item.strip()):
        return None
    codes = [match[1].lower(), match[2].lower()]
    return codes if all(language_of_code(code) for code in codes) else None


def _is_programming_language(item: str, about_code: bool) -> bool:
    """A programming language's name (data/programming_languages.txt): never a language when it
    is no language code (`java`), read as one only when the card is not about `code` (`lua`)."""
    if item.casefold() not in programming_languages():
        return False
    return about_code or not langcodes.tag_is_valid(item)


def _tag_readings(record: dict) -> dict[str, str | None]:
    """Each tag that could stand for a language: as a code (`en`, `eng`, `en-us`), as a
    language's name (`thai`, `deutsch`), or, when it repeats a `cardData.language` item
    (`russian`, `multilingual`), as that item reads."""
    card_items = {item.casefold(): item for item in _card_items(record)}
    return {
        tag: normalise_language(card_items[tag.casefold()])
        if tag.casefold() in card_items
        else language_of_code(tag) or language_named(tag)
        for tag in tags(record)
    }


@functools.lru_cache(maxsize=4096)
def language_named(tag: str) -> str | None:
    """The language whose English name or autonym the tag is, exactly (`thai`, `Deutsch`), or
    None. Over 28 542 real cards, 383 tagged their declared language's name (402 tags:
    `language: ja`, tag `japanese`): a language tag, not a keyword. Read only to claim such
    tags: a name never adds a language, and a name search finds a language for many words
    (`Berta`)."""
    code = _code_from_name(tag.strip()) if len(tag) <= _MAX_CHARS else None
    if code is None:
        return None
    language = langcodes.Language.get(code)
    names = {language.display_name().casefold(), language.autonym().casefold()}
    return code if tag.strip().casefold() in names else None


def _is_iso_639_1(tag: str) -> bool:
    """Whether the tag's language subtag has two letters. Only for tags langcodes accepts as
    registered: the IANA registry's two-letter language subtags are exactly ISO 639-1's codes
    (190, the withdrawn `iw`, `in`, `ji`, `jw`, `mo`, `sh` included)."""
    return len(re.split(r"[-_]", tag, maxsplit=1)[0]) == 2


@functools.lru_cache(maxsize=4096)
def language_of_code(tag: str) -> str | None:
    """The shortest ISO 639 code of a language *code* (`en`, `eng`, `en-US`, `en_XX`), or None:
    no name lookup, so `ci` or `qa` (registered as no language) read as nothing."""
    tag = tag.strip()
    if not _CODE_SHAPED.fullmatch(tag) or not langcodes.tag_is_valid(tag):
        return None
    return _iso_639(_code_from_tag(tag))


@functools.lru_cache(maxsize=4096)
def normalise_language(value: str) -> str | None:
    """The shortest ISO 639 code of a language code or name, or None when it names no language."""
    value = value.strip()
    if len(value) > _MAX_CHARS:
        return None
    if value.lower() == "multilingual":
        return MULTILINGUAL
    if langcodes.tag_is_valid(value):
        return _iso_639(_code_from_tag(value))
    if _CODE_SHAPED.fullmatch(value) and len(value) <= 3:
        # Two or three letters that are no registered code (`ci`, `qa`): not a name either;
        # langcodes' name search would still return its nearest match (`ci` -> Akan).
        return None
    return _iso_639(_code_from_name(value))


def _iso_639(code: str | None) -> str | None:
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
    return _word_list("not_languages.txt")


@functools.cache
def programming_languages() -> frozenset[str]:
    """The names of data/programming_languages.txt, case-folded."""
    return _word_list("programming_languages.txt")


def _word_list(name: str) -> frozenset[str]:
    text = files("hfharvest").joinpath(f"data/{name}").read_text(encoding="utf-8")
    entries = (line.split("#", 1)[0].strip().casefold() for line in text.splitlines())
    return frozenset(entry for entry in entries if entry)
