"""The token's value never reaches a log or an output, even when a server echoes it back in an
error text that ends up in a message: every failure message and log record passes through here."""

from __future__ import annotations

import logging

MASK = "<token>"
_SECRETS: set[str] = set()


def register(secret: str | None) -> None:
    """From now on, `secret` is masked in failure messages and log records of this process."""
    if secret:
        _SECRETS.add(secret)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter: the record's message, with its arguments, masked before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            masked = redact(message)
            if masked != message:
                record.msg, record.args = masked, None
            if record.exc_info and not record.exc_text:  # the traceback, as handlers write it
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
        return True
