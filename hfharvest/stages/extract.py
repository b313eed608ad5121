"""Extract: the latest N models, and the models a file lists, as full model records."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from huggingface_hub.hf_api import ModelInfo

from .. import errors
from ..hub import HubClient, model_info_to_dict
from ..ids import ModelsFileError, parse_models_file
from ..progress import progress

log = logging.getLogger(__name__)


@dataclass
class Harvest:
    """What a stage got: model records, and what it could not get (never silently dropped)."""

    models: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def model_record(
    info: ModelInfo,
    card: str | None,
    *,
    source: str,
    method: str,
    card_status: str,
    requested_id: str | None = None,
) -> dict:
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


def with_card(
    client: HubClient, info: ModelInfo, *, source: str, method: str, requested_id: str | None = None
) -> tuple[dict, dict | None]:
    """The model's record with its README; a README we cannot get leaves a failure beside it."""
    failure = None
    try:
        card, truncated = client.readme(info.id, info.sha)
        status = "missing" if card is None else "truncated" if truncated else "ok"
    except errors.HarvestError as err:
        card, status = None, err.reason
        failure = err.as_failure(part="card", message=f"README: {err.message}; metadata kept")
    record = model_record(
        info, card, source=source, method=method, card_status=status, requested_id=requested_id
    )
    return record, failure


def fetch_model(
    client: HubClient, model_id: str, *, source: str
) -> tuple[dict | None, dict | None]:
    """One model by exact id (model_info + README); a model we cannot get becomes a failure."""
    try:
        info = client.model_info(model_id)
    except errors.HarvestError as err:
        return None, err.as_failure()
    return with_card(client, info, source=source, method="model_info", requested_id=model_id)


def collect(results: Iterable[tuple[dict | None, dict | None]], total: int, desc: str) -> Harvest:
    harvest = Harvest()
    seen = set()  # two ids can name one model (a renamed repo and its new name)
    for record, failure in progress(results, total=total, desc=desc):
        if record is not None and record["modelId"] not in seen:
            seen.add(record["modelId"])
            harvest.models.append(record)
        if failure is not None:
            log.warning("%s: %s (%s)", failure["model_id"], failure["message"], failure["reason"])
            harvest.failures.append(failure)
    return harvest


def extract_latest(
    client: HubClient, num_models: int, offset: int = 0, threads: int = 8
) -> Harvest:
    """The `num_models` most recently modified models: one listing, then one README each."""
    infos = list(client.list_latest(num_models, offset))
    log.info("listed %d models (offset %d)", len(infos), offset)
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = pool.map(
            lambda info: with_card(client, info, source="latest", method="list_models"), infos
        )
        return collect(results, len(infos), "READMEs")


def extract_by_ids(
    client: HubClient, model_ids: list[str], *, source: str, threads: int = 8
) -> Harvest:
    """Models by exact id, in parallel; not found, gated or broken ones become failures."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = pool.map(lambda mid: fetch_model(client, mid, source=source), model_ids)
        return collect(results, len(model_ids), f"models ({source})")


def extract_from_file(client: HubClient, models_file: str | None, threads: int = 8) -> Harvest:
    """The models a file lists; bad lines become failures that name the file and line."""
    if not models_file:
        return Harvest()
    path = Path(models_file)
    try:
        model_ids, problems = parse_models_file(path)
    except ModelsFileError as err:
        return Harvest(
            failures=[{"model_id": str(path), "reason": "bad_input", "message": str(err)}]
        )
    for problem in problems:
        log.warning("%s:%d: skipped %r: %s", path, problem.line, problem.text, problem.reason)
    harvest = extract_by_ids(client, model_ids, source="file", threads=threads)
    harvest.failures[:0] = [problem.as_failure(path) for problem in problems]
    return harvest
