"""Only what changed reruns: keys that change how fast or how politely the run works rerun
nothing; keys that change what is harvested rerun the rules that use them (and what follows).

One real run against the replica the workflow starts (`hub.endpoint: replica`), then a
`--dry-run` per changed key, reading the jobs Snakemake would run."""

from __future__ import annotations

import copy

import pytest
from workflow_runner import Workflow, rules_run

from hfharvest.runconfig import harvest_source

HUB_RULES = {"list_latest_models", "fetch_latest_cards", "fetch_file_models",
             "add_ancestor_models", "enrich_datasets", "enrich_tasks"}  # fmt: skip
FETCH = {"fetch_latest_cards", "fetch_file_models", "add_ancestor_models"}
CONFIG = {
    "run_id": "reruns",
    "hub": {"endpoint": "replica", "max_retries": 1},
    "hf": {"num_models": 4, "models_file": "ids.txt", "base_model_iterations": 1, "threads": 2},
    "arxiv": {"endpoint": "replica", "delay_s": 0},
    "replica": {"scale": 10, "seed": 1},
}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workflow = Workflow(tmp_path_factory.mktemp("reruns"))
    (workflow.root / "ids.txt").write_text("google-bert/bert-base-uncased\ngpt2\n")
    workflow.run(CONFIG)
    assert rules_run(workflow.run(CONFIG, "--dry-run")) == set()
    return workflow


def changed(**sections) -> dict:
    config = copy.deepcopy(CONFIG)
    for section, values in sections.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


# Every key that changes how fast or how politely, changed at once: if one of them reached a
# rule's params, that rule would rerun.
HOW = {
    "hf": {"threads": 7, "cache": False, "datasets_listing_max_pages": 3},
    "hub": {
        "timeout_s": 9,
        "max_retries": 3,
        "token_env": "SOME_OTHER_TOKEN",
        "croissant_max_mb": 2,
    },
    "arxiv": {
        "delay_s": 2.5,
        "batch_size": 3,
        "deadline_s": 60,
        "max_redirects": 2,
        "absent_max_age_h": 1,
        "timeout_s": 10,
        "retries": 1,
    },
    "replica": {"latency_ms": 5},
    "max_failed_fraction": 0.9,
}


def test_keys_that_change_how_fast_rerun_nothing(done):
    result = done.run(changed(**HOW), "--dry-run")
    assert rules_run(result) == set()
    assert "Nothing to be done" in result.stdout + result.stderr


WHAT = [
    # (change, must rerun, must not rerun)
    ({"hub": {"endpoint": "http://127.0.0.1:9"}}, HUB_RULES, {"split_models_file"}),
    ({"replica": {"scale": 11}}, HUB_RULES, {"split_models_file"}),
    ({"replica": {"seed": 2}}, HUB_RULES, {"split_models_file"}),
    ({"hf": {"num_models": 5}}, {"list_latest_models", "fetch_latest_cards", "extract_latest"},
     {"split_models_file", "fetch_file_models"}),
    ({"hf": {"offset": 1}}, {"list_latest_models", "extract_latest"}, {"fetch_file_models"}),
    ({"hf": {"base_model_iterations": 2}}, {"add_ancestor_models"},
     {"list_latest_models", "fetch_file_models", "merge_models"}),
    ({"arxiv": {"endpoint": "http://127.0.0.1:9/api/query"}}, {"enrich_articles"},
     HUB_RULES | {"identify"}),
    ({"retry_failures": 1}, FETCH, {"list_latest_models", "split_models_file"}),
    ({"hf": {"max_entities_per_model": 10}}, {"identify", "enrich_datasets"},
     FETCH | {"list_latest_models"}),
    # Shards change the scatter's file set: the fetch jobs (no Hub request: the caches) and
    # the gathers rerun, and what follows them; the listing and the models file do not.
    ({"hf": {"shards": 2}}, {"fetch_latest_cards", "fetch_file_models", "extract_latest"},
     {"list_latest_models", "split_models_file"}),
]  # fmt: skip


@pytest.mark.parametrize(("change", "rerun", "kept"), WHAT, ids=lambda x: str(x)[:60])
def test_keys_that_change_what_is_harvested_rerun_their_rules(done, change, rerun, kept):
    jobs = rules_run(done.run(changed(**change), "--dry-run"))
    assert rerun <= jobs and not kept & jobs, jobs
    assert "summarize_run" in jobs


def test_a_models_file_edit_reruns_the_file_path_only(done):
    ids = done.root / "ids.txt"
    before = ids.read_text()
    try:
        ids.write_text(before + "facebook/bart-base\n")
        jobs = rules_run(done.run(CONFIG, "--dry-run"))
    finally:
        ids.write_text(before)
    assert {"split_models_file", "fetch_file_models", "extract_from_file"} <= jobs
    assert not {"list_latest_models", "fetch_latest_cards", "extract_latest"} & jobs


def test_the_replica_catalogue_counts_only_when_the_replica_is_the_endpoint():
    config = changed(hub={"endpoint": "https://huggingface.co"})
    assert harvest_source(config) == {"endpoint": "https://huggingface.co"}
    replica = harvest_source(CONFIG)["replica"]
    assert {key: replica[key] for key in ("scale", "seed")} == {"scale": 10, "seed": 1}
    assert len(replica["catalogue"]) == 16  # the bundled snapshot's digest
