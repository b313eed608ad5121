"""End-to-end: the Snakemake workflow against a replica hub, asserting contents and reruns."""

from __future__ import annotations

import copy

import pytest
from conftest import snapshot_record
from workflow_runner import Workflow, rules_run

from hfharvest.jsonio import read_json
from hfharvest.lineage import base_model_links
from hfharvest.replica import DEFAULT_SNAPSHOT, ReplicaHub

EXTRACT = {"extract_latest", "extract_from_file"}
EXTRACT |= {"list_latest_models", "fetch_latest_cards", "split_models_file", "fetch_file_models"}
KINDS = ["datasets", "articles", "base_models", "keywords", "licenses", "languages", "tasks"]
IDENTIFY_AND_ENRICH = {"identify"} | {f"enrich_{kind}" for kind in KINDS}
NORMALIZE = {"normalize_fair4ml", "normalize_tables", "build_catalogue", "plot_lineage_families"}
# For runs that check the harvest only: the normalize stage has its own tests (test_normalize.py).
WITHOUT_NORMALIZE = ("--omit-from", "normalize_fair4ml", "normalize_tables")
MODELS_FILE = """\
# models for the end-to-end test
google-bert/bert-base-uncased

https://huggingface.co/HuggingFaceH4/zephyr-7b-beta
bert-base-uncased
meta-llama/Llama-3.1-8B-Instruct
not/a/valid/id
nobody-has/this-model-9f3c
{synthetic}
"""


@pytest.fixture(scope="module")
def hub():
    with ReplicaHub(page_size=10, scale=60, seed=7) as replica:
        yield replica


def synthetic_child_of_real(hub: ReplicaHub) -> tuple[str, str, str]:
    """A synthesised model whose base is a real snapshot model: (child, base, relation)."""
    real = {
        path.stem.replace("__", "/") for path in (DEFAULT_SNAPSHOT / "api/models").glob("*.json")
    }
    for model_id, repo in sorted(hub.catalogue.models.items()):
        for base, relation in base_model_links(repo.to_json()):
            if model_id.startswith("replica-scale-") and base in real and relation != "base_model":
                return model_id, base, relation
    raise AssertionError("the scaled replica has no synthetic finetune of a real model")


@pytest.fixture(scope="module")
def first_run(hub, tmp_path_factory):
    workflow = Workflow(tmp_path_factory.mktemp("wf"))
    child, base, relation = synthetic_child_of_real(hub)
    (workflow.root / "ids.txt").write_text(MODELS_FILE.format(synthetic=child))
    config = {
        "run_id": "e2e",
        "hub": {"endpoint": hub.url, "max_retries": 1},
        "hf": {
            "num_models": 12,
            "models_file": "ids.txt",
            "base_model_iterations": 2,
            "threads": 4,
        },
        "arxiv": {"endpoint": f"{hub.url}/api/query", "delay_s": 0},
    }
    result = workflow.run(config)
    return workflow, config, result, (child, base, relation)


def by_id(artifact: dict) -> dict[str, dict]:
    return {record["modelId"]: record for record in artifact["models"]}


def test_first_run_runs_every_rule(first_run):
    _, _, result, _ = first_run
    assert rules_run(result) == EXTRACT | IDENTIFY_AND_ENRICH | NORMALIZE | {
        "merge_models",
        "add_ancestor_models",
        "summarize_run",
        "plot_run_report",
        "write_delta",
    }


def test_latest_models_are_the_newest_in_order(first_run, hub):
    workflow, config, _, _ = first_run
    latest = workflow.artifact(config, "hf_models_latest.json.gz")
    stamps = [m["last_modified"] for m in latest["models"]]
    assert len(stamps) == 12
    assert stamps == sorted(stamps, reverse=True)
    newest_in_hub = max(repo.get("lastModified") for repo in hub.catalogue.models.values())
    assert stamps[0].replace("Z", "") == newest_in_hub.replace(".000Z", "")


def test_file_models_carry_real_metadata_and_card(first_run):
    workflow, config, _, _ = first_run
    models = by_id(workflow.artifact(config, "hf_models.json"))
    bert = models["google-bert/bert-base-uncased"]
    real = snapshot_record("google-bert/bert-base-uncased")
    assert bert["pipeline_tag"] == "fill-mask"
    assert bert["sha"] == real["sha"]
    assert bert["tags"] == real["tags"]
    assert bert["safetensors"]["total"] == real["safetensors"]["total"]
    card = (DEFAULT_SNAPSHOT / "cards" / "bert-base-uncased.md").read_text()
    assert workflow.card(config, bert) == card  # read from the card store by `card_sha256`
    assert "card" not in bert  # the text is not copied into the run's files
    meta = bert["extraction_metadata"]
    assert meta["source"] == "file" and meta["method"] == "model_info"
    assert meta["card_status"] == "ok" and meta["extracted_at"].endswith("Z")


def test_redirected_old_id_is_merged_into_its_new_name(first_run):
    workflow, config, _, _ = first_run
    merged = workflow.artifact(config, "hf_models.json")
    ids = [m["modelId"] for m in merged["models"]]
    assert len(ids) == len(set(ids))
    assert "bert-base-uncased" not in ids
    latest = [m["modelId"] for m in workflow.artifact(config, "hf_models_latest.json.gz")["models"]]
    assert ids[: len(latest)] == latest  # the listing's order, then the file's


def test_bad_lines_and_unknown_models_are_failures_not_crashes(first_run):
    workflow, config, _, _ = first_run
    failures = workflow.artifact(config, "hf_models_from_file.json.gz")["failures"]
    reasons = {f["model_id"]: (f["reason"], f["message"]) for f in failures}
    assert reasons["not/a/valid/id"][0] == "invalid_id"
    assert "ids.txt:7:" in reasons["not/a/valid/id"][1]
    assert reasons["nobody-has/this-model-9f3c"][0] == "not_found"


def test_gated_model_keeps_metadata_without_card(first_run):
    workflow, config, _, _ = first_run
    llama = by_id(workflow.artifact(config, "hf_models.json"))["meta-llama/Llama-3.1-8B-Instruct"]
    assert llama["gated"] == "manual"
    assert llama["card_sha256"] is None
    assert llama["extraction_metadata"]["card_status"] == "gated"


def test_base_model_is_pulled_in_with_its_relation(first_run):
    workflow, config, _, (child, base, relation) = first_run
    out = workflow.artifact(config, "hf_models_with_ancestors.json")
    models = by_id(out)
    assert child in models
    ancestor = models[base]
    assert ancestor["pipeline_tag"] == snapshot_record(base)["pipeline_tag"]
    if "ancestry" in ancestor:  # unless the base was already in the set
        assert {"model_id": child, "relation": relation} in ancestor["ancestry"]["pulled_in_by"]


def test_missing_base_model_is_recorded_and_the_round_goes_on(first_run):
    workflow, config, _, _ = first_run
    out = workflow.artifact(config, "hf_models_with_ancestors.json")
    missing = [f for f in out["failures"] if f["model_id"] == "mistralai/Mistral-7B-v0.1"]
    assert missing and missing[0]["reason"] == "not_found"
    # zephyr names it in its metadata (synthetic models of the replica may name it too)
    zephyr = {"model_id": "HuggingFaceH4/zephyr-7b-beta", "relation": "base_model"}
    assert zephyr in missing[0]["pulled_in_by"]


def test_summary_counts_match_the_artifacts(first_run):
    workflow, config, _, _ = first_run
    summary = workflow.artifact(config, "summary.json")
    for stage, name in [("merge_models", "hf_models.json"),
                        ("add_ancestor_models", "hf_models_with_ancestors.json")]:  # fmt: skip
        artifact = workflow.artifact(config, name)
        assert summary["stages"][stage]["models"] == len(artifact["models"])
        assert summary["stages"][stage]["failures"] == len(artifact["failures"])


def test_reruns_touch_only_stale_rules(first_run):
    workflow, config, _, _ = first_run
    again = workflow.run(config)
    assert rules_run(again) == set()
    assert "Nothing to be done" in again.stderr + again.stdout

    fewer_rounds = copy.deepcopy(config)
    fewer_rounds["hf"]["base_model_iterations"] = 1
    result = workflow.run(fewer_rounds)
    rerun = {"add_ancestor_models", "summarize_run", "plot_run_report"} | IDENTIFY_AND_ENRICH
    rerun |= NORMALIZE
    assert rules_run(result) == rerun

    more_models = copy.deepcopy(fewer_rounds)
    more_models["hf"]["num_models"] = 15
    result = workflow.run(more_models, *WITHOUT_NORMALIZE)
    assert "extract_latest" in rules_run(result)
    assert "extract_from_file" not in rules_run(result)
    assert len(workflow.artifact(more_models, "hf_models_latest.json.gz")["models"]) == 15


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"hf": {"num_models": -1}}, "num_models"),
        ({"hf": {"nmu_models": 3}}, "nmu_models"),
        ({"run_id": "../escape"}, "run_id"),
        ({"hub": {"endpoint": "ftp://example.org"}}, "endpoint"),
    ],
)
def test_bad_config_fails_naming_the_key(tmp_path, override, named):
    workflow = Workflow(tmp_path)
    config = {"run_id": "bad", "hub": {"endpoint": "replica"}, **override}
    result = workflow.run(config, "--dry-run", check=False)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("num_models", "models_file", "latest", "from_file"),
    [
        (5, None, 5, 0),  # latest only: `models_file: null`
        (5, "", 5, 0),  # latest only: an empty models file
        (0, "google-t5/t5-small\n", 0, 1),  # file only
    ],
)
def test_scenarios(hub, tmp_path, num_models, models_file, latest, from_file):
    workflow = Workflow(tmp_path)
    if models_file is not None:
        (tmp_path / "ids.txt").write_text(models_file)
    config = {
        "run_id": "scenario",
        "hub": {"endpoint": hub.url},
        "hf": {
            "num_models": num_models,
            "models_file": None if models_file is None else "ids.txt",
            "base_model_iterations": 0,
        },
        "arxiv": {"endpoint": f"{hub.url}/api/query", "delay_s": 0},
    }
    workflow.run(config, *WITHOUT_NORMALIZE)
    assert len(workflow.artifact(config, "hf_models_latest.json.gz")["models"]) == latest
    assert len(workflow.artifact(config, "hf_models_from_file.json.gz")["models"]) == from_file
    merged = workflow.artifact(config, "hf_models_with_ancestors.json")
    assert len(merged["models"]) == latest + from_file
    assert all("ancestry" not in record for record in merged["models"])


def entities_by_id(workflow, config, name) -> dict[str, dict]:
    return {entity["id"]: entity for entity in workflow.artifact(config, name)}


def test_every_model_gets_an_entry_per_kind(first_run):
    workflow, config, _, _ = first_run
    ids = {
        m["modelId"] for m in workflow.artifact(config, "hf_models_with_ancestors.json")["models"]
    }
    for kind in KINDS:
        mapping = workflow.artifact(config, f"identified/{kind}.json")
        assert set(mapping) == ids, kind
        assert all(entities == sorted(entities) for entities in mapping.values())


def test_bert_is_identified_and_enriched_from_its_sources(first_run):
    workflow, config, _, _ = first_run
    bert = "google-bert/bert-base-uncased"
    identified = {k: workflow.artifact(config, f"identified/{k}.json")[bert] for k in KINDS}
    assert identified["articles"] == ["arxiv:1810.04805"]
    assert identified["datasets"] == ["bookcorpus", "wikipedia"]
    assert identified["licenses"] == ["Apache-2.0"]
    assert identified["tasks"] == ["fill-mask"]
    assert identified["languages"] == ["en"]
    assert "exbert" in identified["keywords"] and "region:us" not in identified["keywords"]
    identifiers = workflow.artifact(config, "identified/identifiers.json")
    assert identifiers[bert] == ["https://huggingface.co/google-bert/bert-base-uncased"]
    sources = workflow.artifact(config, "identified/dataset_sources.json")
    assert sources[bert] == {"bookcorpus": "metadata", "wikipedia": "metadata"}
    relations = workflow.artifact(config, "identified/base_model_relations.json")
    # The YAML names the base without a relation; the real card's text says "fine-tuned".
    assert relations["HuggingFaceH4/zephyr-7b-beta"] == {
        "mistralai/Mistral-7B-v0.1": {
            "relation": "finetune",
            "source": "metadata",
            "relation_source": "card_text",
            "as_written": ["mistralai/Mistral-7B-v0.1"],
        }
    }

    paper = entities_by_id(workflow, config, "arxiv_articles.json")["arxiv:1810.04805"]
    assert paper["enriched"] and bert in paper["models"]
    assert paper["title"].startswith("BERT: Pre-training of Deep Bidirectional Transformers")
    licence = entities_by_id(workflow, config, "licenses.json")["Apache-2.0"]
    assert licence["name"] == "Apache License 2.0" and licence["enriched"]
    english = entities_by_id(workflow, config, "languages.json")["en"]
    assert english["enriched"] and bert in english["models"]
    task = entities_by_id(workflow, config, "tasks.json")["fill-mask"]
    assert task["enriched"] and bert in task["models"]


def test_unresolvable_entities_are_kept_with_a_reason(first_run):
    workflow, config, _, _ = first_run
    for name in ["hf_datasets_specific.json", "arxiv_articles.json", "hf_base_models.json"]:
        for entity in workflow.artifact(config, name):
            assert entity["enriched"] or entity["reason"], (name, entity["id"])
    bases = entities_by_id(workflow, config, "hf_base_models.json")
    assert bases["mistralai/Mistral-7B-v0.1"]["enriched"] is False
    assert bases["mistralai/Mistral-7B-v0.1"]["reason"] == "not_found"


def test_summary_counts_entities_per_kind(first_run):
    workflow, config, _, _ = first_run
    summary = workflow.artifact(config, "summary.json")
    for kind in KINDS:
        mapping = workflow.artifact(config, f"identified/{kind}.json")
        distinct = {entity for ids in mapping.values() for entity in ids}
        assert summary["identified"][kind]["distinct_entities"] == len(distinct)
    licences = workflow.artifact(config, "licenses.json")
    assert summary["enriched"]["licenses.json"]["entities"] == len(licences)


VOLATILE = {"extracted_at", "hub_requests", "card_cache"}


def without_volatile(value):
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


def run_outputs(workflow, config) -> dict[str, object]:
    folder = workflow.run_folder(config)
    paths = [*folder.glob("*.json"), *folder.glob("*.json.gz"), *folder.glob("identified/*.json")]
    return {
        str(p.relative_to(folder)): without_volatile(read_json(p))
        for p in paths
        if p.name != "summary.json"  # names the run folder
    }


def test_outputs_are_identical_for_one_or_four_shards(hub, tmp_path):
    outputs = []
    for shards in (1, 4):
        workflow = Workflow(tmp_path / f"k{shards}")
        (workflow.root / "ids.txt").write_text(MODELS_FILE.format(synthetic="gpt2"))
        config = {
            "run_id": "sharded",
            "hub": {"endpoint": hub.url, "max_retries": 1},
            "hf": {"num_models": 13, "models_file": "ids.txt", "shards": shards, "threads": 2},
            "arxiv": {"endpoint": f"{hub.url}/api/query", "delay_s": 0},
        }
        result = workflow.run(config, *WITHOUT_NORMALIZE)
        assert result.stderr.count("rule fetch_latest_cards:") == shards
        outputs.append(run_outputs(workflow, config))
    assert "hf_models_latest.json.gz" in outputs[0] and "identified/tasks.json" in outputs[0]
    assert outputs[0] == outputs[1]
