"""Ancestors: follow base-model links for a number of rounds, keeping how each was pulled in."""

from __future__ import annotations

import logging

from .. import errors
from ..hub import HubClient
from ..ids import InvalidModelId, validate_model_id
from ..lineage import base_model_links
from .extract import Harvest, extract_by_ids

log = logging.getLogger(__name__)


def add_ancestors(
    client: HubClient, models: list[dict], iterations: int, threads: int = 8
) -> Harvest:
    """The models plus their base models, `iterations` rounds deep, sorted by model id.

    Each added record carries `ancestry`: its depth and which models pulled it in with which
    relation. A base model that cannot be fetched is a failure of its own and ends that branch;
    the round goes on.
    """
    known = {record["modelId"]: record for record in models}
    failures: list[dict] = []
    frontier = list(models)
    for depth in range(1, iterations + 1):
        wanted, invalid = _wanted_bases(frontier, known)
        failures += invalid
        if not wanted:
            break
        log.info("round %d: %d base models to fetch", depth, len(wanted))
        fetched = extract_by_ids(client, sorted(wanted), source="ancestors", threads=threads)
        frontier = []
        for record in fetched.models:
            requested = record["extraction_metadata"].get("requested_id", record["modelId"])
            pulled_by = wanted.get(requested, []) + wanted.get(record["modelId"], [])
            if record["modelId"] in known:  # a renamed id that we already had under its new name
                continue
            record["ancestry"] = {"depth": depth, "pulled_in_by": _unique(pulled_by)}
            known[record["modelId"]] = record
            frontier.append(record)
        for failure in fetched.failures:
            failure["pulled_in_by"] = wanted.get(failure["model_id"], [])
        failures += fetched.failures
    return Harvest(models=[known[key] for key in sorted(known)], failures=failures)


def _wanted_bases(frontier: list[dict], known: dict[str, dict]):
    wanted: dict[str, list[dict]] = {}
    invalid = []
    for record in frontier:
        for base, relation in base_model_links(record):
            if base in known or base == record["modelId"]:
                continue
            link = {"model_id": record["modelId"], "relation": relation}
            try:
                validate_model_id(base)
            except InvalidModelId as err:
                invalid.append(errors.InvalidId(base, str(err)).as_failure(pulled_in_by=[link]))
                continue
            wanted.setdefault(base, []).append(link)
    return wanted, invalid


def _unique(links: list[dict]) -> list[dict]:
    return sorted(
        {(link["model_id"], link["relation"]): link for link in links}.values(),
        key=lambda link: (link["model_id"], link["relation"]),
    )
