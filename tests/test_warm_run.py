"""A warm run (new run_id, same data root and endpoint) after a cold one, through the workflow
and the replica hub: what it asks the Hub, and the delta it writes."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from card_helpers import card_store
from workflow_runner import Workflow

from hfharvest.replica import ReplicaHub

N = 30
PAGE = 10


@pytest.fixture(scope="module")
def hub():
    with ReplicaHub(page_size=PAGE, scale=120, seed=11) as replica:
        yield replica


def config_for(hub, run_id: str) -> dict:
    return {
        "run_id": run_id,
        "hub": {"endpoint": hub.url, "max_retries": 1},
        "hf": {"num_models": N, "models_file": None, "base_model_iterations": 2, "threads": 4},
        "arxiv": {"endpoint": f"{hub.url}/api/query", "delay_s": 0},
    }


def listed(workflow, config) -> list[dict]:
    return workflow.artifact(config, "shards/latest_listing.json.gz")["models"]


def ancestors_file(workflow, config) -> dict:
    return workflow.artifact(config, "hf_models_with_ancestors.json")


def blob_sizes(workflow) -> dict[str, int]:
    """The card store's files (digest -> bytes)."""
    root = card_store(workflow.root / "data").root
    return {p.stem: p.stat().st_size for p in root.rglob("*.md")}


@pytest.fixture(scope="module")
def runs(hub, tmp_path_factory):
    """Day 1 cold; then 3 listed models get new commits and one unlisted model a new commit
    (it enters the listing, pushing the last one out); day 2 warm."""
    workflow = Workflow(tmp_path_factory.mktemp("warm"))
    cold = config_for(hub, "day1")
    hub.reset_stats()
    workflow.run(cold)
    cold_stats = hub.stats()
    workflow.store_after_cold = blob_sizes(workflow)
    before = listed(workflow, cold)
    with_card = [m["modelId"] for m in before if not m.get("gated")]
    changed = hub.change_models(with_card[3:6])
    unlisted = sorted(set(hub.catalogue.models) - {m["modelId"] for m in before})
    entering = hub.change_models([unlisted[0]])
    hub.reset_stats()
    warm = config_for(hub, "day2")
    workflow.run(warm)
    return workflow, cold, warm, before, changed, entering, cold_stats, hub.stats()


def test_a_first_run_has_every_listed_model_added(runs):
    workflow, cold, _, before, *_ = runs
    delta = workflow.artifact(cold, "delta.json")
    assert delta["previous_run"]["run_id"] is None
    assert [a["model_id"] for a in delta["added"]] == [m["modelId"] for m in before]
    assert delta["updated"] == delta["gone"] == []


def test_the_delta_lists_exactly_the_changed_added_and_gone_models(runs):
    workflow, _, warm, before, changed, entering, *_ = runs
    delta = workflow.artifact(warm, "delta.json")
    assert delta["previous_run"]["run_id"] == "day1"
    old_sha = {m["modelId"]: m["sha"] for m in before}
    new_sha = {m["modelId"]: m["sha"] for m in listed(workflow, warm)}
    assert sorted(delta["updated"], key=lambda u: u["model_id"]) == [
        {"model_id": m, "old_sha": old_sha[m], "new_sha": new_sha[m]} for m in sorted(changed)
    ]
    assert all(old_sha[m] != new_sha[m] for m in changed)
    assert delta["added"] == [{"model_id": entering[0], "sha": new_sha[entering[0]]}]
    # The model that entered pushed the oldest listed one out of the latest N.
    assert delta["gone"] == [{"model_id": before[-1]["modelId"], "sha": before[-1]["sha"]}]
    assert delta["counts"]["unchanged"] == N - 4


def test_a_warm_run_asks_only_for_the_listing_pages_and_what_changed(runs):
    workflow, cold, warm, *_, changed, entering, cold_stats, warm_stats = runs
    assert cold_stats["by_endpoint"]["model_info"] > 0  # the cold run fetched base models
    asked = {name: count for name, count in warm_stats["by_endpoint"].items() if count}
    # The listing pages, the changed READMEs and the Hub's task list (one request per run); the
    # gated base model's README was refused to the cold run without a token: not asked again.
    assert asked == {"list_models": N // PAGE, "resolve_get": 4, "tasks": 1}
    # Those 4 are the changed models' READMEs (some synthetic models have none: a 404).
    latest = workflow.artifact(warm, "hf_models_latest.json.gz")["models"]
    status = {m["modelId"]: m["extraction_metadata"]["card_status"] for m in latest}
    with_readme = {m for m in [*changed, *entering] if status[m] in ("ok", "truncated")}
    assert set(warm_stats["readme_gets"]) == with_readme
    assert all(status[m] == "missing" for m in {*changed, *entering} - with_readme)

    failed = [ancestors_file(workflow, config)["failures"] for config in (cold, warm)]
    assert failed[0] == failed[1]
    ancestors = ancestors_file(workflow, warm)
    bases = [m for m in ancestors["models"] if m["extraction_metadata"]["source"] == "ancestors"]
    assert bases and all(m["extraction_metadata"]["reused"] for m in bases)
    assert ancestors["records_reused"] == len(bases)


def test_a_warm_run_sends_no_dataset_or_arxiv_request_for_unchanged_entities(runs):
    workflow, cold, warm, *_, cold_stats, warm_stats = runs
    enriched = {
        name: [e for e in workflow.artifact(cold, name) if e["enriched"]]
        for name in ("hf_datasets_specific.json", "arxiv_articles.json")
    }
    assert all(enriched.values())  # the cold run did enrich some of each
    assert cold_stats["by_endpoint"]["dataset_info"] and cold_stats["by_endpoint"]["arxiv_query"]
    # The changed models name the same datasets and papers: nothing new to ask.
    for endpoint in ("dataset_info", "croissant", "arxiv_query"):
        assert warm_stats["by_endpoint"].get(endpoint, 0) == 0, endpoint
    cached = [e for e in workflow.artifact(warm, "arxiv_articles.json") if e["enriched"]]
    assert cached and all(e["extraction_metadata"].get("from_cache") for e in cached)


def test_the_summary_records_requests_per_stage_and_budget(runs):
    workflow, cold, warm, *_, cold_stats, warm_stats = runs
    for config, stats in ((cold, cold_stats), (warm, warm_stats)):
        requests = workflow.artifact(config, "summary.json")["requests"]
        assert set(requests["total"]) == {"api", "resolvers", "arxiv"}
        assert requests["enrich_articles"]["arxiv"] == stats["by_endpoint"]["arxiv_query"]
        datasets = requests["enrich_datasets"]["api"]
        assert datasets == stats["by_endpoint"]["dataset_info"] + stats["by_endpoint"]["croissant"]
        assert requests["enrich_licenses"] == {"api": 0, "resolvers": 0, "arxiv": 0}


def test_the_runs_share_the_card_store_and_the_warm_one_adds_only_the_changed_cards(runs, hub):
    workflow, cold, warm, before, changed, entering, *_ = runs
    store = card_store(workflow.root / "data")
    models = {name: ancestors_file(workflow, config)["models"]
              for name, config in (("cold", cold), ("warm", warm))}  # fmt: skip
    named = {name: {m["card_sha256"] for m in records} - {None} for name, records in models.items()}
    # No record carries its text; each names a file of the store, checked on reading, and a
    # warm record's is the README the Hub serves at that commit.
    assert models["warm"] and named["warm"]
    for record in models["warm"]:
        assert "card" not in record
        if record["card_sha256"] is not None:
            served = hub.catalogue.models[record["modelId"]].readme_text()
            assert store.read(record["card_sha256"]) == served, record["modelId"]
    # Every text once: the store holds exactly the cards the two runs name, nothing else.
    after = blob_sizes(workflow)
    assert set(after) == named["cold"] | named["warm"]
    assert set(workflow.store_after_cold) == named["cold"]
    # The warm run wrote the cards of the changed and entering models only, and not one byte
    # more of card text: its run folder holds records and maps, no README text.
    latest = {m["modelId"]: m["card_sha256"] for m in models["warm"]}
    new = {latest[m] for m in [*changed, *entering]} - {None}
    assert set(after) - set(workflow.store_after_cold) == new and new
    added = sum(after.values()) - sum(workflow.store_after_cold.values())
    assert added == sum(after[digest] for digest in new)
    run_folder = workflow.run_folder(warm)
    longest = max(named["warm"], key=after.get)
    passage = store.read(longest)[-300:]  # the end of the longest card, past its metadata
    for path in run_folder.rglob("*.json"):
        assert passage not in path.read_text(), path


def test_each_run_keeps_its_listing_and_extracts_compressed_beside_one_plain_copy(runs):
    """The listing and the extract gathers are internal: kept gzip-compressed (reruns, retries
    and the next run's delta read them), never as more plain copies of hf_models.json."""
    workflow, cold, warm, *_ = runs
    for config in (cold, warm):
        folder = workflow.run_folder(config)
        for plain in ("shards/latest_listing.json", "hf_models_latest.json",
                      "hf_models_from_file.json"):  # fmt: skip
            assert not (folder / plain).exists(), plain
        with gzip.open(folder / "shards/latest_listing.json.gz", "rt") as handle:
            listing = json.load(handle)  # an ordinary tool reads it
        with gzip.open(folder / "hf_models_latest.json.gz", "rt") as handle:
            latest = json.load(handle)
        merged = json.loads((folder / "hf_models.json").read_text())
        ids = [m["modelId"] for m in merged["models"]]
        assert [m["modelId"] for m in listing["models"]] == ids  # no models file: the same N
        assert [m["modelId"] for m in latest["models"]] == ids
        assert [m["sha"] for m in latest["models"]] == [m["sha"] for m in merged["models"]]
        assert len(ids) == N
        size = (folder / "hf_models.json").stat().st_size
        assert (folder / "shards/latest_listing.json.gz").stat().st_size < size / 3
        assert (folder / "hf_models_latest.json.gz").stat().st_size < size / 3
    # The next run's delta compares with the warm run's compressed listing.
    [pointer] = (workflow.root / "data/1_raw/hf/.last_run").glob("*.json")
    named = json.loads(pointer.read_text())
    assert named["run_id"] == "day2"
    assert named["listing"] == str(workflow.run_folder(warm) / "shards/latest_listing.json.gz")


def test_the_warm_tables_reuse_unchanged_rows_and_equal_tables_made_anew(runs, tmp_path):
    """normalize_tables of the warm run takes unchanged models' rows from the cold run's cache
    (its log says how many) and writes what a run without the cache writes."""
    import pyarrow.parquet as pq

    from hfharvest.normalize import TABLES
    from hfharvest.normalize.inputs import RunInputs
    from hfharvest.normalize.stage import normalize_tables

    workflow, _, warm, *_ = runs
    log = (workflow.root / "data" / "logs" / "day2" / "normalize_tables.log").read_text()
    reused, made = map(int, re.search(r"rows of (\d+) models reused, of (\d+) made", log).groups())
    assert reused > made > 0
    stages = {"add_ancestor_models": "hf_models_with_ancestors.json"}
    folder = workflow.run_folder(warm)
    normalize_tables(RunInputs.from_folder(folder, stages), tmp_path, "day2", 10_000)
    out = workflow.root / "data" / "2_normalized" / "hf" / "day2" / "tables"
    for name in TABLES:
        if name != "failures":  # the workflow's holds every stage's, this call one stage's
            assert pq.read_table(out / f"{name}.parquet").equals(
                pq.read_table(tmp_path / f"{name}.parquet")
            ), name
