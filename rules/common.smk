import os

from hfharvest.entities import KINDS as ENTITY_KINDS
from hfharvest.workflow import ReplicaProcess

RUN = f"{config['data_root']}/1_raw/hf/{config['run_id']}"
LOGS = f"logs/{config['run_id']}"
# READMEs by model id + sha, shared by every run under this data root.
CARD_CACHE = f"{config['data_root']}/cache/hf" if config["hf"]["cache"] else None
# Only what reaches the Hub; the token stays in the environment, never in params.
HUB = {
    key: config["hub"][key]
    for key in ("endpoint", "token_env", "timeout_s", "max_retries")
}


def run_file(name):
    return f"{RUN}/{name}"


def log_file(rule_name):
    return f"{LOGS}/{rule_name}.log"


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
