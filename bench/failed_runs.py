"""A run that cannot do its job says so: the workflow, case by case, through `snakemake`.

    .venv/bin/python bench/failed_runs.py          # about 3 minutes on 2 cores

Each case is one `python -m snakemake` run (in a scratch copy of the workflow, up to
`summary.json`) against a replica hub with one fault switched on, or a config slip. Prints one
Markdown row per case: exit status, the first console line that names the cause, wall time,
the peak RSS of the largest process of the run, and how many models `hf_models.json` kept.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from workflow_runner import copy_workflow  # noqa: E402

from hfharvest.jsonio import read_counts  # noqa: E402
from hfharvest.replica import ReplicaHub  # noqa: E402

MODELS = "openai-community/gpt2\nfacebook/bart-base\nno-such-org/no-such-model\n"
BOMB = {"gzip_bomb": {"bytes": 4 * 1024**3}}
FAST = {"max_retries": 1, "timeout_s": 5}
# (case, replica faults or None for a closed port, config overrides, environment)
CASES = [
    ("dead endpoint (closed port)", None, {}, {}),
    ("HTML answer (wrong endpoint)", {"html": 1}, {}, {}),
    ("401 everywhere, token sent", {"unauthorized": 1}, {}, {"HF_TOKEN": "hf_revoked"}),
    ("token with a trailing space", {}, {}, {"HF_TOKEN": "hf_abc "}),
    ("Retry-After: 100000000", {"absurd_retry_after": 1}, {}, {}),
    ("RateLimit r=0;t=100000000", {"absurd_ratelimit": 1}, {}, {}),
    (
        "README trickled at 1 byte/s",
        {"trickle": {"bytes_per_s": 1, "endpoints": ["resolve_get"]}},
        {"hub": {"deadline_s": 3, "max_retries": 0}},
        {},
    ),  # fmt: skip
    ("gzip bomb (4 GiB) on every JSON route", BOMB, {}, {}),
    ("a 1000-deep entry in the listing page", {"deep_entry": {"index": 2}}, {}, {}),
    ("Link loop in the listing", {"link_loop": True}, {}, {}),
    ("one model not found (per-model failure)", {}, {}, {}),
    ("more than max_failed_fraction failed", {}, {"max_failed_fraction": 0.05}, {}),
    ("models file typo", {}, {"hf": {"models_file": "ids.txtt"}}, {}),
    ("credentials in hub.endpoint", {}, {"hub": {"endpoint": "http://user:pw@127.0.0.1:9"}}, {}),
]


PEAK_MARK = "peak-rss-kb="
# Linux keeps, for a process, the largest RSS among the descendants it waited for (grandchildren
# included): run the command under a fresh interpreter to get that run's own peak.
PEAK_RSS = f"""
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print("{PEAK_MARK}" + str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), file=sys.stderr)
sys.exit(code)
"""


def cause_lines(lines: list[str]) -> list[str]:
    """The run's own one-line causes, else the line after Snakemake's `...Error in file ...`."""
    ours = [line for line in lines if re.match(r"hfharvest: \w+: ", line)]  # a job's own line
    ours += [line for line in lines if line.startswith("hfharvest: ")]  # else the failures table
    after_error = [b for a, b in zip(lines, lines[1:], strict=False) if "Error in file" in a]
    return ours + after_error


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def merged(base: dict, extra: dict) -> dict:
    out = {**base}
    for key, value in extra.items():
        out[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return out


def run_case(root: Path, url: str, overrides: dict, env: dict) -> tuple:
    config = merged(
        {
            "run_id": "case",
            "hub": {"endpoint": url, **FAST},
            "hf": {"num_models": 8, "models_file": "ids.txt", "base_model_iterations": 0},
            "arxiv": {"endpoint": f"{url}/api/query", "delay_s": 0},
        },
        overrides,
    )
    (root / "ids.txt").write_text(MODELS)
    (root / "case.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--configfile", "case.yaml", "--cores", "2"]
    command += ["data/1_raw/hf/case/summary.json"]
    start = time.monotonic()
    measured = [sys.executable, "-c", PEAK_RSS, *command]
    environment = {**os.environ, **env}
    result = subprocess.run(
        measured, cwd=root, text=True, capture_output=True, timeout=600, env=environment
    )
    wall = time.monotonic() - start
    console, _, peak = (result.stdout + result.stderr).rpartition(PEAK_MARK)
    said = cause_lines(console.splitlines())
    models = root / "data/1_raw/hf/case/hf_models.json"
    kept = read_counts(models).get("models", 0) if models.exists() else "no file"
    return result.returncode, (said or ["(nothing)"])[0][:160], wall, int(peak) // 1024, kept


def main() -> None:
    print("| case | exit | console (first line naming the cause) | wall s | RSS MB | models |")
    print("|---|---|---|---|---|---|")
    for case, faults, overrides, env in CASES:
        root = Path(tempfile.mkdtemp(prefix="hfharvest-case-"))
        copy_workflow(root)
        hub = None
        try:
            if faults is None:
                url = f"http://127.0.0.1:{free_port()}"
            else:
                hub = ReplicaHub(page_size=5, faults=faults)
                url = hub.start()
            code, said, wall, rss, kept = run_case(root, url, overrides, env)
        finally:
            if hub is not None:
                hub.stop()
            shutil.rmtree(root, ignore_errors=True)
        said = said.replace("|", "\\|").replace(url, "<endpoint>")
        print(f"| {case} | {code} | {said} | {wall:.1f} | {rss} | {kept} |", flush=True)


if __name__ == "__main__":
    main()
