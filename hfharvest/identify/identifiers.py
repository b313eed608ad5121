"""The model's own identifiers: its Hub page URL, and the DOI the Hub minted for its repository.

The Hub mints DOIs under 10.57967/hf/ for repositories (models and datasets alike) and tags
the repo with `doi:<doi>`. Such a DOI names a repository, not a work it cites, so it is never
an article (articles.py drops it). In the card text a repository DOI is the model's own only
inside the citation of the model itself: a BibTeX entry that also gives the model's Hub URL,
as the Hub's "Cite this model" snippet does. Cards also cite the DOIs of the datasets they
were trained on; those are not the model's.
"""

from __future__ import annotations

import re

from ..ids import is_model_id
from ._fields import card_text, model_id, prefixed_tags

HUB_URL = "https://huggingface.co/"
_REPOSITORY_DOI = re.compile(r"10\.57967/hf/[0-9a-z]+", re.I)
_BIBTEX_ENTRY = re.compile(r"@[a-z]+\s*\{", re.I)
_MAX_ENTRY_CHARS = 4000  # a BibTeX entry is a few lines; past that we are in other text


def identify_identifiers(record: dict) -> list[str]:
    """`https://huggingface.co/<id>` and `doi:10.57967/hf/...`, for a record with a valid id."""
    own = model_id(record)
    if own is None or not is_model_id(own):
        return []
    dois = {doi for value in prefixed_tags(record, "doi:") if (doi := repository_doi(value))}
    dois |= _dois_citing_the_model(card_text(record), own)
    return sorted({HUB_URL + own, *(f"doi:{doi}" for doi in dois)})


def repository_doi(value: str) -> str | None:
    """The DOI, lower-cased, when it is one the Hub minted for a repository."""
    match = _REPOSITORY_DOI.match(value.strip())
    return match[0].lower() if match else None


def _dois_citing_the_model(text: str, own: str) -> set[str]:
    """Repository DOIs in BibTeX entries that also carry the model's Hub URL."""
    if "10.57967" not in text:
        return set()
    own_url = re.compile(
        rf"(?:huggingface\.co|hf\.co)/{re.escape(own)}(?![\w.-])", re.I
    )  # not a longer id that starts with ours (org/model-v2)
    starts = [match.start() for match in _BIBTEX_ENTRY.finditer(text)]
    found = set()
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        entry = text[start : min(end, start + _MAX_ENTRY_CHARS)]
        if own_url.search(entry):
            found |= {match[0].lower() for match in _REPOSITORY_DOI.finditer(entry)}
    return found
