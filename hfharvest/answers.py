"""Reading an answer within bounds: decoded size, a total deadline, and JSON nesting depth.

Every HTTP body hfharvest reads (Hub API, READMEs, /api/tasks, Croissant, arXiv) goes through
`read_capped`: the chunks it is given are already decoded (gzip included), so the cap bounds
what is held in memory, not what crossed the wire; and the deadline bounds the whole answer,
where a client's timeout bounds each read only (a body trickled at 1 byte/s never times out).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Iterator

MAX_DEPTH = 64  # Hub records nest a few levels; 1000 levels is an attack, not metadata


class TooLarge(ValueError):
    """An answer over its size cap: refused, or cut where the caller allows it."""


class DeadlineExceeded(TimeoutError):
    """An answer that was not complete within its total deadline."""


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


class BrokenArray(ValueError):
    """A JSON array whose entries cannot be told apart (cut short, unmatched brackets)."""


def deadline_after(seconds: float | None) -> float | None:
    return None if seconds is None else time.monotonic() + seconds


def read_capped(
    chunks: Iterable[bytes],
    cap: int,
    deadline_at: float | None = None,
    *,
    cut: bool = False,
    deadline_s: float | None = None,
) -> tuple[bytes, bool]:
    """(body, cut short?) from decoded `chunks`, holding at most `cap` bytes plus one chunk.

    Over the cap: TooLarge, or with `cut=True` the first `cap` bytes. Past `deadline_at`
    (a time.monotonic() value): DeadlineExceeded. Decoders hand out bounded chunks (httpx's
    and urllib3's gzip decoders inflate one network read at a time), so a gzip bomb costs at
    most one inflated chunk beyond the cap.
    """
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > cap:
            if cut:
                return bytes(body[:cap]), True
            body.clear()  # now: the traceback keeps this frame (and `body`) alive for a while
            raise TooLarge(f"answer over the {cap}-byte cap (decoded): not read further")
        if deadline_at is not None and time.monotonic() > deadline_at:
            got, _ = len(body), body.clear()
            raise _late(got, deadline_s)
    return bytes(body), False


def bounded_chunks(
    chunks: Iterable[bytes], cap: int, deadline_at: float | None, deadline_s: float | None
) -> Iterator[bytes]:
    """`chunks` passed on as they come, for a body too big to hold (a file written to disk):
    TooLarge once more than `cap` bytes came, DeadlineExceeded past `deadline_at`."""
    got = 0
    for chunk in chunks:
        got += len(chunk)
        if got > cap:
            raise TooLarge(f"file over the {cap}-byte cap (decoded): not read further")
        if deadline_at is not None and time.monotonic() > deadline_at:
            raise _late(got, deadline_s)
        yield chunk


def _late(got: int, deadline_s: float | None) -> DeadlineExceeded:
    spent = f" of {deadline_s:g} s" if deadline_s is not None else ""
    return DeadlineExceeded(f"answer not complete within its deadline{spent} ({got} bytes so far)")


# -- JSON --------------------------------------------------------------------------------------

# The tokens that shape a JSON text: whole strings (so brackets inside them are skipped in one
# C-level match) and the structural characters. Scalars between them need no attention.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_OPENERS = {ord("["): ord("]"), ord("{"): ord("}")}


def depth_of(body: bytes) -> int:
    """How deeply a JSON text nests (0 for a scalar); cheap, and no recursion."""
    depth = deepest = 0
    for match in _TOKENS.finditer(body):
        char = body[match.start()]
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in (ord("]"), ord("}")):
            depth -= 1
    return deepest


def loads(body: bytes, max_depth: int = MAX_DEPTH):
    """json.loads, refusing a text nested deeper than `max_depth` before Python recurses on it,
    with numbers our own files can hold (see json_value)."""
    depth = depth_of(body)
    if depth > max_depth:
        raise TooDeep(f"JSON nested {depth} levels deep (over {max_depth})")
    return json_value(body)


# The run files are read back with ijson (yajl), which refuses NaN and Infinity and integers
# beyond 64 bits. Such a number in an answer (`1e999` is valid JSON; Python reads NaN too)
# becomes null here: one odd field must not make a file the next stage cannot read.
_INT64 = 2**63
_INT64_DIGITS = 19


def json_value(text: bytes | str):
    """json.loads with non-finite floats and out-of-int64 integers read as null, and lone
    surrogates (`"\\ud800"`, valid JSON) read as U+FFFD."""
    value = json.loads(
        text, parse_float=finite_or_none, parse_int=int64_or_none, parse_constant=_null
    )
    escapes = SURROGATE_ESCAPE if isinstance(text, bytes) else _SURROGATE_ESCAPE_STR
    return _without_surrogates(value) if escapes.search(text) else value


# A `\uD800`-`\uDFFF` escape: a pair of them is one character, json.loads joins it; one alone
# is a string no UTF-8 file can hold, and writing it failed the whole stage (UnicodeEncodeError).
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_STR = re.compile(SURROGATE_ESCAPE.pattern.decode())
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value):
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD; the
    depth is bounded by the caller (MAX_DEPTH), so the recursion is too."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


# A number as the run files can hold it (yajl reads them back), else None: also how jsonio tells
# which texts it may read with json.loads instead of ijson.
def finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def int64_or_none(text: str) -> int | None:
    if len(text.lstrip("-")) > _INT64_DIGITS:
        return None
    value = int(text)
    return value if -_INT64 < value < _INT64 else None  # yajl refuses -2**63 too


def _null(_constant: str) -> None:
    return None


def split_array(body: bytes) -> Iterator[tuple[bytes, int]] | None:
    """(raw entry, its nesting depth) for each entry of a top-level JSON array, or None when
    the body is not an array.

    Why our own scanner: the standard json module (and ijson's item parser) fail the whole
    array on one bad entry, and json.loads raises RecursionError on a deeply nested one; split
    first, each entry is parsed (and can fail) on its own. Raises BrokenArray when the array
    itself is broken (brackets that do not match, text after it): then no entry boundary can
    be trusted.
    """
    stripped = body.lstrip()
    if not stripped.startswith(b"["):
        return None
    return _entries(stripped)


# The structural characters alone, each found past the strings and scalars before it in one
# C-level match (a token a string too made the Python loop over a listing page twice as long).
# The same tokens as _TOKENS: a `"` that opens no whole string is passed over as one character,
# as _TOKENS' search passes over it; `\Z` ends the search in one step at the text's end.
_STRUCTURE = re.compile(rb'(?>"[^"\\]*(?:\\.[^"\\]*)*"|[^"\[\]{},]+|")*+([\[\]{},]|\Z)')
# The same without the comma: inside an entry only brackets change what _entries knows, and
# passing over the entry's commas in the match halves the loop's steps on a listing page.
_BRACKETS = re.compile(rb'(?>"[^"\\]*(?:\\.[^"\\]*)*"|[^"\[\]{}]+|")*+([\[\]{}]|\Z)')
_CLOSERS = frozenset(b"]}")
_COMMA = ord(",")


def _entries(body: bytes) -> Iterator[tuple[bytes, int]]:
    stack: list[int] = []
    start, deepest = 1, 0  # where the current entry starts, how deep it went (the array: 1)
    position, end = 0, len(body)
    while True:
        at = (_STRUCTURE if len(stack) <= 1 else _BRACKETS).match(body, position).start(1)
        if at == end:
            break
        position, char = at + 1, body[at]
        if char in _OPENERS:
            stack.append(_OPENERS[char])
            deepest = max(deepest, len(stack) - 1)
        elif char in _CLOSERS:
            if not stack or stack.pop() != char:
                raise BrokenArray(f"JSON array broken at byte {at}: unmatched {chr(char)!r}")
            if not stack:  # the end of the array
                last = body[start:at].strip()
                if last:
                    yield last, deepest
                if body[at + 1 :].strip():
                    raise BrokenArray(f"text after the JSON array at byte {at + 1}")
                return
        elif char == _COMMA and len(stack) == 1:
            yield body[start:at].strip(), deepest
            start, deepest = at + 1, 0
    raise BrokenArray("JSON array not closed (cut short?)")


_VALUES = json.JSONDecoder(
    parse_float=finite_or_none, parse_int=int64_or_none, parse_constant=_null
)
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace


def parsed_array(body: bytes) -> list | None:
    """The entries of a top-level JSON array each as split_array and json_value give them, read
    in one pass of the C parser an entry (no scan first); None when the body is not a plain
    array of such entries (not UTF-8, an entry that does not parse or nests deeper than
    MAX_DEPTH, a lone surrogate, text around it): split_array then tells its entries apart.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _SURROGATE_ESCAPE_STR.search(text):
        return None
    position = _SPACE.match(text).end()
    if not text.startswith("[", position):
        return None
    position, values = _SPACE.match(text, position + 1).end(), []
    if text.startswith("]", position):
        return values if not text[position + 1 :].strip(" \t\n\r") else None
    while True:
        try:
            value, end = _VALUES.raw_decode(text, position)
        except (ValueError, RecursionError):
            return None
        brackets = text.count("{", position, end) + text.count("[", position, end)
        if brackets > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):  # fewer cannot nest deeper
            return None
        values.append(value)
        position = _SPACE.match(text, end).end()
        if text.startswith("]", position):
            return values if not text[position + 1 :].strip(" \t\n\r") else None
        if not text.startswith(",", position):
            return None
        position = _SPACE.match(text, position + 1).end()


def _deeper_than(value, limit: int) -> bool:
    """Whether `value` nests more than `limit` levels (depth_of of its text)."""
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return False
    if limit == 0:
        return True
    return any(_deeper_than(item, limit - 1) for item in value if isinstance(item, (dict, list)))


_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,200})"')


def entry_id(entry: bytes) -> str | None:
    """The `"id"` an unreadable listing entry names, if any (the Hub writes it near the front).

    A guess read from text that did not parse: callers validate it before they use it.
    """
    match = _ID.search(entry[:4096])
    return match.group(1).decode("utf-8", "replace") if match else None
