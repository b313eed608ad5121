"""Model ids: the Hub's id grammar, and the models file users hand us."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from huggingface_hub.utils import HFValidationError, validate_repo_id

MODELS_FILE_MAX_BYTES = 8 * 1024 * 1024
HUB_HOSTS = {"huggingface.co", "www.huggingface.co", "hf.co"}
# Paths under huggingface.co that are not model repos.
NON_MODEL_PREFIXES = {"datasets", "spaces", "api", "docs", "collections", "papers", "organizations"}
# `org/name/tree/main/...` or `org/name/blob/...`: a page inside a model repo.
REPO_SUBPAGES = {"tree", "blob", "resolve", "raw", "commit", "commits", "discussions", "settings"}


class InvalidModelId(ValueError):
    """An id that does not follow the Hub's grammar (never turned into a URL or a path)."""


class ModelsFileError(ValueError):
    """The models file as a whole cannot be read (too large, not text)."""


def validate_model_id(model_id: object) -> str:
    """Return `model_id` if it is a Hub model id (`name` or `org/name`, ASCII), else raise."""
    if not isinstance(model_id, str):
        raise InvalidModelId(f"model id must be a string, got {type(model_id).__name__}")
    try:
        validate_repo_id(model_id)
    except HFValidationError as err:
        raise InvalidModelId(f"not a Hub model id: {model_id!r} ({err})") from None
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
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in {"http", "https"} or parts.hostname not in HUB_HOSTS:
        raise InvalidModelId(f"not a Hugging Face model URL: {url!r}")
    segments = [s for s in parts.path.split("/") if s]
    if not segments or segments[0] in NON_MODEL_PREFIXES:
        raise InvalidModelId(f"not a Hugging Face model URL: {url!r}")
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
            "model_id": self.text,
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
    if not path.exists():
        return [], []
    size = path.stat().st_size
    if size > MODELS_FILE_MAX_BYTES:
        raise ModelsFileError(
            f"{path}: {size} bytes is over the {MODELS_FILE_MAX_BYTES}-byte cap for a models file"
        )
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ModelsFileError(f"{path}: not UTF-8 text ({err})") from None
    ids: dict[str, None] = {}
    problems = []
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = _COMMENT.sub("", raw).strip()
        if not entry:
            continue
        try:
            ids.setdefault(id_from_line(entry), None)
        except InvalidModelId as err:
            problems.append(LineProblem(number, entry, str(err)))
    return list(ids), problems
