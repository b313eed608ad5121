"""The run's config seen from the workflow: early checks, paths, what goes into params.

The schema (schemas/config.schema.yaml) checks types and ranges; what it cannot say well is
checked here, each error naming its key: a config too big to be one (a YAML alias bomb),
credentials in an endpoint (the schema's message would echo them), braces in `data_root` (they
would become wildcards), a models file that is not there.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from urllib.parse import urlsplit

REPLICA = "replica"
# A real config has a few dozen values; a YAML alias bomb expands to billions. Counting stops
# at this budget, so the check costs microseconds whatever the file expands to.
MAX_CONFIG_VALUES = 10_000
RETRY_KEY = "retry_failures"
ENDPOINT_KEYS = (("hub", "endpoint"), ("arxiv", "endpoint"))


class ConfigError(ValueError):
    """A config value the run cannot use; the message names the key."""


def precheck(config: dict) -> None:
    """Before the schema validates (and would walk, and echo, what it is given)."""
    _count_values(config)
    for section, key in ENDPOINT_KEYS:
        value = config.get(section, {}).get(key) if isinstance(config.get(section), dict) else None
        if isinstance(value, str) and "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ConfigError(
                f"{section}.{key} carries credentials (user:password@host): refused; put a Hub "
                "token in the environment variable named by hub.token_env instead"
            )


def _count_values(config: dict) -> None:
    """Walk the config, stopping once it holds more values than any real config."""
    pending, seen = [config], 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > MAX_CONFIG_VALUES:
            raise ConfigError(
                f"the config expands to more than {MAX_CONFIG_VALUES} values (a YAML alias "
                "bomb?): refused"
            )
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def check(config: dict) -> None:
    """After the schema has filled in the defaults: paths the run is about to use."""
    for char in "{}":
        if char in config["data_root"]:
            raise ConfigError(
                f"data_root {config['data_root']!r} contains {char!r}: braces would become "
                "Snakemake wildcards; choose another folder name"
            )
    models_file = config["hf"]["models_file"]
    if models_file and not os.path.isfile(models_file):
        raise ConfigError(
            f"hf.models_file {models_file!r} does not exist (or is not a file); "
            "set hf.models_file: null to harvest no models by id"
        )


def run_folder(config: dict) -> str:
    return f"{config['data_root']}/1_raw/hf/{config['run_id']}"


def logs_folder(config: dict) -> str:
    """Per data root and run: two data roots with one run_id never share logs."""
    return f"{config['data_root']}/logs/{config['run_id']}"


def benchmarks_folder(config: dict) -> str:
    return f"{config['data_root']}/benchmarks/{config['run_id']}"


def cache_dirs(config: dict) -> tuple[str | None, str | None]:
    """(README cache shared by the data root's runs, this run's record cache), or Nones."""
    if not config["hf"]["cache"]:
        return None, None
    return f"{config['data_root']}/cache/hf", f"{run_folder(config)}/.records"


def harvest_source(config: dict, section: str = "hub") -> dict:
    """What decides *what* a Hub-calling rule harvests, for its params: the endpoint and, for
    the replica the run starts, the catalogue it serves (scale, seed)."""
    source = {"endpoint": config[section]["endpoint"]}
    if source["endpoint"] == REPLICA:
        source["replica"] = {key: config["replica"][key] for key in ("scale", "seed")}
    return source


def cache_endpoint(config: dict) -> str:
    """The endpoint the caches are keyed by. The replica a run starts listens on a new port each
    time, but serves the same catalogue for the same scale and seed: that is its identity."""
    endpoint = config["hub"]["endpoint"]
    if endpoint != REPLICA:
        return endpoint
    return f"{REPLICA}?scale={config['replica']['scale']}&seed={config['replica']['seed']}"


def endpoint_key(endpoint: str) -> tuple[str, str]:
    """(folder name, normalized endpoint) of a cache partition: entries of two endpoints never
    mix."""
    if endpoint.startswith(REPLICA):  # see cache_endpoint
        normalized = endpoint
    else:
        parts = urlsplit(endpoint.strip())
        scheme = parts.scheme.lower()
        port = parts.port
        default = {"http": 80, "https": 443}.get(scheme)
        host = (parts.hostname or "").lower() + (f":{port}" if port and port != default else "")
        normalized = f"{scheme}://{host}{parts.path.rstrip('/')}"
    return hashlib.sha256(normalized.encode()).hexdigest()[:16], normalized


def retry_command(argv: list[str], value: int) -> str:
    """The command line of this run with `--config retry_failures=<value>`, to paste as is."""
    args = [arg for arg in argv[1:] if not arg.startswith(f"{RETRY_KEY}=")]
    setting = f"{RETRY_KEY}={value}"
    for flag in ("--config", "-C"):
        if flag in args:  # one --config takes every value: the setting joins it
            args.insert(args.index(flag) + 1, setting)
            break
    else:
        args += ["--config", setting]
    return shlex.join(["snakemake", *args])
