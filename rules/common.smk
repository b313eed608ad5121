import os

from hfharvest.entities import KINDS as ENTITY_KINDS
from hfharvest.workflow import ReplicaProcess

RUN = f"{config['data_root']}/1_raw/hf/{config['run_id']}"
LOGS = f"logs/{config['run_id']}"
# READMEs by model id + sha, shared by every run under this data root.
CARD_CACHE = f"{config['data_root']}/cache/hf" if config["hf"]["cache"] else None
# Records this run fetched by id: a rerun of the run asks the Hub only for what failed.
RECORDS = f"{RUN}/.records" if config["hf"]["cache"] else None
# Only what reaches the Hub; the token stays in the environment, never in params.
HUB = {
    key: config["hub"][key]
    for key in ("endpoint", "token_env", "timeout_s", "max_retries")
}


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
    return f"benchmarks/{config['run_id']}/{rule_name}.tsv"


def job_benchmarks():
    """Every job's benchmark file: plain rules', and each shard's."""
    plain = [
        str(rule.benchmark)
        for rule in workflow.rules
        if rule.benchmark and "{" not in str(rule.benchmark)
    ]
    return [
        *plain,
        *gather.latest(benchmark_file("fetch_latest_cards/{scatteritem}")),
        *gather.from_file(benchmark_file("fetch_file_models/{scatteritem}")),
    ]


def models_file_input(wildcards):
    """The models file is an input only when it exists, so editing it reruns extraction."""
    path = config["hf"]["models_file"]
    return {"ids": path} if path and os.path.exists(path) else {}


_replica = ReplicaProcess(f"{LOGS}/replica", config["replica"])


onstart:
    if (
        config["hub"]["endpoint"] == "replica"
        and "HFHARVEST_REPLICA_URL" not in os.environ
    ):
        print(f"hfharvest: replica hub at {_replica.start()}")


onsuccess:
    _replica.stop(f"{LOGS}/replica_stats.json")
    summary = run_file("summary.json")
    if os.path.exists(summary):
        from hfharvest.jsonio import read_json
        from hfharvest.stages.summary import format_summary

        print(format_summary(read_json(summary)))


onerror:
    _replica.stop(f"{LOGS}/replica_stats.json")


# Too light for a cluster job (queueing costs more than the work): run where Snakemake runs.
localrules:
    all,
    merge_models,
    summarize_run,
    split_models_file,
    enrich_licenses,
    enrich_languages,
    enrich_keywords,
    plot_lineage_families,
