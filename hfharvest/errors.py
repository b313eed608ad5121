"""Per-model outcomes: callers decide per model, never per run."""

from __future__ import annotations

from .redact import redact


class HarvestError(Exception):
    """A model (or entity) that could not be harvested; `reason` is a stable class name."""

    reason = "error"

    def __init__(self, item_id: str, message: str):
        message = redact(message)  # a server may echo the token in its error text
        super().__init__(f"{item_id}: {message}")
        self.item_id = item_id
        self.message = message

    def as_failure(self, **extra) -> dict:
        return {"model_id": self.item_id, "reason": self.reason, "message": self.message, **extra}


class NotFound(HarvestError):
    reason = "not_found"


class Gated(HarvestError):
    reason = "gated"


class Disabled(HarvestError):
    reason = "disabled"


class RateLimited(HarvestError):
    reason = "rate_limited"


class Transient(HarvestError):
    """Timeouts, resets and 5xx that outlived the retries."""

    reason = "transient"


class Malformed(HarvestError):
    """The Hub answered, but with something we cannot use."""

    reason = "malformed"


class InvalidBody(Malformed):
    """A 200 whose body is not the JSON it should be (cut short, an HTML page from a proxy).

    Often a hiccup between us and the Hub, so it is retried a few times; if it stays, it is
    `malformed`."""


class InvalidId(HarvestError):
    reason = "invalid_id"


# -- causes that are the endpoint's or the token's, not one model's ------------------------------


class Unreachable(Transient):
    """No connection to the endpoint (refused, no route, DNS, connect timeout) after retries."""

    reason = "unreachable"


class Unauthorized(HarvestError):
    """A 401 that is no gated-repo or missing-repo answer: the token (or its absence) is refused."""

    reason = "unauthorized"


class WrongEndpoint(InvalidBody):
    """The endpoint answers HTML where the Hub answers JSON: not a Hub, or a wrong path prefix."""

    reason = "wrong_endpoint"


# When every request of a stage fails for one of these, the stage itself failed (the workflow
# fails the job): they say nothing about the models, everything about the endpoint or token.
SYSTEMIC_REASONS = frozenset({Unreachable.reason, Unauthorized.reason, WrongEndpoint.reason})


# Outcomes that are no answer from the Hub at all: when every request of a stage ends in one of
# these, the stage's primary requests failed (a model's own 404 or gate is an answer).
UNANSWERED_REASONS = SYSTEMIC_REASONS | {
    Transient.reason,
    Malformed.reason,
    RateLimited.reason,
}


def is_systemic(reason: str) -> bool:
    return reason in SYSTEMIC_REASONS


def systemic_cause(failures) -> dict | None:
    """The one systemic failure that explains all of `failures` (dicts from `as_failure`).

    None when there are none, or when some failure has another reason: then the run harvested
    what it could and each failure is a model's own.
    """
    failures = list(failures)
    reasons = {failure.get("reason") for failure in failures}
    if len(reasons) != 1 or not is_systemic(next(iter(reasons))):
        return None
    return failures[0]


def shown(value: object, limit: int = 120) -> str:
    """`repr(value)`, cut to about `limit` characters: hostile input never floods a message."""
    size = len(value) if isinstance(value, str | bytes) else None
    text = repr(value[: limit * 2] if size is not None else value)
    if len(text) <= limit and (size is None or size <= limit * 2):
        return text
    return f"{text[:limit]}... ({size if size is not None else len(text)} chars)"
