"""Run the replica hub: python -m hfharvest.replica --port 0 --ready-file hub.url"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
from pathlib import Path

from .server import ReplicaHub
from .snapshot import DEFAULT_SNAPSHOT


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    hub = ReplicaHub(
        args.snapshot,
        latency_ms=args.latency_ms,
        page_size=args.page_size,
        api_rate_limit=args.api_rate_limit,
        resolve_rate_limit=args.resolve_rate_limit,
        rate_window=args.rate_window,
        scale=args.scale,
        seed=args.seed,
    )
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    url = hub.start(args.host, args.port)
    print(url, flush=True)
    if args.ready_file:
        _write_atomically(args.ready_file, url)
    while not stopping.wait(0.5):  # a timed wait lets the signal handlers run promptly
        pass
    hub.stop()
    if args.stats_file:
        _write_atomically(args.stats_file, json.dumps(hub.stats(), indent=1))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hfharvest.replica", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--api-rate-limit", type=int, help="requests per window (default: none)")
    parser.add_argument(
        "--resolve-rate-limit", type=int, help="requests per window (default: none)"
    )
    parser.add_argument("--rate-window", type=float, default=300, help="seconds")
    parser.add_argument("--scale", type=int, default=0, help="synthetic models to add")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, help="receives the URL once listening")
    parser.add_argument("--stats-file", type=Path, help="receives the final stats JSON on stop")
    return parser.parse_args(argv)


def _write_atomically(path: Path, text: str) -> None:
    # Readers poll for the file: they must never see it half written.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.replace(temporary, path)


if __name__ == "__main__":
    main()
