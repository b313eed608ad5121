"""hf.bulk_cards: READMEs of the latest models taken from the Hub's bulk dump of model cards,
through the replica (which serves the dump with stale and missing rows), with its fallback."""

from __future__ import annotations

import json
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx2
import pyarrow.parquet as pq
import pytest
from card_helpers import card_cache, inline
from workflow_runner import Workflow

from hfharvest.hub import (
    MODEL_FIELDS,
    SIBLINGS,
    HubClient,
    _listing_entry,
    _with_siblings,
    readme_listed,
)
from hfharvest.replica import ReplicaHub
from hfharvest.replica.bulk import BulkDump
from hfharvest.stages.bulk_cards import DUMP_ID, prime_from_dump
from hfharvest.stages.extract import Extractor

SHARD = "shards/latest/1-of-1.json"  # the fetch shard's file, with its bulk_cards counts
LATEST = 1_500  # of 2 219 models: the dump holds models the listing does not ask for


@pytest.fixture(scope="module")
def hub():
    with ReplicaHub(scale=2_000, seed=5, dump_rows_per_shard=800) as replica:
        yield replica


def harvest(hub, root, bulk: bool, dump: dict | None = None,
            **client_args) -> tuple[list[dict], dict | None, dict]:  # fmt: skip
    """The latest models with their READMEs, and the replica's requests it cost, by endpoint
    and status. With `bulk`, as `hf.bulk_cards` runs: the listing with the models' file names
    (siblings), then the dump."""
    before = hub.stats()
    client = HubClient(hub.url, max_retries=1, backoff_s=0.01, max_wait_s=0.05, **client_args)
    cache = card_cache(root / "cache" / "hf", hub.url, root)
    extractor = Extractor(client, cache, threads=8)
    listed = [record for record, _ in extractor.listing_outcomes(LATEST, siblings=bulk) if record]
    dump = {"max_mb": 2048} | (dump or {})  # prime_from_dump's bounds
    counts = prime_from_dump(extractor, listed, **dump) if bulk else None
    records = [record for record, _ in extractor.with_cards((r, None) for r in listed)]
    records = inline(records, cache.store)  # texts read back from the card store
    after = hub.stats()
    cost = {key: after["by_endpoint"][key] - before["by_endpoint"].get(key, 0)
            for key in after["by_endpoint"]}  # fmt: skip
    for status, count in after["by_status"].items():
        cost[status] = count - before["by_status"].get(status, 0)
    cost["readme_gets"] = {model_id: count - before["readme_gets"].get(model_id, 0)
                           for model_id, count in after["readme_gets"].items()
                           if count > before["readme_gets"].get(model_id, 0)}  # fmt: skip
    return records, counts, cost


def served_rows(hub) -> dict[str, dict]:
    """The dump's rows as the replica serves them (its Parquet files, read whole here)."""
    rows = {}
    for name in hub.dump.files:
        for row in pq.read_table(hub.dump.file(name)[0]).to_pylist():
            rows[row["modelId"]] = row
    return rows


def test_the_dump_lags_by_the_shares_it_is_started_with(hub):
    """A bench sets how far the dump lags (a day's changes, not the testing defaults): with no
    stale and no missing share every model with a README has its row at its live commit; with
    every model missing, none has one."""
    models = hub.catalogue.models
    fresh = BulkDump(models, seed=5, rows_per_shard=800, stale_share=0.0, missing_share=0.0)
    total = len(fresh.real) + fresh.synthetic.count
    rows = [fresh.row(position) for position in range(0, total, 7)]
    assert all(row is not None for row in rows[: len(fresh.real) // 7])  # recorded with cards
    for row in filter(None, rows):
        live = datetime.fromisoformat(models[row["modelId"]].get("lastModified"))
        assert row["last_modified"] == live and row["card"]
    assert sum(row is None for row in rows) < len(rows) / 2  # the card-less ones only
    gone = BulkDump(models, seed=5, rows_per_shard=800, stale_share=0.0, missing_share=1.0)
    assert all(gone.row(position) is None for position in range(0, total, 7))
    assert {hub.dump.fate(model, synthetic=True) for model in list(models)[:400]} == {
        "current",
        "stale",
        "missing",
    }  # the replica's defaults: a dump lagging more


def comparable(record: dict) -> dict:
    """A record without what differs between two runs by design: when it was extracted, and
    where its README came from (the dump, the listing's file names or the README route)."""
    meta = {k: v for k, v in record["extraction_metadata"].items()
            if k not in ("extracted_at", "card_source")}  # fmt: skip
    return {**record, "extraction_metadata": meta}


def test_bulk_cards_fetch_only_stale_and_missing_readmes(hub, tmp_path):
    plain, _, plain_cost = harvest(hub, tmp_path / "plain", bulk=False)
    records, counts, cost = harvest(hub, tmp_path / "bulk", bulk=True)
    assert len(records) == len(plain) == LATEST
    assert plain_cost["resolve_get"] == LATEST  # one README each without the dump

    rows, models = served_rows(hub), hub.catalogue.models
    records_by_id = {record["modelId"]: record for record in records}
    current, stale, individual, cardless, unlisted = set(), set(), set(), set(), set()
    for record in records:
        model_id, row = record["modelId"], rows.get(record["modelId"])
        repo = models[model_id]
        live = datetime.fromisoformat(repo.get("lastModified"))
        if repo.readme_text() is None and not record.get("gated"):
            cardless.add(model_id)  # its listed files show no README.md: nothing to ask
            continue
        if row and row["last_modified"] != live:
            stale.add(model_id)
        if row is None and repo.readme_text() is not None:
            unlisted.add(model_id)  # a README the dump lacks
        if row and row["card"] and row["last_modified"] == live and not record.get("gated"):
            current.add(model_id)
        else:
            individual.add(model_id)
    assert stale and unlisted and len(current) > LATEST / 2
    assert len(cardless) > LATEST / 10  # a quarter of the synthetic models have no README
    # README requests: only the models the dump cannot serve, plus the dump's own files; none
    # for a card-less model (no 404 at all), and every stale or missing-with-README one fetched.
    assert cost["resolve_get"] == len(individual) + len(hub.dump.files)
    assert cost.get("404", 0) == 0 and plain_cost["404"] >= len(cardless)
    assert set(cost["readme_gets"]) - set(hub.dump.files) >= stale | unlisted
    assert not set(cost["readme_gets"]) & (current | cardless)
    assert cost["list_models"] == plain_cost["list_models"]  # the file names cost no request
    assert counts["used"] == len(current)
    assert counts["no_readme"] == len(cardless)
    assert counts["stale"] == len({m for m in stale if not records_by_id[m].get("gated")})
    assert counts["individual"] == len(individual)

    by_source = {r["modelId"]: r["extraction_metadata"].get("card_source") for r in records}
    assert {m for m, source in by_source.items() if source == "bulk_dump"} == current
    assert {m for m, source in by_source.items() if source == "siblings"} == cardless
    # The same records as one README request each gives, card and card_status included.
    assert [comparable(r) for r in records] == [comparable(r) for r in plain]
    assert all(r["extraction_metadata"]["card_status"] == "missing" for r in records
               if r["modelId"] in cardless)  # fmt: skip
    taken = sorted(current)[:20]
    client = HubClient(hub.url)
    for model_id, record in ((r["modelId"], r) for r in records if r["modelId"] in taken):
        assert client.readme(model_id, record["sha"])[0].encode() == record["card"].encode()

    # A second run on the same data root: the dump's files are not downloaded again.
    again, counts, cost = harvest(hub, tmp_path / "bulk", bulk=True)
    assert cost["resolve_get"] == 0 and cost["resolve_head"] == 0
    assert counts["cached"] == len(current)
    assert [comparable(r) for r in again] == [comparable(r) for r in plain]
    # A later run without the dump on that data root asks nothing for the card-less models
    # either: their README-less commit is in the README cache, as a 404 would have put it.
    later, _, cost = harvest(hub, tmp_path / "bulk", bulk=False)
    assert cost["resolve_get"] == 0
    assert [comparable(r) for r in later] == [comparable(r) for r in plain]


def page_sizes(hub, fields: list[str]) -> list[int]:
    """The bytes of each page of the listing `harvest` reads, asked with these expand fields."""
    sizes, url = [], f"{hub.url}/api/models"
    params = {"sort": "lastModified", "limit": LATEST, "expand": fields}
    while url and len(sizes) * hub.page_size < LATEST:
        response = httpx2.get(url, params=params)
        sizes.append(len(response.content))
        url, params = response.links.get("next", {}).get("url"), None
    return sizes


def test_a_listing_page_too_large_with_file_names_is_asked_again_without(hub, tmp_path, caplog):
    """A page over hub.json_max_mb with the models' file names costs one more listing request
    and the README requests of its card-less models, never the run."""
    cap = max(page_sizes(hub, MODEL_FIELDS))  # every page fits without the file names
    over = sum(size > cap for size in page_sizes(hub, [*MODEL_FIELDS, SIBLINGS]))
    assert over > 2  # not only the first page: the next one asks for the file names again
    plain, _, _ = harvest(hub, tmp_path / "plain", bulk=False)
    records, counts, cost = harvest(hub, tmp_path / "bulk", bulk=True, json_max_bytes=cap)
    pages = -(-LATEST // hub.page_size)
    assert caplog.text.count(f"asked again without {SIBLINGS}") == over
    assert cost["list_models"] == pages + over
    assert counts["individual"] > LATEST / 5  # the card-less models of those pages, asked
    assert [comparable(r) for r in records] == [comparable(r) for r in plain]


def test_the_next_page_asks_for_file_names_again():
    """After a page asked without siblings, its next link (which carries that query) gets
    them back, in either form the expand list takes."""
    for query in ("expand=sha&expand=tags", "expand=sha,tags", "expand%5B%5D=sha"):
        url = f"https://hub.example/api/models?{query}&cursor=abc"
        with_files, _ = _with_siblings(url, None, True)
        assert parse_qs(urlsplit(with_files).query)["expand"][-1] == SIBLINGS
        again, _ = _with_siblings(with_files, None, False)
        assert SIBLINGS not in again and "cursor=abc" in again


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
    sources = {r["extraction_metadata"].get("card_source") for r in records}
    assert sources == {None, "siblings"}  # nothing from the dump; card-less models not asked
    models = hub.catalogue.models
    readable = [r for r in records if not r.get("gated")]
    assert all(r["card"] == models[r["modelId"]].readme_text() for r in readable)
    asked = LATEST - counts["no_readme"]  # one README each (and the broken dump's tries)
    assert counts["no_readme"] > 0 and cost["resolve_get"] >= asked
    if "not_found" in faults:
        assert cost["resolve_get"] == asked


def test_the_workflow_with_bulk_cards_asks_nothing_for_card_less_models(tmp_path):
    """Through Snakemake: the same latest models with and without `hf.bulk_cards`; with it,
    the listing's file names spare every card-less model its README request."""
    with ReplicaHub(scale=300, seed=8, page_size=50) as replica:
        runs = {}
        for bulk in (False, True):
            config = {
                "run_id": "bulk" if bulk else "plain",
                "hub": {"endpoint": replica.url, "max_retries": 1},
                "hf": {"num_models": 120, "models_file": None, "bulk_cards": bulk},
            }
            workflow = Workflow(tmp_path / config["run_id"])
            target = workflow.run_folder(config).relative_to(workflow.root)
            replica.reset_stats()
            workflow.run(config, str(target / "hf_models_latest.json.gz"), "--notemp")
            latest = workflow.artifact(config, "hf_models_latest.json.gz")["models"]
            runs[bulk] = latest, replica.stats(), workflow.artifact(config, SHARD)
    (plain, plain_stats, _), (bulk, stats, shard) = runs[False], runs[True]
    models = replica.catalogue.models
    cardless = {m["modelId"] for m in plain
                if models[m["modelId"]].readme_text() is None and not m.get("gated")}  # fmt: skip
    assert len(cardless) > 10 and plain_stats["by_status"]["404"] == len(cardless)
    assert "404" not in stats["by_status"]  # not one README asked in vain
    assert shard["bulk_cards"]["no_readme"] == len(cardless)
    by_source = {m["modelId"]: m["extraction_metadata"].get("card_source") for m in bulk}
    assert {m for m, source in by_source.items() if source == "siblings"} == cardless
    assert [comparable(m) for m in bulk] == [comparable(m) for m in plain]


@pytest.mark.parametrize(
    ("siblings", "listed"),
    [
        ([{"rfilename": "config.json"}, {"rfilename": "README.md", "size": 5}], True),
        ([{"rfilename": "readme.md"}, {"rfilename": "docs/README.md"}], False),  # not the card
        ([], False),
        (None, None),  # not asked: unknown, the README is asked for
        ([{"rfilename": "README.md", "lfs": "odd"}, {"name": "x"}], None),  # odd: unknown
        ("README.md", None),
    ],
)
def test_what_the_listed_file_names_say_about_the_readme(siblings, listed):
    """An odd file list says nothing (the README is then asked), and never sinks the model."""
    raw = json.dumps({"id": "org/model", "sha": "a" * 40, "siblings": siblings}).encode()
    info = _listing_entry(raw, 3, "listing entry 1")
    assert info.id == "org/model" and readme_listed(info) is listed


# -- a hostile dump -----------------------------------------------------------------------------

TOKEN = "hf_DUMMYbulk4dump7secret"


def files_under(root) -> list[str]:
    """The files under `root`, but the bulk download's lock files."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if path.is_file() and path.suffix != ".lock")  # fmt: skip


def test_what_the_dump_server_says_chooses_no_path_and_gets_no_token(tmp_path, caplog):
    """huggingface_hub's download named its cache files after the server's ETag (`../` in it
    wrote outside the data root) and handed Xet transfers, token included, to hosts the server
    names. The dump is fetched by plain GETs now: its files land under the revision they are
    of, whatever the headers say, and another host gets neither a request nor the token."""
    with ReplicaHub(scale=300, seed=5, dump_rows_per_shard=200) as hub, ReplicaHub() as elsewhere:
        hostile = {
            "ETag": '"../../../../../planted"',
            "X-Linked-Etag": '"../../../../../planted"',
            "X-Xet-Hash": "0" * 64,
            "X-Xet-Refresh-Route": f"{elsewhere.url}/api/models/gpt2/xet-read-token/main",
            "Link": f'<{elsewhere.url}/api/models/gpt2/xet-read-token/main>; rel="xet-auth"',
        }
        hub.configure(faults={"headers": {"ids": [DUMP_ID], "set": hostile}})
        root = tmp_path / "data"
        records, counts, _ = harvest(hub, root, bulk=True, token=TOKEN)
        revision = hub.catalogue.datasets[DUMP_ID].get("sha")
        assert hub.stats()["faults_injected"]["headers"] > 0
    assert counts["used"] > 0 and not counts.get("unusable")
    bulk_files = [name for name in files_under(tmp_path) if "/bulk/" in f"/{name}"]
    assert bulk_files and all(f"/{revision}/data/" in name and name.endswith(".parquet")
                              for name in bulk_files)  # fmt: skip
    # Where the five `../` led huggingface_hub's download: the test's own folder, lock files
    # included (not pytest's shared base folder, which other tests' files share).
    assert not any("planted" in path.name for path in tmp_path.rglob("*"))
    assert elsewhere.stats()["total"] == 0
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "fault, dump, cause",
    [
        ({}, {"max_mb": 0.01}, "byte cap"),  # a dump file larger than hf.bulk_max_mb
        (
            {"trickle": {"ids": [DUMP_ID], "endpoints": ["resolve_get"], "bytes_per_s": 20_000}},
            {"deadline_s": 0.5},
            "(hf.bulk_deadline_s)",
        ),
        ({}, {"group_max_mb": 0.001}, "hf.bulk_row_group_max_mb"),  # decodes to too much
    ],
)
def test_a_dump_over_its_bounds_is_dropped_and_leaves_nothing_behind(tmp_path, caplog, fault,
                                                                     dump, cause):  # fmt: skip
    with ReplicaHub(scale=300, seed=5, dump_rows_per_shard=200) as hub:
        hub.configure(faults=fault)
        started = time.monotonic()
        records, counts, cost = harvest(hub, tmp_path, bulk=True, dump=dump)
        took = time.monotonic() - started
    assert counts["unusable"] and counts["used"] == 0
    assert cause in caplog.text
    assert len(records) == counts["listed"] > 300  # each README asked as without the dump:
    assert cost["resolve_get"] >= len(records) - counts["no_readme"]
    assert took < 20  # the trickled dump alone would take minutes
    # Nothing kept: no partial download, and a file read and refused is not kept either.
    assert [name for name in files_under(tmp_path) if "/bulk/" in f"/{name}"] == []


def test_a_kept_dump_file_that_cannot_be_read_is_dropped_and_fetched_again(tmp_path, caplog):
    with ReplicaHub(scale=300, seed=5, dump_rows_per_shard=200) as hub:
        _, first, _ = harvest(hub, tmp_path, bulk=True)
        kept = [path for path in tmp_path.rglob("*.parquet")]
        assert first["used"] > 0 and kept
        kept[0].write_bytes(b"PAR1 not a Parquet file")
        _, second, _ = harvest(hub, tmp_path, bulk=True)
        assert second["unusable"] and not kept[0].exists()
    assert "not usable" in caplog.text
