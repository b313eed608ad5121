"""`--scenario hub-scale`: the whole workflow at N synthetic models, and a projection to the Hub.

At each N: a replica hub with N synthetic models in its own process; a cold run (fresh data
root), then 2 % of the harvested models changed on the hub and a warm run (new run_id, same data
root and caches); with --bulk also a cold run from the Hub's bulk dump of cards on a fresh data
root. Per run: each rule's jobs (Snakemake's benchmark files), the Hub requests per stage and
budget (summary.json, cross-checked with the replica's counters), disk, and the whole run's wall
and CPU time. Then the requests, Hub hours, CPU, wall and peak RSS projected to 1.5 M models.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from harness import Replica

from hfharvest.joblog import RESOURCES
from hfharvest.replica.synthetic import END, GROWTH, START

REPO = Path(__file__).resolve().parents[1]  # where the Snakefile is
HUB_MODELS = 1_500_000  # the Hub's model count, to project to
CHANGED_FRACTION, CHANGED_SEED = 0.02, 0  # the daily change the warm run sees
PAGE_SIZE = 1000  # the Hub's largest listing page
WINDOW_MIN = 5  # the Hub counts every budget over fixed 5-minute windows
# Requests per 5-minute window (huggingface.co/docs/hub/rate-limits, plans of September 2025).
# The pipeline sends no `pages` request. arXiv asks for 3 s between requests: 100 per window.
LIMITS = {
    "free": {"api": 1000, "resolvers": 5000, "arxiv": 100},
    "PRO": {"api": 2500, "resolvers": 12000, "arxiv": 100},
}
RSS_LIMIT_MB = 1024
# Requests that do not grow with the models harvested: Croissant documents, at most
# hf.croissant_max a run whatever N (the rest deferred to later runs), and the dataset listing,
# whose pages follow the Hub's datasets (about 500 000 in 2025, config/README.md), not N.
PER_RUN = ("croissant", "list_datasets")
HUB_DATASET_PAGES = 500
WARM_SHARE = 0.10  # warm CPU and disk at most this share of the cold run's
WARM_SLACK = 1.02  # warm requests at most this times (changed models + listing pages)
DAILY_HOURS = BULK_HOURS = 1.0
FLOOR_MARGIN = 0.05  # cold without the bulk dump: within 5 % of the per-README floor
LISTING = ("list_models", "list_datasets")  # the replica's names of the paged listings
# The bulk dump is refreshed daily, so the bulk run meets one a day old: its stale rows are the
# models the bench changed (the day's commits), its missing rows the day's new models, at the
# synthetic Hub's own growth rate (PROVENANCE-synthetic.md: 30-fold over five years, so about
# 0.19 % of the models arrived in the last day). The replica's defaults lag more, to test the
# fallback.
DAY_S = 86_400
DUMP_WORLD = {
    "dump_stale_share": 0.0,
    "dump_missing_share": math.log(GROWTH) * DAY_S / (END - START),
}
# The free account's limits are a signed-in user's: the runs send a token (to the replica
# only), so gated models are read like any other, from the dump or one by one.
TOKEN_ENV = {"HF_TOKEN": "hf_bench_free_account"}


@dataclass(frozen=True)
class Jobs:
    """One rule's jobs in a run (several when it is sharded)."""

    count: int
    wall_s: float  # summed over the jobs
    cpu_s: float  # summed over the jobs
    rss_mb: float  # the largest job's peak


@dataclass
class Run:
    name: str  # cold, warm or bulk
    n: int
    wall_s: float  # the whole `snakemake` command
    cpu_s: float  # snakemake and every job it ran
    rules: dict[str, Jobs]
    requests: dict[str, dict[str, int]]  # summary.json's: stage -> budget -> count, and "total"
    identified: dict[str, dict]  # summary.json's: kind -> counts
    hub: dict  # the replica's counters over the run
    disk: dict[str, int]  # bytes
    changed: int = 0  # models changed on the hub just before the run

    def hub_requests(self) -> int:
        return sum(self.requests.get("total", {}).values())

    def listing_pages(self) -> int:
        return sum(self.hub["by_endpoint"].get(name, 0) for name in LISTING)


# -- Snakemake's benchmark files ---------------------------------------------------------------
def read_benchmark(path: Path) -> dict[str, float]:
    """The last row of a benchmark TSV, its numeric columns (`s`, `cpu_time`, `max_rss` MB...);
    Snakemake writes `-` or `NA` where it measured nothing (a job too short to sample)."""
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    return {key: _number(value) for key, value in rows[-1].items()} if rows else {}


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def rule_jobs(folder: Path, logs: Path | None = None) -> dict[str, Jobs]:
    """Every rule's jobs from `<data_root>/benchmarks/<run_id>/`: `<rule>.tsv`, or one file per
    shard under `<rule>/`. Whatever rules the workflow has today, none named here. Where the
    job's log (same path under `logs`, `.log`) ends with its exact CPU and peak RSS, those
    replace the benchmark's samples."""
    found: dict[str, list[dict[str, float]]] = {}
    for path in sorted(folder.rglob("*.tsv")):
        relative = path.relative_to(folder)
        rule = relative.parts[0].removesuffix(".tsv")
        job = read_benchmark(path)
        if logs is not None:
            job.update(logged_resources(logs / relative.with_suffix(".log")))
        found.setdefault(rule, []).append(job)
    return {rule: _sum_jobs(jobs) for rule, jobs in found.items()}


def logged_resources(log: Path) -> dict[str, float]:
    """`cpu_time` and `max_rss` (MB) from the job log's `job resources:` line (hfharvest.joblog),
    or nothing when the log has none (an older run, a job that was killed)."""
    try:
        with open(log, "rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 65536))  # the last line is short
            lines = file.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        if RESOURCES in line:
            fields = dict(item.split("=", 1) for item in line.split(RESOURCES, 1)[1].split())
            return {"cpu_time": float(fields["cpu_s"]), "max_rss": float(fields["max_rss_mb"])}
    return {}


def _sum_jobs(jobs: list[dict[str, float]]) -> Jobs:
    total = lambda key: sum(job.get(key, 0.0) for job in jobs)  # noqa: E731
    return Jobs(len(jobs), total("s"), total("cpu_time"), max(j.get("max_rss", 0) for j in jobs))


# -- disk --------------------------------------------------------------------------------------
def disk_bytes(*paths: Path) -> int:
    """Bytes allocated under `paths`, each inode once: a run folder that hard-links shared data
    costs what it adds, not what it shows."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in paths:
        for stat in _stats(Path(path)):
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total


def _stats(root: Path) -> Iterable[os.stat_result]:
    if not root.exists():
        return
    yield root.lstat()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            yield os.lstat(os.path.join(folder, name))


# -- the runs ----------------------------------------------------------------------------------
def workflow_config(url: str, data_root: Path, run_id: str, n: int, bulk: bool) -> dict:
    """The latest N models of the replica at `url`, all targets; arXiv from the same replica."""
    return {
        "run_id": run_id,
        "data_root": str(data_root),
        "hub": {"endpoint": url},
        "hf": {"num_models": n, "models_file": None, "bulk_cards": bulk},
        "arxiv": {"endpoint": f"{url}/api/query", "delay_s": 0},
    }


def run_workflow(config: dict, folder: Path) -> tuple[float, float]:
    """`python -m snakemake --cores 2` on the config: (wall s, CPU s of it and every job)."""
    path = folder / f"{config['run_id']}.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", str(path)]
    before, started = _children_cpu_s(), time.monotonic()
    with open(folder / f"{config['run_id']}.log", "w") as log:
        env = {**os.environ, **TOKEN_ENV}
        done = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    wall_s, cpu_s = time.monotonic() - started, _children_cpu_s() - before
    if done.returncode != 0:
        raise RuntimeError(f"snakemake failed (exit {done.returncode}); see {log.name}")
    return wall_s, cpu_s


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def harvest(hub: Replica, config: dict, folder: Path, changed: int = 0) -> Run:
    data_root, run_id = Path(config["data_root"]), config["run_id"]
    before = {"cache": disk_bytes(data_root / "cache"), "all": disk_bytes(data_root)}
    hub.reset()
    wall_s, cpu_s = run_workflow(config, folder)
    summary = json.loads((data_root / "1_raw/hf" / run_id / "summary.json").read_text())
    disk = {
        "run folder": disk_bytes(data_root / "1_raw/hf" / run_id),
        "normalized": disk_bytes(data_root / "2_normalized/hf" / run_id),
        "cache growth": disk_bytes(data_root / "cache") - before["cache"],
        "data_root growth": disk_bytes(data_root) - before["all"],
    }
    rules = rule_jobs(data_root / "benchmarks" / run_id, data_root / "logs" / run_id)
    requests, identified = summary.get("requests", {}), summary.get("identified", {})
    return Run(
        run_id,
        config["hf"]["num_models"],
        wall_s,
        cpu_s,
        rules,
        requests,
        identified,
        hub.stats(),
        disk,
        changed,
    )


def at_scale(workdir: Path, n: int, bulk: bool, progress: Callable[[str], None]) -> list[Run]:
    """Cold, warm after 2 % changed and, with `bulk`, cold from the bulk dump, at N models."""
    folder = workdir / f"hub-scale-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    options = dict(scale=n, seed=0, latency_ms=0, page_size=PAGE_SIZE, **DUMP_WORLD)
    with Replica(folder, "hub", **options) as hub:
        runs = []
        config = workflow_config(hub.url, folder / "data", "cold", n, bulk=False)
        runs.append(_timed(progress, f"hub-scale N={n} cold", hub, config, folder))
        picked = random.Random(CHANGED_SEED).sample(sorted(hub.latest_ids(n)), changed_count(n))
        hub.change(picked)
        config = workflow_config(hub.url, folder / "data", "warm", n, bulk=False)
        runs.append(_timed(progress, f"hub-scale N={n} warm", hub, config, folder, len(picked)))
        if bulk:
            config = workflow_config(hub.url, folder / "data-bulk", "bulk", n, bulk=True)
            runs.append(_timed(progress, f"hub-scale N={n} bulk", hub, config, folder))
    return runs


def changed_count(n: int) -> int:
    return max(1, round(CHANGED_FRACTION * n))


def _timed(progress, label: str, hub: Replica, config: dict, folder: Path, changed: int = 0):
    progress(f"{label} ...")
    run = harvest(hub, config, folder, changed)
    progress(f"{label}: {run.wall_s:.0f} s, {run.hub['total']} requests")
    return run


# -- the projection ----------------------------------------------------------------------------
def per_model(run: Run) -> dict[str, float]:
    """Requests per harvested model, per budget (the summary's totals), those of PER_RUN left
    out (see per_run)."""
    rates = {budget: count / run.n for budget, count in run.requests.get("total", {}).items()}
    rates["api"] = rates.get("api", 0) - sum(_per_run_counts(run).values()) / run.n
    return rates


def _per_run_counts(run: Run) -> dict[str, int]:
    return {name: run.hub["by_endpoint"].get(name, 0) for name in PER_RUN}


def per_run(run: Run) -> dict[str, float]:
    """`api` requests a run at the Hub's scale sends whatever its N: the Croissant documents it
    asked (at most hf.croissant_max), and the whole dataset listing when it used it."""
    counts = _per_run_counts(run)
    return {"api": counts["croissant"] + (HUB_DATASET_PAGES if counts["list_datasets"] else 0)}


def hub_hours(rates: dict[str, float], limits: dict[str, int], models: int,
              fixed: dict[str, float] | None = None) -> float:  # fmt: skip
    """Hours of rate-limited time: the budgets are spent side by side, the slowest decides."""
    fixed = fixed or {}
    windows = [
        (rate * models + fixed.get(budget, 0)) / limits[budget]
        for budget, rate in rates.items()
        if budget in limits
    ]
    return max(windows, default=0.0) * WINDOW_MIN / 60


def projected_hours(run: Run, plan: str = "free") -> float:
    return hub_hours(per_model(run), LIMITS[plan], HUB_MODELS, per_run(run))


def linear(points: list[tuple[int, float]], at: int) -> float:
    """The value at `at` on the line through the two largest N; through zero from one N."""
    (n1, v1), (n2, v2) = ([(0, 0.0)] + sorted(points))[-2:]
    return v2 + (v2 - v1) / (n2 - n1) * (at - n2)


def readme_floor_hours(models: int, plan: str = "free") -> float:
    """One README per model through the `resolvers` budget: the per-README harvest's floor."""
    return hub_hours({"resolvers": 1.0}, LIMITS[plan], models)


def changed_entities(cold: Run, warm: Run) -> int:
    """Entities the warm run names that the cold run did not, from the summaries' distinct
    counts per kind (`identifiers` are the models' own ids: not entities to enrich)."""
    kinds = set(warm.identified) - {"identifiers"}
    count = lambda run, kind: run.identified.get(kind, {}).get("distinct_entities", 0)  # noqa: E731
    return sum(max(0, count(warm, kind) - count(cold, kind)) for kind in kinds)


# -- the goals ---------------------------------------------------------------------------------
Goal = tuple[str, bool, str]


def goals(by_n: dict[int, list[Run]]) -> list[Goal]:
    """The goals of issue 10, at the largest N (RSS: every run at every N)."""
    runs = {run.name: run for run in by_n[max(by_n)]}
    cold, warm = runs["cold"], runs["warm"]
    found = [rss_goal(by_n), warm_requests_goal(cold, warm)]
    for what, share in (("CPU", warm.cpu_s / cold.cpu_s), ("disk", _disk_share(cold, warm))):
        detail = f"{share:.1%} of the cold run's (goal <= {WARM_SHARE:.0%})"
        found.append((f"hub-scale warm {what}", share <= WARM_SHARE, detail))
    found.append(hours_goal("daily refresh", warm, DAILY_HOURS))
    found.append(cold_goal(cold))
    if "bulk" in runs:
        found.append(hours_goal("cold with bulk", runs["bulk"], BULK_HOURS))
    return found


def hours_goal(what: str, run: Run, goal_h: float) -> Goal:
    hours = projected_hours(run)
    detail = f"{hours:.2f} h of Hub time, free account (goal <= {goal_h:g} h)"
    return f"hub-scale {what} at 1.5M", hours <= goal_h, detail


def rss_goal(by_n: dict[int, list[Run]]) -> Goal:
    peak = max(jobs.rss_mb for runs in by_n.values() for run in runs for jobs in run.rules.values())
    projected = projected_rss(by_n)
    detail = f"largest job {peak:.0f} MB"
    if projected:
        rule, mb = max(projected.items(), key=lambda item: item[1])
        detail += f"; projected at 1.5M: {mb:.0f} MB ({rule})"
    else:
        detail += "; projection at 1.5M needs two --n"
    met = peak < RSS_LIMIT_MB and bool(projected) and max(projected.values()) < RSS_LIMIT_MB
    return "hub-scale RSS", met, f"{detail} (goal < {RSS_LIMIT_MB} MB both)"


def projected_rss(by_n: dict[int, list[Run]]) -> dict[str, float]:
    """Each rule's peak RSS (largest over the runs) at 1.5M, on its slope between the two
    largest N, never below what it was measured at (a job's memory does not shrink with N: a
    falling slope is noise); nothing from a single N."""
    if len(by_n) < 2:
        return {}
    peaks: dict[str, list[tuple[int, float]]] = {}
    for n, runs in by_n.items():
        for rule in {rule for run in runs for rule in run.rules}:
            mb = max(run.rules[rule].rss_mb for run in runs if rule in run.rules)
            peaks.setdefault(rule, []).append((n, mb))
    return {
        rule: max(linear(p, HUB_MODELS), *(mb for _, mb in p))
        for rule, p in peaks.items()
        if len(p) >= 2
    }


def warm_requests_goal(cold: Run, warm: Run) -> Goal:
    """Croissant documents the cold run deferred (over hf.croissant_max) and the warm run asked
    count with the changed entities: entity work, not README work."""
    entities, pages = changed_entities(cold, warm), warm.listing_pages()
    deferred = warm.hub["by_endpoint"].get("croissant", 0)
    allowed = WARM_SLACK * (warm.changed + pages) + entities + deferred
    sent = warm.hub["total"]
    detail = (
        f"{sent} requests (goal <= {WARM_SLACK} x ({warm.changed} changed models + "
        f"{pages} listing pages) + {entities} changed entities + {deferred} Croissant "
        f"documents deferred by the cold run = {allowed:.1f})"
    )
    return "hub-scale warm requests", sent <= allowed, detail


def cold_goal(cold: Run) -> Goal:
    hours = projected_hours(cold)
    floor = readme_floor_hours(HUB_MODELS)
    detail = f"{hours:.1f} h of Hub time, free account (goal within {FLOOR_MARGIN:.0%} of "
    detail += f"the per-README floor, {floor:.1f} h)"
    return "hub-scale cold at 1.5M", hours <= (1 + FLOOR_MARGIN) * floor, detail


def _disk_share(cold: Run, warm: Run) -> float:
    return warm.disk["data_root growth"] / cold.disk["data_root growth"]


# -- the report --------------------------------------------------------------------------------
def report(by_n: dict[int, list[Run]]) -> str:
    parts = []
    for n, runs in sorted(by_n.items()):
        parts += [
            f"hub-scale N={n}: each rule's jobs (wall and CPU summed over its shards, RSS the "
            "largest job's)",
            jobs_table(runs),
            f"hub-scale N={n}: Hub requests per stage and budget (summary.json)",
            requests_table(runs),
            f"hub-scale N={n}: whole runs",
            runs_table(runs),
            "\n".join(f"{run.name} replica by endpoint: {endpoints(run)}" for run in runs),
        ]
    largest = by_n[max(by_n)]
    floor = ", ".join(f"{plan} {readme_floor_hours(HUB_MODELS, plan):.1f} h" for plan in LIMITS)
    parts += [
        f"hub-scale projection to {HUB_MODELS:,} models from N={max(by_n)} (per-README floor: "
        f"{floor})",
        projection_table(largest),
        "hub-scale projection of time and memory to 1.5M (linear in N)",
        resources_table(by_n),
    ]
    return "\n\n".join(parts)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first, rest = cells[0].ljust(widths[0]), zip(cells[1:], widths[1:], strict=True)
        return "  ".join([first, *(cell.rjust(width) for cell, width in rest)]).rstrip()

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *map(line, rows), rule])


def jobs_table(runs: list[Run]) -> str:
    header = ["rule", "jobs"]
    for run in runs:
        header += [f"{run.name} wall s", f"{run.name} CPU s", f"{run.name} RSS MB"]
    rules = sorted({rule for run in runs for rule in run.rules})
    rows = []
    for rule in rules:
        row = [rule, str(max(run.rules[rule].count for run in runs if rule in run.rules))]
        for run in runs:
            jobs = run.rules.get(rule)
            row += (
                [f"{jobs.wall_s:.1f}", f"{jobs.cpu_s:.1f}", f"{jobs.rss_mb:.0f}"]
                if jobs
                else ["-"] * 3
            )
        rows.append(row)
    return table(header, rows)


def requests_table(runs: list[Run]) -> str:
    budgets = list(LIMITS["free"])
    header = ["stage"] + [f"{run.name} {budget}" for run in runs for budget in budgets]
    stages = list(dict.fromkeys(stage for run in runs for stage in run.requests))
    rows = [
        [stage]
        + [str(run.requests.get(stage, {}).get(budget, 0)) for run in runs for budget in budgets]
        for stage in stages
    ]
    return table(header, rows)


def runs_table(runs: list[Run]) -> str:
    header = ["run", "changed", "wall s", "CPU s", "requests", "replica", "pages"]
    header += [f"{name} MB" for name in runs[0].disk]
    rows = []
    for run in runs:
        counts = [run.changed, f"{run.wall_s:.0f}", f"{run.cpu_s:.0f}", run.hub_requests()]
        counts += [run.hub["total"], run.listing_pages()]
        rows.append([run.name, *map(str, counts), *(f"{b / 1e6:.1f}" for b in run.disk.values())])
    return table(header, rows)


def endpoints(run: Run) -> str:
    return ", ".join(f"{name} {count}" for name, count in run.hub["by_endpoint"].items() if count)


def projection_table(runs: list[Run]) -> str:
    budgets = list(LIMITS["free"])
    header = ["run", *(f"{b}/model" for b in budgets), *(f"{b} at 1.5M" for b in budgets)]
    header += [f"{plan} h" for plan in LIMITS]
    rows = []
    for run in runs:
        rates = per_model(run)
        row = [run.name, *(f"{rates.get(b, 0):.4f}" for b in budgets)]
        fixed = per_run(run)
        row += [f"{rates.get(b, 0) * HUB_MODELS + fixed.get(b, 0):,.0f}" for b in budgets]
        row += [f"{projected_hours(run, plan):.2f}" for plan in LIMITS]
        rows.append(row)
    return table(header, rows)


def resources_table(by_n: dict[int, list[Run]]) -> str:
    """Each run's wall and CPU hours at 1.5M, and each rule's peak RSS at 1.5M (two N only)."""
    names = [run.name for run in by_n[max(by_n)]]
    points = {
        name: [(n, run) for n, runs in by_n.items() for run in runs if run.name == name]
        for name in names
    }
    header = ["run", *(f"wall s N={n}" for n in sorted(by_n)), "wall h at 1.5M", "CPU h at 1.5M"]
    rows = []
    for name, found in points.items():
        walls = [f"{run.wall_s:.0f}" for _, run in sorted(found, key=lambda p: p[0])]
        wall = linear([(n, run.wall_s) for n, run in found], HUB_MODELS) / 3600
        cpu = linear([(n, run.cpu_s) for n, run in found], HUB_MODELS) / 3600
        rows.append([name, *walls, f"{wall:.1f}", f"{cpu:.1f}"])
    text = table(header, rows)
    rss = projected_rss(by_n)
    if rss:
        rss_rows = [[rule, f"{mb:.0f}"] for rule, mb in sorted(rss.items(), key=lambda i: -i[1])]
        text += "\n\n" + table(["rule", "peak RSS MB at 1.5M"], rss_rows)
    return text
