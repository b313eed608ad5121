"""Articles a model cites: arXiv ids and DOIs from tags and from the card text.

Entity ids are `arxiv:<id>` (version dropped) and `doi:<doi>` (lower-cased: DOIs are
case-insensitive). A DOI that arXiv minted (`10.48550/arXiv.<id>`) is the arXiv article. A DOI
the Hub minted for a repository (`10.57967/hf/...`) names a model or dataset, not an article:
it is never one (the model's own is among its identifiers, see identifiers.py).
In the text, a number counts as an arXiv id only in an arXiv context (an arxiv.org or
huggingface.co/papers link, `arXiv:<id>`, a BibTeX `eprint` field, DBLP's `volume = {abs/<id>}`),
never on its own: cards are full of version numbers and years that look like `2103.00020`.
DOIs likewise: doi.org links, `doi:` text and tags, BibTeX `doi = {...}` (and Springer's entry
keys, `@InProceedings{10.1007/...,`), and URLs with the DOI as a path segment (publishers'
`/doi/` pages, Springer's `/chapter/10.1007/...`, bioRxiv's `/content/10.1101/...`).
"""

from __future__ import annotations

import re

from ._fields import card_text, prefixed_tags
from .gate import Gated
from .identifiers import repository_doi

# Old-style archives (identifiers before April 2007, `hep-th/9901001`): a closed list.
_OLD_ARCHIVES = [
    *("acc-phys", "adap-org", "alg-geom", "ao-sci", "astro-ph", "atom-ph", "bayes-an", "chao-dyn"),
    *("chem-ph", "cmp-lg", "comp-gas", "cond-mat", "cs", "dg-ga", "funct-an", "gr-qc", "hep-ex"),
    *("hep-lat", "hep-ph", "hep-th", "math", "math-ph", "mtrl-th", "nlin", "nucl-ex", "nucl-th"),
    *("patt-sol", "physics", "plasm-ph", "q-alg", "q-bio", "quant-ph", "solv-int", "supr-con"),
]
_ARCHIVE = "|".join(sorted(map(re.escape, _OLD_ARCHIVES), key=len, reverse=True))
# YYMM.NNNN (2007-2014) or YYMM.NNNNN (2015-); old style archive[.SC]/YYMMNNN. Version dropped.
_ARXIV_ID = (
    r"(?P<new>\d{2}(?:0[1-9]|1[0-2])\.\d{4,5})"
    rf"|(?P<archive>{_ARCHIVE})(?:\.(?P<subject>[a-z]{{2}}))?/(?P<number>\d{{7}})"
)
_ARXIV_ID_WITH_VERSION = rf"(?:{_ARXIV_ID})(?:v[1-9]\d{{0,3}})?(?!\d)"  # v1 to v9999
_ARXIV_CONTEXT = (
    r"arxiv\.org/(?:abs|pdf|html|ps|format)/"
    r"|huggingface\.co/papers/"
    # `arXiv:ID`; also without the colon, as citations are written: "arXiv 2307.09288",
    # "arXiv preprint 2408.01800", Semantic Scholar's "ArXiv abs/1908.10084"
    r"|\barxiv(?::\s*|\s+(?:preprint\s+)?(?:abs/)?)"
    r"|\beprint\s*=\s*[{\"]?\s*(?:arxiv:?\s*)?"
    r"|\bvolume\s*=\s*[{\"]\s*abs/"  # DBLP's BibTeX for CoRR (arXiv): volume = {abs/1810.04805}
)
_ARXIV_WORDS = ("arxiv", "huggingface.co/papers/", "eprint", "volume")  # each context's start
_ARXIV_IN_TEXT = Gated(
    re.compile(rf"(?:{_ARXIV_CONTEXT}){_ARXIV_ID_WITH_VERSION}", re.I),
    *_ARXIV_WORDS,
    starts=_ARXIV_WORDS,
)
_ARXIV_FULL = re.compile(_ARXIV_ID_WITH_VERSION, re.I)

# Crossref's recommended DOI pattern (it matches 99% of registered DOIs).
_DOI = r"10\.\d{4,9}/[-._;()/:a-z0-9]+"
# doi.org links, `doi:` text, BibTeX `doi = {...}`, Springer's BibTeX keys, and any URL with a
# path segment that starts with the DOI: publishers put it there (`dl.acm.org/doi/pdf/10.1145/`,
# `link.springer.com/chapter/10.1007/`, `biorxiv.org/content/10.1101/`). At most six segments
# before it, so that no run of slashes costs more than linear time.
_DOI_CONTEXT = (
    r"doi\.org/|\bdoi:\s*|\bdoi\s*=\s*[{\"]\s*|/doi/(?:abs/|full/|pdf/|epdf/)?"
    r"|@[a-z]+\s*\{\s*|https?://[^\s/]+/(?:[^\s/]+/){0,6}"
)
_DOI_IN_TEXT = Gated(
    re.compile(rf"(?:{_DOI_CONTEXT})(?P<doi>{_DOI})", re.I),
    "10.",
    starts=("doi", "/doi/", "@", "http"),  # where each of _DOI_CONTEXT's begins
)
_ARXIV_DOI = re.compile(rf"10\.48550/arxiv\.(?:{_ARXIV_ID_WITH_VERSION})", re.I)
# What a URL puts after a DOI, which the pattern above takes in (`/` and `.` are DOI characters):
# a page of the article (`.../10.1002/x/pdf`, `/full/pdf`, `/abstract`) or its file (`.pdf`);
# and, for registrants whose DOIs have a fixed shape, anything past it: Zenodo's are
# `10.5281/zenodo.<n>` (its badge is `zenodo.org/badge/DOI/10.5281/zenodo.<n>.svg`), OUP's
# `10.1093/<journal>/<id>` (its links go on with the article number and file:
# `.../doi/10.1093/jamia/ocac219/47220191/ocac219.pdf`), bioRxiv's and medRxiv's
# `10.1101/<yyyy.mm.dd>.<n>` (their pages add the version and page: `v1`, `v2.full.pdf`).
_PAGE_TAIL = re.compile(r"(?:/(?:full|abs|abstract|epdf|pdf|fulltext)|\.pdf)+$", re.I)
_FIXED_SHAPE = re.compile(
    r"10\.5281/zenodo\.\d+|10\.1093/[^/]+/[^/]+|10\.1101/\d{4}\.\d\d\.\d\d\.\d+", re.I
)


def identify_articles(record: dict) -> list[str]:
    text = card_text(record)
    found = {arxiv_article(value) for value in prefixed_tags(record, "arxiv:")}
    found |= {f"arxiv:{_canonical_arxiv_id(match)}" for match in _ARXIV_IN_TEXT.finditer(text)}
    # BibTeX writes `_` as `{\_}` or `\_` (Markdown escapes it as `\_`): a DOI's `_` in the text.
    # A URL may encode the DOI's `/` (`link.springer.com/chapter/10.1007%2F978-3-319-10602-1_48`).
    unescaped = (
        text.replace("{\\_}", "_").replace("\\_", "_").replace("%2F", "/").replace("%2f", "/")
    )
    in_text = [_without_url_tail(match["doi"]) for match in _DOI_IN_TEXT.finditer(unescaped)]
    dois = prefixed_tags(record, "doi:") + in_text
    found |= {doi_article(value) for value in dois}
    return sorted(article for article in found if article)


def arxiv_article(value: str) -> str | None:
    """`arxiv:<id>` for an `arxiv:` tag's value; kept as given when it does not parse (the Hub
    minted the tag, so enrichment should get to see and report it)."""
    value = value.strip()
    if match := _ARXIV_FULL.fullmatch(value):
        return f"arxiv:{_canonical_arxiv_id(match)}"
    return f"arxiv:{value}" if value else None


def doi_article(value: str) -> str | None:
    doi = _strip_trailing_punctuation(value.strip())
    if not doi or repository_doi(doi):
        return None
    if match := _ARXIV_DOI.fullmatch(doi):
        return f"arxiv:{_canonical_arxiv_id(match)}"
    return f"doi:{doi.lower()}"


def _without_url_tail(doi: str) -> str:
    doi = _strip_trailing_punctuation(doi)
    if shaped := _FIXED_SHAPE.match(doi):
        return shaped[0]
    return _PAGE_TAIL.sub("", doi)


def _canonical_arxiv_id(match: re.Match) -> str:
    if match["new"]:
        return match["new"]
    # arXiv writes the archive in lower case and the subject class in upper case: cs.CL/0101001.
    subject = f".{match['subject'].upper()}" if match["subject"] else ""
    return f"{match['archive'].lower()}{subject}/{match['number']}"


def _strip_trailing_punctuation(doi: str) -> str:
    """Sentence punctuation and BibTeX braces after a DOI (`[paper](https://doi.org/X)):`);
    `)` only when it closes nothing."""
    while doi and (doi[-1] in ".,;:}" or (doi[-1] == ")" and doi.count(")") > doi.count("("))):
        doi = doi[:-1]
    return doi
