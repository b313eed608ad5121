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
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from .errors import shown

REPLICA = "replica"
REPLICA_URL_ENV = "HFHARVEST_REPLICA_URL"  # the running replica's URL (workflow.ReplicaProcess)
# A real config has a few dozen values; a YAML alias bomb expands to billions. Counting stops
# at this budget, so the check costs microseconds whatever the file expands to.
MAX_CONFIG_VALUES = 10_000
RETRY_KEY = "retry_failures"
ENDPOINT_KEYS = (("hub", "endpoint"), ("arxiv", "endpoint"))


class ConfigError(ValueError):
    """A config value the run cannot use; the message names the key (never a secret's value)."""


def precheck(config: dict) -> None:
    """Before the schema validates (and would walk, and echo, what it is given)."""
    _count_values(config)
    for section, key in ENDPOINT_KEYS:
        value = config.get(section, {}).get(key) if isinstance(config.get(section), dict) else None
        if isinstance(value, str) and "@" in urlsplit(value).netloc:
            check_endpoint(value, f"{section}.{key}")


def check_endpoint(url: str, key: str = "hub.endpoint") -> str:
    """`url` if it is an http(s) URL without credentials; ConfigError (naming `key`) otherwise.

    Credentials in a URL would be sent on every request and end up in logs and reports; the
    message shows where they are, never what they are.
    """
    parts = urlsplit(url)
    if "@" in parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        raise ConfigError(
            f"{key} carries credentials ({parts.scheme}://***@{host}): refused; "
            "put a token in the environment variable named by hub.token_env instead"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key} must be an http(s) URL with a host, got {shown(url, 80)}")
    return url


def check_token(token: str, source: str) -> None:
    """ConfigError if `token` cannot be a Hub token; the message never carries its value.

    httpx refuses such a header value outright (every request then fails as if the network
    were down), and a stray space or newline from `echo` or a copy-paste is the usual cause.
    """
    if "\r" in token or "\n" in token:
        problem = "a line break (CR or LF)"
    elif token != token.strip():
        problem = "leading or trailing whitespace"
    elif any(ord(char) < 32 or ord(char) == 127 for char in token):
        problem = "a control character"
    elif not token.isascii():
        problem = "non-ASCII characters"
    else:
        return
    raise ConfigError(f"the token in {source} has {problem}: fix the variable (value not shown)")


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
    token_env = config["hub"]["token_env"]
    if os.environ.get(token_env):
        check_token(os.environ[token_env], token_env)
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
        source["replica"]["catalogue"] = replica_fingerprint()
    return source


def cache_endpoint(config: dict) -> str:
    """The endpoint the caches are keyed by. The replica a run starts listens on a new port each
    time, but serves the same catalogue for the same scale and seed: that is its identity."""
    endpoint = config["hub"]["endpoint"]
    if endpoint != REPLICA:
        return endpoint
    replica = config["replica"]
    return f"{REPLICA}?scale={replica['scale']}&seed={replica['seed']}&v={replica_fingerprint()}"


PACKAGE = Path(__file__).parent
REPLICA_PACKAGE = PACKAGE / "replica"


@cache
def replica_fingerprint() -> str:
    """A digest of what the bundled replica serves (its snapshot and its code): a new snapshot
    is a new Hub, so it reruns the Hub-calling rules and gets cache folders of its own."""
    return folder_digest(REPLICA_PACKAGE)


def code_digest(names: tuple[str, ...]) -> str:
    """A digest of the package's files and folders `names` (paths under hfharvest/): what a
    cache's entries were computed by, so that an edit of them never serves an old entry."""
    digest = hashlib.sha256()
    for name in names:
        path = PACKAGE / name
        digest.update(folder_digest(path).encode() if path.is_dir() else path.read_bytes())
    return digest.hexdigest()


def folder_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


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
