"""Extract: the latest N models, and the models a file lists, as full model records.

Stages yield (record, failure) outcomes lazily, in a deterministic order, so that a writer can
stream 100 000 of them to disk while only a window of requests is in flight.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from huggingface_hub.hf_api import ModelInfo

from .. import errors
from ..cache import CardCache
from ..hub import HubClient, model_info_to_dict
from ..ids import ModelsFileError, parse_models_file
from ..progress import progress

log = logging.getLogger(__name__)

Outcome = tuple[dict | None, dict | None]  # (record, failure): either or both
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Harvest:
    """Outcomes gathered in memory (tests, small stages)."""

    models: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)

    @classmethod
    def collect(cls, outcomes: Iterable[Outcome]) -> Harvest:
        harvest = cls()
        for record, failure in outcomes:
            if record is not None:
                harvest.models.append(record)
            if failure is not None:
                harvest.failures.append(failure)
        return harvest


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ordered_map(func: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[R]:
    """`map` over a thread pool that keeps input order and only a bounded window in flight."""
    window = max(1, threads) * 4
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def model_record(
    info: ModelInfo, card: str | None, *, source: str, method: str, card_status: str,
    requested_id: str | None = None,
) -> dict:  # fmt: skip
    record = model_info_to_dict(info)
    record["card"] = card
    record["extraction_metadata"] = {
        "source": source,
        "method": method,
        "extracted_at": now_iso(),
        "card_status": card_status,
    }
    if requested_id and requested_id != info.id:
        record["extraction_metadata"]["requested_id"] = requested_id
    return record


class Extractor:
    """Fetches records and READMEs through one client, reusing READMEs cached by sha."""

    def __init__(self, client: HubClient, cache: CardCache | None = None, threads: int = 8):
        self.client = client
        self.cache = cache
        self.threads = threads

    def card(self, info: ModelInfo) -> tuple[str | None, str]:
        """(README text, card_status); raises HarvestError when the README cannot be had.

        A gated README is remembered for anonymous runs only: with a token it may open.
        """
        anonymous = not self.client.authenticated
        cached = self.cache.get(info.id, info.sha) if self.cache else None
        if cached is not None and cached.gated and anonymous:
            raise errors.Gated(info.id, "gated repo: access must be requested on the Hub")
        if cached is not None and not cached.gated:
            text, truncated = cached.text, cached.truncated
        else:
            try:
                text, truncated = self.client.readme(info.id, info.sha)
            except errors.Gated:
                if self.cache and anonymous:
                    self.cache.put(info.id, info.sha, None, False, gated=True)
                raise
            if self.cache:
                self.cache.put(info.id, info.sha, text, truncated)
        return text, "missing" if text is None else "truncated" if truncated else "ok"

    def with_card(self, info: ModelInfo, *, source: str, method: str,
                  requested_id: str | None = None) -> Outcome:  # fmt: skip
        """The model's record with its README; a README we cannot get leaves a failure beside it."""
        failure = None
        try:
            card, status = self.card(info)
        except errors.HarvestError as err:
            card, status = None, err.reason
            failure = err.as_failure(part="card", message=f"README: {err.message}; metadata kept")
        record = model_record(
            info, card, source=source, method=method, card_status=status, requested_id=requested_id
        )
        return record, failure

    def fetch(self, model_id: str, *, source: str) -> Outcome:
        """One model by exact id (model_info + README); a model we cannot get becomes a failure."""
        try:
            info = self.client.model_info(model_id)
        except errors.HarvestError as err:
            return None, err.as_failure()
        return self.with_card(info, source=source, method="model_info", requested_id=model_id)

    def latest(self, num_models: int, offset: int = 0) -> Iterator[Outcome]:
        """The `num_models` most recently modified models: listing pages, then READMEs."""
        listing = self.client.list_latest(num_models, offset)
        outcomes = ordered_map(
            lambda info: self.with_card(info, source="latest", method="list_models"),
            listing,
            self.threads,
        )
        return _logged(progress(outcomes, total=num_models, desc="latest models"))

    def by_ids(self, model_ids: Iterable[str], *, source: str, total: int | None = None):
        """Models by exact id, in parallel; not found, gated or broken ones become failures."""
        outcomes = ordered_map(lambda mid: self.fetch(mid, source=source), model_ids, self.threads)
        return _unique(_logged(progress(outcomes, total=total, desc=f"models ({source})")))

    def from_file(self, models_file: str | None) -> Iterator[Outcome]:
        """The models a file lists; bad lines become failures that name the file and line."""
        if not models_file:
            return
        path = Path(models_file)
        try:
            model_ids, problems = parse_models_file(path)
        except ModelsFileError as err:
            yield None, {"model_id": str(path), "reason": "bad_input", "message": str(err)}
            return
        for problem in problems:
            log.warning("%s:%d: skipped %r: %s", path, problem.line, problem.text, problem.reason)
            yield None, problem.as_failure(path)
        yield from self.by_ids(model_ids, source="file", total=len(model_ids))


def _logged(outcomes: Iterable[Outcome]) -> Iterator[Outcome]:
    for record, failure in outcomes:
        if failure is not None:
            log.warning("%s: %s (%s)", failure["model_id"], failure["message"], failure["reason"])
        yield record, failure


def _unique(outcomes: Iterable[Outcome]) -> Iterator[Outcome]:
    """Two ids can name one model (a renamed repo and its new name): keep the first."""
    seen: set[str] = set()
    for record, failure in outcomes:
        if record is not None:
            if record["modelId"] in seen:
                record = None
            else:
                seen.add(record["modelId"])
        if record is not None or failure is not None:
            yield record, failure
