"""hf.bulk_cards: READMEs of the latest models taken from the Hub's bulk dump of model cards,
through the replica (which serves the dump with stale and missing rows), with its fallback."""

from __future__ import annotations

from datetime import datetime

import pyarrow.parquet as pq
import pytest
from card_helpers import card_cache, inline

from hfharvest.hub import HubClient
from hfharvest.replica import ReplicaHub
from hfharvest.stages.bulk_cards import DUMP_ID, prime_from_dump
from hfharvest.stages.extract import Extractor

LATEST = 1_500  # of 2 219 models: the dump holds models the listing does not ask for


@pytest.fixture(scope="module")
def hub():
    with ReplicaHub(scale=2_000, seed=5, dump_rows_per_shard=800) as replica:
        yield replica


def harvest(hub, root, bulk: bool) -> tuple[list[dict], dict | None, dict]:
    """The latest models with their READMEs, and the replica's requests it cost, by endpoint."""
    before = dict(hub.stats()["by_endpoint"])
    client = HubClient(hub.url, max_retries=1, backoff_s=0.01, max_wait_s=0.05)
    cache = card_cache(root / "cache" / "hf", hub.url, root)
    extractor = Extractor(client, cache, threads=8)
    listed = [record for record, _ in extractor.listing_outcomes(LATEST) if record]
    counts = prime_from_dump(extractor, listed, 2048) if bulk else None
    records = [record for record, _ in extractor.with_cards((r, None) for r in listed)]
    records = inline(records, cache.store)  # texts read back from the card store
    after = hub.stats()["by_endpoint"]
    return records, counts, {key: after[key] - before.get(key, 0) for key in after}


def served_rows(hub) -> dict[str, dict]:
    """The dump's rows as the replica serves them (its Parquet files, read whole here)."""
    rows = {}
    for name in hub.dump.files:
        for row in pq.read_table(hub.dump.file(name)[0]).to_pylist():
            rows[row["modelId"]] = row
    return rows


def test_bulk_cards_fetch_only_stale_and_missing_readmes(hub, tmp_path):
    plain, _, plain_cost = harvest(hub, tmp_path / "plain", bulk=False)
    records, counts, cost = harvest(hub, tmp_path / "bulk", bulk=True)
    assert len(records) == len(plain) == LATEST
    assert plain_cost["resolve_get"] == LATEST  # one README each without the dump

    rows, models = served_rows(hub), hub.catalogue.models
    records_by_id = {record["modelId"]: record for record in records}
    current, stale, individual = set(), set(), set()
    for record in records:
        model_id, row = record["modelId"], rows.get(record["modelId"])
        live = datetime.fromisoformat(models[model_id].get("lastModified"))
        if row and row["last_modified"] != live:
            stale.add(model_id)
        if row and row["card"] and row["last_modified"] == live and not record.get("gated"):
            current.add(model_id)
        else:
            individual.add(model_id)
    assert stale and len(individual - stale) > 0 and len(current) > LATEST / 2
    # README requests: only the models the dump cannot serve, plus the dump's own files.
    assert cost["resolve_get"] == len(individual) + len(hub.dump.files)
    assert counts["used"] == len(current)
    assert counts["stale"] == len({m for m in stale if not records_by_id[m].get("gated")})
    assert counts["individual"] == len(individual)

    by_source = {r["modelId"]: r["extraction_metadata"].get("card_source") for r in records}
    assert {m for m, source in by_source.items() if source == "bulk_dump"} == current
    # The same cards as the README route serves, byte for byte, for every model.
    assert [r["card"] for r in records] == [r["card"] for r in plain]
    assert [r["extraction_metadata"]["card_status"] for r in records] == [
        r["extraction_metadata"]["card_status"] for r in plain
    ]
    taken = sorted(current)[:20]
    client = HubClient(hub.url)
    for model_id, record in ((r["modelId"], r) for r in records if r["modelId"] in taken):
        assert client.readme(model_id, record["sha"])[0].encode() == record["card"].encode()

    # A second run on the same data root: the dump's files are not downloaded again.
    again, counts, cost = harvest(hub, tmp_path / "bulk", bulk=True)
    assert cost["resolve_get"] == 0 and cost["resolve_head"] == 0
    assert counts["cached"] == len(current)
    assert [r["card"] for r in again] == [r["card"] for r in plain]


@pytest.mark.parametrize(
    "faults",
    [
        {"not_found": [DUMP_ID]},  # the dump is gone
        {"5xx": {"rate": 1.0, "endpoints": ["resolve_get", "resolve_head"], "ids": [DUMP_ID]}},
    ],
)
def test_a_broken_dump_falls_back_to_one_readme_each(hub, tmp_path, faults, caplog):
    hub.configure(faults=faults)
    try:
        records, counts, cost = harvest(hub, tmp_path, bulk=True)
    finally:
        hub.configure(faults={})
    assert counts["unusable"] and counts["used"] == 0
    assert "not usable" in caplog.text and DUMP_ID in caplog.text
    assert len(records) == LATEST
    assert not any(r["extraction_metadata"].get("card_source") for r in records)
    models = hub.catalogue.models
    readable = [r for r in records if not r.get("gated")]
    assert all(r["card"] == models[r["modelId"]].readme_text() for r in readable)
    assert cost["resolve_get"] >= LATEST  # one README each (and the broken dump's tries)
    if "not_found" in faults:
        assert cost["resolve_get"] == LATEST
