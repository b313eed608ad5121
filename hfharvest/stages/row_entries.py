"""How the identify cache stores a record's rows, `{kind: [JSON texts]}`: a line a kind, the
kind then its texts, tab-separated, after the CRC-32 of those lines; stored as bytes.

The texts go to the identified files as they are, so each must be a JSON array or object. They
are checked once, when put (json.dumps never writes a raw tab or newline, so the lines split
back into the very texts); a read checks the CRC, and a torn or altered entry is a miss. An
earlier release stored the rows as JSON, and each read parsed that entry and then all its texts
again: 0.8 s of a warm identify pass of 100 000 models, now 0.1 s. Such an entry is still read
(with both parses) and then stored again in this form.
"""

from __future__ import annotations

import json
import zlib

_CRC = 8  # hex digits before the lines


def rows_text(rows: dict) -> bytes | None:
    """The stored form of `rows`; None when they must not be kept (not `{kind: [texts]}`, or a
    text that is not one JSON array or object, or that holds a tab or newline)."""
    if not all(type(texts) is list for texts in rows.values()):
        return None
    texts = [text for kind_texts in rows.values() for text in kind_texts]
    if not json_texts(texts) or any("\t" in x or "\n" in x for x in (*rows, *texts)):
        return None
    body = "\n".join("\t".join((kind, *texts)) for kind, texts in rows.items()).encode()
    return b"%08x" % zlib.crc32(body) + body


def rows_entry(stored) -> tuple[dict, bool]:
    """(the rows of a stored entry, {} when damaged; whether it is an earlier release's)."""
    if isinstance(stored, str):
        return _earlier(stored), True
    if not isinstance(stored, bytes) or stored[:_CRC] != b"%08x" % zlib.crc32(stored[_CRC:]):
        return {}, False
    try:
        lines = stored[_CRC:].decode().split("\n")
    except UnicodeDecodeError:
        return {}, False
    return {kind: texts for kind, *texts in (line.split("\t") for line in lines)}, False


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
