"""Enrichers against the replica hub: real recorded data where it exists, honest gaps elsewhere."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import snapshot_record

from hfharvest.enrich import (
    base_models,
    enrich_articles,
    enrich_base_models,
    enrich_datasets,
    enrich_keywords,
    enrich_languages,
    enrich_licenses,
    enrich_tasks,
)
from hfharvest.entities import entity_id
from hfharvest.hub import HubClient
from hfharvest.jsonio import artifact_writer
from hfharvest.replica import DEFAULT_SNAPSHOT, ReplicaHub

BERT = "google-bert/bert-base-uncased"
ARXIV_DIR = DEFAULT_SNAPSHOT / "arxiv"


def stored_paper(arxiv_id: str) -> dict:
    return json.loads((ARXIV_DIR / f"{arxiv_id.replace('/', '_')}.json").read_text())


def bert_mapping(prefix: str, scheme: str = "") -> dict[str, list[str]]:
    """What the identify stage finds in bert-base-uncased's real record, for one tag prefix."""
    tags = snapshot_record(BERT)["tags"]
    return {BERT: [scheme + tag.split(":", 1)[1] for tag in tags if tag.startswith(prefix + ":")]}


def by_id(entities: list[dict]) -> dict[str, dict]:
    return {record["id"]: record for record in entities}


@pytest.fixture
def client(replica) -> HubClient:
    return HubClient(replica.url, max_retries=1, backoff_s=0.01)


@pytest.fixture
def arxiv_endpoint(replica) -> str:
    return f"{replica.url}/api/query"


# -- articles ----------------------------------------------------------------------------------


def test_bert_paper_from_the_arxiv_api(replica, arxiv_endpoint):
    mapping = bert_mapping("arxiv", "arxiv:")
    assert mapping == {BERT: ["arxiv:1810.04805"]}

    [paper] = enrich_articles(mapping, arxiv_endpoint, delay_s=0)

    stored = stored_paper("1810.04805")
    assert paper["enriched"] is True and paper["models"] == [BERT]
    assert (
        paper["title"]
        == "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding"
    )
    assert paper["authors"] == [
        "Jacob Devlin",
        "Ming-Wei Chang",
        "Kenton Lee",
        "Kristina Toutanova",
    ]
    assert paper["abstract"] == stored["summary"]
    assert (paper["arxiv_id"], paper["version"]) == ("1810.04805", 2)
    assert paper["primary_category"] == "cs.CL" and paper["categories"] == ["cs.CL"]
    assert (paper["published"], paper["updated"]) == (stored["published"], stored["updated"])
    assert paper["links"]["pdf"] == "https://arxiv.org/pdf/1810.04805v2"
    assert paper["entity_id"] == entity_id("articles", "arxiv:1810.04805")
    assert replica.stats()["by_endpoint"]["arxiv_query"] == 1


def test_doi_journal_ref_comment_and_old_style_ids(arxiv_endpoint):
    mapping = {"m": ["arxiv:1111.2011", "arxiv:hep-ex/0406020v1", "doi:10.48550/arxiv.2010.11929"]}
    papers = by_id(enrich_articles(mapping, arxiv_endpoint, delay_s=0))

    bethe = papers["arxiv:1111.2011"]
    assert bethe["doi"] == "10.1103/PhysRevB.85.115117"
    assert bethe["journal_ref"] == "Phys. Rev. B 85, 115117 (2012)"
    assert bethe["comment"] == "8 pages, 3 figures. Published version"
    assert bethe["title"].startswith("Quantum Criticality for Extended Nodes")  # line break folded
    assert bethe["categories"] == ["cond-mat.str-el", "cond-mat.stat-mech"]
    old = papers["arxiv:hep-ex/0406020v1"]
    assert (old["arxiv_id"], old["requested_version"], old["authors"]) == (
        "hep-ex/0406020",
        1,
        ["Alessia Tricomi"],
    )
    vit = papers["doi:10.48550/arxiv.2010.11929"]  # an arXiv DOI resolves through arXiv
    assert vit["enriched"] and vit["arxiv_id"] == "2010.11929" and len(vit["authors"]) == 12


def test_fields_no_source_gives_stay_null_never_invented(arxiv_endpoint):
    """BART is stored without abstract, version or later-version date; DistilBERT has all three."""
    mapping = {"facebook/bart-large-mnli": ["arxiv:1910.13461"], "m": ["arxiv:1910.01108"]}
    papers = by_id(enrich_articles(mapping, arxiv_endpoint, delay_s=0))

    bart, stored = papers["arxiv:1910.13461"], stored_paper("1910.13461")
    assert bart["enriched"] and "summary" not in stored and "updated" not in stored
    assert (bart["abstract"], bart["updated"], bart["version"], bart["comment"]) == (None,) * 4
    assert (bart["title"], bart["authors"]) == (stored["title"], stored["authors"])
    assert (bart["published"], bart["primary_category"]) == ("2019-10-29", "cs.CL")
    assert bart["categories"] == stored["categories"] == ["cs.CL", "cs.LG", "stat.ML"]

    distilbert, stored = papers["arxiv:1910.01108"], stored_paper("1910.01108")
    assert distilbert["abstract"] == stored["summary"] and distilbert["version"] == 4
    assert distilbert["updated"] == "2020-03-01T02:57:50Z"
    assert (distilbert["primary_category"], distilbert["categories"]) == (None, [])  # not stored


def test_unknown_invalid_and_doi_articles_are_kept_with_reasons(replica, arxiv_endpoint):
    mapping = {
        "a": ["arxiv:1810.04805", "arxiv:2405.99999", "arxiv:not-an-id"],
        "b": ["doi:10.57967/hf/0039", "arxiv:1810.04805"],
    }
    papers = by_id(enrich_articles(mapping, arxiv_endpoint, delay_s=0))

    assert list(papers) == sorted(papers)
    assert papers["arxiv:1810.04805"]["models"] == ["a", "b"]
    assert papers["arxiv:2405.99999"]["reason"] == "not_in_answer"  # arXiv lists nothing for it
    assert papers["arxiv:not-an-id"]["reason"] == "invalid_id"
    doi = papers["doi:10.57967/hf/0039"]
    assert (doi["enriched"], doi["reason"], doi["message"]) == (
        False,
        "no_doi_resolver",
        "no DOI resolver configured",
    )
    # One query for the two well-formed ids; the malformed one is never sent (arXiv would 400).
    assert replica.stats()["by_endpoint"]["arxiv_query"] == 1


def test_batches_of_fifty(replica, arxiv_endpoint):
    ids = ["arxiv:1810.04805"] + [f"arxiv:2401.{n:05d}" for n in range(119)]
    papers = list(enrich_articles({"m": ids}, arxiv_endpoint, batch_size=50, delay_s=0))

    assert len(papers) == 120
    assert replica.stats()["by_endpoint"]["arxiv_query"] == 3
    assert [p["id"] for p in papers if p["enriched"]] == ["arxiv:1810.04805"]
    assert {p["reason"] for p in papers if not p["enriched"]} == {"not_in_answer"}


def test_transient_errors_are_retried_then_reported(replica, arxiv_endpoint):
    mapping = {"m": ["arxiv:1810.04805"]}
    replica.configure(faults={"reset": {"rate": 1.0, "times": 2, "endpoints": ["arxiv_query"]}})
    [paper] = enrich_articles(mapping, arxiv_endpoint, delay_s=0, retries=3)
    assert paper["enriched"] and replica.stats()["by_endpoint"]["arxiv_query"] == 3

    replica.configure(faults={"5xx": {"rate": 1.0, "endpoints": ["arxiv_query"]}})
    replica.reset_stats()
    [paper] = enrich_articles(mapping, arxiv_endpoint, delay_s=0, retries=2)
    assert (paper["enriched"], paper["reason"]) == (False, "transient")
    assert replica.stats()["by_endpoint"]["arxiv_query"] == 3


def test_the_arxiv_package_reads_the_replica_feed(replica):
    import arxiv  # a dev dependency: the replica's feed must satisfy the real client

    client = arxiv.Client(delay_seconds=0, num_retries=0)
    client.query_url_format = f"{replica.url}/api/query?{{}}"

    [result] = client.results(arxiv.Search(id_list=["1810.04805"]))
    assert result.get_short_id() == "1810.04805v2"
    assert result.title == stored_paper("1810.04805")["title"]
    assert [a.name for a in result.authors][0] == "Jacob Devlin"
    assert list(client.results(arxiv.Search(id_list=["0808.05394"]))) == []  # unknown: no entry
    [distilbert] = client.results(arxiv.Search(id_list=["1910.01108"]))
    assert distilbert.summary == stored_paper("1910.01108")["summary"]
    assert distilbert.comment == stored_paper("1910.01108")["comment"] and not distilbert.categories
    # The client requires <updated>: it skips BART's entry (stored without one) with a warning.
    # (Asked together with a complete paper, its pager then sees fewer entries than totalResults.)
    assert list(client.results(arxiv.Search(id_list=["1910.13461"]))) == []


# -- datasets ----------------------------------------------------------------------------------


def test_free_text_is_never_requested_and_unknown_ids_are_not_found(replica, client):
    mapping = {"cahya/bert-base-indonesian-522M": ["Indonesian Wikipedia", "no-org/no-dataset"]}

    found = by_id(enrich_datasets(client, mapping))

    assert found["Indonesian Wikipedia"]["reason"] == "invalid_id"
    assert found["no-org/no-dataset"]["reason"] == "not_found"
    assert replica.stats()["by_endpoint"]["dataset_info"] == 1  # only the valid id was asked


@pytest.fixture
def dataset_replica(tmp_path):
    """The real snapshot plus one test-only dataset body and Croissant document (not Hub data)."""
    snapshot = shutil.copytree(DEFAULT_SNAPSHOT, tmp_path / "snapshot")
    body = {
        "_id": "0" * 24,
        "id": "replica-test/tiny",
        "author": "replica-test",
        "sha": "2" * 40,
        "lastModified": "2024-01-02T03:04:05.000Z",
        "tags": [
            "task_categories:fill-mask",
            "size_categories:n<1K",
            "license:mit",
            "arxiv:1810.04805",
        ],
        "description": "A test fixture written by tests/test_enrich.py.",
        "downloads": 7,
        "likes": 1,
        "cardData": {
            "license": "mit",
            "task_categories": ["fill-mask"],
            "size_categories": ["n<1K"],
        },
    }
    (snapshot / "api" / "datasets").mkdir(exist_ok=True)
    (snapshot / "api" / "datasets" / "replica-test__tiny.json").write_text(json.dumps(body))
    legacy = {**body, "_id": "1" * 24, "id": "tiny-legacy", "author": None}
    (snapshot / "api" / "datasets" / "tiny-legacy.json").write_text(json.dumps(legacy))
    croissant = {
        "@type": "sc:Dataset",
        "name": "tiny",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
    }
    (snapshot / "api" / "croissant").mkdir(exist_ok=True)
    (snapshot / "api" / "croissant" / "replica-test__tiny.json").write_text(json.dumps(croissant))
    with ReplicaHub(snapshot) as hub:
        yield hub, body, croissant


def test_dataset_record_and_croissant(dataset_replica):
    hub, body, croissant = dataset_replica
    client = HubClient(hub.url)
    mapping = {"a": ["replica-test/tiny", "tiny-legacy"], "b": ["replica-test/tiny"]}

    found = by_id(enrich_datasets(client, mapping))

    tiny = found["replica-test/tiny"]
    assert tiny["enriched"] and tiny["models"] == ["a", "b"]
    assert (tiny["author"], tiny["sha"], tiny["downloads"]) == ("replica-test", body["sha"], 7)
    assert tiny["description"] == body["description"]
    assert (tiny["license"], tiny["task_categories"]) == (["mit"], ["fill-mask"])
    assert tiny["size_categories"] == ["n<1K"] and tiny["arxiv"] == ["1810.04805"]
    assert tiny["last_modified"] == "2024-01-02T03:04:05Z"
    assert tiny["card_data"] == body["cardData"]
    assert (tiny["croissant"], tiny["croissant_status"]) == (croissant, "ok")
    legacy = found["tiny-legacy"]  # a legacy id without an org works the same way
    assert legacy["enriched"] and (legacy["croissant"], legacy["croissant_status"]) == (
        None,
        "missing",
    )
    assert hub.stats()["by_endpoint"]["croissant"] == 2


def test_one_failing_dataset_does_not_sink_the_others(dataset_replica):
    hub, _, _ = dataset_replica
    client = HubClient(hub.url, max_retries=1, backoff_s=0.01)
    only = {"ids": ["tiny-legacy"], "endpoints": ["dataset_info"], "statuses": [503]}
    hub.configure(faults={"5xx": {"rate": 1.0, **only}})
    found = by_id(enrich_datasets(client, {"m": ["replica-test/tiny", "tiny-legacy"]}))

    assert found["replica-test/tiny"]["enriched"]
    assert (found["tiny-legacy"]["enriched"], found["tiny-legacy"]["reason"]) == (
        False,
        "transient",
    )


# -- licences, languages, tasks, base models, keywords -----------------------------------------


def test_licenses_from_spdx_and_the_hub_table():
    mapping = {
        BERT: ["Apache-2.0"],
        "meta-llama/Llama-3.1-8B-Instruct": ["llama3.1"],
        "m": ["mit", "other", "not-a-licence", "bsd"],
    }
    found = by_id(enrich_licenses(mapping))

    apache = found["Apache-2.0"]
    assert (apache["name"], apache["osi_approved"], apache["spdx_id"]) == (
        "Apache License 2.0",
        True,
        "Apache-2.0",
    )
    assert apache["url"] == "https://spdx.org/licenses/Apache-2.0.html"
    assert (
        apache["source"]
        if "source" in apache
        else apache["extraction_metadata"]["source"] == "spdx"
    )
    llama = found["llama3.1"]
    assert (llama["name"], llama["spdx_id"], llama["extraction_metadata"]["source"]) == (
        "Llama 3.1 Community License",
        None,
        "hub_license_table",
    )
    assert llama["url"].startswith("https://") and llama["models"] == [
        "meta-llama/Llama-3.1-8B-Instruct"
    ]
    assert found["mit"]["spdx_id"] == "MIT"  # the Hub's lower-case spelling of an SPDX id
    assert found["bsd"]["family"] is True
    assert found["other"]["reason"] == "no_specific_license"
    assert found["not-a-licence"]["reason"] == "unknown_license"


def test_languages():
    found = by_id(enrich_languages({"a": ["en", "mul", "multilingual"], "b": ["en", "yue"]}))

    english = found["en"]
    assert (english["name"], english["iso639_1"], english["iso639_3"]) == ("English", "en", "eng")
    assert english["models"] == ["a", "b"]
    assert (found["yue"]["iso639_1"], found["yue"]["iso639_3"]) == (None, "yue")
    assert found["mul"]["name"] == "Multiple languages"
    assert (found["multilingual"]["enriched"], found["multilingual"]["reason"]) == (
        False,
        "unknown_language",
    )


def test_tasks_from_the_hub_and_the_pipelines_table(replica, client):
    recorded = json.loads((DEFAULT_SNAPSHOT / "api" / "tasks.json").read_text())["fill-mask"]
    mapping = {BERT: [snapshot_record(BERT)["pipeline_tag"]], "m": ["not-a-task"]}

    found = by_id(enrich_tasks(mapping, client))

    fill = found["fill-mask"]
    assert (fill["label"], fill["modality"], fill["name"]) == (
        recorded["label"],
        "nlp",
        "Fill-Mask",
    )
    assert fill["summary"] == recorded["summary"] and fill["libraries"] == recorded["libraries"]
    assert {sub["id"] for sub in fill["subtasks"]} == {"slot-filling", "masked-language-modeling"}
    assert (found["not-a-task"]["enriched"], found["not-a-task"]["reason"]) == (
        False,
        "unknown_task",
    )
    assert replica.stats()["by_endpoint"]["tasks"] == 1


def test_a_legacy_task_id_resolves_to_the_task_it_now_belongs_to(client):
    recorded = json.loads((DEFAULT_SNAPSHOT / "api" / "tasks.json").read_text())
    flan = snapshot_record("google/flan-t5-large")
    assert flan["pipeline_tag"] == "text2text-generation" and "text2text-generation" not in recorded

    found = by_id(
        enrich_tasks({flan["id"]: [flan["pipeline_tag"]], "z": ["conversational"]}, client)
    )

    legacy = found["text2text-generation"]
    assert legacy["enriched"] is True and legacy["resolved_to"] == "text-generation"
    assert (legacy["label"], legacy["name"], legacy["modality"]) == (
        "Text2Text Generation",  # its own entry among text-generation's subtasks
        "Text2Text Generation",
        "nlp",
    )
    assert legacy["summary"] == recorded["text-generation"]["summary"]
    assert legacy["models"] == ["google/flan-t5-large"]
    assert found["conversational"]["resolved_to"] == "text-generation"
    assert found["conversational"]["label"] == "Conversational"


def test_base_models_from_the_ancestors_artifact(tmp_path):
    base = {
        **snapshot_record("meta-llama/Llama-3.1-8B-Instruct"),
        "ancestry": {
            "depth": 1,
            "pulled_in_by": [{"model_id": "org/finetuned", "relation": "finetune"}],
        },
    }
    base["modelId"] = base["id"]
    artifact = {
        "models": [base],
        "failures": [
            {
                "model_id": "meta-llama/Llama-3.1-8B",
                "reason": "gated",
                "message": "gated repo",
                "pulled_in_by": [
                    {"model_id": "meta-llama/Llama-3.1-8B-Instruct", "relation": "finetune"}
                ],
            }
        ],
    }
    mapping = {
        "org/finetuned": ["meta-llama/Llama-3.1-8B-Instruct"],
        "meta-llama/Llama-3.1-8B-Instruct": ["meta-llama/Llama-3.1-8B"],
        "x": ["nobody/unknown-base"],
    }
    # A renamed repo: requested under its old id, recorded under the new one.
    renamed = {**snapshot_record("google-bert/bert-base-uncased")}
    renamed["modelId"] = renamed["id"]
    renamed["extraction_metadata"] = {"requested_id": "bert-base-uncased"}
    mapping["y"] = ["bert-base-uncased"]
    path = tmp_path / "hf_models_with_ancestors.json"
    with artifact_writer(path, "add_ancestor_models") as out:
        out.add_model(base)
        out.add_model(renamed)
        out.add_model(
            {**snapshot_record("google/flan-t5-large"), "modelId": "google/flan-t5-large"}
        )
        for failure in artifact["failures"]:
            out.add_failure(failure)
    found = by_id(enrich_base_models(path, iter(mapping.items())))

    assert list(found) == sorted(found)  # one entity per base id, sorted, not the other models
    assert set(found) == {
        "meta-llama/Llama-3.1-8B-Instruct",
        "meta-llama/Llama-3.1-8B",
        "nobody/unknown-base",
        "bert-base-uncased",
    }
    old_name = found["bert-base-uncased"]
    assert (old_name["enriched"], old_name["model_id"]) == (True, "google-bert/bert-base-uncased")
    assert old_name["record"]["sha"] == renamed["sha"] and old_name["models"] == ["y"]

    instruct = found["meta-llama/Llama-3.1-8B-Instruct"]
    assert (instruct["depth"], instruct["relations"], instruct["models"]) == (
        1,
        ["finetune"],
        ["org/finetuned"],
    )
    assert instruct["record"]["sha"] == base["sha"]
    gated = found["meta-llama/Llama-3.1-8B"]
    assert (gated["enriched"], gated["reason"], gated["pulled_in_by"][0]["relation"]) == (
        False,
        "gated",
        "finetune",
    )
    assert found["nobody/unknown-base"]["reason"] == "not_harvested"


def test_base_models_join_in_batches_whatever_the_artifact_layout(tmp_path, monkeypatch):
    """Ids are asked a batch of records at a time, and a record read as written is kept as its
    text: across batches, and from an artifact not laid out a model a line (read by ijson),
    the entities are the same, extraction times aside."""
    monkeypatch.setattr(base_models, "KEYS_ASKED", 2)
    names = ["google/flan-t5-large", "gpt2", "google-bert/bert-base-uncased", "google-t5/t5-small"]
    records = [{**snapshot_record(name), "modelId": name} for name in names]
    records[3]["extraction_metadata"] = {"requested_id": "old/t5"}
    mapping = {"a": ["gpt2", "old/t5"], "b": ["google/flan-t5-large", "nobody/unknown"]}
    written = tmp_path / "written.json"
    with artifact_writer(written, "add_ancestor_models") as out:
        for record in records:
            out.add_model(record)
    one_line = tmp_path / "one_line.json"
    one_line.write_text(json.dumps({"stage": "add_ancestor_models", "models": records}))

    def entities(path):
        found = by_id(enrich_base_models(path, iter(mapping.items())))
        return {
            i: {k: v for k, v in e.items() if k != "extraction_metadata"} for i, e in found.items()
        }

    found = entities(written)
    assert found == entities(one_line)
    assert {i for i, e in found.items() if e["enriched"]} == {
        "gpt2",
        "google/flan-t5-large",
        "old/t5",
    }
    assert found["old/t5"]["record"] == records[3] and found["gpt2"]["record"] == records[1]


def test_base_models_parse_every_line_that_may_name_one(tmp_path):
    """Lines whose id (first, as the writer puts it) names no base are passed over unparsed;
    a line naming one otherwise is parsed: under a requested id, a second `modelId` (the last
    one is the record's), an escaped key."""
    records = [
        {"modelId": "gpt2", "sha": "1"},
        {"modelId": "new/t5", "extraction_metadata": {"requested_id": "old/t5"}},
        {"modelId": "decoy", "z": "DUPLICATE"},
        {"modelId": "other", "z": "ESCAPED"},
        {"modelId": "nobody/wanted", "sha": "2"},
    ]
    path = tmp_path / "hf_models_with_ancestors.json"
    with artifact_writer(path, "add_ancestor_models") as out:
        for record in records:
            out.add_model(record)
    text = path.read_text().replace('"z": "DUPLICATE"', '"modelId": "google/flan-t5-large"')
    escaped = '"extraction_metadata": {"requested\\u005fid": "esc/aped"}'
    path.write_text(text.replace('"z": "ESCAPED"', escaped))
    mapping = {"a": ["gpt2", "old/t5", "google/flan-t5-large", "esc/aped", "nobody/else"]}

    found = by_id(enrich_base_models(path, iter(mapping.items())))
    models = {base: entity.get("model_id") for base, entity in found.items()}
    assert models == {"esc/aped": "other", "google/flan-t5-large": "google/flan-t5-large",
                      "gpt2": "gpt2", "nobody/else": None, "old/t5": "new/t5"}  # fmt: skip
    assert [e["enriched"] for e in found.values()] == [True, True, True, False, True]


def test_keywords():
    found = by_id(enrich_keywords({"a": ["exbert", "bert"], "b": ["bert"], "c": []}))

    assert (found["bert"]["count"], found["bert"]["models"]) == (2, ["a", "b"])
    assert found["exbert"]["keyword"] == "exbert" and found["exbert"]["count"] == 1


def test_entity_ids_are_stable_across_calls(arxiv_endpoint):
    mapping = {"a": ["Apache-2.0", "llama3"], "b": ["other"]}
    first, second = list(enrich_licenses(mapping)), list(enrich_licenses(mapping))
    assert [e["entity_id"] for e in first] == [e["entity_id"] for e in second]
    assert first[0]["entity_id"] == entity_id("licenses", "Apache-2.0")

    papers = {"m": ["arxiv:1810.04805", "arxiv:2405.99999"]}
    ids = [
        [e["entity_id"] for e in enrich_articles(papers, arxiv_endpoint, delay_s=0)] for _ in (1, 2)
    ]
    assert ids[0] == ids[1]
