"""One rate limiter per process, fed by the Hub's `RateLimit` headers on every response."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from huggingface_hub.utils import parse_ratelimit_headers


def bucket_of(url: str) -> str:
    """The Hub's budget a URL draws on: `resolvers` for file downloads, `api` otherwise."""
    return "resolvers" if "/resolve/" in urlsplit(str(url)).path else "api"


def _budget(url: str) -> tuple[str, str]:
    """Budgets are per host and bucket: one endpoint's limit never slows another's."""
    return urlsplit(str(url)).netloc, bucket_of(url)


class RateLimiter:
    """Pauses requests of a bucket whose budget the Hub says is spent, until its window resets.

    Threads share it; it only ever waits, so it cannot make a request fail.
    """

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._blocked_until: dict[str, float] = {}
        self.requests: dict[str, int] = {}

    def before_request(self, request) -> None:
        bucket = bucket_of(request.url)
        with self._lock:
            self.requests[bucket] = self.requests.get(bucket, 0) + 1
            wait = self._blocked_until.get(_budget(request.url), 0.0) - self._clock()
        if wait > 0:
            self._sleep(wait)

    def after_response(self, response) -> None:
        self.observe(str(response.request.url), response.status_code, response.headers)

    def observe(self, url: str, status: int, headers) -> None:
        info = parse_ratelimit_headers(headers)
        retry_after = headers.get("Retry-After", "")
        reset = None
        if info is not None and info.remaining == 0:
            reset = info.reset_in_seconds
        elif status == 429 and retry_after.isdigit():
            reset = int(retry_after)
        if reset is not None:
            with self._lock:
                until = self._clock() + reset
                budget = _budget(url)
                self._blocked_until[budget] = max(self._blocked_until.get(budget, 0.0), until)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())
