"""Articles: arXiv metadata from the arXiv API (Atom), in polite batches; DOIs of arXiv papers.

The arXiv API answers `GET {endpoint}?id_list=a,b,c&start=0&max_results=N` with an Atom feed
(namespaces atom, opensearch, arxiv). A well-formed id it does not know simply has no entry; a
malformed id fails the whole request with HTTP 400, so ids are checked before they are sent.
Requests go out one at a time, `delay_s` apart (arXiv asks for one every three seconds), and
429 / 5xx / timeouts / resets are retried with exponential backoff.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice

import httpx2
from lxml import etree

from ..answers import DeadlineExceeded, TooLarge, deadline_after, read_capped
from ..cache import EntityCache
from ..entities import entity
from ..errors import shown
from ..hub import DEADLINE, _within_deadline, check_endpoint
from .common import models_by_entity, unresolved

log = logging.getLogger(__name__)

ARXIV_API = "https://export.arxiv.org/api/query"
SOURCE = "arxiv_api"
USER_AGENT = "hfharvest (model metadata harvester; polite batched id_list queries)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}
# New style `1810.04805` (YYMM.NNNN[N], month 01-12), old style `hep-th/9901001`
# (archive[.SUBJECT]/YYMMNNN); version optional, v1 to v9999 (arXiv's papers have a few dozen at
# most). An id outside this grammar is `invalid_id`, never asked: a version of 5000 digits is over
# Python's int-string limit, one of 25 over the 64 bits the run files' reader (yajl) takes.
ARXIV_ID = re.compile(
    r"(\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v([1-9]\d{0,3}))?"
)
# DataCite DOIs that arXiv mints for its papers: 10.48550/arXiv.<id>.
ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(.+)", re.IGNORECASE)
NO_DOI_RESOLVER = "no DOI resolver configured"
NOT_FOUND = "the arXiv API refused this id (an error entry)"
# arXiv lists no entry for a well-formed id it does not know, and an answer emptied or cut short
# lists none either: absence is a weak verdict, kept for `arxiv.absent_max_age_h` (a day) rather
# than `arxiv.max_age_h` (a week), so that an emptied answer costs a day, an unknown id a request
# a day.
NOT_IN_ANSWER = "the arXiv API's answer has no entry for this id (asked again after a day)"
ABSENT_MAX_AGE_H = 24.0
# A feed of 100 entries is ~300 kB: an answer beyond this (decoded) is refused, never held.
FEED_MAX_BYTES = 16 * 1024 * 1024
DEADLINE_S = 120.0  # one answer, its redirects and body included (arxiv.deadline_s)
MAX_REDIRECTS = 5  # export.arxiv.org answers directly; a few hops (http -> https) at most
CHUNK_BATCHES = 20  # batches of ids per chunk of the stream


class ArxivUnavailable(Exception):
    """A batch the arXiv API would not answer (after retries), or answered unreadably."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Wanted:
    """An entity id and what to ask arXiv for it."""

    entity_id: str
    models: list[str]
    arxiv_id: str  # versionless
    requested_version: int | None = None
    via_doi: str | None = None


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """`1810.04805v2` -> ("1810.04805", 2); None when it is not an arXiv id."""
    match = ARXIV_ID.fullmatch(text.strip())
    if match is None:
        return None
    return match.group(1), int(match.group(2)) if match.group(2) else None


def enrich_articles(
    mapping: Mapping[str, Iterable[str]],
    endpoint: str = ARXIV_API,
    batch_size: int = 100,
    delay_s: float = 3.0,
    retries: int = 3,
    *,
    timeout: float = 30.0,
    backoff_s: float | None = None,
    max_bytes: int = FEED_MAX_BYTES,
    deadline_s: float = DEADLINE_S,
    max_redirects: int = MAX_REDIRECTS,
    cache: EntityCache | None = None,
    max_age_h: float = 168.0,
    absent_max_age_h: float = ABSENT_MAX_AGE_H,
    requests_sent: Counter | None = None,
) -> Iterator[dict]:
    """One entity per article id (`arxiv:<id>`, `doi:<doi>`), sorted by id, yielded chunk by
    chunk (the ids and their models are kept on disk, never all in memory).

    arXiv ids (and DOIs of the form `10.48550/arxiv.<id>`) are resolved through the arXiv API in
    batches of `batch_size`; an id the API refuses (an error entry) is `not_found`, one its
    answer just lacks is `not_in_answer` (arXiv lists nothing for an unknown id, and an emptied or
    cut answer looks the same: cached for `absent_max_age_h` only). Other DOIs stay
    unresolved with the reason `no_doi_resolver`: no DOI resolver is configured.

    With a cache (keyed by the arXiv endpoint, the id and the version arXiv gave), a paper is
    asked again only when the version last seen is older than `max_age_h` (new versions
    appear), unless a version was asked for that the cached one already covers. The requests
    sent are added to `requests_sent["arxiv"]`.
    """
    check_endpoint(endpoint, "arxiv.endpoint")  # now, not when the stream is first read
    fetcher = _ArxivFetcher(endpoint, delay_s, retries, timeout, backoff_s, max_redirects)
    fetcher.max_bytes, fetcher.deadline_s = max_bytes, deadline_s
    ages = (max_age_h * 3600, absent_max_age_h * 3600)
    return _articles(mapping, fetcher, cache, ages, max(1, batch_size), requests_sent)


def _articles(mapping, fetcher, cache, ages, batch_size, requests_sent) -> Iterator[dict]:
    by_entity = models_by_entity(mapping)
    try:
        classified = (_classify(entity_id, models) for entity_id, models in by_entity.items())
        # Chunks of many batches: few half-empty batches, and memory bounded by the chunk.
        while chunk := list(islice(classified, CHUNK_BATCHES * batch_size)):
            yield from _enrich_chunk(chunk, fetcher, cache, ages, batch_size)
    finally:
        by_entity.close()
        fetcher.close()
        if requests_sent is not None:
            requests_sent["arxiv"] += fetcher.requests


def _enrich_chunk(chunk: list, fetcher, cache, ages: tuple[float, float],
                  batch_size: int) -> Iterator:  # fmt: skip
    """The chunk's entities, in its order: cached papers reused, the others asked in batches.
    `ages`: how long a paper or an error entry, and an id the answer lacked, are kept (s)."""
    wanted = [item for item in chunk if isinstance(item, _Wanted)]
    found, lacked = _cached(cache, wanted, *ages) if cache is not None else ({}, set())
    absent = ArxivUnavailable("not_in_answer", NOT_IN_ANSWER)
    failed: dict[str, ArxivUnavailable] = dict.fromkeys(lacked, absent)
    cached = set(found) | lacked
    unique = list(dict.fromkeys(item.arxiv_id for item in wanted if item.arxiv_id not in cached))
    for start in range(0, len(unique), batch_size):
        batch = unique[start : start + batch_size]
        try:
            papers, refused = fetcher.fetch(batch)
        except ArxivUnavailable as err:
            failed.update(dict.fromkeys(batch, err))
            continue
        papers = {key: paper for key, paper in papers.items() if key in batch}
        found.update(papers)
        found.update(dict.fromkeys(refused))
        lacking = [key for key in batch if key not in papers and key not in refused]
        failed.update(dict.fromkeys(lacking, absent))
        if cache is not None:
            _remember(cache, papers, {**refused, **dict.fromkeys(lacking, NOT_IN_ANSWER)})
    for item in chunk:
        if isinstance(item, dict):
            yield item
            continue
        result = _result(item, found.get(item.arxiv_id), failed.get(item.arxiv_id))
        if item.arxiv_id in cached:
            result["extraction_metadata"]["from_cache"] = True
        yield result


def _remember(cache: EntityCache, papers: dict[str, dict], refused: dict[str, str]) -> None:
    """The papers arXiv gave, and the ids it refused by an error entry or its answer lacked
    (NOT_IN_ANSWER, kept a shorter time: see _cached)."""
    for arxiv_id, paper in papers.items():  # v0: the feed named no version
        cache.put(arxiv_id, f"v{paper.get('version') or 0}", paper)
    for arxiv_id, message in refused.items():
        cache.missing(arxiv_id, message)


def _cached(cache: EntityCache, wanted: list[_Wanted], max_age_s: float,
            absent_max_age_s: float) -> tuple[dict[str, dict | None], set[str]]:  # fmt: skip
    """(papers the cache answers: seen within `max_age_s`, or holding the version asked for;
    ids an answer lacked within `absent_max_age_s`)."""
    found: dict[str, dict | None] = {}
    lacked: set[str] = set()
    for item in wanted:
        if item.arxiv_id in found or item.arxiv_id in lacked:
            continue
        paper, age = cache.fresh_age(item.arxiv_id, max_age_s)
        if paper is not None and paper.get("missing") == NOT_IN_ANSWER:
            if age <= absent_max_age_s:
                lacked.add(item.arxiv_id)
                continue
            paper = None  # lacked longer ago: asked again
        elif paper is not None and "missing" in paper:
            found[item.arxiv_id] = None  # refused, recently: not asked again yet
            continue
        if paper is None and item.requested_version is not None:
            known = cache.fresh(item.arxiv_id, float("inf"))
            covered = known is not None and (known.get("version") or 0) >= item.requested_version
            paper = known if covered else None
        if paper is not None:
            found[item.arxiv_id] = paper
    return found, lacked


def _classify(entity_id: str, models: list[str]) -> _Wanted | dict:
    scheme, _, value = entity_id.partition(":")
    if scheme == "arxiv":
        parsed = parse_arxiv_id(value)
        if parsed is None:
            return _invalid(entity_id, models, f"not an arXiv identifier: {shown(value, 80)}")
        return _Wanted(entity_id, models, parsed[0], parsed[1])
    if scheme == "doi":
        match = ARXIV_DOI.fullmatch(value.strip())
        parsed = parse_arxiv_id(_doi_suffix_to_id(match.group(1))) if match else None
        if parsed is not None:
            return _Wanted(entity_id, models, parsed[0], parsed[1], via_doi=value)
        if match:
            message = f"an arXiv DOI of no arXiv identifier: {shown(value, 80)}"
            return _invalid(entity_id, models, message)
        return unresolved(
            "articles",
            entity_id,
            models,
            source="doi",
            reason="no_doi_resolver",
            message=NO_DOI_RESOLVER,
            doi=value,
        )
    return _invalid(entity_id, models, "article ids are 'arxiv:<id>' or 'doi:<doi>'")


def _invalid(entity_id: str, models: list[str], message: str) -> dict:
    return unresolved(
        "articles", entity_id, models, source=SOURCE, reason="invalid_id", message=message
    )


def _doi_suffix_to_id(suffix: str) -> str:
    """DOIs arrive lower-cased: restore an old-style subject class (`math.gt/…` -> `math.GT/…`)."""
    match = re.fullmatch(r"([a-z]+(?:-[a-z]+)?)\.([a-z]{2})(/\d{7}(?:v\d+)?)", suffix)
    return f"{match[1]}.{match[2].upper()}{match[3]}" if match else suffix


def _result(item: _Wanted, paper: dict | None, error: ArxivUnavailable | None) -> dict:
    extra = {"doi_requested": item.via_doi} if item.via_doi else {}
    if item.requested_version is not None:
        extra["requested_version"] = item.requested_version
    if error is not None:
        return unresolved(
            "articles",
            item.entity_id,
            item.models,
            source=SOURCE,
            reason=error.reason,
            message=error.message,
            arxiv_id=item.arxiv_id,
            **extra,
        )
    if paper is None:
        return unresolved(
            "articles",
            item.entity_id,
            item.models,
            source=SOURCE,
            reason="not_found",
            message=NOT_FOUND,
            arxiv_id=item.arxiv_id,
            **extra,
        )
    return entity("articles", item.entity_id, source=SOURCE, **paper, **extra, models=item.models)


class _ArxivFetcher:
    """Sends id_list queries one at a time, `delay_s` apart, retrying transient failures."""

    def __init__(self, endpoint, delay_s, retries, timeout, backoff_s, max_redirects):
        self.endpoint = endpoint.rstrip("/")
        self.delay_s = max(0.0, delay_s)
        self.retries = max(0, retries)
        self.backoff_s = self.delay_s if backoff_s is None else max(0.0, backoff_s)
        # The Hub client's deadline hook: each hop's headers within the answer's deadline, so a
        # chain of slow redirects is bounded like a slow body (read_capped checks the body).
        self.session = httpx2.Client(
            event_hooks={"request": [self._sent], "response": [_within_deadline]},
            follow_redirects=True,
            max_redirects=max(0, max_redirects),
            timeout=timeout,
        )
        self._last_request: float | None = None
        self.requests = 0  # sent, retries included: the `arxiv` budget this job spent
        self.max_bytes, self.deadline_s = FEED_MAX_BYTES, DEADLINE_S

    def fetch(self, ids: list[str]) -> tuple[dict[str, dict], dict[str, str]]:
        """(papers by versionless id, {id: arXiv's error} for the ids it refused) for one batch;
        a 400 (a bad id) is asked again id by id."""
        status, body = self._get(ids)
        if status == 400 and len(ids) > 1:
            found: dict[str, dict] = {}
            refused: dict[str, str] = {}
            for one in ids:
                try:
                    papers, bad = self.fetch([one])
                except ArxivUnavailable as err:
                    log.warning("arXiv id %s: %s", one, err.message)
                    continue
                found.update(papers)
                refused.update(bad)
            return found, refused
        if status == 400 and (error := feed_error(body)) is not None:  # arXiv says: this id
            return {}, {ids[0]: f"{NOT_FOUND}: {shown(error, 200)}"}
        if status != 200:
            raise ArxivUnavailable("malformed", f"arXiv API answered HTTP {status}")
        return parse_feed(body), {}

    def _get(self, ids: list[str]) -> tuple[int, bytes]:
        params = {"search_query": "", "id_list": ",".join(ids), "start": 0, "max_results": len(ids)}
        headers = {"User-Agent": USER_AGENT}
        for attempt in range(self.retries + 1):
            self._pace()
            try:
                status, body = self._answer(params, headers)
            except httpx2.TooManyRedirects:
                raise ArxivUnavailable(
                    "malformed", f"{self.endpoint}: more than {self.session.max_redirects} "
                    "redirects (arxiv.max_redirects)"
                ) from None  # fmt: skip
            except (httpx2.HTTPError, httpx2.InvalidURL, DeadlineExceeded) as err:
                cause = (
                    f"{err} (arxiv.deadline_s)"
                    if isinstance(err, DeadlineExceeded)
                    else type(err).__name__
                )
                problem = ArxivUnavailable(
                    "transient", f"{self.endpoint}: {cause} after {attempt + 1} tries"
                )
            else:
                if status not in RETRY_STATUSES:
                    return status, body
                reason = "rate_limited" if status == 429 else "transient"
                problem = ArxivUnavailable(
                    reason, f"HTTP {status} from the arXiv API after retries"
                )
            if attempt == self.retries:
                raise problem
            wait = self.backoff_s * 2**attempt
            log.warning("arXiv API: %s; retry %d in %.1fs", problem.message, attempt + 1, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _answer(self, params: dict, headers: dict) -> tuple[int, bytes]:
        """(status, body) of one query, the body read within max_bytes (decoded) and the
        deadline; an HTML page (a wrong endpoint) is refused before it is read."""
        deadline = deadline_after(self.deadline_s)
        with self.session.stream(
            "GET", self.endpoint, params=params, headers=headers,
            extensions={DEADLINE: deadline},  # redirects carry it: _within_deadline, read_capped
        ) as response:  # fmt: skip
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind == "text/html" and response.status_code < 500:
                raise ArxivUnavailable(
                    "wrong_endpoint", f"{self.endpoint} answered HTML, not an Atom feed "
                    "(text/html): wrong arxiv.endpoint?"
                )  # fmt: skip
            try:
                body, _ = read_capped(response.iter_bytes(64 * 1024), self.max_bytes,
                                      deadline, deadline_s=self.deadline_s)  # fmt: skip
            except TooLarge as err:
                raise ArxivUnavailable("malformed", f"{self.endpoint}: {err}") from None
        return response.status_code, body

    def close(self) -> None:
        self.session.close()

    def _sent(self, _request) -> None:
        self.requests += 1  # each redirect hop too: the `arxiv` budget counts what arXiv gets

    def _pace(self) -> None:
        if self._last_request is not None:
            wait = self._last_request + self.delay_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_request = time.monotonic()


def parse_feed(content: bytes) -> dict[str, dict]:
    """An arXiv API Atom feed -> `{versionless id: paper fields}`; error entries are dropped."""
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as err:
        raise ArxivUnavailable("malformed", f"unreadable Atom feed: {err}") from None
    if root is None or root.tag != f"{{{NS['atom']}}}feed":
        raise ArxivUnavailable("malformed", "the arXiv API answer is not an Atom feed")
    papers = {}
    for entry in root.iterfind("atom:entry", NS):
        paper = _paper(entry)
        if paper is not None:
            papers[paper["arxiv_id"]] = paper
    return papers


def feed_error(content: bytes) -> str | None:
    """The message of arXiv's error entry (`<id>…/api/errors#…</id>`) in a feed, if any."""
    try:
        root = etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError:
        return None
    for entry in root.iterfind("atom:entry", NS) if root is not None else ():
        if "/api/errors" in (_text(entry, "atom:id") or ""):
            return _squash(_text(entry, "atom:summary")) or "error"
    return None


def _parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def _paper(entry) -> dict | None:
    entry_id = _text(entry, "atom:id") or ""
    parsed = parse_arxiv_id(entry_id.split("arxiv.org/abs/")[-1]) if "/abs/" in entry_id else None
    if parsed is None:  # arXiv's error entries (…/api/errors#…) and anything unrecognisable
        return None
    arxiv_id, version = parsed
    links = {"abs": f"https://arxiv.org/abs/{arxiv_id}"}
    for link in entry.iterfind("atom:link", NS):
        href, title, rel = link.get("href"), link.get("title"), link.get("rel")
        if title == "pdf":
            links["pdf"] = href
        elif title == "doi":
            links["doi"] = href
        elif rel == "alternate":
            links["abs_version"] = href
    primary = entry.find("arxiv:primary_category", NS)
    categories = [cat.get("term") for cat in entry.iterfind("atom:category", NS) if cat.get("term")]
    return {
        "arxiv_id": arxiv_id,
        "version": version,
        "title": _squash(_text(entry, "atom:title")),
        "authors": [
            _squash(_text(author, "atom:name"))
            for author in entry.iterfind("atom:author", NS)
            if _text(author, "atom:name")
        ],
        "abstract": _squash(_text(entry, "atom:summary")),
        "primary_category": primary.get("term") if primary is not None else None,
        "categories": categories,
        "published": _text(entry, "atom:published"),
        "updated": _text(entry, "atom:updated"),
        "doi": _text(entry, "arxiv:doi"),
        "journal_ref": _squash(_text(entry, "arxiv:journal_ref")),
        "comment": _squash(_text(entry, "arxiv:comment")),
        "links": links,
    }


def _text(element, path: str) -> str | None:
    found = element.find(path, NS)
    return found.text if found is not None and found.text is not None else None


def _squash(text: str | None) -> str | None:
    """arXiv wraps titles and abstracts at ~80 columns: fold the line breaks back into spaces."""
    return " ".join(text.split()) if text else None
