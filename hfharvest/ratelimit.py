"""One rate limiter per process, fed by the Hub's `RateLimit` headers on every response.

The Hub tells each client its budget (`RateLimit: "api";r=<remaining>;t=<seconds to reset>`).
We spend it, counting requests as they leave so that threads in flight never overdraw it, and
when it is spent every thread waits for the window to reset instead of collecting 429s.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

from huggingface_hub.utils import parse_ratelimit_headers

DEFAULT_MAX_WAIT_S = 300.0
# A header's seconds beyond this (31 years) are read as this: a 400-digit `Retry-After` or
# RateLimit `t=`/`w=` must not overflow the clock's float (the wait is refused as too long).
_FAR_S = 10**9
_MAX_DIGITS = 12
# The longest a request may wait for its budget; set per call by the client (hub.max_wait_s).
MAX_WAIT_S: ContextVar[float] = ContextVar("hfharvest_max_wait_s", default=DEFAULT_MAX_WAIT_S)


class WaitTooLong(Exception):
    """The Hub announced a wait beyond the cap: the request fails now instead of sleeping."""

    def __init__(self, wait_s: float, cap_s: float, source: str):
        super().__init__(
            f"the Hub asked to wait {wait_s:.0f} s ({source}), over the {cap_s:g} s cap "
            "(hub.max_wait_s): not waited"
        )
        self.wait_s, self.cap_s, self.source = wait_s, cap_s, source


def bucket_of(url: str) -> str:
    """The Hub's budget a URL draws on: `resolvers` for file downloads, `api` otherwise."""
    return "resolvers" if "/resolve/" in urlsplit(str(url)).path else "api"


def _budget_key(url: str) -> tuple[str, str]:
    """Budgets are per host and bucket: one endpoint's limit never slows another's."""
    return urlsplit(str(url)).netloc, bucket_of(url)


@dataclass
class _Budget:
    remaining: int | None = None  # unknown until the Hub says
    resets_at: float = 0.0
    limit: int | None = None  # the window's quota and length, when the Hub gives its policy
    window_s: float | None = None
    sent: int = 0  # requests sent since this window began, answered or not


class RateLimiter:
    """Paces requests to the budget the Hub announces.

    It waits for a spent budget to reset, up to MAX_WAIT_S: a reset announced further away (a
    hostile or broken `RateLimit: ...;t=100000000`) fails each request at once (WaitTooLong)
    rather than putting every later request to sleep for years.
    """

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self.requests: dict[str, int] = {}
        self.waited_s = 0.0

    def before_request(self, request) -> None:
        """Take one request from the budget, waiting for the next window if it is spent."""
        key = _budget_key(request.url)
        while True:
            with self._lock:
                budget = self._budgets.setdefault(key, _Budget())
                now = self._clock()
                if budget.remaining is not None and now >= budget.resets_at:
                    self._new_window(budget, now)
                if budget.remaining is None or budget.remaining > 0:
                    if budget.remaining is not None:
                        budget.remaining -= 1
                    budget.sent += 1
                    self.requests[key[1]] = self.requests.get(key[1], 0) + 1
                    return
                wait = budget.resets_at - now
                cap = MAX_WAIT_S.get()
                if wait > cap:
                    raise WaitTooLong(wait, cap, "RateLimit or Retry-After header")
                self.waited_s += wait
            self._sleep(wait)

    @staticmethod
    def _new_window(budget: _Budget, now: float) -> None:
        """The window reset: a full quota until the Hub says more (once, not per request)."""
        budget.remaining, budget.sent = budget.limit, 0
        budget.resets_at = now + budget.window_s if budget.window_s else now

    def after_response(self, response) -> None:
        self.observe(str(response.request.url), response.status_code, response.headers)

    def observe(self, url: str, status: int, headers) -> None:
        """Learn the budget from a response: `RateLimit` (and its policy) or a 429's Retry-After."""
        try:
            info = parse_ratelimit_headers(headers)
        except ValueError:  # a number past Python's int limits: the header says nothing usable
            info = None
        retry_after = headers.get("Retry-After", "")
        if info is None and not (status == 429 and retry_after.isdigit()):
            return
        with self._lock:
            budget = self._budgets.setdefault(_budget_key(url), _Budget())
            now = self._clock()
            if info is not None:
                remaining, resets_at = info.remaining, now + _seconds(info.reset_in_seconds)
                budget.limit = info.limit or budget.limit
                budget.window_s = _seconds(info.window_seconds) or budget.window_s
            else:
                remaining, resets_at = 0, now + _seconds(retry_after)
            if status == 429:
                remaining = 0
            if budget.remaining is None or resets_at > budget.resets_at + 1:
                # First word of a window. It predates the requests sent since: count them too.
                unsent = budget.limit - budget.sent if budget.limit is not None else remaining
                budget.remaining = max(0, min(remaining, unsent))
            else:  # answers come back out of order: trust the lowest count of this window
                budget.remaining = min(budget.remaining, remaining)
            budget.resets_at = max(budget.resets_at, resets_at)

    def forget(self, url: str) -> None:
        """Forget what the Hub said of the budgets of `url`'s host, as a new process would."""
        host = urlsplit(str(url)).netloc
        with self._lock:
            for key in [key for key in self._budgets if key[0] == host]:
                del self._budgets[key]

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def _seconds(value: int | str | None) -> int:
    """A header's whole seconds, at most _FAR_S (0 for none)."""
    if isinstance(value, str):
        value = int(value) if len(value) <= _MAX_DIGITS else _FAR_S
    return min(value or 0, _FAR_S)
