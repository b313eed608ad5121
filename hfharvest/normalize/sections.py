"""Sections of a model card's text, by the headings of the Hub's model-card template.

The Hub's template (`huggingface_hub/templates/modelcard_template.md`) names them "Uses",
"Direct Use", "Bias, Risks, and Limitations", "How to Get Started with the Model"; older cards
say "Intended uses & limitations", "How to use", "Limitations and bias". markdown-it parses the
text so that `#` lines inside code blocks are never taken for headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

# FAIR4ML property -> heading names (normalised: lower case, words only); a heading matches a
# name when it is the name or starts with it ("Usage (Sentence-Transformers)" is "usage").
HEADINGS = {
    "intendedUse": (
        "uses",
        "direct use",
        "intended use",
        "intended uses",
        "intended uses & limitations",
        "intended uses and limitations",
        "intended use cases",
        "model uses",
    ),
    "usageInstructions": (
        "how to get started with the model",
        "how to use",
        "usage",
        "getting started",
        "quick start",
        "quickstart",
    ),
    "modelRisksBiasLimitations": (
        "bias risks and limitations",
        "risks limitations and biases",
        "limitations and bias",
        "limitations and biases",
        "limitations",
        "bias",
    ),
    "legal": ("license", "licence", "licensing", "legal"),
}
# Block structure only (headings, fences): inline parsing would cost 6x and is never read.
_parser = MarkdownIt("commonmark").disable(["inline", "text_join"])
_FRONT_MATTER = re.compile(r"\A---\r?\n.*?\r?\n---\r?\n", re.DOTALL)
# The template's guidance comments and the placeholder it leaves where nothing was written.
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_PLACEHOLDER = "[More Information Needed]"


@dataclass(frozen=True)
class Section:
    heading: str
    text: str
    code: str | None  # the section's first fenced code block


def normalise_heading(text: str) -> str:
    words = re.sub(r"[^a-z0-9&]+", " ", text.lower()).split()
    return " ".join(words)


def _says_something(text: str) -> bool:
    """False for a section that holds only sub-headings and the template's placeholders."""
    return any(
        line.strip() and not line.lstrip().startswith("#") and line.strip() != _PLACEHOLDER
        for line in text.splitlines()
    )


def _matches(heading: str, names: tuple[str, ...]) -> bool:
    return any(heading == name or heading.startswith(name + " ") for name in names)


def card_sections(card: str | None, max_chars: int) -> dict[str, Section]:
    """FAIR4ML property -> the first card section whose heading names it (text capped)."""
    if not card:
        return {}
    body = _FRONT_MATTER.sub("", card, count=1)  # the YAML block is cardData, not text
    lines = body.splitlines()
    tokens = _parser.parse(body)
    headings = [
        (int(tok.tag[1]), tok.map[0], tok.map[1], tokens[i + 1].content)
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open" and tok.map
    ]
    fences = [tok for tok in tokens if tok.type == "fence" and tok.map]
    found: dict[str, Section] = {}
    for index, (level, _, body_start, title) in enumerate(headings):
        prop = next(
            (p for p, names in HEADINGS.items() if _matches(normalise_heading(title), names)),
            None,
        )
        if prop is None or prop in found:
            continue
        end = next((h[1] for h in headings[index + 1 :] if h[0] <= level), len(lines))
        text = _COMMENT.sub("", "\n".join(lines[body_start:end])).strip()
        if not _says_something(text):
            continue
        code = next(
            (f.content.strip() for f in fences if body_start <= f.map[0] < end and f.content),
            None,
        )
        found[prop] = Section(title.strip(), text[:max_chars], code[:max_chars] if code else None)
    return found
