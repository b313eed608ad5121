"""Faults injected by the replica hub: each one maps to its outcome class, no model is lost, and
a rerun of the run after the faults stop asks the Hub only for what failed."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx2
import pytest
from card_helpers import card_cache
from workflow_runner import Workflow, rules_run

from hfharvest import errors
from hfharvest.cache import RecordCache
from hfharvest.hub import LISTING, HubClient
from hfharvest.jsonio import artifact_writer, read_json
from hfharvest.replica import ReplicaHub
from hfharvest.replica.__main__ import _faults, _parse_args
from hfharvest.stages.ancestors import add_ancestors
from hfharvest.stages.extract import CARD_FETCHED, Extractor, Harvest
from hfharvest.stages.merge import merge_artifacts
from hfharvest.stages.summary import summarize

# Short timeouts and waits: a fault costs milliseconds, not the production backoff.
FAST = {"timeout": 0.3, "max_retries": 2, "backoff_s": 0.01, "max_wait_s": 0.05}
GPT2 = "openai-community/gpt2"


def fast_client(hub: ReplicaHub, **options) -> HubClient:
    return HubClient(hub.url, **{**FAST, **options})


# -- the replica's switches --------------------------------------------------------------------


def statuses(hub: ReplicaHub, paths: list[str]) -> list[int]:
    with httpx2.Client(timeout=5) as session:
        return [session.get(f"{hub.url}{path}").status_code for path in paths]


def test_fault_decisions_depend_on_the_seed_not_on_the_order_of_requests():
    models = ("gpt2", GPT2, "facebook/bart-base")
    round_robin = [f"/api/models/{model}" for model in models] * 6
    grouped = sorted(round_robin)  # the same requests of each path, the paths in another order
    plan = {"seed": 3, "5xx": 0.4}

    def per_path(paths, answers):
        return {path: [a for p, a in zip(paths, answers, strict=True) if p == path]
                for path in paths}  # fmt: skip

    with ReplicaHub(faults=plan) as one, ReplicaHub(faults=plan) as two:
        first = statuses(one, round_robin)
        assert per_path(round_robin, first) == per_path(grouped, statuses(two, grouped))
        assert {500, 502, 503} & set(first) and 200 in first
        faults = sum(status != 200 for status in first)
        assert one.stats()["faults_injected"] == {"5xx": faults}
        one.configure(faults={**plan, "seed": 4})
        assert statuses(one, round_robin) != first


def test_fault_plans_come_through_the_config_route_and_the_cli_flags():
    with ReplicaHub() as hub, httpx2.Client(timeout=5) as session:
        plan = {"5xx": 0.1, "gated": ["org/a"], "readmes": {"org/a": "x" * 10}}
        answer = session.post(f"{hub.url}/_replica/config", json={"faults": plan})
        assert answer.status_code == 200
        assert answer.json()["faults"]["readmes"] == {"org/a": "10 bytes"}
        bad = session.post(f"{hub.url}/_replica/config", json={"faults": {"5xxx": 0.1}})
        assert bad.status_code == 400 and "5xxx" in bad.json()["error"]
        bad = session.post(f"{hub.url}/_replica/config", json={"faults": {"reset": 2}})
        assert bad.status_code == 400 and "faults.reset.rate" in bad.json()["error"]

    args = _parse_args(
        ["--fault-5xx", "0.1", "--fault-seed", "1", "--fault-429-every", "10",
         "--fault-429-burst", "3", "--fault-gated", "org/a,org/b", "--fault-redirect", "old=new",
         "--fault-slow", "0.05", "--fault-slow-s", "4", "--fault-endpoints", "model_info"]
    )  # fmt: skip
    assert _faults(args) == {
        "seed": 1,
        "endpoints": ["model_info"],
        "5xx": {"rate": 0.1},
        "slow": {"rate": 0.05, "seconds": 4.0},
        "429": {"every": 10, "burst": 3, "retry_after": 1},
        "gated": ["org/a", "org/b"],
        "redirects": {"old": "new"},
    }
    ReplicaHub(faults=_faults(args))  # a plan the flags make is one the hub takes


# -- each fault, and the outcome class the client gives it -------------------------------------

FAILING = [
    # (fault plan, call, outcome reason, requests the call costs with max_retries=2)
    ({"5xx": 1.0}, "model_info", "transient", 3),
    ({"slow": {"seconds": 0.6}}, "model_info", "transient", 3),
    ({"slow": {"seconds": 0.6}}, "readme", "transient", 3),
    ({"reset": 1.0}, "model_info", "transient", 3),
    ({"reset": 1.0}, "readme", "transient", 3),
    ({"invalid_json": 1.0}, "model_info", "malformed", 3),
    ({"truncated_json": 1.0}, "model_info", "malformed", 3),
    ({"429": {"every": 1, "retry_after": 0}}, "model_info", "rate_limited", 3),
    ({"not_found": [GPT2]}, "model_info", "not_found", 1),
    ({"disabled": [GPT2]}, "model_info", "disabled", 1),
    ({"gated": [GPT2]}, "readme", "gated", 1),
    ({"huge_body": {"bytes": 3_000_000}}, "model_info", "malformed", 1),
    ({"huge_body": {"bytes": 3_000_000, "chunked": True}}, "model_info", "malformed", 1),
]


def call(client: HubClient, what: str):
    return client.model_info(GPT2) if what == "model_info" else client.readme(GPT2, None)


@pytest.mark.parametrize(("plan", "what", "reason", "requests"), FAILING)
def test_each_fault_ends_in_its_outcome_class(replica, plan, what, reason, requests):
    replica.configure(faults=plan)
    with pytest.raises(errors.HarvestError) as raised:
        call(fast_client(replica, json_max_bytes=1_000_000), what)
    assert raised.value.reason == reason
    assert raised.value.item_id == GPT2 and raised.value.message
    assert sum(replica.stats()["faults_injected"].values()) == requests


RECOVERING = [
    # Faults that go away within the retries: the call succeeds.
    ({"5xx": {"rate": 1.0, "times": 2}}, "model_info", 3),
    ({"reset": {"rate": 1.0, "times": 1}}, "readme", 2),
    ({"truncated_json": {"rate": 1.0, "times": 1}}, "model_info", 2),
    ({"slow": {"rate": 1.0, "times": 1, "seconds": 0.6}}, "model_info", 2),
    ({"429": {"every": 4, "burst": 2, "retry_after": 0}}, "model_info", 3),
]


@pytest.mark.parametrize(("plan", "what", "requests"), RECOVERING)
def test_faults_that_pass_are_retried_through(replica, plan, what, requests):
    replica.configure(faults=plan)
    result = call(fast_client(replica), what)
    if what == "model_info":
        assert result.id == GPT2
    else:
        assert result[0] and not result[1]
    assert sum(replica.stats()["faults_injected"].values()) == requests - 1  # then one answer


def test_a_renamed_repo_added_by_config_is_followed(replica):
    replica.configure(faults={"redirects": {"someone/old-gpt2": GPT2}})
    extractor = Extractor(fast_client(replica), threads=1)
    record, failure = extractor.fetch("someone/old-gpt2", source="file")
    assert failure is None and record["modelId"] == GPT2
    assert record["extraction_metadata"]["requested_id"] == "someone/old-gpt2"
    assert replica.stats()["by_status"]["307"] == 1


@pytest.mark.parametrize(
    ("fault", "reason"), [("reset", "transient"), ("invalid_json", "malformed")]
)
def test_a_listing_that_breaks_is_one_failure_not_a_crash(replica, fault, reason):
    replica.configure(faults={fault: {"rate": 1.0, "endpoints": ["list_models"]}})
    harvest = Harvest.collect(Extractor(fast_client(replica), threads=2).latest(30))
    assert harvest.models == []
    [failure] = harvest.failures
    assert (failure["model_id"], failure["reason"], failure["part"]) == (LISTING, reason, "listing")
    assert failure["message"].startswith("listing stopped after 0 of 30 models")


def test_a_listing_fault_that_passes_costs_a_retry_only(replica):
    replica.configure(faults={"reset": {"rate": 1.0, "endpoints": ["list_models"], "times": 1}})
    harvest = Harvest.collect(Extractor(fast_client(replica), threads=2).latest(30))
    assert len(harvest.models) == 30
    assert [f for f in harvest.failures if f["reason"] != "gated"] == []


# -- a whole run on a faulty hub, then the rerun -----------------------------------------------


@pytest.fixture
def scaled():
    with ReplicaHub(page_size=20, scale=40, seed=5) as hub:
        yield hub


def latest_ids(hub: ReplicaHub, n: int) -> list[str]:
    models = sorted(hub.catalogue.models.values(), key=lambda r: r.get("lastModified") or "",
                    reverse=True)  # fmt: skip
    return [repo.id for repo in models][:n]


FILE_IDS = [
    "google-bert/bert-base-uncased", "facebook/bart-base", "google-t5/t5-small",
    "deepset/roberta-base-squad2", "gpt2", "HuggingFaceH4/zephyr-7b-beta",
    "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "microsoft/DialoGPT-small",
    "facebook/detr-resnet-50", "sentence-transformers/all-MiniLM-L6-v2",
    "dandelin/vilt-b32-finetuned-vqa", "openai/clip-vit-base-patch32",
]  # fmt: skip
STAGES = ("extract_latest", "extract_from_file", "merge_models", "add_ancestor_models")
TRANSIENT_IDS = ["facebook/bart-base", "google-t5/t5-small"]  # 5xx on every request
MALFORMED_ID = "deepset/roberta-base-squad2"  # model_info answers are not JSON
NOT_FOUND_ID, DISABLED_ID = "microsoft/DialoGPT-small", "facebook/detr-resnet-50"
GATED_ID = "sentence-transformers/all-MiniLM-L6-v2"  # its README is gated
PLAN = {
    "seed": 11,
    "5xx": {"rate": 1.0, "ids": TRANSIENT_IDS},
    "invalid_json": {"rate": 1.0, "ids": [MALFORMED_ID]},
    "reset": {"rate": 0.2, "endpoints": ["resolve_get", "model_info"]},  # passes, mostly
    "truncated_json": {"rate": 0.1, "endpoints": ["model_info"]},
    "slow": {"rate": 0.05, "seconds": 0.6, "endpoints": ["resolve_get"]},
    # Bursts hit requests in arrival order, which threads make vary: keep them off the models
    # whose outcome the test names, so that a burst can delay them but never decide them.
    "429": {"every": 30, "burst": 2, "retry_after": 0, "endpoints": ["list_models", "resolve_get"]},
    "not_found": [NOT_FOUND_ID],
    "disabled": [DISABLED_ID],
    "gated": [GATED_ID],
}


def run_stages(hub: ReplicaHub, folder, cache_dir, n: int = 30) -> dict[str, dict]:
    """extract latest + from file, merge, ancestors, summary: the library path of the workflow."""
    client = fast_client(hub, max_retries=3)
    extractor = Extractor(client, card_cache(cache_dir / "hf", hub.url), threads=4,
                          records=RecordCache(folder / ".records", hub.url))  # fmt: skip
    models_file = folder / "ids.txt"
    models_file.write_text("\n".join(FILE_IDS) + "\n")
    paths = {name: str(folder / f"{name}.json") for name in STAGES}
    stages = [
        ("extract_latest", lambda: extractor.latest(n)),
        ("extract_from_file", lambda: extractor.from_file(str(models_file))),
        (
            "merge_models",
            lambda: merge_artifacts([paths["extract_latest"], paths["extract_from_file"]]),
        ),  # fmt: skip
        ("add_ancestor_models", lambda: add_ancestors(extractor, paths["merge_models"], 1)),
    ]
    for name, outcomes in stages:
        with artifact_writer(paths[name], name) as out:
            out.add(outcomes())
    summary = summarize(str(folder), paths)
    (folder / "summary.json").write_text(json.dumps(summary))
    return {name: read_json(path) for name, path in paths.items()} | {"summary": summary}


def test_a_faulty_hub_loses_nothing_and_the_rerun_asks_only_for_what_failed(scaled, tmp_path):
    run = tmp_path / "1_raw" / "hf" / "faulty"
    run.mkdir(parents=True)
    scaled.configure(faults=PLAN)
    first = run_stages(scaled, run, tmp_path / "cache")
    injected = scaled.stats()["faults_injected"]
    print("faults injected:", injected)
    assert {"5xx", "invalid_json", "reset", "429", "not_found", "disabled", "gated"} <= set(
        injected
    )

    # Every model asked for is a record or a failure naming it, with a reason and a message.
    wanted = set(latest_ids(scaled, 30)) | set(FILE_IDS)
    latest, from_file = first["extract_latest"], first["extract_from_file"]
    present = {m["modelId"] for m in latest["models"] + from_file["models"]}
    failed = {f["model_id"]: f for f in latest["failures"] + from_file["failures"]}
    assert wanted <= present | set(failed)
    assert all(f["reason"] and f["message"] and f["model_id"] for f in failed.values())
    whole = {mid: f["reason"] for mid, f in failed.items() if "part" not in f}
    assert whole == {**dict.fromkeys(TRANSIENT_IDS, "transient"), MALFORMED_ID: "malformed",
                     NOT_FOUND_ID: "not_found", DISABLED_ID: "disabled"}  # fmt: skip
    assert failed[GATED_ID]["reason"] == "gated" and failed[GATED_ID]["part"] == "card"
    merged = first["merge_models"]
    assert {m["modelId"] for m in merged["models"]} == present
    # A model one source could not get but the other did is no failure of the merged set.
    still = {f["model_id"] for f in merged["failures"] if "part" not in f}
    assert still == set(whole) - present

    # The summary counts what the stage files hold.
    for stage in STAGES:
        counted = first["summary"]["stages"][stage]
        reasons = Counter(f["reason"] for f in first[stage]["failures"])
        assert counted["failures_by_reason"] == dict(reasons)
        assert counted["models"] == len(first[stage]["models"])
    print("first run failures by reason:", {
        stage: first["summary"]["stages"][stage]["failures_by_reason"] for stage in first
        if stage != "summary"})  # fmt: skip

    # The faults stop; the same run again costs only what failed.
    card_failures = [f for stage in STAGES for f in first[stage]["failures"]
                     if f.get("part") == "card"]  # fmt: skip
    info_failed = set(whole) | {f["model_id"] for f in first["add_ancestor_models"]["failures"]
                                if "part" not in f}  # fmt: skip
    readmes_had = {m["modelId"] for stage in STAGES for m in first[stage]["models"]
                   if m["extraction_metadata"]["card_status"] in CARD_FETCHED}  # fmt: skip
    # READMEs the Hub gave are cached, and gated refusals of models whose record says gated (the
    # snapshot's own gated models: not asked again). The injected gate, on a record that does
    # not say gated, is asked again, and is gone now.
    still_gated = {f["model_id"] for f in card_failures if f["reason"] == "gated"} - {GATED_ID}
    readmes_asked = {f["model_id"] for f in card_failures} - still_gated
    readmes_asked |= set(whole) - readmes_had
    readmes_wanted = readmes_asked - still_gated
    scaled.configure(faults={})
    # A slow answer the client gave up on is still sent, and counted, when its sleep ends: let
    # those of the first run finish before counting the second.
    time.sleep(PLAN["slow"]["seconds"])
    scaled.reset_stats()
    second = run_stages(scaled, run, tmp_path / "cache")
    stats = scaled.stats()
    print("rerun requests:", stats["by_endpoint"], "failures:",
          {s: second["summary"]["stages"][s]["failures_by_reason"] for s in second
           if s != "summary"})  # fmt: skip
    assert stats["by_endpoint"]["list_models"] == 2  # the listing is asked again: 2 pages
    # One model_info per model that failed, none for the others (the 404s of base models that
    # do not exist on the replica are asked again too: not found may be a moment's state).
    assert stats["by_endpoint"]["model_info"] == len(info_failed)
    assert set(stats["model_info_gets"]) == set(whole)
    assert still_gated and set(stats["readme_gets"]) == readmes_wanted  # the 200s
    assert not still_gated & set(stats["readme_gets"])
    assert stats["by_endpoint"]["resolve_get"] == len(readmes_asked)
    final = {m["modelId"] for m in second["add_ancestor_models"]["models"]}
    assert present | set(whole) <= final
    left = [f for f in second["extract_from_file"]["failures"] if f["model_id"] != GATED_ID]
    assert left == []


# -- the same through Snakemake ----------------------------------------------------------------


def test_workflow_records_fault_failures_and_a_retry_costs_only_what_failed(tmp_path):
    (tmp_path / "wf").mkdir()
    workflow = Workflow(tmp_path / "wf")
    (workflow.root / "ids.txt").write_text("facebook/bart-base\ngoogle-t5/t5-small\ngpt2\n")
    with ReplicaHub(page_size=10, scale=20, seed=3) as hub:
        # Faults on READMEs the Hub would refuse or not have anyway would test nothing.
        models = hub.catalogue.models
        readable = [
            i
            for i in latest_ids(hub, 8)
            if not models[i].get("gated") and models[i].readme_text() is not None
        ]
        broken_readmes = readable[:3]
        hub.configure(faults={"reset": {"rate": 1.0, "ids": broken_readmes,
                                        "endpoints": ["resolve_get"]},
                              "5xx": {"rate": 1.0, "ids": ["google-t5/t5-small"]}})  # fmt: skip
        config = {
            "run_id": "faulty",
            "hub": {"endpoint": hub.url, "max_retries": 1, "timeout_s": 5},
            "hf": {"num_models": 8, "models_file": "ids.txt", "base_model_iterations": 0},
        }
        target = str(workflow.run_folder(config).relative_to(workflow.root) / "hf_models.json")
        workflow.run(config, target)  # the run succeeds: failures are outcomes
        merged = workflow.artifact(config, "hf_models.json")
        failures = {f["model_id"]: (f["reason"], f.get("part")) for f in merged["failures"]}
        # A gated model among the latest (a scale copy of a gated record) keeps its record and
        # fails its README: that is the gate, not a fault.
        gated = [i for i in latest_ids(hub, 8) if hub.catalogue.models[i].get("gated")]
        assert failures == {**dict.fromkeys(broken_readmes, ("transient", "card")),
                            **dict.fromkeys(gated, ("gated", "card")),
                            "google-t5/t5-small": ("transient", None)}  # fmt: skip
        assert len(merged["models"]) == 10  # 8 latest + 2 of the file, no model lost

        # Unchanged inputs: Snakemake sees nothing to do, transient failures or not...
        dry = workflow.run(config, target, "--dry-run")
        assert "Nothing to be done" in dry.stdout + dry.stderr
        # ...so the retry is asked for; with the faults gone it costs only what failed.
        hub.configure(faults={})
        hub.reset_stats()
        config["retry_failures"] = 1
        retry = workflow.run(config, target)
        stats = hub.stats()
    assert "list_latest_models" not in rules_run(retry)  # the run keeps its set of models
    assert set(stats["readme_gets"]) == set(broken_readmes) | {"google-t5/t5-small"}
    assert set(stats["model_info_gets"]) == {"google-t5/t5-small"}  # the others: record cache
    merged = workflow.artifact(config, "hf_models.json")
    # Only the gate is left: an anonymous retry does not ask for a gated README again.
    assert [f["model_id"] for f in merged["failures"]] == gated and len(merged["models"]) == 11
