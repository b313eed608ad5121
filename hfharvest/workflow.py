"""Glue between Snakemake and the library: logging, the job's outcome, the client from the
config, the demo replica.

Scripts stay thin by calling these; nothing here holds business logic. The Hub client is
imported by the functions that build one: the Snakefile and the jobs that never call the Hub
import this module without huggingface_hub (0.2 s of every job's start-up).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from . import errors
from .cache import CardCache, EntityCache, RecordCache
from .cards import store_from
from .joblog import start_log  # noqa: F401 - scripts import it from here too
from .jsonio import artifact_writer
from .progress import CONSOLE
from .runconfig import REPLICA, REPLICA_URL_ENV, cache_dirs, cache_endpoint
from .stages.enrich import ARXIV_REPLICA_PATH, write_entities  # noqa: F401 - scripts import it here
from .stages.extract import Extractor, JobFailed, Outcome

if TYPE_CHECKING:
    from .hub import HubClient

log = logging.getLogger("hfharvest")


def client_from(hub: dict) -> HubClient:
    """The client the config's `hub` settings describe (defaults: schemas/config.schema.yaml)."""
    from .hub import HubClient, token_from_env

    mib = 1024 * 1024
    return HubClient(
        hub["endpoint"],
        token_from_env(hub.get("token_env")),
        timeout=hub.get("timeout_s", 30),
        max_retries=hub.get("max_retries", 5),
        max_wait_s=hub.get("max_wait_s", 300),
        deadline_s=hub.get("deadline_s", 120),
        json_max_bytes=int(hub.get("json_max_mb", 64) * mib),
        readme_max_bytes=int(hub.get("readme_max_mb", 5) * mib),
        token_env=hub.get("token_env"),
    )


@contextmanager
def job(snakemake):
    """A job's body: its log, and the truth on the way out.

    A stage whose primary requests failed raises JobFailed (or a HarvestError escapes): the
    output is never written (writes are atomic), one line naming the cause reaches the console,
    and the job exits non-zero, so that Snakemake says so and a plain rerun redoes the job.
    """
    start_log(snakemake.log[0])
    try:
        yield snakemake.config
    except (JobFailed, errors.HarvestError) as err:
        message = err.message if isinstance(err, errors.HarvestError) else str(err)
        log.error("%s: %s", snakemake.rule, message, extra=CONSOLE)
        raise SystemExit(1) from None
    except Exception as err:  # a config the client refuses, or a bug: say so, trace in the log
        log.exception("%s: failed", snakemake.rule)
        message = f"{type(err).__name__}: {str(err)[:300]}"
        log.error("%s: %s (details in %s)", snakemake.rule, message, snakemake.log[0],
                  extra=CONSOLE)  # fmt: skip
        raise SystemExit(1) from None


def extractor_from(config: dict, cache: bool = True, shared: bool = False) -> Extractor:
    """The extractor the run's config describes: endpoint, token variable, caches, concurrency;
    with `shared`, records earlier runs fetched by id are reused within `hf.record_max_age_h`.

    Read from the config, not from params: only the endpoint changes what is harvested (and it
    is in the rules' params); the rest changes how fast, and must not make outputs stale.
    """
    card_dir, records_dir = cache_dirs(config) if cache else (None, None)
    endpoint = cache_endpoint(config)
    cards = store_from(config)  # README texts, by digest: always, cache or not
    return Extractor(
        client_from(config["hub"]),
        CardCache(card_dir, endpoint, cards) if card_dir else None,
        config["hf"]["threads"],
        records=RecordCache(records_dir, endpoint) if records_dir else None,
        shared=entity_cache(config, "models") if cache and shared else None,
        max_age_s=config["hf"]["record_max_age_h"] * 3600,
        cards=cards,
    )


def write_stage(
    path: str,
    stage: str,
    outcomes: Iterable[Outcome],
    extractor: Extractor | None = None,
    metadata: dict | None = None,
) -> None:
    """Stream a stage's outcomes into its file, with the requests and cache hits it cost.

    If every request the extractor sent failed for a cause that is not the model's (the Hub
    unreachable, the token refused, ...), JobFailed is raised and the file is not written.
    """
    with artifact_writer(path, stage) as out:
        out.add(outcomes)
        out.metadata.update(metadata or {})
        if extractor is not None:
            from .hub import process_rate_limiter

            extractor.check_answered()
            out.metadata["hub_requests"] = dict(process_rate_limiter().requests)
            if extractor.cache is not None:
                cache = extractor.cache
                cache.flush()  # its trail for the next run (follow_trail), the job done
                out.metadata["card_cache"] = {"hits": cache.hits, "misses": cache.misses}
            if extractor.shared is not None:
                out.metadata["records_reused"] = extractor.reused
    log.info("%s: %s -> %s (%s)", stage, out.counts, path, out.metadata)


# -- the replica for `hub.endpoint: replica` ---------------------------------------------------
def cancel_scheduler_timers() -> None:
    """At the end of a run: cancel the `threading.Timer` Snakemake's scheduler leaves pending
    (its job rate limiter's re-evaluation, one `--max-jobs-per-timespan` span, 1 s by default).
    The interpreter waits for it before exiting: a second added to every run. A shorter span
    cannot be set (`10/10ms` waited 10 minutes here: the unit reads as minutes)."""
    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


class ReplicaProcess:
    """A replica hub in a child process for the length of a workflow run."""

    def __init__(self, state_dir: str | Path, options: dict):
        self.state_dir = Path(state_dir)
        self.options = options
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self._stopping = threading.Event()  # stop() called: the watcher has nothing to say

    def start(self, timeout_s: float = 60, wait: bool = True) -> str:
        """Start the replica and return its URL, once it serves or, with `wait` false, at once.

        This process opens the listening socket and hands it to the replica, so the URL is
        known before the replica has loaded its catalogue, and a client that connects early
        waits in the socket's backlog: without `wait` the run's first jobs start meanwhile
        (0.3-0.5 s). Either way a replica not serving within `timeout_s` is killed; without
        `wait` that is checked in the background and said on stderr, and its clients are then
        refused at once instead of waiting. The replica watches a pipe from this process and
        stops when it closes, so it never outlives the run, even one killed with SIGKILL.
        """
        self._stopping.clear()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ready = self.state_dir / "replica.url"
        ready.unlink(missing_ok=True)
        with socket.create_server(("127.0.0.1", 0)) as listener:
            command = [sys.executable, "-m", "hfharvest.replica", "--ready-file", str(ready),
                       "--listen-fd", str(listener.fileno()), "--exit-with-stdin"]  # fmt: skip
            for key, value in self.options.items():
                command += [f"--{key.replace('_', '-')}", str(value)]
            with open(self.state_dir / "replica.log", "w") as log_file:
                self.process = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT,
                    pass_fds=(listener.fileno(),),
                )  # fmt: skip
            host, port = listener.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        os.environ[REPLICA_URL_ENV] = self.url
        if wait:
            self._wait_serving(ready, timeout_s)
        else:
            threading.Thread(target=self._watch, args=(ready, timeout_s), daemon=True).start()
        return self.url

    def _wait_serving(self, ready: Path, timeout_s: float) -> None:
        process, deadline = self.process, time.monotonic() + timeout_s
        while not ready.exists() and not self._stopping.is_set():
            if process.poll() is not None or time.monotonic() > deadline:
                self._kill()
                os.environ.pop(REPLICA_URL_ENV, None)  # nothing serves there
                raise RuntimeError(
                    f"replica hub did not start within {timeout_s:g} s; "
                    f"see {self.state_dir / 'replica.log'}"
                )
            time.sleep(0.02)

    def _watch(self, ready: Path, timeout_s: float) -> None:
        try:
            self._wait_serving(ready, timeout_s)
        except RuntimeError as err:
            print(f"hfharvest: {err}", file=sys.stderr, flush=True)

    def _kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/_replica/stats", timeout=10) as response:
            return json.load(response)

    def stop(self, stats_path: str | Path | None = None) -> dict | None:
        self._stopping.set()
        if self.process is None:
            return None
        stats = None
        try:
            stats = self.stats()
            if stats_path:
                Path(stats_path).parent.mkdir(parents=True, exist_ok=True)
                Path(stats_path).write_text(json.dumps(stats, indent=1))
        except OSError as err:
            log.warning("could not read the replica's stats: %s", err)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill()
        self.process = None
        os.environ.pop(REPLICA_URL_ENV, None)
        return stats


def entity_cache(config: dict, kind: str) -> EntityCache | None:
    """The data root's cache of `kind` entities by version, keyed by the source's endpoint (the
    Hub's, or arXiv's); None when `hf.cache` is off."""
    card_dir, _ = cache_dirs(config)
    if card_dir is None:
        return None
    endpoint = cache_endpoint(config)
    if kind == "articles":
        arxiv = config["arxiv"]["endpoint"]
        endpoint = f"{endpoint}{ARXIV_REPLICA_PATH}" if arxiv == REPLICA else arxiv
    return EntityCache(card_dir, kind, endpoint)
