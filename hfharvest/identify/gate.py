"""Patterns that scan a card only when it holds a word every match of theirs contains.

Python's `re` has no fast scan for a case-insensitive pattern: it tries the pattern at every
character, some 10 ns a character and pattern, and a card is read by a dozen of them (most of an
identify miss's CPU). A plain `word in text` is a hundred times faster, and a card that lacks the
word cannot match: the pattern is not run. Matches are the pattern's own, so gating changes no
answer, only the work to find there is none.

Case-insensitive: `re.IGNORECASE` pairs a text character with a pattern's ASCII letter when their
lower cases are equal, except for three (`İ` and `ı` match `i`, `ſ` matches `s`, and `İ` is the one
character whose lower case is longer); a text holding one of them is always scanned.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

_NOT_LOWERED_AS_MATCHED = ("\u0130", "\u0131", "\u017f")  # İ ı ſ


@functools.lru_cache(maxsize=4)
def _lowered(text: str) -> str | None:
    """The text in lower case, where a case-insensitive match's words are found as they are
    written in lower case; None for a text with a character that breaks that."""
    if any(char in text for char in _NOT_LOWERED_AS_MATCHED):
        return None
    return text.lower()


class Gated:
    """`pattern`, run only on texts that hold one of `words` (each in every match the pattern
    can make, in lower case when the pattern ignores case). With `starts`, the words (of the
    same kind) one of which every match begins with: the pattern is tried only where they are,
    for patterns that a card's text passes the gate of but holds few matches of (arXiv ids,
    DOIs); such a pattern never matches the empty string."""

    def __init__(self, pattern: re.Pattern, *words: str, starts: tuple[str, ...] = ()):
        self.pattern = pattern
        self.words = words
        self.starts = starts
        # words without letters (`10.`) match only themselves: looked for in the text itself
        ignore_case = bool(pattern.flags & re.IGNORECASE)
        self._ignore_case = ignore_case and any(word.upper() != word for word in words)
        self._starts_folded = ignore_case and any(word.upper() != word for word in starts)
        if ignore_case and any(word != word.lower() for word in (*words, *starts)):
            raise ValueError(f"words of a case-insensitive pattern are lower case: {words}")

    def may_match(self, text: str) -> bool:
        seen = _lowered(text) if self._ignore_case else text
        return seen is None or any(word in seen for word in self.words)

    def finditer(self, text: str) -> Iterator[re.Match]:
        if not self.may_match(text):
            return iter(())
        seen = _lowered(text) if self._starts_folded else text
        if not self.starts or seen is None:
            return self.pattern.finditer(text)
        return self._from_starts(text, seen)

    def _from_starts(self, text: str, seen: str) -> Iterator[re.Match]:
        """finditer's matches: the leftmost from where the last one ended, each at a start."""
        end = 0
        for start in sorted({at for word in self.starts for at in _found(seen, word)}):
            if start >= end and (match := self.pattern.match(text, start)) is not None:
                yield match
                end = match.end()

    def search(self, text: str) -> re.Match | None:
        return self.pattern.search(text) if self.may_match(text) else None


def _found(text: str, word: str) -> Iterator[int]:
    """Where `word` begins in `text`, overlaps included."""
    at = text.find(word)
    while at != -1:
        yield at
        at = text.find(word, at + 1)
