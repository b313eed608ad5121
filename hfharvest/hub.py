"""The one Hub client: endpoint, token, timeouts, retries and rate limiting in one place.

huggingface_hub's `hf_api` (HfApi and its record classes, 0.05 s of a job's start) is imported
when first needed: for a record not of the plain shape (listed.plain_model; a card with
`model-index`, say) or a dataset's. A job whose records are all plain (the ancestors job asking
for bases) never loads it, and a fetch sends its first requests before it does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar
from urllib.parse import parse_qs, parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import httpx2
from huggingface_hub import constants as hf_constants
from huggingface_hub import hf_hub_url
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import (
    build_hf_headers,
    get_session,
    hf_raise_for_status,
    set_client_factory,
)
from huggingface_hub.utils._datetime import parse_datetime
from huggingface_hub.utils._http import hf_request_event_hook

from . import answers, errors, jsonio, redact
from .answers import DeadlineExceeded, TooDeep, TooLarge
from .errors import shown
from .ids import InvalidModelId, is_model_id, validate_model_id
from .listed import ListedModel, plain_model
from .ratelimit import MAX_WAIT_S, RateLimiter, WaitTooLong
from .runconfig import REPLICA_URL_ENV, ConfigError, check_endpoint, check_token  # noqa: F401 - callers import them here

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import DatasetInfo, ModelInfo

log = logging.getLogger(__name__)

# No request to any host but the endpoint. With telemetry on, huggingface_hub runs its AI-agent
# detection each time it builds a User-Agent (utils/_headers.py), and that fetches
# `{HF_ENDPOINT}/api/agent-harnesses` once per process (utils/_detect_agent.py); its telemetry
# pings go out the same way. HF_HUB_DISABLE_TELEMETRY is the library's documented switch for
# both; it is read when huggingface_hub.constants is imported, so the constant is set as well
# (huggingface_hub is imported above), and the variable for any process we start.
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
hf_constants.HF_HUB_DISABLE_TELEMETRY = True

REPLICA = "replica"
# What one listing page or one model_info call brings, so a model costs no further API call.
MODEL_FIELDS = [
    "author", "sha", "lastModified", "createdAt", "downloads", "likes", "library_name",
    "pipeline_tag", "tags", "cardData", "gated", "disabled", "safetensors",
]  # fmt: skip
# The repo's file names (`expand=siblings`, hub-docs api.md): asked in the listing by the bulk
# bootstrap, so that a model whose files hold no README.md costs no README request.
SIBLINGS = "siblings"
README_FILE = "README.md"
README_MAX_BYTES = 5 * 1024 * 1024
DEADLINE = "hfharvest_deadline"  # the answer's deadline, in its requests' extensions (hops too)
# An API answer (a listing page of 1000 models with their cardData is a few MB) beyond this is
# not metadata: it is refused, never held in memory.
JSON_MAX_BYTES = 64 * 1024 * 1024
# json.loads makes Python objects of an answer: up to ~25 times its bytes (`[{},{},…]`). It holds
# the GIL, so two parses never ran side by side anyway: answers over this size are parsed one at
# a time in the process, and a thread's big answer never adds its peak to another's.
LARGE_PARSE_BYTES = 1024 * 1024
_LARGE_PARSE = threading.Lock()
# A listing page up to this size is parsed whole, an entry at a time (answers.parsed_array: its
# objects, 5 to 25 times its bytes, held together); a larger one is split, and each entry parsed
# as it is used.
PARSED_PAGE_MAX_BYTES = 4 * 1024 * 1024
ERROR_BODY_MAX_BYTES = 64 * 1024  # an error answer is read this far, for its message
# One answer, body included, within this; a READMEs or a listing page of 1000 models comes in
# seconds, so two minutes is generous and still ends a body trickled at 1 byte/s.
DEADLINE_S = 120.0
INVALID_BODY_RETRIES = 2  # a body that is not JSON: asked again this often, then `malformed`
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
TRANSIENT_EXCEPTIONS = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.ProtocolError,
                        httpx2.ProxyError)  # fmt: skip
LISTING = "listing:latest"  # the `model_id` of a failure of the latest-models listing itself
DATASETS_LISTING = "listing:datasets"

T = TypeVar("T")

_LIMITER = RateLimiter()


def process_rate_limiter() -> RateLimiter:
    return _LIMITER


ResponseTooLarge = TooLarge  # an answer over its cap (README answers are cut instead)


# The origin (scheme://host:port) that may receive the token, set around each HubClient call.
_TOKEN_ORIGIN: ContextVar[str | None] = ContextVar("hfharvest_token_origin", default=None)


def origin_of(url) -> str:
    parts = urlsplit(str(url))
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _guard_token(request) -> None:
    """Within a HubClient call, the token goes to the configured endpoint and nowhere else.

    httpx already drops it on a redirect to another origin; this also covers any other way a
    request could leave for another host (a `Link` header, a redirect httpx deems same-site).
    """
    allowed = _TOKEN_ORIGIN.get()
    if allowed is None or "authorization" not in request.headers:
        return
    if origin_of(request.url) != allowed:
        del request.headers["authorization"]
        log.warning("the Hub token is not sent to %s: it goes to %s only", origin_of(request.url),
                    allowed)  # fmt: skip


def _cap_api_answer(response) -> None:
    """Refuse an API answer whose announced size is over the cap, before reading it.

    Files (READMEs under /resolve/, or wherever a resolve redirects) are cut while streamed.
    """
    if not urlsplit(str(response.request.url)).path.startswith("/api/"):
        return
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > JSON_MAX_BYTES:
        response.close()
        raise ResponseTooLarge(f"an answer of {length} bytes is over the {JSON_MAX_BYTES}-byte cap")


def _within_deadline(response) -> None:
    """Each hop's headers in within the answer's deadline (`hub.deadline_s`): a chain of slow
    redirects is bounded like a slow body (answers.read_capped checks the body's reads)."""
    deadline = response.request.extensions.get(DEADLINE)
    if deadline is not None and time.monotonic() > deadline:
        response.close()
        raise DeadlineExceeded("no complete answer within the deadline (headers or redirects)")


def _client_factory() -> httpx2.Client:
    # huggingface_hub's own client, plus our limiter, the token guard, the size cap, the deadline.
    return httpx2.Client(
        event_hooks={
            "request": [hf_request_event_hook, _guard_token, _LIMITER.before_request],
            "response": [_LIMITER.after_response, _cap_api_answer, _within_deadline],
        },
        follow_redirects=True,
        timeout=None,
    )


set_client_factory(_client_factory)


def resolve_endpoint(endpoint: str) -> str:
    """`replica` means the replica hub the workflow started; its URL comes from the environment."""
    if endpoint != REPLICA:
        return check_endpoint(endpoint).rstrip("/")
    url = os.environ.get(REPLICA_URL_ENV)
    if not url:
        raise RuntimeError(
            f"hub.endpoint is 'replica' but {REPLICA_URL_ENV} is not set: "
            "run through the workflow (it starts the replica) or start one with "
            "`python -m hfharvest.replica` and export its URL"
        )
    return check_endpoint(url, REPLICA_URL_ENV).rstrip("/")


def token_from_env(token_env: str | None) -> str | None:
    """The token in the environment variable `token_env` (None when unset or empty).

    A malformed one is a ConfigError naming the variable, raised before any request.
    """
    token = os.environ.get(token_env) or None if token_env else None
    if token is not None:
        check_token(token, token_env)
    return token


def classify(item_id: str, err: BaseException) -> errors.HarvestError:
    """Map a client exception to our outcome classes (the message never carries headers)."""
    if isinstance(err, errors.HarvestError):
        return err
    if isinstance(err, TooLarge | TooDeep):
        return errors.Malformed(item_id, str(err))
    if isinstance(err, RecursionError):
        return errors.Malformed(item_id, "answer nested too deeply to read")
    if isinstance(err, WaitTooLong):
        return errors.RateLimited(item_id, str(err))
    if isinstance(err, DeadlineExceeded):
        return errors.Transient(item_id, f"{err} (hub.deadline_s)")
    if isinstance(err, httpx2.DecodingError):  # a README's body as much as a JSON one
        return errors.InvalidBody(item_id, "answer's body cannot be decoded (DecodingError)")
    if isinstance(err, json.JSONDecodeError | UnicodeDecodeError | answers.BrokenArray):
        return errors.InvalidBody(item_id, f"answer is not valid JSON ({type(err).__name__})")
    if isinstance(err, httpx2.TooManyRedirects):
        return errors.Malformed(item_id, "too many redirects (a redirect loop?)")
    if isinstance(err, httpx2.UnsupportedProtocol | httpx2.InvalidURL):
        return errors.Malformed(item_id, f"redirected to an unusable URL ({type(err).__name__})")
    if isinstance(err, GatedRepoError):
        return errors.Gated(item_id, "gated repo: access must be requested on the Hub")
    if isinstance(err, DisabledRepoError):
        return errors.Disabled(item_id, "repo disabled on the Hub")
    if isinstance(err, RepositoryNotFoundError | RevisionNotFoundError | EntryNotFoundError):
        return errors.NotFound(item_id, f"not found on the Hub ({type(err).__name__})")
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if err.response is not None else None
        if status == 429:
            return errors.RateLimited(item_id, "rate limited (HTTP 429) after retries")
        if status in RETRY_STATUSES or (status or 0) >= 500:
            return errors.Transient(item_id, f"HTTP {status} after retries")
        return errors.Malformed(item_id, f"HTTP {status}")
    if isinstance(err, httpx2.ConnectError | httpx2.ConnectTimeout):
        return errors.Unreachable(item_id, f"cannot connect: {_connect_cause(err)}")
    if isinstance(err, TRANSIENT_EXCEPTIONS):
        return errors.Transient(item_id, f"{type(err).__name__} after retries")
    if isinstance(err, InvalidModelId):
        return errors.InvalidId(item_id, str(err))
    if isinstance(err, ValueError | KeyError | TypeError):
        return errors.Malformed(item_id, f"unusable answer: {type(err).__name__}: {err}")
    raise err


def _connect_cause(err: BaseException) -> str:
    if isinstance(err, httpx2.ConnectTimeout):
        return "connect timeout"
    text = str(err).lower()
    for needle, cause in (
        ("refused", "connection refused"),
        ("name or service", "host name not found"),
        ("nodename", "host name not found"),
        ("unreachable", "network unreachable"),
    ):
        if needle in text:
            return cause
    return type(err).__name__


def _retry_after(err: BaseException) -> float | None:
    response = getattr(err, "response", None)
    if response is None:
        return None
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class HubClient:
    """Everything hfharvest asks of the Hub, through huggingface_hub against one endpoint.

    Every wait and every answer is bounded: `timeout` per read, `deadline_s` per answer (body
    included), `max_wait_s` for any wait the Hub announces, `json_max_bytes` and
    `readme_max_bytes` on decoded bodies.
    """

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_wait_s: float = 300.0,
        deadline_s: float = DEADLINE_S,
        readme_max_bytes: int = README_MAX_BYTES,
        json_max_bytes: int = JSON_MAX_BYTES,
        token_env: str | None = None,
    ):
        self.endpoint = resolve_endpoint(endpoint)
        self.token_env = token_env  # named in messages about the token, never its value
        if token:
            check_token(token, token_env or "the token given")
            redact.register(token)
        self._token = token or False  # False: never pick up a token from elsewhere
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.deadline_s = deadline_s
        self.readme_max_bytes = readme_max_bytes
        self.json_max_bytes = json_max_bytes

    @property
    def authenticated(self) -> bool:
        return bool(self._token)

    @cached_property
    def api(self) -> HfApi:
        """huggingface_hub's client on this endpoint with this token (made when first asked)."""
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.endpoint, token=self._token, library_name="hfharvest")

    def __repr__(self) -> str:  # never shows the token
        return f"HubClient(endpoint={self.endpoint!r}, authenticated={self.authenticated})"

    # -- calls -------------------------------------------------------------------------------
    def list_latest(self, limit: int, offset: int = 0) -> Iterator[ModelInfo]:
        """The `limit` most recently modified models after the first `offset`.

        Raises the first HarvestError `iter_latest` meets (a bad entry, or the listing breaking).
        """
        for item in self.iter_latest(limit, offset):
            if isinstance(item, errors.HarvestError):
                raise item
            yield item

    def iter_latest(self, limit: int, offset: int = 0, siblings: bool = False
                    ) -> Iterator[ModelInfo | errors.HarvestError]:  # fmt: skip
        """The latest models, page by page, each page retried; outcomes instead of exceptions.

        With `siblings`, each model comes with its file names (see readme_listed); a page that
        is over the answer cap with them is asked again without them (see _listing_page).

        An entry that is not a usable model (unreadable, nested too deep, not a model) yields
        its HarvestError and the listing goes on; a page that cannot be had after the retries
        ends the listing with a HarvestError whose id is LISTING, and so does a paging loop (a
        next page already read) or a page with nothing new. A model is yielded once, however
        often pages repeat it. Pages are followed only on the endpoint's own host.
        """
        if limit <= 0:
            return
        url: str | None = f"{self.endpoint}/api/models"
        params: dict | None = {
            "sort": "lastModified",
            "limit": offset + limit,
            "expand": [*MODEL_FIELDS, *([SIBLINGS] if siblings else [])],
        }
        position = 0  # distinct entries seen, offset included
        pages_read: set[str] = set()
        seen: set[str] = set()
        while url is not None and position < offset + limit:
            got = max(0, position - offset)
            if _page_keys(url) & pages_read:
                cause = f"the next page ({shown(url, 160)}) was already read: a paging loop"
                yield _listing_stopped(got, limit, cause)
                return
            try:
                page, url, page_url = self.with_retry(
                    LISTING, lambda u=url, p=params: self._listing_page(u, p, siblings)
                )
            except errors.HarvestError as err:
                yield _listing_stopped(got, limit, err.message, type(err))
                return
            pages_read |= _page_keys(page_url)
            params = None  # the next page's URL carries the query
            if not isinstance(page, list):
                cause = f"a listing page is a {type(page).__name__}, not a list of models"
                yield _listing_stopped(got, limit, cause)
                return
            if not page:  # an empty page with a next link would loop forever
                return
            new = 0
            for entry in page:
                where = f"listing entry {position + 1}"
                if type(entry) is Parsed:
                    item = _model_info(entry.value, where)
                else:
                    item = _listing_entry(*entry, where)
                model_id = getattr(item, "id", None)
                if model_id in seen:
                    continue  # the listing moved under us, or repeats itself: once is enough
                if model_id is not None:
                    seen.add(model_id)
                position, new = position + 1, new + 1
                if position > offset:
                    yield item
                if position >= offset + limit:
                    return
            got = max(0, position - offset)
            if not new:
                cause = "a listing page brought no new model (a paging loop?)"
                yield _listing_stopped(got, limit, cause)
                return
            if url is not None and origin_of(url) != origin_of(self.endpoint):
                cause = f"next listing page on another host ({origin_of(url)}): not followed"
                yield _listing_stopped(got, limit, cause)
                return

    def model_info(self, model_id: str) -> ModelInfo | ListedModel:
        """The model's record with its file names: a model whose files hold no README.md then
        costs no README request (readme_listed)."""
        validate_model_id(model_id)
        url = f"{self.endpoint}/api/models/{quote(model_id, safe='/')}"
        data = self.get_json(url, model_id, {"expand": [*MODEL_FIELDS, SIBLINGS]})
        info = _model_info(data, model_id, requested=model_id)
        if isinstance(info, errors.HarvestError):
            raise info
        return info

    def dataset_info(self, dataset_id: str) -> DatasetInfo:
        """The Hub's dataset record, read within the caps (HfApi.dataset_info reads it whole)."""
        validate_model_id(dataset_id)  # dataset ids follow the model id grammar
        data = self.get_json(f"{self.endpoint}/api/datasets/{quote(dataset_id, safe='/')}",
                             dataset_id)  # fmt: skip
        if not isinstance(data, dict):
            raise errors.Malformed(dataset_id, f"a {type(data).__name__}, not a dataset record")
        from huggingface_hub.hf_api import DatasetInfo

        return DatasetInfo(**data)

    def list_datasets(
        self, page_size: int = 1000, expand: Sequence[str] = ("sha",), max_pages: int | None = None
    ) -> Iterator[dict]:
        """Every dataset the Hub lists with the `expand` fields (`GET /api/datasets?expand=`),
        pages followed by their `Link: rel="next"` on the endpoint's own host (the Hub's
        documented paging). An entry without a usable id or sha is skipped; an empty page ends
        the listing. A page that cannot be had, repeats itself (its cursor or its entries) or
        leaves the host, or a page past `max_pages`, raises a HarvestError (the caller keeps what
        was listed and falls back)."""
        url: str | None = f"{self.endpoint}/api/datasets"
        params: dict | None = {"limit": page_size, "expand": list(dict.fromkeys(["sha", *expand]))}
        pages_read: set[str] = set()
        bodies_read: set[bytes] = set()  # a digest per page: a cursor that moves, pages that don't
        while url is not None:
            if _page_keys(url) & pages_read or origin_of(url) != origin_of(self.endpoint):
                raise errors.Malformed(DATASETS_LISTING, f"paging loop or foreign host at {url}")
            if max_pages is not None and len(bodies_read) >= max_pages:
                raise errors.Malformed(DATASETS_LISTING, f"more than {max_pages} pages: stopped")
            page, url, page_url = self.with_retry(
                DATASETS_LISTING, lambda url=url, params=params: self._get_page(url, params)
            )
            pages_read |= _page_keys(page_url)
            params = None
            if not isinstance(page, list):
                raise errors.Malformed(DATASETS_LISTING, "a listing page is not a list")
            if not page:
                return
            digest = hashlib.sha256(b"\0".join(raw for raw, _ in page)).digest()
            if digest in bodies_read:
                page_number = len(bodies_read) + 1
                raise errors.Malformed(DATASETS_LISTING, f"page {page_number} repeats an earlier "
                                       "page (a paging loop)")  # fmt: skip
            bodies_read.add(digest)
            for raw, depth in page:
                try:
                    entry = answers.loads(raw) if depth <= answers.MAX_DEPTH else None
                except ValueError:  # one unreadable entry costs itself only
                    continue
                usable = isinstance(entry, dict) and is_model_id(entry.get("id"))
                if usable and isinstance(entry.get("sha"), str):
                    yield entry

    def readme(self, model_id: str, revision: str | None) -> tuple[str | None, bool]:
        """The README text at `revision` (None if the repo has none) and whether it was cut.

        A README that is not text (NUL bytes) is `malformed`; invalid UTF-8 is replaced (U+FFFD).
        """
        validate_model_id(model_id)
        url = hf_hub_url(model_id, "README.md", revision=revision, endpoint=self.endpoint)
        text, truncated = self.with_retry(model_id, lambda: self._get_text(url))
        if text is not None and "\x00" in text:
            raise errors.Malformed(model_id, "README is binary (NUL bytes), not text")
        if text is not None and "\ufffd" in text:
            log.warning("%s: README is not valid UTF-8; undecodable bytes replaced", model_id)
        return text, truncated

    def get_json(self, url: str, item_id: str, params: dict | None = None, *,
                 missing_ok: bool = False, max_bytes: int | None = None):  # fmt: skip
        """A JSON answer from this endpoint, with retries and within the caps and deadline
        (`max_bytes`, when smaller than `json_max_bytes`, caps this answer).

        With `missing_ok`, a 404 is None instead of not_found.
        """
        cap = self.json_max_bytes if max_bytes is None else min(max_bytes, self.json_max_bytes)

        def call():
            with self._answer(url, params, missing_ok=missing_ok) as response:
                if response is None:
                    return None
                body, _ = self._read(response, cap)
            if len(body) <= LARGE_PARSE_BYTES:
                return answers.loads(body)
            with _LARGE_PARSE:
                return answers.loads(body)

        return self.with_retry(item_id, call)

    def download(self, url: str, path: Path, item_id: str, *, max_bytes: int,
                 deadline_s: float, deadline_key: str = "hub.deadline_s") -> None:  # fmt: skip
        """The file at `url` (on this endpoint) written to `path` atomically, with retries,
        within `max_bytes` decoded bytes and `deadline_s` for the whole answer.

        A plain GET, not huggingface_hub's download machinery: that names its cache files after
        the server's ETag (a hostile `../` lands outside the cache) and hands Xet transfers to
        hosts the server names, outside this client's token guard and deadline.
        """

        def call():
            try:
                with self._answer(url, None, wants="a file", deadline_s=deadline_s) as response:
                    deadline = response.request.extensions.get(DEADLINE)
                    body = answers.bounded_chunks(response.iter_bytes(), max_bytes, deadline,
                                                  deadline_s)  # fmt: skip
                    with jsonio.atomic_writer(path, "wb") as out:
                        for chunk in body:
                            out.write(chunk)
            except DeadlineExceeded as err:  # headers, redirects or body: named by its key
                raise errors.Transient(item_id, f"{err} ({deadline_key})") from None

        self.with_retry(item_id, call)

    # -- one answer ----------------------------------------------------------------------------
    def _headers(self) -> dict:
        return build_hf_headers(token=self._token, library_name="hfharvest")

    @contextmanager
    def _answer(self, url: str, params: dict | None, *, missing_ok: bool = False,
                wants: str = "JSON", deadline_s: float | None = None):  # fmt: skip
        """The streamed answer of a GET, once its status and type say it is what we asked for.

        Errors are read (within ERROR_BODY_MAX_BYTES) and raised as huggingface_hub raises them,
        except those that are about the endpoint or token rather than the item: a 401 that is no
        gated-repo or missing-repo answer (`unauthorized`) and HTML where the Hub answers JSON
        or a file (`wrong_endpoint`).
        """
        deadline = answers.deadline_after(deadline_s or self.deadline_s)
        with get_session().stream(
            "GET",
            url,
            params=params,
            headers=self._headers(),
            timeout=self.timeout,
            extensions={DEADLINE: deadline},  # redirects carry it: _within_deadline, _read
        ) as response:
            status = response.status_code
            if status == 401 and response.headers.get("X-Error-Code") not in _REPO_401_CODES:
                raise errors.Unauthorized("", self._refused_message())
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind == "text/html" and status < 500 and status != 429:
                raise errors.WrongEndpoint(
                    "", f"{self.endpoint} answered HTML, not {wants} ({kind}): "
                    "wrong endpoint or path prefix?"
                )  # fmt: skip
            if status >= 400:
                body, _ = self._read(response, ERROR_BODY_MAX_BYTES, cut=True)
                if missing_ok and status == 404:
                    yield None
                    return
                # huggingface_hub reads the error's body for its message: hand it what was read.
                read = httpx2.Response(
                    status, headers=response.headers, content=body, request=response.request
                )
                hf_raise_for_status(read)
            yield response

    def _read(self, response, cap: int, *, cut: bool = False) -> tuple[bytes, bool]:
        """The body within `cap` decoded bytes and the answer's deadline; errors name the host."""
        deadline = response.request.extensions.get(DEADLINE)
        try:
            return answers.read_capped(
                response.iter_bytes(), cap, deadline, cut=cut, deadline_s=self.deadline_s
            )
        except (TooLarge, DeadlineExceeded) as err:
            raise type(err)(f"{self.endpoint}: {err}") from None

    def _refused_message(self) -> str:
        if self._token:
            where = self.token_env or "the token given"
            return f"the Hub at {self.endpoint} refused the token in {where} (401)"
        where = f"{self.token_env} is empty" if self.token_env else "none was given"
        return f"the Hub at {self.endpoint} asks for a token (401) and {where}"

    def _get_page(self, url: str, params: dict | None, parsed: bool = False):
        """(raw entries with their depth, next page URL, this page's URL) of a listing page;
        with `parsed`, the entries of a plain page come parsed (see answers.parsed_array), each
        a Parsed, and only those of another page raw.

        Entries are parsed one by one later, so that one bad entry costs itself only; a body
        that is no JSON array is parsed whole (an error object, or not JSON: retried).
        """
        with self._answer(url, params) as response:
            body, _ = self._read(response, self.json_max_bytes)
            next_page = response.links.get("next", {}).get("url")
            page_url = str(response.url)
        if next_page:  # RFC 8288 allows a reference relative to the page: it is on this host
            next_page = urljoin(page_url, next_page)
        plain = parsed and len(body) <= PARSED_PAGE_MAX_BYTES
        if plain and (values := answers.parsed_array(body)) is not None:
            return [Parsed(value) for value in values], next_page, page_url
        entries = answers.split_array(body)
        return (list(entries) if entries is not None else answers.loads(body)), next_page, page_url

    def _listing_page(self, url: str, params: dict | None, siblings: bool):
        """_get_page; with `siblings`, a page over the answer cap (a few repos with very many
        files) is asked again without them, so that its models' READMEs are fetched one by one
        rather than the listing stopping, and the page after it asks for them again."""
        if not siblings:
            return self._get_page(url, params, parsed=True)
        try:
            return self._get_page(url, params, parsed=True)
        except TooLarge as err:
            log.warning("%s: this listing page asked again without %s", err, SIBLINGS)
        page, next_page, page_url = self._get_page(*_with_siblings(url, params, False), parsed=True)
        return page, next_page and _with_siblings(next_page, None, True)[0], page_url

    def _get_text(self, url: str) -> tuple[str | None, bool]:
        try:
            with self._answer(url, None, wants="a file") as response:
                body, truncated = self._read(response, self.readme_max_bytes, cut=True)
        except EntryNotFoundError:
            return None, False  # a repo without a README is a fact, not a failure
        return _decode(_cut_utf8(body) if truncated else body), truncated

    # -- retries -----------------------------------------------------------------------------
    def with_retry(self, item_id: str, call: Callable[[], T]) -> T:
        """Retry 429, 5xx, timeouts, resets and bodies that are not JSON; else raise the outcome.

        Within the call, the token may go to this client's endpoint only (see _guard_token), and
        no wait beyond max_wait_s is taken: an announced one fails the call as `rate_limited`.
        Outcomes about the endpoint (unreachable, unauthorized) name it.
        """
        invalid_bodies = 0
        scope = _TOKEN_ORIGIN.set(origin_of(self.endpoint))
        cap = MAX_WAIT_S.set(self.max_wait_s)
        try:
            for attempt in range(self.max_retries + 1):
                try:
                    return call()
                except Exception as err:
                    outcome = self._outcome(item_id, err)
                    invalid = isinstance(outcome, errors.InvalidBody)
                    invalid_bodies += invalid
                    retryable = isinstance(outcome, errors.Transient | errors.RateLimited) or (
                        invalid and invalid_bodies <= INVALID_BODY_RETRIES
                    )
                    hinted = _retry_after(err)
                    if hinted is not None and hinted > self.max_wait_s:
                        raise errors.RateLimited(
                            item_id, str(WaitTooLong(hinted, self.max_wait_s, "Retry-After"))
                        ) from None
                    if (
                        isinstance(err, WaitTooLong)
                        or not retryable
                        or (attempt == self.max_retries)
                    ):
                        if invalid:
                            tally = f" ({invalid_bodies} of {attempt + 1} answers)"
                            outcome = type(outcome)(item_id, outcome.message + tally)
                        if isinstance(outcome, errors.Unreachable):
                            tries = f" after {attempt + 1} tries"
                            outcome = type(outcome)(item_id, outcome.message + tries)
                        raise outcome from None
                    wait = self._wait_s(err, attempt)
                    log.warning(
                        "%s: %s, retry %d in %.1fs", item_id, outcome.message, attempt + 1, wait
                    )
                    time.sleep(wait)
        finally:
            MAX_WAIT_S.reset(cap)
            _TOKEN_ORIGIN.reset(scope)
        raise AssertionError("unreachable")

    def _outcome(self, item_id: str, err: BaseException) -> errors.HarvestError:
        outcome = classify(item_id, err)
        if not outcome.item_id:  # raised in _answer, before the item was known
            outcome = type(outcome)(item_id, outcome.message)
        if isinstance(outcome, errors.Unreachable):
            cause = outcome.message.removeprefix("cannot connect: ")
            outcome = errors.Unreachable(item_id, f"cannot reach {self.endpoint}: {cause}")
        return outcome

    def _wait_s(self, err: BaseException, attempt: int) -> float:
        hinted = _retry_after(err)
        if hinted is not None:
            return min(hinted + random.uniform(0, 0.5), self.max_wait_s)
        return min(self.backoff_s * 2**attempt * random.uniform(0.5, 1.0), self.max_wait_s)


# A 401 with one of these codes is about the repo (gated, or missing/private when anonymous);
# any other 401 is about the token.
_REPO_401_CODES = {"GatedRepo", "RepoNotFound", "RevisionNotFound", "EntryNotFound"}


def _listing_stopped(got: int, limit: int, cause: str, kind=errors.Malformed):
    return kind(LISTING, f"listing stopped after {got} of {limit} models: {cause}")


def _page_keys(url: str) -> set[str]:
    """What identifies a listing page: its URL with the query in a canonical order, and its
    cursor (a cursor seen again is the same page, whatever else the URL says)."""
    parts = urlsplit(str(url))
    query = "&".join(sorted(parts.query.split("&")))
    cursors = {f"cursor={value}" for value in parse_qs(parts.query).get("cursor", [])}
    return {f"{origin_of(url)}{parts.path}?{query}", *cursors}


def _with_siblings(url: str, params: dict | None, on: bool) -> tuple[str, dict | None]:
    """The listing request (URL and params, or a next-page URL that carries its query) with or
    without `siblings` among its expand fields (`expand=a&expand=b` or `expand=a,b`)."""
    if params is not None:
        fields = [field for field in params["expand"] if field != SIBLINGS]
        return url, {**params, "expand": [*fields, *([SIBLINGS] if on else [])]}
    parts, pairs = urlsplit(url), []
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key.startswith("expand"):
            value = ",".join(field for field in value.split(",") if field != SIBLINGS)
            if not value:
                continue
        pairs.append((key, value))
    pairs += [("expand", SIBLINGS)] if on else []
    return urlunsplit(parts._replace(query=urlencode(pairs))), None


def readme_listed(info: ModelInfo) -> bool | None:
    """Whether the repo's files (the listing's `siblings`) hold a README.md; None: not known."""
    files = info.siblings
    return None if files is None else any(f.rfilename == README_FILE for f in files)


def _file_names(siblings: object) -> list[dict] | None:
    """The listed files as `{"rfilename": name}` (what readme_listed needs: sizes, blob ids and
    LFS details dropped, so that an odd one cannot make the model unusable); None: not listed,
    or not a list of named files (then nothing is concluded from them)."""
    if not isinstance(siblings, list):
        return None
    names = [entry.get("rfilename") if isinstance(entry, dict) else None for entry in siblings]
    if not all(isinstance(name, str) for name in names):
        return None
    return [{"rfilename": name} for name in names]


class Parsed(NamedTuple):
    """A listing entry answers.parsed_array read (a raw one is `(bytes, depth)`)."""

    value: object


def _listing_entry(raw: bytes, depth: int, where: str):
    """A ModelInfo from one raw listing entry, or the HarvestError for that entry alone."""
    if depth > answers.MAX_DEPTH:
        message = f"{where}: nested {depth} levels deep (over {answers.MAX_DEPTH}): skipped"
        return errors.Malformed(_unreadable_id(raw, where), message)
    try:
        data = answers.json_value(raw)
    except (ValueError, RecursionError) as err:
        message = f"{where}: not valid JSON ({type(err).__name__}): skipped"
        return errors.Malformed(_unreadable_id(raw, where), message)
    return _model_info(data, where)


def _unreadable_id(raw: bytes, where: str) -> str:
    """The id an unreadable entry's failure names: the model's if its text names a valid one."""
    named = answers.entry_id(raw)
    return named if is_model_id(named) else where


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _cut_utf8(data: bytes) -> bytes:
    """`data` without a multi-byte character cut in two at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back
            continue
        width = 1 if byte < 0x80 else 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2
        return data[:-back] if width > back else data
    return data


def _model_info(data: object, where: str, requested: str | None = None):
    """A ModelInfo from an API body (a ListedModel, its attributes read without it, for an
    entry of the plain shape), or the HarvestError that says why it is unusable.

    The record's id must be a valid Hub id: it becomes URLs and file names later.
    """
    item_id = requested or where
    if not isinstance(data, dict):
        return errors.Malformed(item_id, f"{where}: a {type(data).__name__}, not a model record")
    model_id = data.get("id")
    if not is_model_id(model_id):
        if requested is not None:
            message = f"the Hub answered with id {shown(model_id)}, not a valid model id"
            return errors.Malformed(requested, message)
        named = model_id[:200] if isinstance(model_id, str) else shown(model_id)
        return errors.InvalidId(named, f"{where}: not a valid model id: {shown(model_id)}")
    file_names = _file_names(data.get("siblings"))
    return plain_model(data, file_names) or _read_by_model_info(data, file_names)


def _read_by_model_info(data: dict, file_names: list[dict] | None):
    """huggingface_hub's ModelInfo of a record of any shape, without the values it raises on
    (said in `_hfharvest_dropped`), or a `malformed` HarvestError."""
    from huggingface_hub.hf_api import ModelInfo

    fields, dropped = _tolerated(data)
    try:
        info = ModelInfo(**{**fields, "siblings": file_names})
        info._hfharvest_dropped = dropped  # said by model_info_to_dict, the rest kept
        return info
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        return errors.Malformed(
            data["id"], f"unusable record: {type(err).__name__}: {shown(str(err))}"
        )


def _tolerated(data: dict) -> tuple[dict, list[str]]:
    """The record without the values ModelInfo raises on (a date that is not the Hub's
    `%Y-%m-%dT%H:%M:%S.%fZ`, a `safetensors` that is no mapping of counts), and what was dropped:
    one odd field costs that field, not the model (it was `malformed`, the model lost)."""
    fields, dropped = dict(data), []
    for key in ("lastModified", "createdAt"):
        if (value := fields.get(key)) is not None and not _is_hub_date(value):
            dropped.append(f"{key} {shown(value, 40)} is no date: dropped")
            fields[key] = None
    counts = fields.get("safetensors")
    if counts and not (
        isinstance(counts, dict)
        and isinstance(counts.get("parameters"), dict)
        and "total" in counts
    ):
        dropped.append(f"safetensors {shown(counts, 40)} is not a mapping of counts: dropped")
        fields["safetensors"] = None
    return fields, dropped


# The Hub's dates, plain ASCII digits: what parse_datetime reads whenever the date exists.
_HUB_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?Z"
)


def _is_hub_date(value) -> bool:
    """Whether huggingface_hub's parse_datetime (which ModelInfo calls) reads `value`. A date
    in the Hub's own form is checked without it: its strptime was a tenth of the listing's CPU,
    and ModelInfo runs it again; any other value is left to parse_datetime to judge."""
    if isinstance(value, str) and (match := _HUB_DATE.fullmatch(value)):
        with suppress(ValueError):
            datetime(*map(int, match.groups()))
            return True
    try:
        parse_datetime(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


_COMMIT_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # git's SHA-1 (or SHA-256) in hex
# Fields whose type we know; a value of another type is dropped (None) and reported.
_FIELD_TYPES = {
    "author": str, "sha": str, "downloads": int, "likes": int, "library_name": str,
    "pipeline_tag": str, "disabled": bool,
}  # fmt: skip


def model_info_to_dict(info: ModelInfo, problems: list[str] | None = None) -> dict:
    """The raw fields of a ModelInfo we keep, JSON-ready, each of the type the README documents.

    What does not fit (a `cardData` that is not a mapping, tags that are not strings, ...) is
    dropped, and said in `problems` when a list is given.
    """
    problems = [] if problems is None else problems
    problems.extend(getattr(info, "_hfharvest_dropped", ()))
    card_data = info.card_data
    if hasattr(card_data, "to_dict"):
        card_data = card_data.to_dict()
    if card_data is not None and not isinstance(card_data, dict):
        problems.append(f"cardData is a {type(card_data).__name__}, not a mapping: dropped")
        card_data = None
    tags = info.tags if isinstance(info.tags, list) else [] if info.tags is None else None
    if tags is None:
        problems.append(f"tags is a {type(info.tags).__name__}, not a list: dropped")
        tags = []
    strings = [tag for tag in tags if isinstance(tag, str)]
    if len(strings) < len(tags):
        problems.append(f"{len(tags) - len(strings)} tags that are not strings: dropped")
    gated = info.gated
    if gated not in (None, False, True, "auto", "manual"):
        problems.append(f"gated is {shown(gated, 40)}: dropped")
        gated = None
    record = {
        "modelId": info.id,
        "author": info.author,
        "sha": info.sha,
        "last_modified": _iso(info.last_modified),
        "createdAt": _iso(info.created_at),
        "downloads": info.downloads,
        "likes": info.likes,
        "library_name": info.library_name,
        "pipeline_tag": info.pipeline_tag,
        "tags": strings,
        "cardData": _json_ready(card_data, info) if card_data else None,
        "gated": gated,
        "disabled": info.disabled,
        "safetensors": _safetensors(info.safetensors, problems),
    }
    for key, kind in _FIELD_TYPES.items():
        value = record[key]
        wrong_bool = isinstance(value, bool) and kind is not bool  # True is an int too
        if value is not None and (wrong_bool or not isinstance(value, kind)):
            problems.append(f"{key} is a {type(value).__name__}, not {kind.__name__}: dropped")
            record[key] = None
    if record["sha"] is not None and not _COMMIT_ID.fullmatch(record["sha"]):
        problems.append(f"sha {shown(record['sha'], 80)} is no commit id: dropped")
        record["sha"] = None  # it would name the README's revision in a URL and a cache path
    return record


def _json_ready(card_data: dict, info) -> dict:
    """The card as JSON values: ModelCardData may hold other objects; a plain entry's card
    came from the answer's JSON and is already (the copy is the same values)."""
    if isinstance(info, ListedModel):
        return card_data
    return json.loads(json.dumps(card_data, default=str))


def _safetensors(safetensors, problems: list[str]) -> dict | None:
    if safetensors is None:
        return None
    try:
        parameters = dict(safetensors.parameters)
        json.dumps(parameters)
    except (TypeError, ValueError, AttributeError):
        problems.append("safetensors.parameters is not a mapping of counts: dropped")
        return None
    return {"parameters": parameters, "total": safetensors.total}


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
