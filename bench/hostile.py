"""The hostile hub, case by case: what the client returns, how long it took, its peak RSS.

    .venv/bin/python bench/hostile.py            # about 30 s

Each case runs in a fresh interpreter (so its peak RSS, VmHWM, is that case's alone) against a
replica hub with one hostile fault switched on, through the real client with the default
bounds (caps 64 MiB JSON, 16 MiB arXiv, 5 MiB README; max_wait_s 300) except where the case
says otherwise. Prints one Markdown table row per case.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfharvest.replica import ReplicaHub  # noqa: E402

GPT2 = "openai-community/gpt2"
ARXIV = (
    "next(enrich_articles({'m': ['arxiv:1810.04805']}, URL + '/api/query', delay_s=0, retries=0))"
)
GIANT = {"huge_body": {"bytes": 3 * 1024**3 // 2, "chunked": True}}
BOMB = {"gzip_bomb": {"bytes": 4 * 1024**3}}
# (case, replica faults, client options, the call; URL is the endpoint, C the client)
CASES = [
    ("dead endpoint (closed port)", None, {}, f"C.model_info({GPT2!r})"),
    ("HTML answer: listing", {"html": 1}, {}, "list(C.iter_latest(50))[0]"),
    ("HTML answer: arXiv", {"html": 1}, {}, ARXIV),
    (
        "401 everywhere, token sent",
        {"unauthorized": 1},
        {"token": "hf_x", "token_env": "HF_TOKEN"},
        "list(C.iter_latest(50))[0]",
    ),  # fmt: skip
    ("Retry-After: 100000000", {"absurd_retry_after": 1}, {}, f"C.model_info({GPT2!r})"),
    (
        "RateLimit r=0;t=100000000 (2nd call)",
        {"absurd_ratelimit": 1},
        {},
        f"(C.model_info({GPT2!r}), C.model_info('gpt2'))",
    ),  # fmt: skip
    (
        "README trickled at 1 byte/s (deadline_s 3)",
        {"trickle": {"bytes_per_s": 1}},
        {"deadline_s": 3, "max_retries": 0},
        f"C.readme({GPT2!r}, None)",
    ),  # fmt: skip
    ("gzip bomb 4 GiB: listing", BOMB, {}, "list(C.iter_latest(50))[0]"),
    ("gzip bomb 4 GiB: model_info", BOMB, {}, f"C.model_info({GPT2!r})"),
    ("gzip bomb 4 GiB: /api/tasks", BOMB, {}, "fetch_hub_tasks(C)"),
    ("gzip bomb 4 GiB: dataset_info", BOMB, {}, "C.dataset_info('c4')"),
    ("gzip bomb 4 GiB: Croissant", BOMB, {}, "fetch_croissant(C, 'c4')"),
    ("gzip bomb 4 GiB: arXiv", BOMB, {}, ARXIV),
    ("chunked 1.5 GiB: listing", GIANT, {}, "list(C.iter_latest(50))[0]"),
    ("chunked 1.5 GiB: model_info", GIANT, {}, f"C.model_info({GPT2!r})"),
    ("chunked 1.5 GiB: /api/tasks", GIANT, {}, "fetch_hub_tasks(C)"),
    ("chunked 1.5 GiB: dataset_info", GIANT, {}, "C.dataset_info('c4')"),
    ("chunked 1.5 GiB: Croissant", GIANT, {}, "fetch_croissant(C, 'c4')"),
    ("chunked 1.5 GiB: arXiv", GIANT, {}, ARXIV),
    (
        "deep entry (1000 levels) in a page of 20",
        {"deep_entry": {"index": 3}},
        {},
        "[x for x in C.iter_latest(20) if hasattr(x, 'reason')][0]",
    ),  # fmt: skip
    (
        "Link loop (page size 10, 50 asked)",
        {"link_loop": True},
        {},
        "[x for x in C.iter_latest(50) if hasattr(x, 'reason')][0]",
    ),  # fmt: skip
]

CHILD = r"""
import json, sys, time
from hfharvest.enrich.articles import enrich_articles
from hfharvest.enrich.datasets import fetch_croissant
from hfharvest.enrich.tasks import fetch_hub_tasks
from hfharvest.hub import HubClient

URL, options, call = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
C = HubClient(URL, **{"max_retries": 2, "backoff_s": 0.05, **options})
start = time.monotonic()
try:
    got = eval(call)
    got = got[-1] if isinstance(got, tuple) else got
    reason = got["reason"] if isinstance(got, dict) else getattr(got, "reason", "ok")
    message = got["message"] if isinstance(got, dict) else getattr(got, "message", "")
except Exception as err:
    reason, message = getattr(err, "reason", type(err).__name__), str(err)
seconds = time.monotonic() - start
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"reason": reason, "message": message, "s": seconds,
                  "rss_mb": int(hwm.split()[1]) / 1024}))
"""


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def run(faults, options, call) -> dict:
    with ReplicaHub(page_size=10, faults=faults) as hub:
        url = hub.url if faults is not None else closed_port_url()
        child = subprocess.run([sys.executable, "-c", CHILD, url, json.dumps(options), call],
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    if child.returncode:
        return {"reason": "CRASH", "message": child.stderr[-300:], "s": 0, "rss_mb": 0}
    return json.loads(child.stdout.splitlines()[-1])


def main() -> None:
    print("| case | reason | message | s | peak RSS MB |")
    print("|---|---|---|---|---|")
    for case, faults, options, call in CASES:
        row = run(faults, options, call)
        message = row["message"].replace("|", "\\|")
        print(f"| {case} | {row['reason']} | {message} | {row['s']:.2f} | {row['rss_mb']:.0f} |",
              flush=True)  # fmt: skip
    print("\nBaseline: the light cases above (no big body) show what a child peaks at anyway.")


if __name__ == "__main__":
    main()
