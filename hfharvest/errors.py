"""Per-model outcomes: callers decide per model, never per run."""

from __future__ import annotations


class HarvestError(Exception):
    """A model (or entity) that could not be harvested; `reason` is a stable class name."""

    reason = "error"

    def __init__(self, item_id: str, message: str):
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


def shown(value: object, limit: int = 120) -> str:
    """`repr(value)`, cut to about `limit` characters: hostile input never floods a message."""
    size = len(value) if isinstance(value, str | bytes) else None
    text = repr(value[: limit * 2] if size is not None else value)
    if len(text) <= limit and (size is None or size <= limit * 2):
        return text
    return f"{text[:limit]}... ({size if size is not None else len(text)} chars)"
