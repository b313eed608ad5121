"""Extract: the latest N models, and the models a file lists, as full model records.

Stages yield (record, failure) outcomes lazily, in a deterministic order, so that a writer can
stream 100 000 of them to disk while only a window of requests is in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .. import errors
from ..cache import CardUnreadable
from ..ids import InvalidModelId, ModelsFileError, parse_models_file, validate_model_id
from ..progress import progress
from ..threads import ordered_map

if TYPE_CHECKING:  # the Hub client is imported by the jobs that call the Hub, when they do
    from huggingface_hub.hf_api import ModelInfo

    from ..cache import CardCache, EntityCache, RecordCache
    from ..cards import CardStore
    from ..hub import HubClient

log = logging.getLogger(__name__)

Outcome = tuple[dict | None, dict | None]  # (record, failure): either or both
CARD_FETCHED = {"ok", "missing", "truncated"}  # card_status values of a README we asked and got
# card_source of a model whose listed files hold no README.md: `missing` without a request.
NO_README_LISTED = "siblings"
T = TypeVar("T")


class JobFailed(Exception):
    """The job's primary requests failed: its output must not be written (see workflow.job)."""


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
    return _iso_second(int(time.time()))  # what datetime.now gives, to the second


@lru_cache(maxsize=1)
def _iso_second(second: int) -> str:
    """A second's ISO text, made once: a listing stamps a thousand records in it."""
    return datetime.fromtimestamp(second, UTC).isoformat().replace("+00:00", "Z")


@cache
def _hub():
    """hfharvest.hub, imported on first use (see TYPE_CHECKING above), once: an import statement
    in the functions called per listed model cost a microsecond each."""
    from .. import hub

    return hub


def listed_record(info: ModelInfo, *, source: str, method: str, requested_id: str | None = None,
                  problems: list[str] | None = None) -> dict:  # fmt: skip
    """A model's record as the Hub lists it, before its README is fetched.

    Fields of the wrong type are dropped; what was dropped is said in `problems` when given.
    """
    record = _hub().model_info_to_dict(info, problems)
    record["card"] = None
    record["extraction_metadata"] = {
        "source": source,
        "method": method,
        "extracted_at": now_iso(),
        "card_status": "pending",
    }
    if requested_id and requested_id != info.id:
        record["extraction_metadata"]["requested_id"] = requested_id
    return record


def listed_outcome(info: ModelInfo, *, source: str, method: str,
                   requested_id: str | None = None) -> Outcome:  # fmt: skip
    """`listed_record`, or a `malformed` failure for a record that cannot be made. Fields that
    were dropped are listed in `extraction_metadata.problems` and leave a `malformed` failure
    with `"part": "metadata"` beside the record."""
    problems: list[str] = []
    try:
        record = listed_record(
            info, source=source, method=method, requested_id=requested_id, problems=problems
        )
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        message = f"unusable record: {type(err).__name__}: {errors.shown(str(err))}"
        return None, errors.Malformed(info.id, message).as_failure()
    if not problems:
        return record, None
    record["extraction_metadata"]["problems"] = problems  # travels with the record
    return record, problems_failure(record)


def _card_answer(text: str | None, truncated: bool,
                 digest: str | None) -> tuple[str | None, str, str | None]:  # fmt: skip
    missing = text is None and digest is None
    return text, "missing" if missing else "truncated" if truncated else "ok", digest


def problems_failure(record: dict) -> dict | None:
    """The `metadata` failure of a record whose odd fields were dropped, from its `problems`."""
    problems = record["extraction_metadata"].get("problems")
    if not problems:
        return None
    message = "; ".join(problems) + " (the rest of the record kept)"
    return errors.Malformed(record["modelId"], message).as_failure(part="metadata")


class Extractor:
    """Fetches records and READMEs through one client, reusing READMEs cached by sha.

    With `cards` (the data root's CardStore; the README cache's by default), each README goes
    into the store and the record carries its digest, `card_sha256`; without one (a library
    use in memory) the record carries the text itself in `card`.

    With `records` (a RecordCache of this run), a model fetched by id is fetched once per run:
    a rerun of the run asks the Hub only for the models, and READMEs, it could not get before.
    """

    def __init__(self, client: HubClient, cache: CardCache | None = None, threads: int = 8,
                 records: RecordCache | None = None, shared: EntityCache | None = None,
                 max_age_s: float = 0.0, cards: CardStore | None = None):  # fmt: skip
        self.client = client
        self.cache = cache
        self.cards = cards if cards is not None or cache is None else cache.store
        self.threads = threads
        self.records = records
        # Records other runs on this data root fetched by id (their README by sha in `cache`):
        # trusted for `max_age_s`, since downloads and likes change without a commit.
        self.shared = shared
        self.max_age_s = max_age_s
        self.reused = 0
        self._lock = threading.Lock()
        self.answered = 0  # requests the Hub answered (a 404 or a gate included)
        self.failed = 0  # requests that failed for a cause that is not the model's
        self.first_failure: errors.HarvestError | None = None

    # -- READMEs -------------------------------------------------------------------------------
    def card(self, model_id: str, sha: str | None, gated: object = True,
             meta: dict | None = None) -> tuple[str | None, str]:  # fmt: skip
        """(README text, card_status); raises HarvestError when the README cannot be had. A card
        the cache holds from the bulk dump is marked in `meta` (`card_source`).

        Only READMEs the Hub gave are cached, and gated refusals to a run without a token (see
        CardCache.put); a run with a token asks for those again.
        """
        text, status, _ = self._card(model_id, sha, gated, meta, with_text=True)
        return text, status

    def _card(self, model_id: str, sha: str | None, gated: object, meta: dict | None,
              with_text: bool, known: bool = True,
              hub: bool = True) -> tuple[str | None, str, str | None] | None:  # fmt: skip
        """(text, card_status, digest in the card store); without `with_text` a cached card
        comes as its digest alone (the text None). `known=False`: the cache was asked already
        (see with_cards); `hub=False`: None when only the Hub could answer."""
        answer = self._card_known(model_id, sha, gated, meta, with_text) if known else None
        if answer is None and hub:
            answer = self._card_fetched(model_id, sha)
        return answer

    def _card_known(self, model_id: str, sha: str | None, gated: object, meta: dict | None,
                    with_text: bool) -> tuple[str | None, str, str | None] | None:  # fmt: skip
        """The card as the cache, or the listing's file names, know it; None if they do not."""
        cached = self.cache.get(model_id, sha, with_text) if self.cache else None
        # A cached refusal holds while the record still says gated: an owner can lift the gate
        # without a commit, and the record shows it.
        anonymous = not self.client.authenticated
        if cached is not None and cached.refused and anonymous and gated:
            raise errors.Gated(model_id, "gated: refused without a token at this commit (cached)")
        if cached is not None and not cached.refused:
            if cached.source and meta is not None:
                meta["card_source"] = cached.source
            return _card_answer(cached.text, cached.truncated, cached.digest)
        if meta is not None and meta.get("card_source") == NO_README_LISTED:
            if self.cache:  # what the Hub's 404 says, known from the listing
                self.cache.put(model_id, sha, None, False, source=NO_README_LISTED)
            return _card_answer(None, False, None)
        return None

    def _card_fetched(self, model_id: str, sha: str | None) -> tuple[str | None, str, str | None]:
        anonymous = not self.client.authenticated
        try:
            text, truncated = self._asked(lambda: self.client.readme(model_id, sha))
        except errors.Gated:
            if self.cache and anonymous:
                self.cache.put(model_id, sha, None, False, refused="gated")
            raise
        digest = None
        if self.cache:  # the text stored once: fill_card names it by this digest
            digest = self.cache.put(model_id, sha, text, truncated)
        return _card_answer(text, truncated, digest)

    # -- whether the Hub answered at all ------------------------------------------------------
    def _asked(self, call: Callable[[], T]) -> T:
        """`call()`, counted: did the Hub answer (a model's own 404 or gate is an answer), or did
        the request fail for a cause that is not the model's (unreachable, token refused...)?"""
        try:
            result = call()
        except errors.HarvestError as err:
            self._count(err)
            raise
        self._count(None)
        return result

    def _count(self, err: errors.HarvestError | None) -> None:
        with self._lock:
            if err is None or err.reason not in errors.UNANSWERED_REASONS:
                self.answered += 1
            else:
                self.failed += 1
                self.first_failure = self.first_failure or err

    def check_answered(self) -> None:
        """Raise JobFailed when requests were sent and not one was answered: the job's primary
        requests failed, for a cause no rerun of a single model can fix."""
        err = self.first_failure
        if self.answered or err is None:
            return
        message = err.message
        if self.client.endpoint not in message:
            message = f"{self.client.endpoint}: {message}"
        requests = "the only request" if self.failed == 1 else f"all {self.failed} requests"
        raise JobFailed(f"{message} ({err.reason}; {requests} failed, none answered)")

    def fill_card(self, record: dict, known: bool = True, hub: bool = True) -> Outcome | None:
        """The record with its README (`card_sha256` or `card`, and `card_status`); a README we
        cannot get leaves a failure beside the record. `known` and `hub` as for `_card`: None
        (the record untouched) when only the Hub could answer and `hub` is False."""
        meta = record["extraction_metadata"]
        failure = text = digest = None
        try:
            answer = self._card(
                record["modelId"], record["sha"], record.get("gated", True), meta,
                with_text=not self._names_by_digest, known=known, hub=hub,
            )  # fmt: skip
            if answer is None:
                return None
            text, meta["card_status"], digest = answer
        except errors.HarvestError as err:
            meta["card_status"] = err.reason
            failure = err.as_failure(part="card", message=f"README: {err.message}; metadata kept")
        if self.cards is None:
            record["card"] = text
        else:  # the text once in the store, the record names it
            record.pop("card", None)
            named = digest if self._names_by_digest else None
            record["card_sha256"] = named if named or text is None else self.cards.put(text)
        return record, failure

    @property
    def _names_by_digest(self) -> bool:
        """Whether the README cache's digests name texts in this extractor's card store."""
        return self.cards is not None and self.cache is not None and self.cache.store is self.cards

    def _card_kept(self, record: dict) -> bool:
        """Whether a record kept by this run still has its README: fetched, and (by digest)
        its text still in the store as written."""
        if record["extraction_metadata"].get("card_status") not in CARD_FETCHED:
            return False
        if self.cards is None or "card_sha256" not in record:
            return self.cards is None and "card_sha256" not in record
        digest = record["card_sha256"]
        if digest is None:  # the repo has no README
            return True
        try:
            self.cards.read(digest)
        except (CardUnreadable, ValueError) as err:
            log.warning("%s: %s: README fetched again", record["modelId"], err)
            return False
        return True

    def with_card(self, info: ModelInfo, *, source: str, method: str,
                  requested_id: str | None = None) -> Outcome:  # fmt: skip
        """The model's record with its README; what it lacks is a failure beside it."""
        outcome = listed_outcome(info, source=source, method=method, requested_id=requested_id)
        record, problem = self._no_readme_marked(info, outcome)
        if record is None:
            return None, problem
        record, failure = self.fill_card(record)
        return record, failure or problem

    def with_cards(self, outcomes: Iterable[Outcome], total: int | None = None):
        """READMEs for listed records, in parallel, in order; failures pass through as they are."""

        def one(outcome: Outcome, known: bool = True, hub: bool = True) -> Outcome | None:
            record, failure = outcome
            if record is None:
                return outcome
            if (filled := self.fill_card(record, known, hub)) is None:
                return None
            return filled[0], filled[1] or failure

        outcomes = ordered_map(
            lambda outcome: one(outcome, known=False),  # what the cache did not know
            outcomes,
            self.threads,
            answer_here=lambda outcome: one(outcome, hub=False),
        )
        return _logged(progress(outcomes, total=total, desc="READMEs"))

    # -- models --------------------------------------------------------------------------------
    def listing_outcomes(self, num_models: int, offset: int = 0,
                         siblings: bool = False) -> Iterator[Outcome]:  # fmt: skip
        """The latest models' records (no README yet), and a failure for each entry that is not
        a usable model and for a listing that broke off (`"part": "listing"`).

        With `siblings`, a model whose listed files hold no README.md is marked (`card_source`)
        so that fill_card asks nothing for it; not a gated one without a token, which the Hub
        answers with a refusal, as a run without siblings would record it."""
        from ..hub import LISTING

        for item in self.client.iter_latest(num_models, offset, siblings):
            if isinstance(item, errors.HarvestError):
                extra = {"part": "listing"} if item.item_id == LISTING else {}
                self._count(item if item.item_id == LISTING else None)
                yield None, item.as_failure(**extra)
            else:
                self._count(None)
                yield self._no_readme_marked(
                    item, listed_outcome(item, source="latest", method="list_models")
                )

    def _no_readme_marked(self, info: ModelInfo, outcome: Outcome) -> Outcome:
        record = outcome[0]
        readable = self.client.authenticated or not (record or {}).get("gated")
        if record is not None and readable and _hub().readme_listed(info) is False:
            record["extraction_metadata"]["card_source"] = NO_README_LISTED
        return outcome

    def latest(self, num_models: int, offset: int = 0) -> Iterator[Outcome]:
        """The latest models with their READMEs: listing pages, then one README each."""
        return self.with_cards(self.listing_outcomes(num_models, offset), total=num_models)

    def fetch(self, model_id: str, *, source: str) -> Outcome:
        """One model by exact id (model_info + README); a model we cannot get becomes a failure.

        A model this run already fetched (see `records`) costs no request, or only its README
        when that is what failed.
        """
        try:
            validate_model_id(model_id)  # before it becomes a URL or a file name
        except InvalidModelId as err:
            named = model_id[:200] if isinstance(model_id, str) else errors.shown(model_id)
            return None, errors.InvalidId(named, str(err)).as_failure()
        if self.records is not None and (kept := self.records.get(model_id)) is not None:
            kept["extraction_metadata"]["source"] = source
            if self._card_kept(kept):
                return kept, None
            record, failure = self.fill_card(kept)
            self.records.put(model_id, record)
            return record, failure
        if (record := self._shared_record(model_id, source)) is not None:
            if "missing" in record:  # not found by a recent run: not asked again yet
                return None, errors.NotFound(model_id, record["missing"]).as_failure()
            record, failure = self.fill_card(record)
        else:
            try:
                info = self._asked(lambda: self.client.model_info(model_id))
            except errors.HarvestError as err:
                if self.shared is not None and err.reason == "not_found":
                    self.shared.missing(model_id, err.message)
                return None, err.as_failure()
            record, failure = self.with_card(
                info, source=source, method="model_info", requested_id=model_id
            )
            if self.shared is not None and record is not None and record.get("sha"):
                kept = {k: v for k, v in record.items() if k not in ("card", "card_sha256")}
                self.shared.put(model_id, record["sha"], kept)
        if self.records is not None and record is not None:
            self.records.put(model_id, record)
        return record, failure

    def _shared_record(self, model_id: str, source: str) -> dict | None:
        """A record an earlier run fetched within `max_age_s` (without its README), or
        `{"missing": message}` when it was not found then, or None."""
        kept = self.shared.fresh(model_id, self.max_age_s) if self.shared is not None else None
        if kept and isinstance(kept.get("missing"), str):
            return kept
        if not kept or not isinstance(kept.get("extraction_metadata"), dict):
            return None
        kept["extraction_metadata"] = {**kept["extraction_metadata"], "source": source,
                                       "reused": True}  # fmt: skip
        with self._lock:
            self.reused += 1
        return kept

    def by_ids(self, model_ids: Iterable[str], *, source: str, total: int | None = None,
               unique: bool = True):  # fmt: skip
        """Models by exact id, in parallel; not found, gated or broken ones become failures.

        Two ids of one model (a renamed repo's old and new name) give one record, unless
        `unique` is false (the caller wants to see every redirect)."""
        outcomes = ordered_map(lambda mid: self.fetch(mid, source=source), model_ids, self.threads)
        outcomes = _logged(progress(outcomes, total=total, desc=f"models ({source})"))
        return _unique(outcomes) if unique else outcomes

    def from_file(self, models_file: str | None) -> Iterator[Outcome]:
        """The models a file lists; bad lines become failures that name the file and line."""
        model_ids, failures = file_ids(models_file)
        for failure in failures:
            yield None, failure
        yield from self.by_ids(model_ids, source="file", total=len(model_ids))


def file_ids(models_file: str | None, strict: bool = False) -> tuple[list[str], list[dict]]:
    """The valid ids a models file lists, and a failure per bad line (or for the whole file;
    with `strict`, a file that cannot be read raises JobFailed instead)."""
    if not models_file:
        return [], []
    path = Path(models_file)
    try:
        model_ids, problems = parse_models_file(path)
    except ModelsFileError as err:
        if strict:
            raise JobFailed(f"hf.models_file: {err}") from None
        log.error("%s", err)
        return [], [{"model_id": str(path), "reason": "bad_input", "message": str(err)}]
    for problem in problems:
        log.warning("%s:%d: skipped %r: %s", path, problem.line, problem.text, problem.reason)
    return model_ids, [problem.as_failure(path) for problem in problems]


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
