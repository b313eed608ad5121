import os
import sys

from hfharvest.entities import KINDS as ENTITY_KINDS
from hfharvest.joblog import freeze_at_exit
from hfharvest.runconfig import benchmarks_folder, check, harvest_source
from hfharvest.runconfig import cache_endpoint, logs_folder, run_folder
from hfharvest.stages.delta import mark_last_run, pointer_path
from hfharvest.stages.summary import failure_report
from hfharvest.workflow import ReplicaProcess, cancel_scheduler_timers

check(
    config
)  # data_root, models file: errors that name their key, before any path is built
freeze_at_exit()  # Snakemake's own exit: 0.3 s of collections over its libraries' objects
RUN = run_folder(config)
LOGS = logs_folder(config)  # <data_root>/logs/<run_id>: two data roots never share logs
BENCHMARKS = benchmarks_folder(config)
# What decides *what* the Hub-calling rules harvest, for their params: the endpoint (and the
# replica's catalogue). How fast and how politely (threads, timeouts, retries, waits, pacing,
# the token's variable, the caches) the scripts read from the config: changing it never makes
# an output stale. The token stays in the environment, never in params.
HUB = harvest_source(config, "hub")
# The previous successful run on this data root and endpoint, for the delta; set on success.
LAST_RUN = pointer_path(f"{config['data_root']}/1_raw/hf", cache_endpoint(config))
ARXIV = harvest_source(config, "arxiv")


scattergather:
    latest=config["hf"]["shards"],
    from_file=config["hf"]["shards"],


wildcard_constraints:
    scatteritem=r"\d+-of-\d+",


def run_file(name):
    return f"{RUN}/{name}"


def normalized(name):
    """A file of the run's normalized folder: <data_root>/2_normalized/hf/<run_id>/<name>."""
    return f"{config['data_root']}/2_normalized/hf/{config['run_id']}/{name}"


def postgres_targets():
    """The PostgreSQL load (rules/normalize.smk), when the variable the config names holds a
    DSN; the DSN itself is read by the job, never by the Snakefile."""
    dsn_env = config["normalize"]["postgres_dsn_env"]
    return rules.load_postgres.output if os.environ.get(dsn_env) else []


def log_file(rule_name):
    return f"{LOGS}/{rule_name}.log"


def benchmark_file(rule_name):
    """Wall time and memory of a job (Snakemake's benchmark), plotted in the report."""
    return f"{BENCHMARKS}/{rule_name}.tsv"


def job_benchmarks():
    """Every job's benchmark file: plain rules', and each shard's (not the report's own)."""
    plain = [
        str(rule.benchmark)
        for rule in workflow.rules
        if rule.benchmark
        and "{" not in str(rule.benchmark)
        and rule.name != "plot_run_report"
    ]
    return [
        *plain,
        *gather.latest(benchmark_file("fetch_latest_cards/{scatteritem}")),
        *gather.from_file(benchmark_file("fetch_file_models/{scatteritem}")),
    ]


def models_file_input(wildcards):
    """The models file is an input (editing it reruns extraction); none when it is null."""
    path = config["hf"]["models_file"]
    return {"models_file": path} if path else {}


def merged_extracts(wildcards):
    """What merge_models merges, latest first: each extract path that has models to harvest
    (hf.num_models > 0; a models file). An empty path's jobs are then not run on the way to the
    identified files (summarize_run still reads both paths' files)."""
    paths = {}
    if config["hf"]["num_models"] > 0:
        paths["latest"] = rules.extract_latest.output.models
    if config["hf"]["models_file"]:
        paths["from_file"] = rules.extract_from_file.output.models
    return paths


def print_failures():
    """The failures table of the run and the command that retries them, if any."""
    table = failure_report(RUN, sys.argv, config["retry_failures"] + 1)
    if table:
        print(table)


_replica = ReplicaProcess(f"{LOGS}/replica", config["replica"])


onstart:
    if (
        config["hub"]["endpoint"] == "replica"
        and "HFHARVEST_REPLICA_URL" not in os.environ
    ):
        print(f"hfharvest: replica hub at {_replica.start(wait=False)}")


onsuccess:
    _replica.stop(f"{LOGS}/replica_stats.json")
    if os.path.exists(run_file("delta.json")):
        mark_last_run(
            LAST_RUN,
            config["run_id"],
            run_file("shards/latest_listing.json.gz"),
            cache_endpoint(config),
        )
    summary = run_file("summary.json")
    if os.path.exists(summary):
        from hfharvest.jsonio import read_json
        from hfharvest.stages.summary import format_summary

        print(format_summary(read_json(summary)))
    print_failures()
    cancel_scheduler_timers()


onerror:
    _replica.stop(f"{LOGS}/replica_stats.json")
    print_failures()
    cancel_scheduler_timers()


# Too light for a cluster job (queueing costs more than the work): run where Snakemake runs.
localrules:
    all,
    write_delta,
    merge_models,
    summarize_run,
    split_models_file,
    enrich_licenses,
    enrich_languages,
    enrich_keywords,
    plot_lineage_families,
