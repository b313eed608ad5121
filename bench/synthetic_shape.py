"""The synthetic Hub's shape and the scaled replica's start-up cost (issue 10, item 5).

    .venv/bin/python bench/synthetic_shape.py --scale 20000            # shape only (in-process)
    .venv/bin/python bench/synthetic_shape.py --scale 20000 --replica 300000 --replica 1000000

Shape: statistics of the generated records, read back with the harvest's own lineage parser.
Replica: a `python -m hfharvest.replica --scale N` process: seconds until it prints its URL, its
RSS then, after the first page of the lastModified listing and after a 2 % /_replica/change.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hfharvest.lineage import base_model_links  # noqa: E402
from hfharvest.replica.snapshot import load_snapshot  # noqa: E402


def shape(scale: int, seed: int) -> dict:
    hub = load_snapshot(scale=scale, seed=seed).models.synthetic
    records = [hub.record(i) for i in range(hub.count)]
    children, relations, data = Counter(), Counter(), [r.get("cardData", {}) for r in records]
    for record in records:
        links = [(b, r) for b, r in base_model_links(record) if r != "base_model"]
        children.update(base for base, _ in links)
        relations.update(links[:1] and [links[0][1]])
    derived = sum(relations.values())
    lengths = [n for n in (hub.card_length(i) for i in range(hub.count)) if n is not None]
    return {
        "models": scale,
        "declare a base": f"{derived / scale:.1%}",
        **{
            rel: f"{relations[rel] / derived:.1%}"
            for rel in ("finetune", "adapter", "quantized", "merge")
        },
        "top fan-out": children.most_common(1)[0],
        "median fan-out": statistics.median(children.values()),
        "max depth": max(hub.depth(i) for i in range(hub.count)),
        "authors": len({r["author"] for r in records}),
        "datasets": len({d for c in data for d in c.get("datasets", ())}),
        "papers": len({t for r in records for t in r["tags"] if t.startswith("arxiv:")}),
        "licences": len({c["license"] for c in data if "license" in c}),
        "languages": len({x for c in data for x in c.get("language", ())}),
        "card-less": f"{1 - len(lengths) / scale:.1%}",
        "gated": f"{sum(bool(r['gated']) for r in records) / scale:.2%}",
        "card median chars": int(statistics.median(lengths)),
        "card p99 chars": sorted(lengths)[int(0.99 * len(lengths))],
        "card max chars": max(lengths),
    }


def replica(scale: int) -> dict:
    started = time.monotonic()
    command = [
        sys.executable,
        "-m",
        "hfharvest.replica",
        "--scale",
        str(scale),
        "--page-size",
        "1000",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        figures = {"models": scale, "start s": round(time.monotonic() - started, 1)}
        figures["RSS MB at start"] = _rss_mb(process.pid)
        listing = f"{url}/api/models?sort=lastModified&limit=1000&expand=sha&expand=lastModified"
        started = time.monotonic()
        urllib.request.urlopen(listing).read()
        figures["first sorted page s"] = round(time.monotonic() - started, 1)
        figures["RSS MB after listing"] = _rss_mb(process.pid)
        body = json.dumps({"fraction": 0.02, "seed": 1}).encode()
        change = urllib.request.Request(f"{url}/_replica/change", data=body, method="POST")
        started = time.monotonic()
        urllib.request.urlopen(change).read()
        figures["2 % change s"] = round(time.monotonic() - started, 1)
        figures["RSS MB after change"] = _rss_mb(process.pid)
        return figures
    finally:
        process.terminate()
        process.wait()


def _rss_mb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replica", type=int, action="append", default=[], metavar="N")
    args = parser.parse_args()
    for key, value in shape(args.scale, args.seed).items():
        print(f"{key:>20}  {value}")
    for scale in args.replica:
        print(json.dumps(replica(scale)))


if __name__ == "__main__":
    main()
