"""`make bench`: Hub requests, wall time and peak memory of the harvest, against replica hubs.

    python bench/run.py [--quick] [--scenario NAME]... [--threads N] [--workdir DIR] [--keep]
                        [--n N]... [--bulk]

Scenarios (bench/README.md says what each measures): cold, warm, naive, changed-5%,
rate-limited, hub-scale. Each job runs in a child process (child.py) and each replica hub in its
own (harness.Replica); request counts are the replica's, reset before every job. hub-scale runs
the whole workflow instead (hub_scale.py), at each --n.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import hub_scale
from harness import Replica, StatsPoller, run_child


@dataclass(frozen=True)
class Sizes:
    models: int  # cold, warm, naive, changed-5%: the latest N models
    rate_models: int  # rate-limited
    hub_scale: int  # hub-scale: synthesised models, all of them harvested (unless --n)


FULL = Sizes(models=1000, rate_models=500, hub_scale=20_000)
QUICK = Sizes(models=300, rate_models=300, hub_scale=3_000)

LATENCY_MS = 50
PAGE_SIZE = 1000  # the Hub's largest listing page
THREAD_SWEEP = (8, 16, 32)
NAIVE_THREADS = 4
RATE_LIMIT, RATE_WINDOW_S = 100, 3  # requests per window, per bucket
CHANGED_FRACTION, CHANGED_SEED = 0.05, 1
READABLE = {"ok", "truncated"}  # card statuses the replica served with a 200


@dataclass
class Row:
    scenario: str
    models: int
    requests: int
    wall_s: float
    cpu_s: float  # the job's process
    hub_cpu_s: float  # the replica's process, during the job
    rss_mb: float
    vs_naive: bool = False  # same hub and ids as the naive run: show naive wall / this wall


@dataclass
class Bench:
    sizes: Sizes
    threads: int
    workdir: Path
    scale_ns: list[int] = field(default_factory=list)  # hub-scale's N values (--n)
    bulk: bool = False  # hub-scale also harvests cold from the bulk dump (--bulk)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # hub-scale's tables
    goals: list[tuple[str, bool, str]] = field(default_factory=list)
    naive_wall_s: float | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _shared: Replica | None = None
    _cold: dict[int, dict] = field(default_factory=dict)

    # -- shared pieces -----------------------------------------------------------------------
    def shared_hub(self) -> Replica:
        """The hub of cold, warm, naive and changed-5%: N models, 50 ms, 1000 per page."""
        if self._shared is None:
            options = dict(scale=self.sizes.models, latency_ms=LATENCY_MS, page_size=PAGE_SIZE)
            self._shared = self._stack.enter_context(Replica(self.workdir, "shared", **options))
        return self._shared

    def job(self, hub: Replica, name: str, job: dict, env: dict | None = None):
        """Run a job against a hub with fresh counters: (child's result, replica's stats)."""
        hub.reset()
        progress(f"{name} ...")
        hub_cpu = hub.cpu_s()
        result = run_child(self.workdir, name, {"endpoint": hub.url, **job}, env)
        result["hub_cpu_s"] = hub.cpu_s() - hub_cpu
        stats = hub.stats()
        progress(f"{name}: {result['wall_s']:.1f} s, {stats['total']} requests")
        return result, stats

    def row(self, name: str, result: dict, stats: dict, vs_naive: bool = False) -> None:
        times = result["wall_s"], result["cpu_s"], result["hub_cpu_s"]
        row = Row(name, result["models"], stats["total"], *times, result["peak_rss_mb"], vs_naive)
        self.rows.append(row)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def goal(self, name: str, met: bool, detail: str) -> None:
        self.goals.append((name, met, detail))

    def cold_run(self, threads: int) -> dict:
        """The latest N models with a fresh cache (run once per thread count)."""
        if threads not in self._cold:
            hub, folder = self.shared_hub(), self.workdir / f"cold-t{threads}"
            job = extract_job(folder / "cache", folder / "run1", threads, self.sizes.models)
            result, stats = self.job(hub, f"cold t={threads}", job)
            self.row(f"cold t={threads}", result, stats, vs_naive=True)
            self._cold[threads] = {"folder": folder, "result": result, "stats": stats}
        return self._cold[threads]


def extract_job(cache: Path, run: Path, threads: int, num_models: int, **more) -> dict:
    out = str(run / "hf_models_latest.json")
    job = {"stage": "extract_latest", "cache_dir": str(cache), "out": out}
    return {**job, "threads": threads, "num_models": num_models, "keep": True, **more}


# -- scenarios ---------------------------------------------------------------------------------
def cold(bench: Bench) -> None:
    for threads in THREAD_SWEEP:
        bench.cold_run(threads)
    ours = bench.cold_run(bench.threads)
    n, stats = bench.sizes.models, ours["stats"]
    per_model = stats["total"] / n
    pages, gets = stats["by_endpoint"]["list_models"], stats["by_endpoint"]["resolve_get"]
    bench.goal(
        "cold",
        per_model <= 1.02,
        f"{per_model:.3f} Hub requests/model (goal <= 1.02): {pages} listing page(s) + "
        f"{gets} README GETs for {n} models",
    )
    same = sorted(ours["result"]["kept"]) == sorted(bench.shared_hub().latest_ids(n))
    walls = ", ".join(f"t={t} {bench.cold_run(t)['result']['wall_s']:.1f} s" for t in THREAD_SWEEP)
    bench.note(f"cold: thread sweep {walls}; warm/changed/rate-limited use t={bench.threads}")
    bench.note(f"cold: harvested ids == the listing's latest {n} (the naive run's ids): {same}")


def warm(bench: Bench) -> None:
    cold_run = bench.cold_run(bench.threads)
    folder, n = cold_run["folder"], bench.sizes.models
    job = extract_job(folder / "cache", folder / "run2", bench.threads, n)
    result, stats = bench.job(bench.shared_hub(), "warm", job)
    bench.row("warm", result, stats)
    per_model = stats["total"] / n
    bench.goal("warm", per_model <= 0.01, f"{per_model:.4f} requests/model (goal <= 0.01)")
    bench.note(f"warm: card cache {result['card_cache']}, by endpoint {nonzero(stats)}")


def naive(bench: Bench) -> None:
    hub, n = bench.shared_hub(), bench.sizes.models
    folder = bench.workdir / "naive"
    folder.mkdir(parents=True, exist_ok=True)
    ids_file = folder / "ids.json"
    ids_file.write_text(json.dumps(hub.latest_ids(n)))
    env = {
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(Path(tempfile.mkdtemp(prefix="hf-home-", dir=folder))),  # cold
        "HF_TOKEN": None,  # anonymous, like ours
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    job = {"stage": "naive", "ids_file": str(ids_file), "threads": NAIVE_THREADS}
    result, stats = bench.job(hub, f"naive t={NAIVE_THREADS}", job, env)
    bench.row(f"naive t={NAIVE_THREADS}", result, stats)
    bench.naive_wall_s = result["wall_s"]
    bench.note(f"naive: outcomes {result['outcomes']}; by endpoint {nonzero(stats)}")


def changed(bench: Bench) -> None:
    """Change 5 % of the harvested models on the hub; exactly those READMEs must be fetched."""
    hub, n = bench.shared_hub(), bench.sizes.models
    cold_run = bench.cold_run(bench.threads)
    before = cold_run["result"]["kept"]  # id -> [card_status, sha]
    picked = random.Random(CHANGED_SEED).sample(sorted(before), round(CHANGED_FRACTION * n))
    hub.change(picked)
    folder = cold_run["folder"]
    job = extract_job(folder / "cache", folder / "run3", bench.threads, n)
    result, stats = bench.job(hub, "changed-5%", job)
    bench.row("changed-5%", result, stats)
    after, picked_set = result["kept"], set(picked)
    readable = {model_id for model_id in picked if before[model_id][0] in READABLE}
    fetched = stats["readme_gets"]  # model id -> 200 answers
    gets = stats["by_endpoint"]["resolve_get"]  # any status (gated: 401, no README: 404)
    match = set(fetched) == readable and set(fetched.values()) <= {1} and gets == len(picked)
    shas = all((after[i][1] != before[i][1]) == (i in picked_set) for i in before)
    per_model = gets / n
    bench.goal(
        "changed-5%",
        abs(per_model - CHANGED_FRACTION) <= 0.005 and match and shas,
        f"{per_model:.3f} README GETs/model (goal ~{CHANGED_FRACTION}); exactly the changed "
        f"models re-fetched: {'yes' if match else 'no'}; new shas exactly for them: "
        f"{'yes' if shas else 'no'}",
    )
    bench.note(
        f"changed-5%: {len(picked)} changed (seed {CHANGED_SEED}); {len(fetched)} READMEs "
        f"served 200, {gets - len(fetched)} gated/absent answered 401/404; {nonzero(stats)}"
    )


def rate_limited(bench: Bench) -> None:
    """A small budget per window: spend it all, collect no 429, lose no model."""
    n, r, w = bench.sizes.rate_models, RATE_LIMIT, RATE_WINDOW_S
    options = dict(scale=n, latency_ms=LATENCY_MS, page_size=PAGE_SIZE, rate_window=w)
    options |= dict(api_rate_limit=r, resolve_rate_limit=r)
    name = f"rate-limited R={r}/{w}s"
    with Replica(bench.workdir, "rate", **options) as hub:
        job = extract_job(
            bench.workdir / "rate" / "cache", bench.workdir / "rate", bench.threads, n
        )
        hub.reset()
        hub_cpu = hub.cpu_s()
        with StatsPoller(hub) as poller:
            progress(f"{name} ...")
            result = run_child(bench.workdir, name, {"endpoint": hub.url, **job})
        result["hub_cpu_s"] = hub.cpu_s() - hub_cpu
    samples, final = poller.samples, poller.samples[-1][1]
    bench.row(name, result, final)
    progress(f"{name}: {result['wall_s']:.1f} s, {final['total']} requests")

    def resolvers(stats: dict) -> int:
        return stats["by_endpoint"]["resolve_get"] + stats["by_endpoint"]["resolve_head"]

    # Window 1 opens with the first README request the hub counted; the last one closes the run.
    t_first = next(t for t, stats in samples if resolvers(stats) > 0)
    t_last = next(t for t, stats in samples if resolvers(stats) == resolvers(final))
    windows = max(1, math.ceil((t_last - t_first) / w))
    listing_retries = final["by_endpoint"]["list_models"] - math.ceil(n / PAGE_SIZE)
    resolver_429 = final["rate_limited"] - listing_retries  # the api bucket only lists
    budget = (resolvers(final) - resolver_429) / (r * windows)
    in_first = max(s["rate_limited"] for t, s in samples if t <= t_first + w)
    later = final["rate_limited"] - in_first
    lost = n - result["models"]
    bench.goal(
        "rate-limited",
        budget >= 0.9 and later == 0 and lost == 0,
        f"budget used {budget:.0%} (goal >= 90%); 429s after the first window: {later} "
        f"(goal 0); models lost: {lost} (goal 0)",
    )
    bench.note(
        f"rate-limited: {resolvers(final) - resolver_429} README requests in {windows} windows "
        f"of {w} s ({t_last - t_first:.1f} s from first to last); 429s: {in_first} in window 1, "
        f"{later} later, {final['rate_limited']} in all; client waited "
        f"{result['limiter_waited_s']:.1f} s (thread-seconds); failures {result['failures']}"
    )


def hub_scale_runs(bench: Bench) -> None:
    """The whole workflow, cold and warm, at each N; the projection to the Hub (hub_scale.py)."""
    by_n = {}
    for n in bench.scale_ns or [bench.sizes.hub_scale]:
        by_n[n] = hub_scale.at_scale(bench.workdir, n, bench.bulk, progress)
    bench.sections.append(hub_scale.report(by_n))
    for goal in hub_scale.goals(by_n):
        bench.goal(*goal)


SCENARIOS: dict[str, Callable[[Bench], None]] = {
    "cold": cold,
    "warm": warm,
    "naive": naive,
    "changed-5%": changed,  # after naive: it changes the shared hub
    "rate-limited": rate_limited,
    "hub-scale": hub_scale_runs,
}


# -- report ------------------------------------------------------------------------------------
def nonzero(stats: dict) -> dict:
    return {endpoint: count for endpoint, count in stats["by_endpoint"].items() if count}


def versus_naive(bench: Bench) -> None:
    ours = bench._cold.get(bench.threads)
    if bench.naive_wall_s is None or ours is None:
        return
    ratio = bench.naive_wall_s / ours["result"]["wall_s"]
    bench.goal(
        "cold vs naive",
        ratio >= 10,
        f"naive {bench.naive_wall_s:.1f} s / ours (t={bench.threads}) "
        f"{ours['result']['wall_s']:.1f} s = {ratio:.1f}x (goal >= 10x)",
    )


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc {cores}, Python {platform.python_version()}, {platform.platform()}, "
        f"huggingface_hub {version('huggingface_hub')}, load average {load()}"
    )


def library() -> str:
    """Which hfharvest the jobs import, and its git state: colleagues edit it as we measure."""
    folder = Path(importlib.util.find_spec("hfharvest").origin).parent
    git = ["git", "-C", str(folder)]
    try:
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, check=True).stdout.splitlines()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return f"library {folder} (not in git)"
    return f"library {folder} at {commit}" + (f" + {len(dirty)} uncommitted" if dirty else "")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(bench: Bench) -> str:
    header = ("scenario", "models", "requests", "req/model", "wall s", "cpu s", "hub cpu s")
    header += ("peak RSS MB", "naive/this")
    lines = []
    for row in bench.rows:
        ratio = "-"
        if row.vs_naive and bench.naive_wall_s is not None:
            ratio = f"{bench.naive_wall_s / row.wall_s:.1f}x"
        per_model = f"{row.requests / row.models:.3f}" if row.models else "-"
        lines.append(
            (row.scenario, str(row.models), str(row.requests), per_model, f"{row.wall_s:.1f}")
            + (f"{row.cpu_s:.1f}", f"{row.hub_cpu_s:.1f}", f"{row.rss_mb:.0f}", ratio)
        )
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

    def fmt(cells) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join(
            [first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]
        ).rstrip()

    rule = "-" * len(fmt(header))
    return "\n".join([fmt(header), rule, *map(fmt, lines), rule])


def jobs_header(bench: Bench) -> str:
    return (
        f"replica latency {LATENCY_MS} ms, page size {PAGE_SIZE}; ours t={bench.threads}; "
        f"wall = the job's work in its child process (not interpreter start-up)"
    )


def report(bench: Bench, started: float, command: str) -> str:
    parts = [
        f"hfharvest bench: {command}",
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}; {machine()}",
        library(),
        *([jobs_header(bench), "", table(bench)] if bench.rows else []),
        "",
        *(f"note  {text}" for text in bench.notes),
        "",
        *(f"{text}\n" for text in bench.sections),
        *(
            f"goal  {name}: {'MET' if met else 'NOT MET'} - {text}"
            for name, met, text in bench.goals
        ),
        "",
        f"bench run time {time.monotonic() - started:.0f} s",
    ]
    return "\n".join(parts)


def progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N: a smoke run")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="run only this (repeatable)"
    )
    parser.add_argument("--threads", type=int, default=32, help="our http_threads (default 32)")
    parser.add_argument("--workdir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (logs, outputs)")
    parser.add_argument(
        "--n", type=int, action="append", help="hub-scale: models (repeatable: RSS slope)"
    )
    parser.add_argument("--bulk", action="store_true", help="hub-scale: also cold from the dump")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hfharvest-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(QUICK if args.quick else FULL, args.threads, workdir, args.n or [], args.bulk)
    progress(f"{machine()}; {library()}; workdir {workdir}")
    try:
        with bench._stack:
            for name, scenario in SCENARIOS.items():
                if args.scenario is None or name in args.scenario:
                    scenario(bench)
        versus_naive(bench)
    except BaseException:
        progress(f"bench failed; logs and outputs kept in {workdir}")
        raise
    command = " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    print(report(bench, started, command), flush=True)
    if args.keep or args.workdir:
        progress(f"outputs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
