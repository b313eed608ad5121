"""How the identify cache stores a record's rows, `{kind: [JSON texts]}`: a head line naming
each kind and how many texts it has (`articles:1,base_models:3,...`), then all the texts,
tab-separated, after the CRC-32 of both; stored as bytes.

The texts go to the identified files as they are, so each must be a JSON array or object. They
are checked once, when put (json.dumps never writes a raw tab or newline, so the text splits
back into the very texts); a read checks the CRC, and a torn or altered entry is a miss. Every
entry of a run has the same head, read once. An earlier release stored the rows as JSON, and
each read parsed that entry and then all its texts again: 0.8 s of a warm identify pass of
100 000 models, now 0.35 s. Such an entry is still read (with both parses) and then stored
again in this form.
"""

from __future__ import annotations

import json
import re
import zlib
from functools import lru_cache

_CRC = 8  # hex digits before the head
_KIND = re.compile(r"[a-z_]+")
_HEAD = re.compile(r"[a-z_]+:[1-9][0-9]*(?:,[a-z_]+:[1-9][0-9]*)*")


def rows_text(rows: dict) -> bytes | None:
    """The stored form of `rows`; None when they must not be kept (not `{kind: [texts]}`, a kind
    without texts, or a text that is not one JSON array or object, or holds a tab or newline)."""
    if not all(type(texts) is list and texts for texts in rows.values()):
        return None
    texts = [text for kind_texts in rows.values() for text in kind_texts]
    if not json_texts(texts) or any("\t" in text or "\n" in text for text in texts):
        return None
    if not all(type(kind) is str and _KIND.fullmatch(kind) for kind in rows):
        return None
    head = ",".join(f"{kind}:{len(kind_texts)}" for kind, kind_texts in rows.items())
    body = (head + "\n" + "\t".join(texts)).encode()
    return b"%08x" % zlib.crc32(body) + body


def rows_entry(stored) -> tuple[dict, bool]:
    """(the rows of a stored entry, {} when damaged; whether it is an earlier release's)."""
    if isinstance(stored, str):
        return _earlier(stored), True
    if not isinstance(stored, bytes) or stored[:_CRC] != b"%08x" % zlib.crc32(stored[_CRC:]):
        return {}, False
    try:
        head, _, texts = stored[_CRC:].decode().partition("\n")
        spans, count = _spans(head)
    except (UnicodeDecodeError, ValueError):
        return {}, False
    texts = texts.split("\t")
    if len(texts) != count:
        return {}, False
    return {kind: texts[start:end] for kind, start, end in spans}, False


@lru_cache(maxsize=16)
def _spans(head: str) -> tuple[tuple[tuple[str, int, int], ...], int]:
    """Each kind's place among the texts, and how many there are, of a head line."""
    if not _HEAD.fullmatch(head):
        raise ValueError(f"not a head line: {head[:100]!r}")
    spans, at = [], 0
    for part in head.split(","):
        kind, _, count = part.partition(":")
        spans.append((kind, at, at + int(count)))
        at += int(count)
    return tuple(spans), at


def _earlier(stored: str) -> dict:
    """An earlier release's entry (JSON): its rows if every text is sound, else {}."""
    try:
        rows = json.loads(stored)
    except ValueError:
        return {}
    if not isinstance(rows, dict) or not all(type(texts) is list for texts in rows.values()):
        return {}
    return rows if json_texts([text for texts in rows.values() for text in texts]) else {}


def json_texts(texts: list) -> bool:
    """Whether each text is a JSON array or object: one parse of them all, not one a text."""
    try:
        values = json.loads(f"[{','.join(texts)}]")
    except (TypeError, ValueError):  # a text not a string, or not JSON
        return False
    return len(values) == len(texts) and all(isinstance(v, (list, dict)) for v in values)
