"""Run the replica hub: python -m hfharvest.replica --port 0 --ready-file hub.url

Faults: --fault-5xx 0.1 --fault-seed 1 --fault-429-every 10 --fault-429-burst 3 ...; or the whole
plan as JSON with --faults '{"5xx": 0.1, "gated": ["org/name"]}' (a file with --faults @plan.json).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from ..joblog import freeze_at_exit
from ..jsonio import atomic_writer
from .bulk import DUMP_ID, MISSING_SHARE, ROWS_PER_SHARD, STALE_SHARE
from .faults import FAULTS_HELP
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
        dump_rows_per_shard=args.dump_rows_per_shard,
        dump_stale_share=args.dump_stale_share,
        dump_missing_share=args.dump_missing_share,
        faults=_faults(args),
    )
    freeze_at_exit()  # its stop is a workflow's last wait (`hub.endpoint: replica`)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    if args.exit_with_stdin:
        threading.Thread(target=_stop_at_eof, args=(stopping,), daemon=True).start()
    if args.dump_prebuild:
        hub.dump.prebuild()
    listener = socket.socket(fileno=args.listen_fd) if args.listen_fd is not None else None
    url = hub.start(args.host, args.port, listener)
    print(url, flush=True)
    if args.ready_file:
        _write_atomically(args.ready_file, url)
    while not stopping.wait(0.5):  # a timed wait lets the signal handlers run promptly
        pass
    hub.stop()
    if args.stats_file:
        _write_atomically(args.stats_file, json.dumps(hub.stats(), indent=1))


def _stop_at_eof(stopping: threading.Event) -> None:
    """The parent holds the other end of our stdin: EOF means it is gone, even after a SIGKILL
    that gave it no chance to stop us.

    Read from the file descriptor, not sys.stdin: a daemon thread blocked in a buffered read
    holds the buffer's lock, and the interpreter's exit then waits a second for it and aborts.
    """
    while os.read(sys.stdin.fileno(), 4096):
        pass
    stopping.set()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hfharvest.replica",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--listen-fd", type=int, metavar="FD",
        help="serve on this inherited listening socket instead of --host/--port",
    )  # fmt: skip
    parser.add_argument("--snapshot", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--api-rate-limit", type=int, help="requests per window (default: none)")
    parser.add_argument(
        "--resolve-rate-limit", type=int, help="requests per window (default: none)"
    )
    parser.add_argument("--rate-window", type=float, default=300, help="seconds")
    parser.add_argument(
        "--scale", type=int, default=0, help="synthetic models to add (synthetic.py)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic models")
    parser.add_argument(
        "--dump-rows-per-shard", type=int, default=ROWS_PER_SHARD,
        help=f"rows per Parquet file of the bulk dump {DUMP_ID}",
    )  # fmt: skip
    parser.add_argument(
        "--dump-stale-share", type=float, default=STALE_SHARE,
        help="share of synthetic models whose dump row is an older commit",
    )  # fmt: skip
    parser.add_argument(
        "--dump-missing-share", type=float, default=MISSING_SHARE,
        help="share of models left out of the dump",
    )  # fmt: skip
    parser.add_argument(
        "--dump-prebuild", action="store_true",
        help="write the bulk dump's files in the background from the start (else on first use)",
    )  # fmt: skip
    parser.add_argument("--ready-file", type=Path, help="receives the URL once listening")
    parser.add_argument(
        "--exit-with-stdin", action="store_true",
        help="stop when stdin reaches EOF (the parent process that holds it is gone)",
    )  # fmt: skip
    faults = parser.add_argument_group("faults", FAULTS_HELP)
    faults.add_argument("--faults", help="the fault plan as JSON, or @file.json")
    faults.add_argument("--fault-seed", type=int, help="seed of the fault decisions")
    for kind in ("5xx", "slow", "reset", "truncated-json", "invalid-json", "huge-body"):
        faults.add_argument(f"--fault-{kind}", type=float, metavar="FRACTION")
    faults.add_argument("--fault-slow-s", type=float, help="seconds a slow answer takes")
    faults.add_argument("--fault-huge-body-bytes", type=int)
    faults.add_argument("--fault-times", type=int, help="fault only the first N asks of a path")
    faults.add_argument("--fault-429-every", type=int, metavar="K")
    faults.add_argument("--fault-429-burst", type=int, metavar="B", default=1)
    faults.add_argument("--fault-retry-after", type=float, default=1, metavar="SECONDS")
    faults.add_argument("--fault-endpoints", type=_csv, help="comma-separated endpoint names")
    faults.add_argument("--fault-ids", type=_csv, help="comma-separated model ids")
    for kind in ("not-found", "gated", "disabled"):
        faults.add_argument(f"--fault-{kind}", type=_csv, metavar="IDS")
    faults.add_argument(
        "--fault-redirect", action="append", default=[], metavar="OLD=NEW",
        help="307 from OLD to NEW (an id, or http://host:port); repeatable",
    )  # fmt: skip
    parser.add_argument("--stats-file", type=Path, help="receives the final stats JSON on stop")
    return parser.parse_args(argv)


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _faults(args: argparse.Namespace) -> dict:
    """The fault plan from --faults and the --fault-* flags (flags win)."""
    plan = {}
    if args.faults:
        text = Path(args.faults[1:]).read_text() if args.faults.startswith("@") else args.faults
        plan = json.loads(text)
    if args.fault_seed is not None:
        plan["seed"] = args.fault_seed
    for name in ("endpoints", "ids"):
        if (value := getattr(args, f"fault_{name}")) is not None:
            plan[name] = value
    for kind in ("5xx", "slow", "reset", "truncated_json", "invalid_json", "huge_body"):
        if (rate := getattr(args, f"fault_{kind}")) is not None:
            plan[kind] = {"rate": rate}
            if args.fault_times is not None:
                plan[kind]["times"] = args.fault_times
    if args.fault_slow_s is not None and "slow" in plan:
        plan["slow"]["seconds"] = args.fault_slow_s
    if args.fault_huge_body_bytes is not None and "huge_body" in plan:
        plan["huge_body"]["bytes"] = args.fault_huge_body_bytes
    if args.fault_429_every:
        plan["429"] = {"every": args.fault_429_every, "burst": args.fault_429_burst}
        plan["429"]["retry_after"] = args.fault_retry_after
    for kind in ("not_found", "gated", "disabled"):
        if (ids := getattr(args, f"fault_{kind}")) is not None:
            plan[kind] = ids
    for pair in args.fault_redirect:
        old, _, new = pair.partition("=")
        plan.setdefault("redirects", {})[old] = new
    return plan


def _write_atomically(path: Path, text: str) -> None:
    # Readers poll for the file: they must never see it half written.
    with atomic_writer(path) as file:
        file.write(text)


if __name__ == "__main__":
    main()
