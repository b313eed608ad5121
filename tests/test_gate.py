"""Gated patterns (identify/gate.py): a card is scanned only when it holds a word every match
contains, so a gate changes no answer. Checked on the real cards of tests/data and the
snapshot's."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from hfharvest.identify import articles, card_text
from hfharvest.identify.gate import _NOT_LOWERED_AS_MATCHED, Gated

DATA = Path(__file__).parent / "data"
SNAPSHOT = Path(card_text.__file__).parents[1] / "replica" / "hub_snapshot"
CARDS = sorted(
    [*(DATA / "cards").glob("*.md"), *SNAPSHOT.glob("cards/*.md"), *SNAPSHOT.glob("hub_cards/*.md")]
)


def gated_patterns() -> list[tuple[str, Gated]]:
    found = []
    for module in (card_text, articles):
        for name, value in vars(module).items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                gate = item[0] if isinstance(item, tuple) else item
                if isinstance(gate, Gated):
                    found.append((f"{module.__name__}.{name}", gate))
    return found


def test_the_identifiers_patterns_are_gated():
    names = {name.rsplit(".", 1)[1] for name, _ in gated_patterns()}
    assert {"_TOOL_SENTENCES", "_TRAINER_DATASETS", "_ARXIV_IN_TEXT", "_DOI_IN_TEXT"} <= names


@pytest.mark.parametrize(("name", "gate"), gated_patterns(), ids=lambda v: str(v)[:60])
def test_every_match_on_real_cards_holds_one_of_the_gate_words(name, gate):
    matched = 0
    for path in CARDS:
        text = path.read_text(encoding="utf-8")
        for match in gate.pattern.finditer(text):
            matched += 1
            seen = match[0].lower() if gate.pattern.flags & re.I else match[0]
            assert any(word in seen for word in gate.words), (name, path.name, match[0])
            assert gate.may_match(text)
        assert [m.span() for m in gate.finditer(text)] == [
            m.span() for m in gate.pattern.finditer(text)
        ]


def test_a_pattern_with_starts_is_tried_only_there_and_finds_what_finditer_finds():
    pattern = re.compile(r"(?:\barxiv:\s*|arxiv\.org/abs/)(?P<id>\d{4}\.\d{4,5})", re.I)
    gate = Gated(pattern, "arxiv", starts=("arxiv",))
    text = (
        "see ArXiv: 2101.00001, https://ARXIV.org/abs/2202.00002 and xarxiv:2303.00003; "
        "arXiv:arxiv:2404.00004 then arxiv.org/abs/2505.00005arxiv:2606.00006"
    )
    expected = [m.span() for m in pattern.finditer(text)]
    assert len(expected) == 4  # not `xarxiv:`, nor `arxiv:` right after a digit
    assert [m.span() for m in gate.finditer(text)] == expected
    assert [m["id"] for m in gate.finditer(text)] == [m["id"] for m in pattern.finditer(text)]
    # a match holding another start (`doi` in `https://doi.org/`) is not found twice
    doi = articles._DOI_IN_TEXT
    text = "Cite https://doi.org/10.1234/abc.5 or DOI: 10.5555/x, @article{10.1000/y,"
    expected = [m.span() for m in doi.pattern.finditer(text)]
    assert len(expected) == 3
    assert [m.span() for m in doi.finditer(text)] == expected


def test_a_card_without_the_words_is_not_scanned():
    calls = []

    class Spy:
        flags = re.I

        def finditer(self, text):
            calls.append(text)
            return iter(())

    gate = Gated(Spy(), "fine-tuned version of")
    assert list(gate.finditer("A card about something else.")) == []
    assert calls == []
    list(gate.finditer("This model is a Fine-Tuned Version of X"))
    assert calls == ["This model is a Fine-Tuned Version of X"]


# re.I matches `ı` and `İ` with `i` and `ſ` with `s`; their str.lower() is not that letter
@pytest.mark.parametrize(
    "text", ["a f\u0131ne-tuned version of X", "a f\u0130ne-tuned version of X",
             "a fine-tuned ver\u017fion of X"],
)  # fmt: skip
def test_letters_that_case_insensitive_matching_folds_unlike_lower_still_match(text):
    pattern = re.compile(r"fine-tuned version of", re.I)
    gate = Gated(pattern, "fine-tuned version of")
    assert pattern.search(text) is not None
    assert gate.search(text) is not None


def test_the_letters_set_apart_are_all_those_re_ignorecase_folds_unlike_lower():
    every = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code < 0xE000)
    odd = {
        char
        for letter in string.ascii_letters
        for char in re.findall(f"(?i){letter}", every)
        if char.lower() != letter.lower()
    }
    longer = {char for char in every if len(char.lower()) != 1}
    assert odd | longer == set(_NOT_LOWERED_AS_MATCHED)


def test_words_without_letters_are_looked_for_as_written_and_case_words_in_lower_case():
    gate = Gated(re.compile(r"10\.\d{4}/\S+", re.I), "10.")
    assert gate.search("doi 10.1234/abc") is not None and gate.search("no doi here") is None
    with pytest.raises(ValueError, match="lower case"):
        Gated(re.compile("Original", re.I), "Original")
