"""Small runs (issue 10, item 6): the 35-id by-id harvest to `identified/*.json`, end to end.

Ours is the command a user types, `python -m snakemake <the 8 identified files> --cores 2`, with
the models file only (`hf.num_models: 0`) and `hf.threads: 4`, its wall Snakemake's start-up
included. It runs twice over: against a replica at 50 ms started beforehand (`hub.endpoint` its
URL, as a user's run meets the Hub already up, and as the baseline and MLentory were measured),
and with the replica the workflow starts itself (`hub.endpoint: replica`, as `make demo`). The
baseline is bench/naive.py (per id `model_info` + `ModelCard.load`, 4 threads, a fresh HF_HOME)
in a fresh interpreter against that same replica; its wall includes the interpreter's start-up
and imports, and the work alone is shown too. Each side runs `--repeat` times, each time from
scratch (a new data_root, a new HF_HOME); the medians are compared.

MLentory's extraction + identification of the same ids on the same replica was measured at 3.1 s
(issue 10); its code is not installed here, so this script compares with the naive baseline.

    .venv/bin/python bench/small_run.py               # 3 runs each (about 40 s)
    .venv/bin/python bench/small_run.py --repeat 5 --breakdown
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Replica
from hub_scale import logged_resources

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
IDS = BENCH / "small_run_ids.txt"  # the replica snapshot's 35 recorded models
LATENCY_MS = 50
SLURM_PLUGIN = "snakemake_executor_plugin_slurm"  # Snakemake imports every installed plugin
THREADS = 4
KINDS = ["articles", "base_models", "datasets", "identifiers", "keywords", "languages",
         "licenses", "tasks"]  # fmt: skip
NAIVE = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, {bench!r})
from naive import harvest
ids = [line.split("#")[0].strip() for line in open({ids!r})]
outcomes = harvest([i for i in ids if i], threads={threads})
print(json.dumps({{"work_s": time.perf_counter() - started, "outcomes": outcomes}}))
"""


def children_cpu_s() -> float:
    """CPU seconds (user + system) of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict, cwd: Path = ROOT) -> tuple[float, float, str]:
    """(wall s, CPU s of the process and its children, stdout) of one command."""
    cpu, started = children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, children_cpu_s() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, cpu, done.stdout


def naive_run(hub_url: str, workdir: Path) -> dict:
    env = {**os.environ, "HF_ENDPOINT": hub_url, "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HOME": tempfile.mkdtemp(prefix="hf-home-", dir=workdir)}  # fmt: skip
    env.pop("HF_TOKEN", None)
    code = NAIVE.format(bench=str(BENCH), ids=str(IDS), threads=THREADS)
    wall, cpu, out = timed([sys.executable, "-c", code], env)
    result = json.loads(out.splitlines()[-1])
    return {"wall_s": wall, "cpu_s": cpu, **result}


def config_file(data_root: Path, hub_url: str | None = None) -> Path:
    """The run's config: the replica the workflow starts itself, or the one at `hub_url`."""
    config = {
        "run_id": "small",
        "data_root": str(data_root),
        "hub": {"endpoint": hub_url or "replica"},
        "hf": {"num_models": 0, "models_file": str(IDS), "threads": THREADS},
        "replica": {"latency_ms": LATENCY_MS, "scale": 0},
    }
    path = data_root.with_suffix(".yaml")
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def ours_run(workdir: Path, name: str, hub_url: str | None = None) -> dict:
    data_root = workdir / f"data-{name}"
    run = data_root / "1_raw" / "hf" / "small"
    targets = [str(run / "identified" / f"{kind}.json") for kind in KINDS]
    env = {key: value for key, value in os.environ.items() if not key.startswith("HFHARVEST_")}
    command = [sys.executable, "-m", "snakemake", *targets, "--cores", "2"]
    command += ["--configfile", str(config_file(data_root, hub_url))]
    wall, cpu, _ = timed(command, env)
    ended = time.time()
    return {"wall_s": wall, "cpu_s": cpu, "jobs": job_times(data_root, ended - wall)}


def job_times(data_root: Path, started: float) -> list[tuple[str, float, float, float]]:
    """(job, start, end, CPU s) per job, in seconds since the command started: Snakemake's
    benchmark gives each job's wall, the mtime of the benchmark file its end, the job's log
    its exact CPU (the benchmark's sampled one is 0 for a job this short)."""
    rows, folder, logs = [], data_root / "benchmarks" / "small", data_root / "logs" / "small"
    for path in folder.rglob("*.tsv"):
        with path.open() as tsv:
            record = next(csv.DictReader(tsv, delimiter="\t"))
        end = path.stat().st_mtime - started
        name = str(path.relative_to(folder).with_suffix(""))
        cpu = logged_resources(logs / f"{name}.log").get("cpu_time", 0.0)
        rows.append((name, end - float(record["s"]), end, cpu))
    return sorted(rows, key=lambda row: row[1])


def startup_costs(workdir: Path, repeat: int) -> list[tuple[str, float, float]]:
    """(what, median wall s, median CPU s) of the fixed costs before the first job: Snakemake's
    own start (`--version`), of which its executor plugins' imports (the SLURM plugin, a dev
    dependency, imports pandas), the Snakefile parse and DAG (a dry run, minus the start), the
    replica's start until it serves, and a bare job's start (interpreter + Snakemake's preamble)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("HFHARVEST_")}
    data_root = workdir / "dry"
    targets = [str(data_root / "1_raw/hf/small/identified" / f"{kind}.json") for kind in KINDS]
    dry = [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "-n", "-q",
           "--configfile", str(config_file(data_root))]  # fmt: skip
    preamble = "from snakemake.logging import logger; from snakemake.iocontainers import Snakemake"
    replica = ("from hfharvest.workflow import ReplicaProcess; "
               f"r = ReplicaProcess({str(workdir / 'r')!r}, {{'latency_ms': {LATENCY_MS}}}); "
               "r.start(); r.stop()")  # fmt: skip
    commands = {
        "snakemake start-up (--version)": [sys.executable, "-m", "snakemake", "--version"],
        "  of which the SLURM plugin": [sys.executable, "-c", f"import {SLURM_PLUGIN}"],
        "snakemake start + parse + DAG (-n)": dry,
        "replica start until it serves + stop": [sys.executable, "-c", replica],
        "a job's start (python + preamble)": [sys.executable, "-c", preamble],
    }  # fmt: skip
    rows = []
    for name, command in commands.items():
        try:
            times = [timed(command, env)[:2] for _ in range(repeat)]
        except RuntimeError:  # the SLURM plugin is not installed: nothing to count
            continue
        rows.append((name, *(statistics.median(column) for column in zip(*times, strict=True))))
    return rows


def bytecode_note() -> str:
    """How many of hfharvest's modules the jobs load compiled: where PYTHONDONTWRITEBYTECODE is
    set and `make setup` has not compiled them, every job compiles them again (0.02-0.05 s)."""
    sources = list((ROOT / "hfharvest").rglob("*.py"))
    compiled = sum(os.path.exists(importlib.util.cache_from_source(str(s))) for s in sources)
    written = "not written" if sys.flags.dont_write_bytecode else "written"
    return f"hfharvest: {compiled} of {len(sources)} modules with a .pyc ({written} by imports)"


def median_row(name: str, runs: list[dict]) -> str:
    walls = [run["wall_s"] for run in runs]
    cpus = [run["cpu_s"] for run in runs]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return f"{name:<38} {wall:>8.2f} {f'{min(walls):.2f}-{max(walls):.2f}':>11} {cpu:>8.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (median)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also the fixed costs and each job's timeline")  # fmt: skip
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="small-run-"))
    naive, started, ours = [], [], []
    with Replica(workdir, "naive", latency_ms=LATENCY_MS) as hub:
        for index in range(args.repeat):  # alternately, so that both meet the same load
            naive.append(naive_run(hub.url, workdir))
            started.append(ours_run(workdir, f"started-{index}", hub.url))
    for index in range(args.repeat):
        ours.append(ours_run(workdir, str(index)))
    load = os.getloadavg()[0]
    print(f"35-id by-id harvest, replica at {LATENCY_MS} ms, {THREADS} threads, "
          f"{os.cpu_count()} cores, median of {args.repeat} (load average {load:.1f})")  # fmt: skip
    print(f"{'':<38} {'wall s':>8} {'range':>11} {'CPU s':>8}")
    print(median_row("naive (process: start-up + work)", naive))
    work = [{"wall_s": run["work_s"], "cpu_s": run["cpu_s"]} for run in naive]
    print(median_row("naive (work only)", work).rsplit(" ", 1)[0] + "        -")
    print(median_row("ours, replica started beforehand", started))
    print(median_row("ours, the workflow starts its replica", ours))
    ratio = statistics.median(r["wall_s"] for r in started) / statistics.median(
        r["wall_s"] for r in naive
    )
    print(f"ours / naive (end to end, same replica): {ratio:.2f}x; MLentory measured 3.1 s "
          "on a replica started beforehand (issue 10)")  # fmt: skip
    print(f"naive outcomes: {naive[0]['outcomes']}")
    print(bytecode_note())
    if args.breakdown:
        print("\nfixed costs (median wall s, CPU s):")
        for name, wall, cpu in startup_costs(workdir, args.repeat):
            print(f"  {name:<38} {wall:6.2f} {cpu:6.2f}")
        fastest = min(started, key=lambda run: run["wall_s"])
        print(f"\nour fastest run ({fastest['wall_s']:.2f} s): job, start, end, CPU s")
        for name, start, end, cpu in fastest["jobs"]:
            print(f"  {name:<38} {start:6.2f} {end:6.2f} {cpu:6.2f}")
    print(f"(work folder {workdir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
