"""The one Hub client: endpoint, token, timeouts, retries and rate limiting in one place."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from itertools import islice
from typing import TypeVar

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
from .ids import InvalidModelId, validate_model_id
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
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
TRANSIENT_EXCEPTIONS = (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)

T = TypeVar("T")

_LIMITER = RateLimiter()


def process_rate_limiter() -> RateLimiter:
    return _LIMITER


def _client_factory() -> httpx2.Client:
    # huggingface_hub's own client, plus our limiter on every request and response.
    return httpx2.Client(
        event_hooks={
            "request": [hf_request_event_hook, _LIMITER.before_request],
            "response": [_LIMITER.after_response],
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
    ):
        self.endpoint = resolve_endpoint(endpoint)
        self._token = token or False  # False: never pick up a token from elsewhere
        self.api = HfApi(endpoint=self.endpoint, token=self._token, library_name="hfharvest")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.readme_max_bytes = readme_max_bytes

    @property
    def authenticated(self) -> bool:
        return bool(self._token)

    def __repr__(self) -> str:  # never shows the token
        return f"HubClient(endpoint={self.endpoint!r}, authenticated={self.authenticated})"

    # -- calls -------------------------------------------------------------------------------
    def list_latest(self, limit: int, offset: int = 0) -> Iterator[ModelInfo]:
        """The `limit` most recently modified models after the first `offset` (list_* retries)."""
        if limit <= 0:
            return iter(())
        listing = self.api.list_models(
            sort="last_modified", limit=offset + limit, expand=MODEL_FIELDS
        )
        return islice(listing, offset, None)

    def model_info(self, model_id: str) -> ModelInfo:
        validate_model_id(model_id)
        return self.with_retry(
            model_id,
            lambda: self.api.model_info(model_id, expand=MODEL_FIELDS, timeout=self.timeout),
        )

    def readme(self, model_id: str, revision: str | None) -> tuple[str | None, bool]:
        """The README text at `revision` (None if the repo has none) and whether it was cut."""
        validate_model_id(model_id)
        url = hf_hub_url(model_id, "README.md", revision=revision, endpoint=self.endpoint)
        return self.with_retry(model_id, lambda: self._get_text(url))

    def _get_text(self, url: str) -> tuple[str | None, bool]:
        headers = build_hf_headers(token=self._token, library_name="hfharvest")
        with get_session().stream("GET", url, headers=headers, timeout=self.timeout) as response:
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
                    return _decode(bytes(body[: self.readme_max_bytes])), True
        return _decode(bytes(body)), False

    # -- retries -----------------------------------------------------------------------------
    def with_retry(self, item_id: str, call: Callable[[], T]) -> T:
        """Retry 429, 5xx, timeouts and resets (huggingface_hub only retries list_* calls)."""
        for attempt in range(self.max_retries + 1):
            try:
                return call()
            except Exception as err:
                outcome = classify(item_id, err)
                retryable = isinstance(outcome, errors.Transient | errors.RateLimited)
                if not retryable or attempt == self.max_retries:
                    raise outcome from None
                wait = self._wait_s(err, attempt)
                log.warning(
                    "%s: %s, retry %d in %.1fs", item_id, outcome.message, attempt + 1, wait
                )
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _wait_s(self, err: BaseException, attempt: int) -> float:
        hinted = _retry_after(err)
        if hinted is not None:
            return min(hinted + random.uniform(0, 0.5), self.max_wait_s)
        return min(self.backoff_s * 2**attempt * random.uniform(0.5, 1.0), self.max_wait_s)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def model_info_to_dict(info: ModelInfo) -> dict:
    """The raw fields of a ModelInfo we keep, JSON-ready."""
    card_data = info.card_data
    if hasattr(card_data, "to_dict"):
        card_data = card_data.to_dict()
    safetensors = info.safetensors
    if safetensors is not None:
        safetensors = {"parameters": dict(safetensors.parameters), "total": safetensors.total}
    return {
        "modelId": info.id,
        "author": info.author,
        "sha": info.sha,
        "last_modified": _iso(info.last_modified),
        "createdAt": _iso(info.created_at),
        "downloads": info.downloads,
        "likes": info.likes,
        "library_name": info.library_name,
        "pipeline_tag": info.pipeline_tag,
        "tags": list(info.tags or []),
        "cardData": json.loads(json.dumps(card_data, default=str)) if card_data else None,
        "gated": info.gated,
        "disabled": info.disabled,
        "safetensors": safetensors,
    }


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")
