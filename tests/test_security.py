"""Security: ids are checked before they become URLs or file names, YAML is never loaded unsafely,
answers are size-capped, and the token goes to the configured endpoint only and nowhere else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from card_helpers import card_cache
from conftest import snapshot_record
from huggingface_hub.utils import get_session
from workflow_runner import Workflow

from hfharvest import errors
from hfharvest.cache import CardCache, RecordCache
from hfharvest.hub import HubClient
from hfharvest.ids import InvalidModelId
from hfharvest.replica import ReplicaHub
from hfharvest.stages.extract import Extractor

PACKAGE = Path(__file__).resolve().parents[1] / "hfharvest"
TOKEN = "hf_DUMMYsecret4security7test"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"  # gated on the replica: its README needs a token
HOSTILE_IDS = [
    "../../etc/passwd", "/etc/passwd", "org/../../x", "..", "org/name/extra", "C:\\evil",
    "org/name?x=1", "org/name#frag", "org%2F..%2Fx", "org/\u0430bc", "a\x00b", "org/na me",
    "x" * 500, "", "org/", "~/name",
]  # fmt: skip


@pytest.mark.parametrize("model_id", HOSTILE_IDS)
def test_hostile_ids_never_become_requests_or_paths(shared_replica, tmp_path, model_id):
    replica = shared_replica
    replica.reset_stats()
    client = HubClient(replica.url)
    for call in (lambda: client.model_info(model_id), lambda: client.readme(model_id, None)):
        with pytest.raises(InvalidModelId):
            call()
    for cache in (
        card_cache(tmp_path / "cards", replica.url),
        RecordCache(tmp_path / "records", replica.url),
    ):
        with pytest.raises(ValueError):
            cache._path(model_id, "a" * 40) if isinstance(cache, CardCache) else cache._path(
                model_id
            )
    outcome = Extractor(client, card_cache(tmp_path / "cards", replica.url), threads=1).fetch(
        model_id, source="file"
    )
    assert outcome[0] is None and outcome[1]["reason"] == "invalid_id"
    assert len(outcome[1]["message"]) < 400  # a hostile id is shown cut, never in full
    assert replica.stats()["total"] == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_listed_model_with_a_hostile_id_is_a_failure_and_nothing_is_written(tmp_path):
    snapshot = copy_snapshot(tmp_path)
    (snapshot / "api/models/evil.json").write_text(
        '{"_id": "e", "id": "../../../../tmp/evil", "modelId": "../../../../tmp/evil",'
        ' "lastModified": "2099-01-01T00:00:00.000Z", "sha": "' + "ab" * 20 + '", "tags": []}'
    )
    with ReplicaHub(snapshot_dir=snapshot) as hub:
        extractor = Extractor(
            HubClient(hub.url), card_cache(tmp_path / "cache", hub.url), threads=2
        )
        outcomes = list(extractor.latest(3))
        assert hub.stats()["by_endpoint"]["resolve_get"] == 2  # none for the hostile entry
    failures = [f for _, f in outcomes if f is not None and f["reason"] == "invalid_id"]
    assert [f["model_id"] for f in failures] == ["../../../../tmp/evil"]
    assert "listing entry 1" in failures[0]["message"]
    assert len([r for r, _ in outcomes if r is not None]) == 2
    written = [p for p in (tmp_path / "cache").rglob("*.json")]
    assert all((tmp_path / "cache") in p.parents and ".." not in p.parts for p in written)
    assert not Path("/tmp/evil").exists()


def copy_snapshot(tmp_path: Path) -> Path:
    import shutil

    from hfharvest.replica import DEFAULT_SNAPSHOT

    target = tmp_path / "snapshot"
    shutil.copytree(DEFAULT_SNAPSHOT, target)
    return target


# -- YAML --------------------------------------------------------------------------------------

UNSAFE_YAML = re.compile(
    r"yaml\.(load|load_all|unsafe_load|full_load|full_load_all)\s*\(|Loader\s*="
)


def test_the_package_never_loads_yaml_unsafely():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if UNSAFE_YAML.search(line)
    ]
    assert offenders == []
    # Outside the replica (which reads its own snapshot), nothing parses YAML at all: a card's
    # metadata comes as JSON (`cardData`), parsed by the Hub; the README is kept as text.
    parsers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "replica" not in path.parts
        and re.search(r"^\s*(import|from) yaml", path.read_text(), re.M)
    ]
    assert parsers == []


def test_a_readme_with_python_tags_is_kept_as_text_and_runs_nothing(replica, tmp_path):
    marker = tmp_path / "pwned"
    readme = (
        "---\nlicense: mit\nexploit: !!python/object/apply:os.system\n"
        f"  - touch {marker}\n---\n# Model\n"
    )
    replica.configure(faults={"readmes": {"gpt2": readme}})
    record, failure = Extractor(HubClient(replica.url), threads=1).fetch("gpt2", source="file")
    assert failure is None and record["card"] == readme
    # The metadata is the Hub's JSON `cardData`, not read from the README.
    assert record["cardData"] == snapshot_record("gpt2")["cardData"]
    assert not marker.exists()
    from hfharvest.replica.snapshot import parse_front_matter

    assert parse_front_matter(readme) is None  # the replica's own reader: safe_load refuses it
    assert not marker.exists()


# -- size caps ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
def test_a_huge_api_answer_is_refused_not_read(replica, chunked):
    replica.configure(faults={"huge_body": {"bytes": 200 * 1024**2, "chunked": chunked}})
    client = HubClient(replica.url, max_retries=0, json_max_bytes=4 * 1024**2)
    with pytest.raises(errors.Malformed, match="cap"):
        client.model_info("gpt2")
    # huggingface_hub's own calls (dataset_info, ...) meet the global cap on Content-Length.
    if not chunked:
        with pytest.raises(errors.Malformed, match="cap"):
            client.with_retry("squad", lambda: client.api.dataset_info("squad"))


def test_a_huge_readme_is_cut_at_the_cap(replica):
    replica.configure(faults={"readmes": {"gpt2": {"fill": "é", "bytes": 20 * 1024**2}}})
    text, truncated = HubClient(replica.url, readme_max_bytes=1024**2).readme("gpt2", None)
    assert truncated and len(text.encode()) <= 1024**2
    assert "\ufffd" not in text  # cut between characters, not inside one


# -- the token ---------------------------------------------------------------------------------


def test_the_token_goes_to_the_endpoint_and_not_through_a_redirect_to_another_host():
    with ReplicaHub() as endpoint, ReplicaHub() as elsewhere:
        client = HubClient(endpoint.url, token=TOKEN, max_retries=0)
        assert client.readme(LLAMA, None)[0]  # the endpoint gets the token: the card opens
        assert endpoint.stats()["with_token"] == 1

        endpoint.configure(faults={"redirects": {"gpt2": elsewhere.url, LLAMA: elsewhere.url}})
        assert client.model_info("gpt2").id == "gpt2"  # followed to the other host...
        with pytest.raises(errors.Gated):  # ...which never sees the token
            client.readme(LLAMA, None)
        stats = elsewhere.stats()
        assert stats["total"] == 2 and stats["with_token"] == 0

        # Any other way out of a call to another host goes without it too (the token guard).
        client.with_retry(
            "probe",
            lambda: get_session().get(
                f"{elsewhere.url}/api/models/gpt2", headers=client._headers()
            ),
        )
        assert elsewhere.stats()["with_token"] == 0 and elsewhere.stats()["total"] == 3


def test_the_token_never_reaches_outputs_logs_or_snakemake_metadata(tmp_path):
    (tmp_path / "wf").mkdir()
    workflow = Workflow(tmp_path / "wf")
    (workflow.root / "ids.txt").write_text(f"{LLAMA}\ngpt2\nnobody/missing-model\nbad id here\n")
    with ReplicaHub(page_size=10) as hub:
        config = {
            "run_id": "token",
            "hub": {"endpoint": hub.url, "token_env": "HFH_TEST_TOKEN", "max_retries": 1},
            "hf": {"num_models": 4, "models_file": "ids.txt", "base_model_iterations": 1,
                   "threads": 2},
            "arxiv": {"endpoint": f"{hub.url}/api/query", "delay_s": 0},
        }  # fmt: skip
        os.environ["HFH_TEST_TOKEN"] = TOKEN
        try:
            result = workflow.run(config)
        finally:
            del os.environ["HFH_TEST_TOKEN"]
        assert hub.stats()["with_token"] > 0  # the token was read and used
    llama = next(m for m in workflow.artifact(config, "hf_models_from_file.json.gz")["models"]
                 if m["modelId"] == LLAMA)  # fmt: skip
    assert llama["extraction_metadata"]["card_status"] == "ok"
    # The README the token opened, as the replica holds it, read back from the card store.
    assert workflow.card(config, llama) == hub.catalogue.models[LLAMA].readme_text()

    assert TOKEN not in result.stdout + result.stderr
    leaks = []
    for path in tmp_path.rglob("*"):
        if path.is_file() and TOKEN.encode() in path.read_bytes():
            leaks.append(str(path.relative_to(tmp_path)))
    assert leaks == []
    assert any((workflow.root / ".snakemake" / "metadata").iterdir())  # searched, not empty


def test_a_token_a_server_echoes_back_is_masked_in_failures_and_the_log(tmp_path):
    """A server may quote the request's Authorization header in its error text, and that text
    may reach a failure record or a warning: the token's value never does. In a job process
    of its own, as the workflow runs one."""
    job = (
        "import json, logging, sys\n"
        "from hfharvest import errors\n"
        "from hfharvest.hub import HubClient\n"
        "from hfharvest.joblog import start_log\n"
        "start_log(sys.argv[1])\n"
        "HubClient('http://127.0.0.1:9', token=sys.argv[2])  # a client with the token\n"
        "said = f\"HTTP 400: bad header 'Bearer {sys.argv[2]}'\"\n"
        "failure = errors.Malformed('some/model', said)\n"
        "print(json.dumps(failure.as_failure()))\n"
        "logging.getLogger('hfharvest.x').warning('the server said: %s', 'Bearer ' + sys.argv[2])\n"
        "try:\n"
        "    raise ValueError('Bearer ' + sys.argv[2])\n"
        "except ValueError:\n"
        "    logging.getLogger('hfharvest.x').exception('a traceback')\n"
    )
    echoed, log_path = "hf_DUMMYechoed9back4secret", tmp_path / "job.log"
    done = subprocess.run([sys.executable, "-c", job, str(log_path), echoed],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "HTTP 400: bad header 'Bearer <token>'"
    text = log_path.read_text()
    assert "the server said: Bearer <token>" in text and echoed not in text
    assert "ValueError: Bearer <token>" in text
