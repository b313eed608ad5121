"""The bad-input corpus (tests/bad_inputs/, see its README): every case ends in a clear message
naming the input (file:line, model id, config key) and the rest of the run is intact."""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from card_helpers import card_cache, card_store, inline
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate
from workflow_runner import Workflow

from hfharvest.hub import HubClient
from hfharvest.identify import IDENTIFIERS
from hfharvest.ids import MODELS_FILE_MAX_BYTES
from hfharvest.jsonio import artifact_writer, read_json
from hfharvest.replica import DEFAULT_SNAPSHOT, ReplicaHub
from hfharvest.stages.ancestors import MAX_BASES_PER_MODEL, add_ancestors
from hfharvest.stages.extract import Extractor, Harvest

CORPUS = Path(__file__).with_name("bad_inputs")
REPO = Path(__file__).resolve().parents[1]


def extractor(hub: ReplicaHub, tmp_path: Path | None = None) -> Extractor:
    client = HubClient(hub.url, max_retries=0)
    return Extractor(
        client, card_cache(tmp_path / "cache", hub.url, tmp_path) if tmp_path else None, threads=4
    )


def by_id(harvest: Harvest, key: str = "modelId") -> dict:
    items = harvest.models if key == "modelId" else harvest.failures
    return {item[key]: item for item in items}


# -- models files ------------------------------------------------------------------------------

# Per corpus file: the ids fetched, and the line numbers reported as invalid.
MODELS_FILES = {
    "spaces.txt": (["google-t5/t5-small", "gpt2"], [3, 4, 6]),
    "lookalikes.txt": (["openai-community/gpt2", "facebook/bart-base"], [2, 3, 4, 5]),
    "traversal.txt": (["google-t5/t5-small"], list(range(2, 14))),
    "slashes.txt": (["facebook/bart-base"], [2, 3, 4, 5, 6]),
}


@pytest.mark.parametrize("name", sorted(MODELS_FILES))
def test_bad_lines_of_a_models_file_are_named_by_line_and_the_rest_is_fetched(shared_replica, name):
    path = CORPUS / "models_files" / name
    harvest = Harvest.collect(extractor(shared_replica).from_file(str(path)))
    fetched, bad_lines = MODELS_FILES[name]
    asked = [m["extraction_metadata"].get("requested_id", m["modelId"]) for m in harvest.models]
    assert asked == fetched
    assert all(f["reason"] == "invalid_id" for f in harvest.failures)
    reported = [int(f["message"].split(":")[1]) for f in harvest.failures]
    assert reported == bad_lines
    assert all(f["message"].startswith(f"{path}:") for f in harvest.failures)


def models_file_case(tmp_path: Path, case: str) -> Path:
    """The models files too big or too odd to commit, made in tmp."""
    path = tmp_path / f"{case}.txt"
    if case == "10k_duplicates":
        path.write_text("facebook/bart-base\n" * 10_000 + "gpt2\n")
    elif case == "50MB":
        line = b"facebook/bart-base\n"
        with path.open("wb") as handle:
            handle.write(line * (50 * 1024**2 // len(line) + 1))
    elif case == "directory":
        path.mkdir()
    elif case == "dev_zero":
        return Path("/dev/zero")
    elif case == "nul_bytes":
        path.write_bytes(b"gpt2\n\x00\x00\x00\nfacebook/bart-base\n")
    elif case == "5MB_line":
        path.write_text("gpt2\n" + "a" * (5 * 1024**2) + "\nfacebook/bart-base\n")
    elif case == "latin1":
        shutil.copy(CORPUS / "models_files" / "latin1.txt", path)
    return path


GENERATED = [
    # (case, ids fetched, failure reason, words the message must hold)
    ("10k_duplicates", ["facebook/bart-base", "gpt2"], None, []),
    ("50MB", [], "bad_input", [f"{MODELS_FILE_MAX_BYTES}-byte cap"]),
    ("directory", [], "bad_input", ["not a regular file"]),
    ("dev_zero", [], "bad_input", ["not a regular file"]),
    ("nul_bytes", [], "bad_input", ["binary"]),
    ("5MB_line", ["gpt2", "facebook/bart-base"], "invalid_id", [":2:", "chars"]),
    ("latin1", [], "bad_input", ["not UTF-8", "byte 49"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "fetched", "reason", "words"), GENERATED)
def test_generated_models_files(shared_replica, tmp_path, case, fetched, reason, words):
    shared_replica.reset_stats()
    path = models_file_case(tmp_path, case)
    harvest = Harvest.collect(extractor(shared_replica).from_file(str(path)))
    assert [m["modelId"] for m in harvest.models] == fetched
    assert shared_replica.stats()["by_endpoint"]["model_info"] == len(fetched)  # once each
    if reason is None:
        assert harvest.failures == []
        return
    [failure] = harvest.failures
    assert failure["reason"] == reason and str(path) in failure["message"]
    assert all(word in failure["message"] for word in words), failure["message"]
    assert len(json.dumps(failure)) < 1000  # a huge line is never repeated in full


# -- READMEs -----------------------------------------------------------------------------------

README_CASES = yaml.safe_load((CORPUS / "readmes.yaml").read_text())


def readme_body(spec: dict, marker: Path) -> dict | str:
    if "text" in spec:
        return spec["text"]
    if spec.get("generator") == "deep_yaml":
        depth = 20_000
        return "---\na: " + "[" * depth + "]" * depth + "\n---\n# Deep\n"
    if spec.get("generator") == "python_tag":
        return (f"---\nlicense: mit\nx: !!python/object/apply:os.system [\"touch {marker}\"]\n"
                "y: !!python/object/new:subprocess.Popen [[\"true\"]]\n---\n# Model\n")  # fmt: skip
    return spec  # base64 or fill: the replica makes the bytes


def test_bad_readmes_are_kept_cut_or_refused_and_named(shared_replica, tmp_path):
    marker = tmp_path / "pwned"
    bodies = {case["id"]: readme_body(case["body"], marker) for case in README_CASES}
    shared_replica.configure(faults={"readmes": bodies})
    try:
        ids = [*bodies, "dandelin/vilt-b32-finetuned-vqa"]  # and one model left alone
        harvest = Harvest.collect(extractor(shared_replica, tmp_path).by_ids(ids, source="file"))
        harvest.models = inline(harvest.models, card_store(tmp_path))  # texts from the store
    finally:
        shared_replica.configure(faults={})
    models, failures = by_id(harvest), by_id(harvest, "model_id")
    assert set(models) == set(ids)  # every record kept, whatever its README
    assert models["dandelin/vilt-b32-finetuned-vqa"]["extraction_metadata"]["card_status"] == "ok"
    for case in README_CASES:
        record, expect = models[case["id"]], case["expect"]
        assert record["extraction_metadata"]["card_status"] == expect["card_status"], case["case"]
        if "card" in expect:
            assert record["card"] == expect["card"]
        if expect.get("replaced"):
            assert "\ufffd" in record["card"] and "Mod\ufffdle" in record["card"]
        if "text" in case["body"] or "generator" in case["body"]:
            assert record["card"] == bodies[case["id"]], case["case"]  # byte for byte
        if expect.get("failure"):
            failure = failures[case["id"]]
            assert (failure["reason"], failure["part"]) == (expect["failure"], "card")
            assert "binary" in failure["message"]
        else:
            assert case["id"] not in failures, case["case"]
    big = models["google-t5/t5-small"]["card"]
    assert 5 * 1024**2 - 4 <= len(big.encode()) <= 5 * 1024**2
    assert not marker.exists()  # no README is ever parsed as YAML, let alone unsafely
    for record in harvest.models:  # the identify stage reads them without failing
        for identify in IDENTIFIERS.values():
            identify(record)


# -- hostile records -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_hub(tmp_path_factory):
    """The replica on a copy of the snapshot with the corpus's crafted records added."""
    snapshot = tmp_path_factory.mktemp("snapshot") / "hub_snapshot"
    shutil.copytree(DEFAULT_SNAPSHOT, snapshot)
    for record in sorted((CORPUS / "records").glob("*.json")):
        shutil.copy(record, snapshot / "api" / "models" / f"bad-inputs__{record.name}")
    with ReplicaHub(snapshot_dir=snapshot, page_size=10) as hub:
        yield hub


def crafted(name: str) -> str:
    return f"bad-inputs/{name}"


def test_odd_field_types_are_dropped_and_named(hostile_hub):
    ids = [crafted(name) for name in ("carddata-list", "broken-safetensors", "wrong-types")]
    harvest = Harvest.collect(extractor(hostile_hub).by_ids(ids, source="file"))
    models, failures = by_id(harvest), by_id(harvest, "model_id")
    assert set(models) == set(ids)
    assert models[crafted("carddata-list")]["cardData"] is None
    assert "cardData is a list, not a mapping" in failures[crafted("carddata-list")]["message"]
    assert models[crafted("broken-safetensors")]["safetensors"] is None
    wrong = models[crafted("wrong-types")]
    assert (wrong["downloads"], wrong["likes"], wrong["author"], wrong["gated"]) == (None,) * 4
    # Its README is gated too (the replica reads `gated: "sometimes"` as gated): the failure
    # is the README's, and the record itself still says what was dropped.
    assert failures[crafted("wrong-types")]["reason"] == "gated"
    problems = " ".join(wrong["extraction_metadata"]["problems"])
    assert all(word in problems for word in ("downloads", "likes", "author", "gated"))
    for name in ("carddata-list", "broken-safetensors"):
        assert (failures[crafted(name)]["reason"], failures[crafted(name)]["part"]) == (
            "malformed", "metadata")  # fmt: skip


def test_the_latest_listing_survives_odd_entries(hostile_hub):
    harvest = Harvest.collect(extractor(hostile_hub).latest(5))
    models, failures = by_id(harvest), by_id(harvest, "model_id")
    # The newest three are crafted: a date that is not one, a string cardData, odd tags.
    assert failures[crafted("bad-date")]["reason"] == "malformed"
    assert "'not a date' is no date: dropped" in failures[crafted("bad-date")]["message"]
    assert models[crafted("bad-date")]["last_modified"] is None  # the field, not the model
    assert models[crafted("carddata-string")]["cardData"] is None
    assert "cardData is a str" in failures[crafted("carddata-string")]["message"]
    tags = models[crafted("tags-not-strings")]["tags"]
    assert tags == ["transformers", "base_model:finetune:bad-inputs/cycle-b"]
    assert "5 tags that are not strings" in failures[crafted("tags-not-strings")]["message"]
    assert len(models) == 5  # the listing went on past the bad entry


def test_base_model_cycles_self_references_and_hostile_bases_end(hostile_hub, tmp_path):
    merged = tmp_path / "merged.json"
    ids = ["cycle-a", "self-reference", "hostile-base", "many-bases"]
    with artifact_writer(merged, "merge_models") as out:
        out.add(extractor(hostile_hub).by_ids([crafted(i) for i in ids], source="file"))
    harvest = Harvest.collect(add_ancestors(extractor(hostile_hub), str(merged), 5))
    models = by_id(harvest)
    assert list(models).count(crafted("cycle-b")) == 1
    pulled_in_by = [{"model_id": crafted("cycle-a"), "relation": "finetune"}]
    assert models[crafted("cycle-b")]["ancestry"] == {"depth": 1, "pulled_in_by": pulled_in_by}
    assert "ancestry" not in models[crafted("cycle-a")]  # A -> B -> A ends at A
    assert "ancestry" not in models[crafted("self-reference")]
    failures = harvest.failures
    invalid = [f for f in failures if f["reason"] == "invalid_id"]
    assert {f["model_id"][:20] for f in invalid} == {"../../etc/passwd", "x" * 20}
    assert all(f["pulled_in_by"] == [{"model_id": crafted("hostile-base"), "relation":
               "base_model"}] for f in invalid)  # fmt: skip
    capped = [f for f in failures if f["reason"] == "bad_input"]
    assert [(f["model_id"], f["part"]) for f in capped] == [(crafted("many-bases"), "base_models")]
    ghosts = [f for f in failures if f["model_id"].startswith("bad-inputs/ghost-")]
    assert len(ghosts) == MAX_BASES_PER_MODEL and {f["reason"] for f in ghosts} == {"not_found"}
    assert hostile_hub.stats()["by_endpoint"]["model_info"] < 100


# -- config ------------------------------------------------------------------------------------

CONFIG_CASES = yaml.safe_load((CORPUS / "config_cases.yaml").read_text())


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c["names"] for c in CONFIG_CASES])
def test_config_values_of_the_wrong_type_or_range_name_the_key(case):
    config = merged(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), case["set"])
    with pytest.raises(WorkflowError) as raised:
        validate(config, str(REPO / "schemas" / "config.schema.yaml"))
    assert case["names"] in str(raised.value)


# -- the whole workflow on hostile inputs ------------------------------------------------------


def test_the_workflow_completes_on_hostile_inputs_with_the_rest_intact(hostile_hub, tmp_path):
    (tmp_path / "wf").mkdir()
    workflow = Workflow(tmp_path / "wf")
    lines = (CORPUS / "models_files" / "traversal.txt").read_text().splitlines()
    lines += [crafted(name) for name in ("cycle-a", "hostile-base", "carddata-list")]
    (workflow.root / "ids.txt").write_text("\n".join(lines) + "\n")
    config = {
        "run_id": "hostile",
        "hub": {"endpoint": hostile_hub.url, "max_retries": 0},
        "hf": {"num_models": 6, "models_file": "ids.txt", "base_model_iterations": 2,
               "threads": 2},
    }  # fmt: skip
    target = str(workflow.run_folder(config).relative_to(workflow.root))
    workflow.run(config, f"{target}/hf_models_with_ancestors.json")
    final = read_json(workflow.run_folder(config) / "hf_models_with_ancestors.json")
    ids = {m["modelId"] for m in final["models"]}
    assert {"google-t5/t5-small", crafted("cycle-a"), crafted("cycle-b")} <= ids
    assert {crafted("carddata-string"), crafted("tags-not-strings")} <= ids  # from the listing
    from_file = read_json(workflow.run_folder(config) / "hf_models_from_file.json.gz")
    named = [f["message"] for f in from_file["failures"] if f["reason"] == "invalid_id"]
    assert len(named) == 12 and all(message.startswith("ids.txt:") for message in named)
    assert {"invalid_id", "not_found"} <= {f["reason"] for f in final["failures"]}
    dropped = {f["model_id"] for f in from_file["failures"] if f["reason"] == "malformed"}
    assert dropped == {crafted("carddata-list")}
    latest = read_json(workflow.run_folder(config) / "hf_models_latest.json.gz")
    latest_failures = {f["model_id"]: f for f in latest["failures"]}
    # A date that is not one costs that field: the model is kept, the field named.
    for name in ("carddata-string", "tags-not-strings", "bad-date"):
        failure = latest_failures[crafted(name)]
        assert (failure["reason"], failure.get("part")) == ("malformed", "metadata"), failure
    assert crafted("bad-date") in ids


@pytest.mark.parametrize("fill", ["#", "# ", "[", "-\n", "10."])
def test_a_megabyte_of_one_character_is_identified_in_linear_time(fill):
    """A README of one long line of `#` took a regex hours (two runs of `#` that could split
    it every way); a megabyte of any one mark must cost every identifier about what reading it
    does. The bound is a hundred times the linear cost seen here (under 0.3 s per kind), and
    far below the quadratic one (a 40 000-character line alone took 15 s)."""
    card = (fill * (2**20 // len(fill) + 1))[: 2**20]
    record = {"modelId": "hostile/card", "card": card, "cardData": {}, "library_name": "peft"}
    for kind, identify in IDENTIFIERS.items():
        started = time.process_time()
        identify(record)
        assert time.process_time() - started < 30, kind
