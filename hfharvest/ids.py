"""Model ids: the Hub's id grammar, and the models file users hand us."""

from __future__ import annotations

import logging
import re
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from .errors import shown

log = logging.getLogger(__name__)

MODELS_FILE_MAX_BYTES = 8 * 1024 * 1024
HUB_HOSTS = {"huggingface.co", "www.huggingface.co", "hf.co"}
# Paths under huggingface.co that are not model repos.
NON_MODEL_PREFIXES = {"datasets", "spaces", "api", "docs", "collections", "papers", "organizations"}
# `org/name/tree/main/...` or `org/name/blob/...`: a page inside a model repo.
REPO_SUBPAGES = {"tree", "blob", "resolve", "raw", "commit", "commits", "discussions", "settings"}


SHOWN_CHARS = 120  # how much of a hostile entry a message repeats


def _shown(value: object) -> str:
    return shown(value, SHOWN_CHARS)


class InvalidModelId(ValueError):
    """An id that does not follow the Hub's grammar (never turned into a URL or a path)."""


class ModelsFileError(ValueError):
    """The models file as a whole cannot be read (too large, not text)."""


@cache
def _hub_validator():
    """Imported once, on first use: huggingface_hub's errors load its HTTP client (0.2 s), which
    the jobs that import this module for its constants or URL parsing never need. An import
    statement per call made 300 000 ids cost 3.3 s of CPU instead of 0.3 s."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    return HFValidationError, validate_repo_id


def validate_model_id(model_id: object) -> str:
    """Return `model_id` if it is a Hub model id (`name` or `org/name`, ASCII), else raise."""
    if not isinstance(model_id, str):
        raise InvalidModelId(f"model id must be a string, got {type(model_id).__name__}")
    if len(model_id) > 2 * 96 + 1:  # two parts of at most 96 characters
        raise InvalidModelId(f"not a Hub model id: {_shown(model_id)} (too long)")
    HFValidationError, validate_repo_id = _hub_validator()
    try:
        validate_repo_id(model_id)
    except HFValidationError as err:
        reason = str(err).replace(f": '{model_id}'", "").rstrip(".")  # the id is shown once
        raise InvalidModelId(f"not a Hub model id: {_shown(model_id)} ({reason})") from None
    if "/" in model_id and model_id.split("/", 1)[0] in NON_MODEL_PREFIXES:
        # `datasets/squad` is a page of the Hub's, not a repo: no one can own that namespace.
        raise InvalidModelId(f"not a Hub model id: {_shown(model_id)} (a path of the Hub's own)")
    return model_id


def is_model_id(value: object) -> bool:
    try:
        validate_model_id(value)
    except InvalidModelId:
        return False
    return True


def id_from_line(text: str) -> str:
    """Turn one entry of a models file (an id or a huggingface.co URL) into a valid id."""
    if "://" in text or text.split("/", 1)[0] in HUB_HOSTS:
        text = _id_from_url(text)
    return validate_model_id(text)


def _id_from_url(url: str) -> str:
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        hostname = parts.hostname
    except ValueError:  # a bad port, brackets, ...
        raise InvalidModelId(f"not a Hugging Face model URL: {_shown(url)}") from None
    if parts.scheme not in {"http", "https"} or hostname not in HUB_HOSTS:
        raise InvalidModelId(f"not a Hugging Face model URL: {_shown(url)}")
    segments = [s for s in parts.path.split("/") if s]
    if not segments or segments[0] in NON_MODEL_PREFIXES:
        raise InvalidModelId(f"not a Hugging Face model URL: {_shown(url)}")
    if any(segment in (".", "..") for segment in segments):
        raise InvalidModelId(f"not a Hugging Face model URL: {_shown(url)} (`.` or `..` in it)")
    if len(segments) >= 2 and segments[1] not in REPO_SUBPAGES:
        return "/".join(segments[:2])
    return segments[0]


@dataclass(frozen=True)
class LineProblem:
    line: int
    text: str
    reason: str

    def as_failure(self, path: Path) -> dict:
        return {
            "model_id": self.text[: SHOWN_CHARS * 2],
            "reason": "invalid_id",
            "message": f"{path}:{self.line}: {self.reason}",
        }


_COMMENT = re.compile(r"(^|\s)#.*$")


def parse_models_file(path: str | Path) -> tuple[list[str], list[LineProblem]]:
    """Read a models file: one id or URL per line, `#` comments and blank lines allowed.

    A missing file means no models. Invalid lines are reported with their number and skipped;
    duplicates keep their first occurrence.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        return [], []
    except OSError as err:
        raise ModelsFileError(f"{path}: cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):  # a directory, a FIFO, /dev/zero: never read
        raise ModelsFileError(f"{path}: not a regular file")
    if info.st_size > MODELS_FILE_MAX_BYTES:
        raise ModelsFileError(
            f"{path}: {info.st_size} bytes is over the {MODELS_FILE_MAX_BYTES}-byte cap for a "
            "models file"
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MODELS_FILE_MAX_BYTES + 1)  # the file may grow while we read
    except OSError as err:
        raise ModelsFileError(f"{path}: cannot be read ({err.strerror})") from None
    if len(data) > MODELS_FILE_MAX_BYTES:
        raise ModelsFileError(
            f"{path}: over the {MODELS_FILE_MAX_BYTES}-byte cap for a models file"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelsFileError(
            f"{path}: not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise ModelsFileError(f"{path}: binary (NUL bytes), not a text file of model ids")
    ids: dict[str, None] = {}
    problems = []
    duplicates = 0
    # Numbered as editors number lines (\n, \r\n or \r), not at every Unicode line break.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(lines, start=1):
        entry = _COMMENT.sub("", raw).strip()
        if not entry:
            continue
        try:
            model_id = id_from_line(entry)
        except InvalidModelId as err:
            problems.append(LineProblem(number, entry, str(err)))
            continue
        duplicates += model_id in ids
        ids.setdefault(model_id, None)
    if duplicates:
        log.info("%s: %d duplicate lines skipped (first occurrences kept)", path, duplicates)
    return list(ids), problems
