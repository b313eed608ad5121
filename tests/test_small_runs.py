"""Small runs pay little for the machinery (issue 10, item 6): jobs that never call the Hub start
without the Hub client or the data-frame libraries, and the demo replica starts while the run
does. The timings are in bench/small_run.py; these tests hold the behaviour."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import REPO, snapshot_record
from workflow_runner import Workflow

from hfharvest.identify import KINDS
from hfharvest.jsonio import iter_models_as_written, read_failures
from hfharvest.runconfig import REPLICA_URL_ENV
from hfharvest.stages.extract import Extractor
from hfharvest.workflow import ReplicaProcess, client_from, write_stage

HEAVY = ("huggingface_hub", "httpx2", "pandas", "pyarrow", "rdflib", "numpy")
BERT = "google-bert/bert-base-uncased"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
IDS = [BERT, "gpt2", "facebook/bart-large-mnli"]
SCRIPT_JOB = Path(__file__).parent / "script_job.py"  # a rule's script, run as Snakemake would


def run_job(script: str, tmp_path, inputs: dict, outputs: dict, config: dict | None = None,
            wildcards: dict | None = None, **params) -> list[str]:  # fmt: skip
    config = config or {"data_root": str(tmp_path / "data"), "hf": {"cache": True},
                        "hub": {"endpoint": "http://127.0.0.1:9"}}  # fmt: skip
    spec = {"script": str(REPO / "scripts" / script), "input": inputs, "output": outputs,
            "log": str(tmp_path / f"{script}.log"), "params": params, "config": config,
            "rule": script.removesuffix(".py"), "heavy": HEAVY,
            "wildcards": wildcards or {}}  # fmt: skip
    # then says which heavy packages the job had imported
    done = subprocess.run([sys.executable, str(SCRIPT_JOB), json.dumps(spec)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def models_file(replica, tmp_path):
    """Three real models fetched by id from the replica, written as fetch_file_models does."""
    extractor = Extractor(client_from({"endpoint": replica.url}), threads=2)
    path = str(tmp_path / "hf_models.json")
    write_stage(path, "fetch_file_models", extractor.by_ids(IDS, source="file"), extractor)
    return path


def test_the_identify_job_imports_neither_the_hub_client_nor_data_frames(models_file, tmp_path):
    """One job, every kind, one pass: it checks ids with huggingface_hub's validator (which
    loads the package's errors module), but never loads the client (`hf_api`) or a data-frame
    or linked-data library."""
    outputs = {kind: str(tmp_path / f"{kind}.json") for kind in KINDS}
    outputs |= {"base_model_relations": str(tmp_path / "relations.json"),
                "dataset_sources": str(tmp_path / "sources.json")}  # fmt: skip
    loaded = run_job("identify.py", tmp_path, {"models": models_file}, outputs, kinds=list(KINDS))
    assert "huggingface_hub.hf_api" not in loaded
    assert not {name.split(".")[0] for name in loaded} & {"pandas", "pyarrow", "rdflib", "numpy"}
    found = {name: json.loads(Path(path).read_text()) for name, path in outputs.items()}
    assert all(set(entries) == set(IDS) for entries in found.values())  # every model, every file
    assert snapshot_record(BERT)["cardData"]["license"] == "apache-2.0"
    assert found["licenses"][BERT] == ["Apache-2.0"]  # its SPDX id


def test_the_merge_job_imports_no_hub_client_and_merges_what_it_is_given(models_file, tmp_path):
    merged = tmp_path / "merged.json"
    heavy = run_job("merge_models.py", tmp_path, {"from_file": models_file},
                    {"models": str(merged)})  # fmt: skip
    assert heavy == []
    models = json.loads(merged.read_text())["models"]
    assert [model["modelId"] for model in models] == IDS
    assert models[0]["sha"] == snapshot_record(BERT)["sha"]


def test_the_hub_jobs_on_a_small_run_s_way_fetch_without_huggingface_hub_s_hf_api(
    replica, tmp_path
):
    """The fetch by id and the ancestors job read the Hub's plain records themselves: neither
    imports `hf_api` (HfApi and its record classes, 0.05 s of each job's start)."""
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{LLAMA}\ngpt2\n")  # records of the plain shape; llama's base is not on the
    # replica: asked, missing
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config |= {"data_root": str(tmp_path / "data"), "run_id": "small"}
    config["hub"] |= {"endpoint": replica.url}
    config["hf"] |= {"models_file": str(ids), "threads": 2}
    shard, ancestors = tmp_path / "shard.json", tmp_path / "ancestors.json"
    fetch = run_job("fetch_file_models.py", tmp_path, {"models_file": str(ids)},
                    {"shard": str(shard)}, config, {"scatteritem": "1-of-1"},
                    models_file=str(ids), retry=0)  # fmt: skip
    bases = run_job("add_ancestor_models.py", tmp_path, {"models": str(shard)},
                    {"models": str(ancestors)}, config, iterations=1, retry=0)  # fmt: skip
    assert "huggingface_hub" in fetch and "huggingface_hub.hf_api" not in fetch + bases
    assert [m["modelId"] for m in iter_models_as_written(str(ancestors))] == [LLAMA, "gpt2"]
    failures = [(f["model_id"], f["reason"]) for f in read_failures(str(ancestors))]
    assert ("meta-llama/Llama-3.1-8B", "not_found") in failures  # the base was asked


def test_the_snakefile_imports_no_hub_client_while_it_is_parsed():
    """What the Snakefile and rules/*.smk import at parse time (every run and every cluster job
    parses them)."""
    files = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    imports = ("from ", "import ")
    lines = [line for path in files for line in path.read_text().splitlines()
             if line.startswith(imports)]  # fmt: skip
    assert any("hfharvest.workflow" in line for line in lines)  # the check can fail
    loaded = f"sorted(n for n in sys.modules if n.split('.')[0] in {HEAVY})"
    code = "\n".join([*lines, "import sys, json", f"print(json.dumps({loaded}))"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_replica_started_without_waiting_answers_clients_that_came_early(tmp_path):
    replica = ReplicaProcess(tmp_path, {"latency_ms": 0})
    try:
        url = replica.start(wait=False)  # returns before the replica has loaded anything
        assert not (tmp_path / "replica.url").exists()
        with urllib.request.urlopen(f"{url}/api/models/{BERT}", timeout=60) as response:
            record = json.load(response)
        assert record["sha"] == snapshot_record(BERT)["sha"]
    finally:
        stats = replica.stop(tmp_path / "stats.json")
    assert stats["by_endpoint"]["model_info"] == 1
    assert replica.process is None


def test_a_replica_not_serving_in_time_is_killed_and_refuses_clients(tmp_path, capfd):
    replica = ReplicaProcess(tmp_path, {"scale": 0})
    url = replica.start(timeout_s=0.01, wait=False)  # never up within 10 ms: it imports first
    for _ in range(600):  # a bound (60 s), not a timing
        if replica.process is None:
            break
        time.sleep(0.1)
    assert replica.process is None  # killed by the watcher
    assert "replica hub did not start within 0.01 s" in capfd.readouterr().err
    assert REPLICA_URL_ENV not in os.environ  # later runs in this process start their own
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(f"{url}/api/models/{BERT}", timeout=10)


def test_the_models_file_s_shards_start_without_waiting_for_its_split(tmp_path):
    """On a small run every job on the way to identify is one more interpreter in sequence:
    the fetch shards read the models file themselves, and split_models_file (the gather's
    failures) runs beside them."""
    workflow = Workflow(tmp_path / "wf")
    ids = tmp_path / "ids.txt"
    ids.write_text("gpt2\n")
    config = {"run_id": "dag", "data_root": str(tmp_path / "data"),
              "hub": {"endpoint": "http://127.0.0.1:9"},
              "hf": {"num_models": 0, "models_file": str(ids)}}  # fmt: skip
    dot = workflow.run(config, "--rulegraph", "-q").stdout
    names = dict(re.findall(r"(\d+)\[label = \"(\w+)\"", dot))
    edges = {(names[a], names[b]) for a, b in re.findall(r"(\d+) -> (\d+)", dot)}
    assert ("split_models_file", "extract_from_file") in edges
    assert ("split_models_file", "fetch_file_models") not in edges
    assert ("fetch_file_models", "extract_from_file") in edges
