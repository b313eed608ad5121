"""Requests each stage spent, per rate-limit budget: the Hub's `api` and `resolvers` buckets
(counted by the process's rate limiter as requests leave) and the arXiv API's."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from ..jsonio import read_json, read_key, write_json

BUDGETS = ("api", "resolvers", "arxiv")


def spent(extra: Mapping[str, int] | None = None) -> dict[str, int]:
    """This process's requests so far per budget (every budget named, zeros included)."""
    counts = dict.fromkeys(BUDGETS, 0)
    hub = sys.modules.get("hfharvest.hub")  # never imported: this job sent no Hub request
    sent = hub.process_rate_limiter().requests if hub is not None else {}
    for source in (sent, extra or {}):
        for budget, count in source.items():
            counts[budget] = counts.get(budget, 0) + count
    return counts


def write_spent(path: str, stage: str, extra: Mapping[str, int] | None = None) -> None:
    write_json(path, {"stage": stage, "requests": spent(extra)})


def requests_by_stage(stage_files: Mapping[str, str], spent_files: list[str]) -> dict:
    """`{stage: {budget: n}, ..., "total": {budget: n}}` from the stage files' `hub_requests`
    and the enrich stages' request files."""
    stages = {}
    for stage, path in stage_files.items():
        stages[stage] = {**dict.fromkeys(BUDGETS, 0), **(read_key(path, "hub_requests") or {})}
    for path in spent_files:
        record = read_json(path)
        stages[record["stage"]] = record["requests"]
    total = dict.fromkeys(BUDGETS, 0)
    for counts in stages.values():
        for budget, count in counts.items():
            total[budget] = total.get(budget, 0) + count
    return {**stages, "total": total}
