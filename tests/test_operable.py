"""A failed run says so: exit status, one console line, no output left; the failures table and
the retry command; the threshold; config slips; the replica never outlives the run."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress

import pytest
import yaml
from workflow_runner import Workflow, rules_run

from hfharvest.replica import ReplicaHub
from hfharvest.runconfig import retry_command
from hfharvest.workflow import ReplicaProcess

CONSOLE_PREFIX = "hfharvest: "


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def console_lines(result, prefix: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(prefix)]


def test_a_dead_endpoint_fails_the_run_and_a_plain_rerun_after_the_outage_redoes_it(tmp_path):
    workflow = Workflow(tmp_path)
    (workflow.root / "ids.txt").write_text("gpt2\nfacebook/bart-base\n")
    port = free_port()  # nothing listens there: connection refused
    config = {
        "run_id": "outage",
        "hub": {"endpoint": f"http://127.0.0.1:{port}", "max_retries": 1, "timeout_s": 5},
        "hf": {"num_models": 4, "models_file": "ids.txt", "base_model_iterations": 0},
    }
    target = str(workflow.run_folder(config).relative_to(workflow.root) / "hf_models.json")
    failed = workflow.run(config, target, check=False)
    assert failed.returncode != 0
    [listing_line] = console_lines(failed, f"{CONSOLE_PREFIX}list_latest_models: ")
    assert f"http://127.0.0.1:{port}" in listing_line and "(unreachable;" in listing_line
    assert "listing stopped after 0 of 4 models" in listing_line
    [by_id_line] = console_lines(failed, f"{CONSOLE_PREFIX}fetch_file_models: ")
    assert f"http://127.0.0.1:{port}" in by_id_line
    assert "(unreachable; all 2 requests failed, none answered)" in by_id_line
    assert len(console_lines(failed, CONSOLE_PREFIX)) == 2  # one line per failed job
    shards = workflow.run_folder(config) / "shards"
    assert sorted(p.name for p in shards.rglob("*.json")) == ["models_file_ids.json"]

    hub = ReplicaHub(page_size=10)
    hub.start(port=port)  # the outage is over: the same command again
    try:
        again = workflow.run(config, target)
    finally:
        hub.stop()
    assert {"list_latest_models", "fetch_file_models"} <= rules_run(again)
    assert len(workflow.artifact(config, "hf_models_latest.json.gz")["models"]) == 4
    assert len(workflow.artifact(config, "hf_models_from_file.json.gz")["models"]) == 2


def test_a_refused_models_file_fails_its_job_naming_the_key(tmp_path):
    workflow = Workflow(tmp_path)
    (tmp_path / "ids.txt").write_bytes(b"x" * (9 * 1024 * 1024))  # over the 8 MiB cap
    config = {"run_id": "file", "hub": {"endpoint": "http://127.0.0.1:9"},
              "hf": {"num_models": 0, "models_file": "ids.txt"}}  # fmt: skip
    target = str(workflow.run_folder(config).relative_to(workflow.root) / "shards")
    result = workflow.run(config, f"{target}/models_file_ids.json", check=False)
    assert result.returncode != 0
    [line] = console_lines(result, f"{CONSOLE_PREFIX}split_models_file: ")
    assert "hf.models_file" in line and "ids.txt" in line and "cap" in line
    assert not (workflow.run_folder(config) / "shards" / "models_file_ids.json").exists()


def test_failures_table_and_the_printed_retry_command_pasted_as_is(tmp_path):
    workflow = Workflow(tmp_path)
    (workflow.root / "ids.txt").write_text("facebook/bart-base\ngoogle-t5/t5-small\ngpt2\n")
    with ReplicaHub(page_size=10) as hub:
        hub.configure(faults={"5xx": {"rate": 1.0, "ids": ["google-t5/t5-small"]}})
        config = {
            "run_id": "retry",
            "hub": {"endpoint": hub.url, "max_retries": 0, "timeout_s": 5},
            "hf": {"num_models": 3, "models_file": "ids.txt", "base_model_iterations": 0},
        }
        target = str(workflow.run_folder(config).relative_to(workflow.root) / "hf_models.json")
        first = workflow.run(config, target)
        table = first.stdout[first.stdout.index(f"{CONSOLE_PREFIX}2 failures in ") :]
        rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[2:4]}
        assert rows == {"gated": ["0", "1", "0"], "transient": ["1", "0", "0"]}
        [retry_line] = [line for line in table.splitlines() if line.startswith("retry what")]
        command = shlex.split(retry_line.split(": ", 1)[1])
        assert command[0] == "snakemake" and command[-2:] == ["--config", "retry_failures=1"]
        assert "test_config.yaml" in command  # the run's own configfile

        hub.configure(faults={})  # the 5xx are over: paste the command
        hub.reset_stats()
        pasted = subprocess.run([sys.executable, "-m", *command], cwd=workflow.root,
                                capture_output=True, text=True, timeout=600)  # fmt: skip
        assert pasted.returncode == 0, pasted.stderr[-3000:]
        assert set(hub.stats()["model_info_gets"]) == {"google-t5/t5-small"}
    assert "list_latest_models" not in rules_run(pasted)
    merged = workflow.artifact(config, "hf_models.json")
    assert [(f["reason"], f.get("part")) for f in merged["failures"]] == [("gated", "card")]
    assert len(merged["models"]) == 6
    assert "gated" in pasted.stdout  # still in the table, but a retry would not open it:
    assert "retry what failed" not in pasted.stdout


def test_more_failed_models_than_the_threshold_fail_the_run(tmp_path):
    workflow = Workflow(tmp_path)
    missing = ["nobody-has/model-a", "nobody-has/model-b", "nobody-has/model-c"]
    (workflow.root / "ids.txt").write_text("\n".join(["gpt2", "facebook/bart-base", *missing]))
    with ReplicaHub(page_size=10) as hub:
        config = {
            "run_id": "threshold",
            "hub": {"endpoint": hub.url, "max_retries": 0},
            "hf": {"num_models": 0, "models_file": "ids.txt", "base_model_iterations": 0},
            "arxiv": {"endpoint": f"{hub.url}/api/query", "delay_s": 0},
        }
        failed = workflow.run(config, check=False)
        assert failed.returncode != 0
        [line] = console_lines(failed, f"{CONSOLE_PREFIX}summarize_run: ")
        assert "3 of 5 requested models failed outright (60%)" in line
        assert "max_failed_fraction = 0.5" in line
        assert not (workflow.run_folder(config) / "summary.json").exists()
        assert "not_found" in failed.stdout  # the failures table, printed on error too

        config["max_failed_fraction"] = 0.75  # accepted: the same run now succeeds
        passed = workflow.run(config)
    assert rules_run(passed) == {"summarize_run", "plot_run_report"}
    summary = workflow.artifact(config, "summary.json")
    assert summary["requested"] == {"models": 5, "failed": 3, "failed_fraction": 0.6}


def test_config_slips_fail_fast_naming_the_key(tmp_path):
    workflow = Workflow(tmp_path)
    cases = [
        ({"hf": {"models_file": "config/hf_model_idz.txt"}},
         ["hf.models_file", "config/hf_model_idz.txt"]),
        ({"data_root": "data/{run}"}, ["data_root", "braces"]),
        ({"run_id": "a b"}, ["run_id"]),
        ({"hub": {"endpoint": "https://alice:s3cret@hub.example.org"}},
         ["hub.endpoint", "credentials"]),
        ({"replica": {"scale": 50_000_000}}, ["scale", "maximum"]),
    ]  # fmt: skip
    for override, named in cases:
        result = workflow.run({"run_id": "slip", **override}, "--dry-run", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0, override
        assert all(word in output for word in named), (override, output[-2000:])
        assert "s3cret" not in output


@pytest.mark.parametrize("token", ["hf_s3cret ", "hf_s3cret\n", "hf_s3cr\x07et", "hf_s3crét"])
def test_a_malformed_token_stops_the_run_before_any_job_naming_the_variable(tmp_path, token):
    Workflow(tmp_path)  # a scratch copy of the workflow
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run"]
    env = {**os.environ, "HF_TOKEN_FOR_TEST": token}
    config = ["--config", "run_id=token"]
    (tmp_path / "token.yaml").write_text("hub:\n  token_env: HF_TOKEN_FOR_TEST\n")
    result = subprocess.run([*command, "--configfile", "token.yaml", *config], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "HF_TOKEN_FOR_TEST" in output and "value not shown" in output
    assert "s3cr" not in output
    assert "list_latest_models" not in output  # no job was planned, let alone run


def test_a_yaml_alias_bomb_is_refused_before_validation(tmp_path):
    Workflow(tmp_path)
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")  # 10**9 values once expanded
    command = [sys.executable, "-m", "snakemake", "--configfile", "bomb.yaml", "--dry-run"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "more than 10000 values" in result.stdout + result.stderr


def test_retry_command_keeps_the_run_and_sets_the_counter():
    argv = ["/x/snakemake/__main__.py", "--configfile", "my run.yaml", "--config", "run_id=r1",
            "retry_failures=1", "--cores", "4"]  # fmt: skip
    assert retry_command(argv, 2) == (
        "snakemake --configfile 'my run.yaml' --config retry_failures=2 run_id=r1 --cores 4"
    )
    assert retry_command(["snakemake"], 1) == "snakemake --config retry_failures=1"


def test_the_demo_replica_is_gone_after_snakemake_is_killed(tmp_path):
    Workflow(tmp_path)
    config = {"run_id": "killed", "hub": {"endpoint": "replica"},
              "hf": {"num_models": 3, "models_file": None},
              "replica": {"latency_ms": 2000}}  # fmt: skip
    (tmp_path / "test_config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--configfile",
        "test_config.yaml",
        "--cores",
        "1",
    ]
    run = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    ready = tmp_path / "data" / "logs" / "killed" / "replica" / "replica.url"
    try:
        while not ready.exists():
            assert run.poll() is None, "snakemake ended before starting the replica"
            time.sleep(0.1)
        host, port = ready.read_text().strip().rsplit("/", 1)[-1].split(":")
        socket.create_connection((host, int(port)), timeout=5).close()  # it serves
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 60  # a bound, not a timing: it stops within a second
        while time.monotonic() < deadline:  # the replica sees its parent gone and stops
            try:
                socket.create_connection((host, int(port)), timeout=5).close()
            except ConnectionRefusedError:
                break
            except ConnectionResetError:  # closing: its socket closed while we connected
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the replica still serves after snakemake was killed")
    finally:
        with suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)  # jobs orphaned by the kill, ours alone


def test_a_replica_that_does_not_start_in_time_is_killed(tmp_path, monkeypatch):
    started = []
    popen = subprocess.Popen

    def remember(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", remember)
    # A Python process that imports the replica's packages is never up within 20 ms.
    replica = ReplicaProcess(tmp_path, {"scale": 0})
    with pytest.raises(RuntimeError, match="did not start within 0.02 s"):
        replica.start(timeout_s=0.02)
    [process] = started
    assert process.poll() == -signal.SIGKILL  # killed, not left to run on


JOB_SCRIPT = """
import sys
from types import SimpleNamespace
from hfharvest.stages.extract import JobFailed
from hfharvest.workflow import job
snakemake = SimpleNamespace(log=[sys.argv[1]], rule="some_rule", config=dict())
with job(snakemake):
    raise {error}
"""


def test_a_job_that_fails_says_why_in_one_console_line_and_exits_non_zero(tmp_path):
    cases = {
        'JobFailed("the Hub said no")': "hfharvest: some_rule: the Hub said no",
        'RuntimeError("no replica URL")': "hfharvest: some_rule: RuntimeError: no replica URL "
        f"(details in {tmp_path / 'job.log'})",
    }
    for error, line in cases.items():
        script = JOB_SCRIPT.format(error=error)
        result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "job.log")],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert result.returncode == 1
        assert result.stderr.splitlines() == [line]  # the traceback is in the log only
        if error.startswith("RuntimeError"):  # a bug's traceback is kept, in the log
            assert "Traceback" in (tmp_path / "job.log").read_text()
