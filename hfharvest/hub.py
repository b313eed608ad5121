"""The one Hub client: endpoint, token, timeouts, retries and rate limiting in one place."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar
from urllib.parse import quote, urlsplit

import httpx2
from huggingface_hub import HfApi, hf_hub_url
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import ModelInfo
from huggingface_hub.utils import (
    build_hf_headers,
    get_session,
    hf_raise_for_status,
    set_client_factory,
)
from huggingface_hub.utils._http import hf_request_event_hook

from . import errors
from .errors import shown
from .ids import InvalidModelId, is_model_id, validate_model_id
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

REPLICA = "replica"
REPLICA_URL_ENV = "HFHARVEST_REPLICA_URL"
# What one listing page or one model_info call brings, so a model costs no further API call.
MODEL_FIELDS = [
    "author", "sha", "lastModified", "createdAt", "downloads", "likes", "library_name",
    "pipeline_tag", "tags", "cardData", "gated", "disabled", "safetensors",
]  # fmt: skip
README_MAX_BYTES = 5 * 1024 * 1024
# An API answer (a listing page of 1000 models with their cardData is a few MB) beyond this is
# not metadata: it is refused, never held in memory.
JSON_MAX_BYTES = 64 * 1024 * 1024
INVALID_BODY_RETRIES = 2  # a body that is not JSON: asked again this often, then `malformed`
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
TRANSIENT_EXCEPTIONS = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.ProtocolError,
                        httpx2.ProxyError)  # fmt: skip
LISTING = "listing:latest"  # the `model_id` of a failure of the latest-models listing itself

T = TypeVar("T")

_LIMITER = RateLimiter()


def process_rate_limiter() -> RateLimiter:
    return _LIMITER


class ResponseTooLarge(ValueError):
    """An API answer over JSON_MAX_BYTES (README answers are cut instead, see `readme`)."""


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


def _client_factory() -> httpx2.Client:
    # huggingface_hub's own client, plus our limiter, the token guard and the size cap.
    return httpx2.Client(
        event_hooks={
            "request": [hf_request_event_hook, _guard_token, _LIMITER.before_request],
            "response": [_LIMITER.after_response, _cap_api_answer],
        },
        follow_redirects=True,
        timeout=None,
    )


set_client_factory(_client_factory)


def resolve_endpoint(endpoint: str) -> str:
    """`replica` means the replica hub the workflow started; its URL comes from the environment."""
    if endpoint != REPLICA:
        return endpoint.rstrip("/")
    url = os.environ.get(REPLICA_URL_ENV)
    if not url:
        raise RuntimeError(
            f"hub.endpoint is 'replica' but {REPLICA_URL_ENV} is not set: "
            "run through the workflow (it starts the replica) or start one with "
            "`python -m hfharvest.replica` and export its URL"
        )
    return url.rstrip("/")


def token_from_env(token_env: str | None) -> str | None:
    return os.environ.get(token_env) or None if token_env else None


def classify(item_id: str, err: BaseException) -> errors.HarvestError:
    """Map a client exception to our outcome classes (the message never carries headers)."""
    if isinstance(err, errors.HarvestError):
        return err
    if isinstance(err, ResponseTooLarge):
        return errors.Malformed(item_id, str(err))
    if isinstance(err, RecursionError):
        return errors.Malformed(item_id, "answer nested too deeply to read")
    if isinstance(err, json.JSONDecodeError | UnicodeDecodeError | httpx2.DecodingError):
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
    if isinstance(err, TRANSIENT_EXCEPTIONS):
        return errors.Transient(item_id, f"{type(err).__name__} after retries")
    if isinstance(err, InvalidModelId):
        return errors.InvalidId(item_id, str(err))
    if isinstance(err, ValueError | KeyError | TypeError):
        return errors.Malformed(item_id, f"unusable answer: {type(err).__name__}: {err}")
    raise err


def _retry_after(err: BaseException) -> float | None:
    response = getattr(err, "response", None)
    if response is None:
        return None
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class HubClient:
    """Everything hfharvest asks of the Hub, through huggingface_hub against one endpoint."""

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff_s: float = 1.0,
        max_wait_s: float = 300.0,
        readme_max_bytes: int = README_MAX_BYTES,
        json_max_bytes: int = JSON_MAX_BYTES,
    ):
        self.endpoint = resolve_endpoint(endpoint)
        self._token = token or False  # False: never pick up a token from elsewhere
        self.api = HfApi(endpoint=self.endpoint, token=self._token, library_name="hfharvest")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.readme_max_bytes = readme_max_bytes
        self.json_max_bytes = json_max_bytes

    @property
    def authenticated(self) -> bool:
        return bool(self._token)

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

    def iter_latest(self, limit: int, offset: int = 0) -> Iterator[ModelInfo | errors.HarvestError]:
        """The latest models, page by page, each page retried; outcomes instead of exceptions.

        An entry that is not a usable model yields its HarvestError and the listing goes on; a
        page that cannot be had after the retries ends the listing with a HarvestError whose id
        is LISTING. Pages are followed only on the endpoint's own host.
        """
        if limit <= 0:
            return
        url: str | None = f"{self.endpoint}/api/models"
        params: dict | None = {
            "sort": "lastModified",
            "limit": offset + limit,
            "expand": MODEL_FIELDS,
        }
        position = 0  # entries seen, offset included
        while url is not None and position < offset + limit:
            try:
                page, url = self.with_retry(
                    LISTING, lambda url=url, params=params: self._get_json(url, params)
                )
            except errors.HarvestError as err:
                got = max(0, position - offset)
                message = f"listing stopped after {got} of {limit} models: {err.message}"
                yield type(err)(LISTING, message)
                return
            params = None  # the next page's URL carries the query
            if not isinstance(page, list):
                message = f"a listing page is a {type(page).__name__}, not a list of models"
                yield errors.Malformed(LISTING, message)
                return
            if not page:  # an empty page with a next link would loop forever
                return
            for entry in page:
                position += 1
                if position > offset:
                    yield _model_info(entry, f"listing entry {position}")
                if position >= offset + limit:
                    return
            if url is not None and origin_of(url) != origin_of(self.endpoint):
                message = f"next listing page on another host ({origin_of(url)}): not followed"
                yield errors.Malformed(LISTING, message)
                return

    def model_info(self, model_id: str) -> ModelInfo:
        validate_model_id(model_id)
        url = f"{self.endpoint}/api/models/{quote(model_id, safe='/')}"
        data, _ = self.with_retry(model_id, lambda: self._get_json(url, {"expand": MODEL_FIELDS}))
        info = _model_info(data, model_id, requested=model_id)
        if isinstance(info, errors.HarvestError):
            raise info
        return info

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

    def _headers(self) -> dict:
        return build_hf_headers(token=self._token, library_name="hfharvest")

    def _get_json(self, url: str, params: dict | None) -> tuple[object, str | None]:
        """(decoded JSON, next page URL), reading at most json_max_bytes."""
        with get_session().stream(
            "GET", url, params=params, headers=self._headers(), timeout=self.timeout
        ) as response:
            if response.status_code >= 400:
                response.read()  # its size was checked by _cap_api_answer
            hf_raise_for_status(response)
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > self.json_max_bytes:
                raise ResponseTooLarge(
                    f"an answer of {length} bytes is over the {self.json_max_bytes}-byte cap"
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.json_max_bytes:
                    raise ResponseTooLarge(
                        f"answer over the {self.json_max_bytes}-byte cap: not read further"
                    )
            next_page = response.links.get("next", {}).get("url")
        return json.loads(body), next_page

    def _get_text(self, url: str) -> tuple[str | None, bool]:
        with get_session().stream(
            "GET", url, headers=self._headers(), timeout=self.timeout
        ) as response:
            if response.status_code >= 400:
                response.read()
            try:
                hf_raise_for_status(response)
            except EntryNotFoundError:
                return None, False  # a repo without a README is a fact, not a failure
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.readme_max_bytes:
                    return _decode(_cut_utf8(bytes(body[: self.readme_max_bytes]))), True
        return _decode(bytes(body)), False

    # -- retries -----------------------------------------------------------------------------
    def with_retry(self, item_id: str, call: Callable[[], T]) -> T:
        """Retry 429, 5xx, timeouts, resets and bodies that are not JSON; else raise the outcome.

        Within the call, the token may go to this client's endpoint only (see _guard_token).
        """
        invalid_bodies = 0
        scope = _TOKEN_ORIGIN.set(origin_of(self.endpoint))
        try:
            for attempt in range(self.max_retries + 1):
                try:
                    return call()
                except Exception as err:
                    outcome = classify(item_id, err)
                    invalid = isinstance(outcome, errors.InvalidBody)
                    invalid_bodies += invalid
                    retryable = isinstance(outcome, errors.Transient | errors.RateLimited) or (
                        invalid and invalid_bodies <= INVALID_BODY_RETRIES
                    )
                    if not retryable or attempt == self.max_retries:
                        if invalid:
                            outcome.message += f" ({invalid_bodies} of {attempt + 1} answers)"
                        raise outcome from None
                    wait = self._wait_s(err, attempt)
                    log.warning(
                        "%s: %s, retry %d in %.1fs", item_id, outcome.message, attempt + 1, wait
                    )
                    time.sleep(wait)
        finally:
            _TOKEN_ORIGIN.reset(scope)
        raise AssertionError("unreachable")

    def _wait_s(self, err: BaseException, attempt: int) -> float:
        hinted = _retry_after(err)
        if hinted is not None:
            return min(hinted + random.uniform(0, 0.5), self.max_wait_s)
        return min(self.backoff_s * 2**attempt * random.uniform(0.5, 1.0), self.max_wait_s)


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
    """A ModelInfo from an API body, or the HarvestError that says why it is unusable.

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
    try:
        return ModelInfo(**{"siblings": None, **data})
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        return errors.Malformed(
            model_id, f"unusable record: {type(err).__name__}: {shown(str(err))}"
        )


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
        "cardData": json.loads(json.dumps(card_data, default=str)) if card_data else None,
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
    return record


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
